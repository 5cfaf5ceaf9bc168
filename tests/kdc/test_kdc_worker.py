"""The KDC's server (kdc.server, kdc.http_server), one worker with one thread: many requests
on one kept-alive connection, pipelined too, in order, without keeping other connections
waiting; exchanges and other requests interleaved on one connection, chunked or not, are
answered right, and a framing llhttp refuses (two Content-Length fields) is refused.

(The worker's own reader of plain AS/TGS requests, with its tests of which requests it took,
was removed: issue 13 §1 wants no hand-written HTTP parsing; docs/performance.md.)"""

from __future__ import annotations

import os
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import BIN, FAST_KDF, REALM, clean_env, free_port, stop, wait_http

from orthrus import codec
from orthrus.as_exchange import ASOptions, make_as_req, read_as_rep
from orthrus.keytab import Keytab
from orthrus.messages import ASRep, TGSRep
from orthrus.principal import Principal
from orthrus.tgs_exchange import make_tgs_req, read_tgs_rep

LIVEZ = b"GET /livez HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
ALICE = Principal.parse(f"alice@{REALM}")
SERVICE = Principal.parse(f"HTTP/worker.example.test@{REALM}")


@pytest.fixture(scope="module")
def one_thread_kdc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Path]]:
    directory = tmp_path_factory.mktemp("worker") / "kdc"
    init = subprocess.run(
        [str(BIN / "orthrus-kdc"), "--dir", str(directory), "init", "--realm", REALM, *FAST_KDF],
        capture_output=True,
        env=clean_env(),
        timeout=60,
    )
    assert init.returncode == 0, init.stderr
    for args, stdin in (
        (["addprinc", str(ALICE)], "alice-s3cret-pw\n"),
        (["addprinc", "--randkey", str(SERVICE)], ""),
        (["ktadd", "-k", str(directory.parent / "alice.keytab"), str(ALICE)], ""),
    ):
        done = subprocess.run(
            [str(BIN / "orthrus-kdc"), "--dir", str(directory), *args],
            input=stdin.encode(),
            capture_output=True,
            env=clean_env(),
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
    port = free_port()
    log = open(Path(directory) / "serve.log", "wb")  # noqa: SIM115 - closed below
    serve = [
        "serve",
        "--port",
        str(port),
        "--workers",
        "1",
        "--threads",
        "1",
        "--kerberos-port",
        "0",
    ]
    process = subprocess.Popen(
        [str(BIN / "orthrus-kdc"), "--dir", str(directory), *serve],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=clean_env(),
    )
    try:
        wait_http(f"http://127.0.0.1:{port}/livez", process)
        yield port, directory.parent
    finally:
        stop(process)
        log.close()


def _answer(sock: socket.socket, buffer: bytearray) -> tuple[bytes, bytes]:
    """Read one HTTP answer (with Content-Length) from ``sock``: its status line and body;
    keep what follows in ``buffer``."""
    while b"\r\n\r\n" not in buffer:
        chunk = sock.recv(65536)
        assert chunk, "the KDC closed the connection"
        buffer += chunk
    head, _, rest = bytes(buffer).partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(rest) < length:
        chunk = sock.recv(65536)
        assert chunk, "the KDC closed the connection"
        rest += chunk
    buffer[:] = rest[length:]
    return head.split(b"\r\n", 1)[0], rest[:length]


def test_many_requests_on_one_connection_and_pipelined(one_thread_kdc: tuple[int, Path]) -> None:
    with socket.create_connection(("127.0.0.1", one_thread_kdc[0]), timeout=10) as sock:
        buffer = bytearray()
        for _ in range(300):
            sock.sendall(LIVEZ)
            assert _answer(sock, buffer)[0] == b"HTTP/1.1 200 OK"
        sock.sendall(LIVEZ * 3)
        assert [_answer(sock, buffer)[0] for _ in range(3)] == [b"HTTP/1.1 200 OK"] * 3


def test_a_busy_connection_does_not_starve_another(one_thread_kdc: tuple[int, Path]) -> None:
    """One client sends request after request on its connection; another, on a second
    connection, is still answered by the only thread."""
    stop_busy = threading.Event()
    busy_count = [0]

    def busy() -> None:
        with socket.create_connection(("127.0.0.1", one_thread_kdc[0]), timeout=10) as sock:
            buffer = bytearray()
            while not stop_busy.is_set():
                sock.sendall(LIVEZ)
                _answer(sock, buffer)
                busy_count[0] += 1

    thread = threading.Thread(target=busy, daemon=True)
    thread.start()
    try:
        while busy_count[0] < 20:
            threading.Event().wait(0.01)
        for _ in range(20):
            with socket.create_connection(("127.0.0.1", one_thread_kdc[0]), timeout=10) as other:
                other.sendall(LIVEZ)
                assert _answer(other, bytearray())[0] == b"HTTP/1.1 200 OK"
    finally:
        stop_busy.set()
        thread.join(15)
    assert not thread.is_alive()


# -- exchanges and other requests on one connection ------------------------------------------


def _post(path: str, body: bytes, *headers: str) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", *headers]
    if not any(h.lower().startswith(("content-length", "transfer-encoding")) for h in headers):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def test_exchanges_and_other_requests_interleaved_on_one_connection(
    one_thread_kdc: tuple[int, Path],
) -> None:
    """Exchanges with and without headers that change the framing, one at a time and
    pipelined, chunked or not: every answer is right and in order."""
    port, directory = one_thread_kdc
    keytab = Keytab.from_bytes((directory / "alice.keytab").read_bytes())
    keys = keytab.keys_by_principal()[ALICE]
    key = keys[max(keys)]
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        buffer = bytearray()

        def exchange(request: bytes) -> tuple[bytes, bytes]:
            sock.sendall(request)
            return _answer(sock, buffer)

        login = make_as_req(ALICE, time.time(), os.urandom, ASOptions(), key)
        status, body = exchange(_post("/v1/as", codec.encode(login)))
        assert status == b"HTTP/1.1 200 OK"
        tgt = read_as_rep(codec.decode(body, ASRep), login, key, time.time())
        for headers in ([], ["X-Request-Id: one"], ["Connection: keep-alive"], ["TE: trailers"]):
            tgs = make_tgs_req(tgt, SERVICE, time.time(), os.urandom)
            status, body = exchange(_post("/v1/tgs", codec.encode(tgs.message), *headers))
            assert status == b"HTTP/1.1 200 OK", body
            assert read_tgs_rep(codec.decode(body, TGSRep), tgs, time.time()).server == SERVICE
        assert exchange(_post("/v1/tgs", b"{}"))[0] == b"HTTP/1.1 400 BAD REQUEST"
        # A replayed TGS request is refused, whoever reads it.
        tgs = make_tgs_req(tgt, SERVICE, time.time(), os.urandom)
        first = exchange(_post("/v1/tgs", codec.encode(tgs.message)))
        again = exchange(_post("/v1/tgs", codec.encode(tgs.message), "Connection: keep-alive"))
        assert first[0] == b"HTTP/1.1 200 OK" and b"KRB_AP_ERR_REPEAT" in again[1]
        # Pipelined: Content-Length, chunked, Content-Length, then a refused framing.
        requests = [make_tgs_req(tgt, SERVICE, time.time(), os.urandom) for _ in range(3)]
        chunked_body = codec.encode(requests[1].message)
        chunked = _post(
            "/v1/tgs",
            b"%x\r\n%s\r\n0\r\n\r\n" % (len(chunked_body), chunked_body),
            "Transfer-Encoding: chunked",
        )
        sock.sendall(
            _post("/v1/tgs", codec.encode(requests[0].message))
            + chunked
            + _post("/v1/tgs", codec.encode(requests[2].message))
        )
        for request in requests:
            status, body = _answer(sock, buffer)
            assert status == b"HTTP/1.1 200 OK", body
            read_tgs_rep(codec.decode(body, TGSRep), request, time.time())
        sock.sendall(_post("/v1/tgs", b"{}", "Content-Length: 2", "Content-Length: 2"))
        assert _answer(sock, buffer)[0] == b"HTTP/1.1 400 Bad Request"
