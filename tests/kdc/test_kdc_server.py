"""``orthrus-kdc serve``, the KDC's own server (kdc.server, kdc.supervisor, kdc.http_server):
a worker that dies is replaced (one that dies at start after a back-off), SIGTERM lets the
requests in flight finish, answers on one connection keep their order while Flask takes its
time, TLS, and the access log. The attacks on it (slow clients, huge heads, a slow admin
request against the exchanges) are in tests/test_attacks.py."""

from __future__ import annotations

import asyncio
import datetime
import re
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from support import REALM, Realm, clean_env, free_port, stop, wait_http

from labs.classroom.certs import ClassCertificates, make_certificates

SLOW_ROUTE = Path(__file__).with_name("serve_with_slow_route.py")


@pytest.fixture(scope="module")
def realm(tmp_path_factory: pytest.TempPathFactory) -> Realm:
    return Realm.create(tmp_path_factory.mktemp("server") / "kdc")


class Served:
    """``serve`` (with the test route ``/test/slow``) running on a free port."""

    def __init__(self, realm: Realm, *args: str, scheme: str = "http") -> None:
        self.port = free_port()
        self.log = realm.directory / f"serve-{self.port}.log"
        self.out = realm.directory / f"serve-{self.port}.out"
        argv = [sys.executable, str(SLOW_ROUTE), "--dir", str(realm.directory), "serve"]
        argv += ["--port", str(self.port), "--kerberos-port", "0", *args]
        with open(self.log, "wb") as log, open(self.out, "wb") as out:
            self.process = subprocess.Popen(argv, stdout=out, stderr=log, env=clean_env())
        self.url = f"{scheme}://127.0.0.1:{self.port}"

    def wait(self) -> Served:
        wait_http(f"http://127.0.0.1:{self.port}/livez", self.process)
        return self

    def workers(self) -> set[int]:
        pid = self.process.pid
        return {int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()}

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture
def served(realm: Realm) -> Iterator[Served]:
    server = Served(realm, "--workers", "2", "--threads", "2").wait()
    try:
        yield server
    finally:
        stop(server.process)
    assert "Traceback" not in server.log_text()


def test_a_killed_worker_is_replaced_and_the_kdc_keeps_answering(served: Served) -> None:
    before = served.workers()
    assert len(before) == 2
    victim = min(before)
    subprocess.run(["kill", "-KILL", str(victim)], check=True)
    deadline = time.monotonic() + 30
    while (now := served.workers()) == before or len(now) < 2:
        assert time.monotonic() < deadline, served.log_text()
        time.sleep(0.05)
    assert victim not in now and len(now) == 2
    for _ in range(20):
        assert httpx.get(f"{served.url}/livez", timeout=10).status_code == 200
    assert f"worker {victim} was killed by SIGKILL" in served.log_text()


def test_sigterm_lets_a_request_in_flight_finish_then_exits_0(realm: Realm) -> None:
    server = Served(realm, "--workers", "1").wait()
    release = realm.directory / f"release-{server.port}"
    answers: list[httpx.Response] = []
    slow = threading.Thread(
        target=lambda: answers.append(
            httpx.get(f"{server.url}/test/slow", params={"until": str(release)}, timeout=90)
        )
    )
    try:
        slow.start()
        time.sleep(0.5)
        idle = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        idle.sendall(b"GET /livez HTTP/1.1\r\nHost: kdc\r\n\r\n")
        assert _answers(idle, 1)[0].startswith(b"HTTP/1.1 200 OK")
        server.process.send_signal(signal.SIGTERM)
        assert idle.recv(1) == b""  # an idle kept-alive connection is closed at once
        assert slow.is_alive() and server.process.poll() is None  # held until released
        release.touch()
        assert server.process.wait(30) == 0
        slow.join(10)
    finally:
        release.touch()
        stop(server.process)
    assert [a.status_code for a in answers] == [200]
    assert answers[0].headers["connection"] == "close"
    with pytest.raises(ConnectionError):
        socket.create_connection(("127.0.0.1", server.port), timeout=5)
    assert "Traceback" not in server.log_text()


def _answers(sock: socket.socket, count: int) -> list[bytes]:
    """The status lines and bodies of ``count`` answers with Content-Length."""
    data, answers = b"", []
    while len(answers) < count:
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            assert chunk, "closed"
            data += chunk
        head, _, data = data.partition(b"\r\n\r\n")
        length = int(re.search(rb"Content-Length: (\d+)", head)[1])  # type: ignore[index]
        while len(data) < length:
            data += sock.recv(65536)
        answers.append(head.split(b"\r\n")[0] + b" " + data[:length])
        data = data[length:]
    return answers


def test_pipelined_answers_keep_their_order_while_flask_takes_its_time(served: Served) -> None:
    """A slow Flask request, then an exchange and a quick Flask request, pipelined: the
    exchange is answered first on the loop, but written after the slow answer."""
    get = b"GET %s HTTP/1.1\r\nHost: kdc\r\n\r\n"
    post = b"POST /v1/as HTTP/1.1\r\nHost: kdc\r\nContent-Length: 2\r\n\r\n{}"
    with socket.create_connection(("127.0.0.1", served.port), timeout=20) as sock:
        sock.sendall(get % b"/test/slow?seconds=1" + post + get % b"/livez")
        slow, exchange, livez = _answers(sock, 3)
    assert slow.startswith(b"HTTP/1.1 200 OK") and b'"slept"' in slow
    assert exchange.startswith(b"HTTP/1.1 400 BAD REQUEST") and b"KRB_ERR_GENERIC" in exchange
    assert livez.startswith(b"HTTP/1.1 200 OK") and b'"ok"' in livez


