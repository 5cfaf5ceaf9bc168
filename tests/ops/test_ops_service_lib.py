"""``service_lib``'s operations API in one process (the Flask test client): ``/readyz`` with
its reasons, ``/metrics``, the audit sink's lines for accepted, refused and unchecked (503)
verifications, and the request id handed back."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, jsonify

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "service_lib"))

from realm_helpers import MiniRealm, token

from orthrus.replay import MemoryReplayCache
from orthrus_io.errors import Unavailable
from service_lib import (
    KeytabSource,
    TicketAuth,
    Verifier,
    register_ops_routes,
    service_events,
)


class Switchable:
    """A replay cache that can be made unreachable, like Redis going away."""

    def __init__(self) -> None:
        self.down = False
        self.inner = MemoryReplayCache()

    def check_and_store(self, entry: bytes, expires_at: float, now: float) -> bool:
        self.ping()
        return self.inner.check_and_store(entry, expires_at, now)

    def remembers_since(self) -> float:
        return self.inner.remembers_since()

    def ping(self) -> None:
        if self.down:
            raise Unavailable("Redis is unavailable for the replay cache: connection refused")


def build(tmp_path: Path) -> tuple[Flask, MiniRealm, Switchable, dict[str, Any]]:
    realm = MiniRealm()
    realm.add_service()
    realm.add_user("alice")
    cache = Switchable()
    audit = tmp_path / "audit.log"
    verifier = Verifier(
        KeytabSource.from_keytab(realm.keytab()), cache, events=service_events(audit)
    )
    app = Flask("ops-test")
    auth = TicketAuth(app, verifier)
    health: dict[str, Any] = {"db": None}

    def database() -> None:
        if health["db"]:
            raise RuntimeError(health["db"])

    register_ops_routes(app, verifier, {"database": database})

    @app.get("/whoami")
    @auth.required
    def whoami() -> Any:
        return jsonify(ok=True)

    health["audit"] = audit
    return app, realm, cache, health


def test_readyz_names_what_is_not_ready(tmp_path: Path) -> None:
    app, _, cache, health = build(tmp_path)
    client = app.test_client()
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json == {"status": "ready", "principals": ["HTTP/localhost@SVC.TEST"]}
    cache.down, health["db"] = True, "notes database locked"
    down = client.get("/readyz")
    assert down.status_code == 503 and down.headers["Cache-Control"] == "no-store"
    assert down.json == {
        "status": "unavailable",
        "problems": {
            "replay_cache": "Redis is unavailable for the replay cache: connection refused",
            "database": "notes database locked",
        },
    }


def test_every_verification_is_one_audit_line_and_counted(tmp_path: Path) -> None:
    app, realm, cache, health = build(tmp_path)
    client = app.test_client()
    tok = token(realm.credential("alice"), binding=("GET", "/whoami"))
    header = {"Authorization": f"Ticket {tok}"}
    first = client.get("/whoami", headers={**header, "X-Request-Id": "rid-1"})
    again = client.get("/whoami", headers=header)
    cache.down = True
    unchecked = client.get(
        "/whoami",
        headers={"Authorization": f"Ticket {token(realm.credential('alice'))}"},
    )
    assert (first.status_code, again.status_code, unchecked.status_code) == (200, 401, 503)
    assert first.headers["X-Request-Id"] == "rid-1"
    made_up = again.headers["X-Request-Id"]
    assert len(made_up) == 32

    lines = [json.loads(line) for line in health["audit"].read_text().splitlines()]
    assert [(e["result"], e.get("error")) for e in lines] == [
        ("ok", None),
        ("refused", "KRB_AP_ERR_REPEAT"),
        ("refused", "UNAVAILABLE"),
    ]
    assert [e["request_id"] for e in lines[:2]] == ["rid-1", made_up]
    for entry in lines:
        assert entry["event"] == "ap" and entry["component"] == "service"
        assert entry["principal"] == "alice@SVC.TEST"
        assert entry["service"] == "HTTP/localhost@SVC.TEST"
        assert {"timestamp", "client_address", "duration_ms"} <= entry.keys()
    text = health["audit"].read_text()
    assert tok not in text and tok[:40] not in text

    metrics = client.get("/metrics")
    assert metrics.status_code == 200 and metrics.mimetype == "text/plain"
    body = metrics.get_data(as_text=True)
    for result in ("ok", "KRB_AP_ERR_REPEAT", "UNAVAILABLE"):
        assert f'exchange="AP",result="{result}"' in body


@pytest.mark.parametrize("path", ["/readyz", "/metrics"])
def test_ops_routes_need_no_ticket(tmp_path: Path, path: str) -> None:
    app, *_ = build(tmp_path)
    assert app.test_client().get(path).status_code == 200
