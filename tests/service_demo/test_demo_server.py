"""The demo as it runs: ``python -m service_demo --workers 2`` under gunicorn, over HTTP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from realm_helpers import SERVICE, MiniRealm, token
from support import clean_env, free_port, stop, wait_http

from orthrus.priv import PrivChannel, decode_priv, encode_priv
from service_lib import PRIV_CONTENT_TYPE


@dataclass
class Server:
    url: str
    realm: MiniRealm
    keytab: Path
    log: Path

    def get(self, path: str, user: str | None = None, **kwargs: object) -> httpx.Response:
        headers = dict(kwargs.pop("headers", {}) or {})  # type: ignore[call-overload]
        if user:
            headers["Authorization"] = (
                f"Ticket {token(self.realm.credential(user), binding=('GET', path))}"
            )
        return httpx.get(self.url + path, headers=headers, timeout=10)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    directory = tmp_path_factory.mktemp("demo")
    realm = MiniRealm()
    realm.add_service()
    realm.add_user("alice", ("admins",))
    realm.add_user("bob")
    keytab = realm.write_keytab(directory / "http.keytab")
    port = free_port()
    log = directory / "server.log"
    command = [
        sys.executable, "-m", "service_demo", "--keytab", str(keytab), "--port", str(port),
        "--workers", "2", "--db", str(directory / "notes.sqlite"), "--principal", SERVICE,
    ]  # fmt: skip
    with open(log, "wb") as out:
        process = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, env=clean_env(), cwd=directory
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(url + "/livez", process)
        yield Server(url, realm, keytab, log)
    finally:
        stop(process)
    text = log.read_text()
    assert "Traceback" not in text, text
    # SIGTERM: the workers finish, the master says so and exits 0 (service_demo ends it
    # without the interpreter's teardown, with gunicorn's status).
    assert process.returncode == 0 and "Shutting down: Master" in text, text[-2000:]


def test_statuses(server: Server) -> None:
    assert server.get("/livez").json() == {"status": "ok"}
    whoami = server.get("/whoami", "alice")
    assert whoami.status_code == 200
    assert whoami.json()["principal"] == "alice@SVC.TEST"
    unauth = server.get("/whoami")
    assert unauth.status_code == 401
    assert unauth.headers["www-authenticate"] == 'Ticket realm="SVC.TEST", Negotiate'
    assert server.get("/admin/stats", "alice").status_code == 200
    forbidden = server.get("/admin/stats", "bob")
    assert forbidden.status_code == 403
    assert forbidden.json()["error"]["name"] == "KDC_ERR_POLICY"


def _send(url: str, tok: str) -> httpx.Response:
    return httpx.get(url + "/whoami", headers={"Authorization": f"Ticket {tok}"}, timeout=10)


def test_replay_to_another_worker_is_refused(server: Server) -> None:
    tok = token(server.realm.credential("alice"), binding=("GET", "/whoami"))
    assert _send(server.url, tok).status_code == 200
    # Concurrent replays keep both workers busy, so each of them gets some.
    with ThreadPoolExecutor(8) as pool:
        replies = list(pool.map(lambda _: _send(server.url, tok), range(16)))
    assert {r.status_code for r in replies} == {401}
    assert {r.json()["error"]["name"] for r in replies} == {"KRB_AP_ERR_REPEAT"}


def test_racing_copies_are_accepted_once(server: Server) -> None:
    for _ in range(3):
        tok = token(server.realm.credential("bob"), binding=("GET", "/whoami"))
        with ThreadPoolExecutor(8) as pool:
            replies = list(pool.map(lambda _, t=tok: _send(server.url, t), range(8)))
        assert sorted(r.status_code for r in replies) == [200] + [401] * 7


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Ticket " + "A" * 1_000_000},
        {"Authorization": "Ticket " + "A" * 20_000},
        {f"X-Junk-{i}": "x" * 10_000 for i in range(100)},
        {"Authorization": "Ticket %%%%"},
        {"Authorization": "Ticket eyJub3QiOiAianNvbiJ9"},
        {"Authorization": "Basic YTpi"},
        {"Cookie": "orthrus_session=" + "x" * 4000},
        {"Orthrus-Session": "a.b.c"},
    ],
    ids=[
        "1MB-token",
        "20KB-token",
        "1MB-of-headers",
        "bad-base64",
        "junk-json",
        "basic",
        "junk-cookie",
        "junk-session",
    ],
)
def test_bad_input_gets_4xx(server: Server, headers: dict[str, str]) -> None:
    try:
        response = httpx.get(server.url + "/whoami", headers=headers, timeout=10)
    except httpx.RemoteProtocolError:
        pytest.skip("the server closed the connection while the request was still being sent")
    assert 400 <= response.status_code < 500, response.text
    assert "Traceback" not in response.text


def test_sealed_note_over_http(server: Server) -> None:
    channel = PrivChannel.initiator(os.urandom)
    tok = token(server.realm.credential("alice"), binding=("POST", "/notes"), channel=channel)
    body = encode_priv(channel.seal(b'{"text": "over the wire"}', time.time(), os.urandom))
    response = httpx.post(
        server.url + "/notes",
        content=body,
        headers={"Authorization": f"Ticket {tok}", "Content-Type": PRIV_CONTENT_TYPE},
        timeout=10,
    )
    assert response.status_code == 201
    assert (
        json.loads(channel.open(decode_priv(response.content), time.time()))["text"]
        == "over the wire"
    )


def test_key_rotation_without_restart(server: Server) -> None:
    old = server.realm.credential("alice")
    server.realm.rotate()
    new = server.realm.credential("alice")
    assert new.ticket.kvno == old.ticket.kvno + 1
    server.realm.write_keytab(server.keytab)
    deadline = time.monotonic() + 60
    while _send(server.url, token(new)).status_code != 200:
        assert time.monotonic() < deadline, "the new key was not picked up"
        time.sleep(0.2)
    time.sleep(1.1)  # every worker has looked at the file by now
    for _ in range(6):
        assert _send(server.url, token(new)).status_code == 200
        assert _send(server.url, token(old)).status_code == 200