def test_http_1_0_closes_unless_keep_alive_is_asked(served: Served) -> None:
    for request, closes in (
        (b"GET /livez HTTP/1.0\r\n\r\n", True),
        (b"GET /livez HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", False),
        (b"GET /livez HTTP/1.1\r\nHost: kdc\r\nConnection: close\r\n\r\n", True),
    ):
        with socket.create_connection(("127.0.0.1", served.port), timeout=10) as sock:
            sock.sendall(request)
            (answer,) = _answers(sock, 1)
            assert answer.startswith(b"HTTP/1.1 200 OK")
            sock.settimeout(1)
            if closes:
                assert sock.recv(1) == b""
            else:
                with pytest.raises(TimeoutError):
                    sock.recv(1)


def test_tls_and_plain_http_to_the_tls_port_is_refused_cleanly(
    realm: Realm, tmp_path: Path
) -> None:
    certs = ClassCertificates.under(tmp_path)
    make_certificates(certs, ["127.0.0.1"], datetime.datetime.now(datetime.UTC))
    pem = ["--certfile", str(certs.cert), "--keyfile", str(certs.key)]
    server = Served(realm, "--workers", "1", *pem, scheme="https")
    context = ssl.create_default_context(cafile=str(certs.ca))
    try:
        wait_tls = time.monotonic() + 60
        while True:
            try:
                answer = httpx.get(f"{server.url}/livez", verify=context, timeout=10)
                break
            except httpx.ConnectError:
                assert time.monotonic() < wait_tls and server.process.poll() is None
                time.sleep(0.1)
        assert answer.status_code == 200
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"http://127.0.0.1:{server.port}/livez", timeout=5)
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as plain:
            plain.sendall(b"GET /livez HTTP/1.1\r\nHost: kdc\r\n\r\n")
            assert b"HTTP/1.1" not in plain.recv(4096)
        again = httpx.get(f"{server.url}/v1/realm", verify=context, timeout=10)
        assert again.json()["realm"] == REALM
    finally:
        stop(server.process)
    assert "Traceback" not in server.log_text()


def test_access_log_has_one_line_per_request_as_gunicorn_wrote_it(realm: Realm) -> None:
    server = Served(realm, "--workers", "1", "--access-log").wait()
    try:
        httpx.get(f"{server.url}/livez?x=1", headers={"User-Agent": "probe/1"}, timeout=10)
        httpx.post(f"{server.url}/v1/tgs", content=b"{}", timeout=10)
    finally:
        stop(server.process)
    lines = server.out.read_text().splitlines()
    stamp = r"\[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\]"
    assert re.fullmatch(
        rf'127\.0\.0\.1 - - {stamp} "GET /livez\?x=1 HTTP/1\.1" 200 \d+ "-" "probe/1"', lines[-2]
    ), lines
    assert re.fullmatch(
        rf'127\.0\.0\.1 - - {stamp} "POST /v1/tgs HTTP/1\.1" 400 \d+ "-" ".+"', lines[-1]
    )
    assert "[INFO]" in server.log_text() and "[INFO]" not in server.out.read_text()


CRASHING = """
import os, sys
from kdc.supervisor import Supervisor

starts = open(sys.argv[1], "ab", buffering=0)

def work():
    starts.write(b"x")
    os._exit(1)

Supervisor(1, work, lambda pid: None, lambda: None, 5.0).run()
"""


def test_a_worker_that_crashes_at_start_is_respawned_with_a_back_off(tmp_path: Path) -> None:
    """Started at 0, then 0.5, 1.5, 3.5 s...: the third start comes at least 1.5 s after the
    first (a load can only make it later), never a fork storm; the supervisor still stops on
    SIGTERM with 0."""
    starts = tmp_path / "starts"
    process = subprocess.Popen([sys.executable, "-c", CRASHING, str(starts)], env=clean_env())
    try:
        deadline = time.monotonic() + 60
        while not starts.exists() or len(starts.read_bytes()) < 1:
            assert time.monotonic() < deadline, "the worker never started"
            time.sleep(0.01)
        first = time.monotonic()
        while len(starts.read_bytes()) < 3:
            assert time.monotonic() < deadline, "the worker was not respawned"
            time.sleep(0.01)
        assert time.monotonic() - first >= 1.5 - 0.05  # back-offs of 0.5 s, then 1 s
        process.send_signal(signal.SIGTERM)
        assert process.wait(10) == 0
    finally:
        stop(process)


def test_a_body_read_with_the_start_of_the_next_head_is_not_counted_as_head() -> None:
    """One read may hold the end of a request (a 20 KiB body) and the start of the next head,
    or several requests: only a read that lies wholly within one head counts toward the
    16 KiB bound, so pipelined requests with large bodies are answered, not 431."""
    from concurrent.futures import ThreadPoolExecutor

    from http_server_double import connect

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [environ["PATH_INFO"].encode()]

    body = b"b" * 20_000
    post = b"POST /first HTTP/1.1\r\nHost: kdc\r\nContent-Length: %d\r\n\r\n" % len(body)

    async def scenario() -> None:
        with ThreadPoolExecutor(1) as pool:
            connection, transport = connect(app, pool)
            connection.data_received(post[:20])  # a head begun...
            connection.data_received(post[20:] + body + b"GET /second HTTP/1.1\r\nHo")
            connection.data_received(b"st: kdc\r\n\r\n")
            for _ in range(200):
                if transport.written.count(b"HTTP/1.1 200 OK") == 2:
                    break
                await asyncio.sleep(0.02)
            answers = bytes(transport.written)
            assert b" 431 " not in answers
            assert answers.count(b"HTTP/1.1 200 OK") == 2, answers[:200]
            assert answers.index(b"/first") < answers.index(b"/second")
            connection.connection_lost(None)

    asyncio.run(scenario())
