"""The KDC's gunicorn worker (kdc.worker): a thread serves a kept-alive connection's next
request directly, yet never keeps other connections waiting, even with a single thread."""

from __future__ import annotations

import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import BIN, FAST_KDF, REALM, clean_env, free_port, stop, wait_http

LIVEZ = b"GET /livez HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


@pytest.fixture(scope="module")
def one_thread_kdc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    directory = tmp_path_factory.mktemp("worker") / "kdc"
    init = subprocess.run(
        [str(BIN / "orthrus-kdc"), "--dir", str(directory), "init", "--realm", REALM, *FAST_KDF],
        capture_output=True,
        env=clean_env(),
        timeout=60,
    )
    assert init.returncode == 0, init.stderr
    port = free_port()
    log = open(Path(directory) / "serve.log", "wb")  # noqa: SIM115 - closed below
    serve = ["serve", "--port", str(port), "--workers", "1", "--threads", "1"]
    process = subprocess.Popen(
        [str(BIN / "orthrus-kdc"), "--dir", str(directory), *serve],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=clean_env(),
    )
    try:
        wait_http(f"http://127.0.0.1:{port}/livez", process)
        yield port
    finally:
        stop(process)
        log.close()


def _answer(sock: socket.socket, buffer: bytearray) -> bytes:
    """Read one HTTP answer (with Content-Length) from ``sock``; keep what follows."""
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
    return head.split(b"\r\n", 1)[0]


def test_many_requests_on_one_connection_and_pipelined(one_thread_kdc: int) -> None:
    with socket.create_connection(("127.0.0.1", one_thread_kdc), timeout=10) as sock:
        buffer = bytearray()
        for _ in range(300):  # more than a thread serves in a row (MAX_LINGERED)
            sock.sendall(LIVEZ)
            assert _answer(sock, buffer) == b"HTTP/1.1 200 OK"
        sock.sendall(LIVEZ * 3)
        assert [_answer(sock, buffer) for _ in range(3)] == [b"HTTP/1.1 200 OK"] * 3


def test_a_busy_connection_does_not_starve_another(one_thread_kdc: int) -> None:
    """One client sends request after request on its connection; another, on a second
    connection, is still answered (the only thread stops waiting on the first one)."""
    stop_busy = threading.Event()
    busy_count = [0]

    def busy() -> None:
        with socket.create_connection(("127.0.0.1", one_thread_kdc), timeout=10) as sock:
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
            with socket.create_connection(("127.0.0.1", one_thread_kdc), timeout=10) as other:
                other.sendall(LIVEZ)
                assert _answer(other, bytearray()) == b"HTTP/1.1 200 OK"
    finally:
        stop_busy.set()
        thread.join(15)
    assert not thread.is_alive()
