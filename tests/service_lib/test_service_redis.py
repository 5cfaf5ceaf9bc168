"""The Redis replay cache behind the verifier, and 503 when a replay cache is unreachable."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, jsonify
from realm_helpers import SERVICE, MiniRealm, token
from support import free_port
from werkzeug.test import Client

from orthrus.errors import ProtocolError
from orthrus_io.errors import Unavailable
from service_lib import (
    KeytabSource,
    TicketAuth,
    TicketAuthMiddleware,
    Verifier,
    VerifierSettings,
    open_replay_cache,
)


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = shutil.which("redis-server")
    if server is None:
        pytest.skip("redis-server is not installed")
    port = free_port()
    directory = tmp_path_factory.mktemp("redis")
    process = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", str(directory)],
        stdout=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    import redis

    deadline = time.monotonic() + 60
    while True:
        try:
            redis.Redis.from_url(url).ping()
            break
        except redis.RedisError:
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.05)
    yield url
    process.terminate()
    process.wait(10)


def test_redis_cache_shared_by_two_verifiers(
    realm: MiniRealm, tmp_path: Path, redis_url: str
) -> None:
    keytab = realm.write_keytab(tmp_path / "http.keytab")
    settings = VerifierSettings(
        keytab=str(keytab), principals=[SERVICE], replay_cache="redis", redis_url=redis_url
    )
    one, two = Verifier.from_settings(settings), Verifier.from_settings(settings)
    tok = token(realm.credential("alice"))
    assert one.verify(tok).principal.name == "alice"
    with pytest.raises(ProtocolError) as info:
        two.verify(tok)
    assert info.value.name == "KRB_AP_ERR_REPEAT"


def test_redis_unreachable_at_start(tmp_path: Path, realm: MiniRealm) -> None:
    keytab = realm.write_keytab(tmp_path / "http.keytab")
    url = f"redis://user:hunter2@127.0.0.1:{free_port()}/0"
    with pytest.raises(Unavailable) as info:
        open_replay_cache(VerifierSettings(keytab=str(keytab), replay_cache="redis", redis_url=url))
    assert "hunter2" not in str(info.value)


class DownCache:
    def check_and_store(self, entry: bytes, expires_at: float, now: float) -> bool:
        raise Unavailable("Redis is unavailable for the replay cache: connection refused")

    def remembers_since(self) -> float:
        return 0.0


def test_unreachable_replay_cache_is_503_never_accepted(realm: MiniRealm) -> None:
    verifier = Verifier(KeytabSource.from_keytab(realm.keytab()), DownCache())
    app = Flask(__name__)
    auth = TicketAuth(app, verifier)

    @app.get("/x")
    @auth.required
    def view() -> Any:
        return jsonify(ok=True)

    for client in (app.test_client(), Client(TicketAuthMiddleware(lambda e, s: [], verifier))):
        response = client.get(
            "/x", headers={"Authorization": f"Ticket {token(realm.credential('alice'))}"}
        )
        assert response.status_code == 503
        assert response.headers["Retry-After"] == "1"
        assert response.json["error"]["name"] == "UNAVAILABLE"
