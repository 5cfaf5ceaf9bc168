"""The demo service's routes, through Flask's test client."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import msgspec
import pytest
from realm_helpers import REALM, SERVICE, MiniRealm, session_headers, token
from support import free_port

from orthrus.priv import PrivChannel, decode_priv, encode_priv
from service_demo import DemoSettings, create_app
from service_lib import PRIV_CONTENT_TYPE, SESSION_HEADER


@pytest.fixture
def client(demo_realm: MiniRealm, tmp_path: Path) -> Any:
    keytab = demo_realm.write_keytab(tmp_path / "http.keytab")
    settings = DemoSettings(
        keytab=str(keytab), db=str(tmp_path / "notes.sqlite"), principals=[SERVICE]
    )
    return create_app(settings).test_client()


def auth(realm: MiniRealm, user: str, method: str = "GET", path: str = "/whoami") -> dict[str, str]:
    return {"Authorization": f"Ticket {token(realm.credential(user), binding=(method, path))}"}


def test_livez_needs_nothing(client: Any) -> None:
    assert client.get("/livez").get_json() == {"status": "ok"}


def test_whoami(demo_realm: MiniRealm, client: Any) -> None:
    body = client.get("/whoami", headers=auth(demo_realm, "alice")).get_json()
    assert body["principal"] == "alice@SVC.TEST"
    assert body["groups"] == ["admins"]
    assert body["auth_method"] == "ticket"
    assert body["service"] == "HTTP/localhost@SVC.TEST"
    ticket = body["ticket"]
    assert ticket["authtime"] <= ticket["starttime"] < ticket["endtime"]


def test_notes_are_private(demo_realm: MiniRealm, client: Any) -> None:
    for user, text in [("alice", "alice's"), ("bob", "bob's"), ("alice", "alice again")]:
        response = client.post(
            "/notes", json={"text": text}, headers=auth(demo_realm, user, "POST", "/notes")
        )
        assert response.status_code == 201
        assert response.get_json()["text"] == text
    alice = client.get("/notes", headers=auth(demo_realm, "alice", "GET", "/notes")).get_json()
    assert [n["text"] for n in alice["notes"]] == ["alice's", "alice again"]
    bob = client.get("/notes", headers=auth(demo_realm, "bob", "GET", "/notes")).get_json()
    assert [n["text"] for n in bob["notes"]] == ["bob's"]


def test_sealed_note(demo_realm: MiniRealm, client: Any) -> None:
    channel = PrivChannel.initiator(os.urandom)
    tok = token(demo_realm.credential("alice"), binding=("POST", "/notes"), channel=channel)

    body = encode_priv(
        channel.seal(json.dumps({"text": "sealed note"}).encode(), time.time(), os.urandom)
    )
    assert b"sealed note" not in body
    response = client.post(
        "/notes",
        data=body,
        headers={"Authorization": f"Ticket {tok}", "Content-Type": PRIV_CONTENT_TYPE},
    )
    assert response.status_code == 201
    assert response.mimetype == PRIV_CONTENT_TYPE
    reply = json.loads(channel.open(decode_priv(response.data), time.time()))
    assert reply["text"] == "sealed note"
    notes = client.get("/notes", headers=auth(demo_realm, "alice", "GET", "/notes")).get_json()[
        "notes"
    ]
    assert [n["text"] for n in notes] == ["sealed note"]


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"not json", "application/json"),
        (b'{"text": ""}', "application/json"),
        (b'{"text": 5}', "application/json"),
        (b'{"txt": "x"}', "application/json"),
        (json.dumps({"text": "x" * 5000}).encode(), "application/json"),
        (b"text=x", "application/x-www-form-urlencoded"),
    ],
)
def test_bad_notes_are_400(
    demo_realm: MiniRealm, client: Any, body: bytes, content_type: str
) -> None:
    headers = {**auth(demo_realm, "alice", "POST", "/notes"), "Content-Type": content_type}
    response = client.post("/notes", data=body, headers=headers)
    assert response.status_code == 400
    assert response.get_json()["error"]["name"] == "KRB_ERR_GENERIC"


def test_huge_body_is_413(demo_realm: MiniRealm, client: Any) -> None:
    headers = {**auth(demo_realm, "alice", "POST", "/notes"), "Content-Type": "application/json"}
    response = client.post("/notes", data=b"x" * 300_000, headers=headers)
    assert response.status_code == 413
    assert "error" in response.get_json()


def test_admin_stats(demo_realm: MiniRealm, client: Any) -> None:
    client.post("/notes", json={"text": "x"}, headers=auth(demo_realm, "bob", "POST", "/notes"))
    assert client.get(
        "/admin/stats", headers=auth(demo_realm, "alice", "GET", "/admin/stats")
    ).get_json() == {
        "notes": 1,
        "users": 1,
    }
    response = client.get("/admin/stats", headers=auth(demo_realm, "bob", "GET", "/admin/stats"))
    assert response.status_code == 403
    assert response.get_json()["error"]["name"] == "KDC_ERR_POLICY"


def test_errors_are_json(demo_realm: MiniRealm, client: Any) -> None:
    assert client.get("/nope").get_json()["error"]["name"] == "NOT_FOUND"
    assert client.delete("/notes").status_code == 405
    assert client.get("/whoami").status_code == 401


def test_session_then_no_ticket(demo_realm: MiniRealm, client: Any) -> None:
    cred = demo_realm.credential("alice")
    asked = {"Authorization": f"Ticket {token(cred)}", "Prefer": "orthrus-session"}
    first = client.get("/whoami", headers=asked)
    assert "Set-Cookie" not in first.headers  # browser sessions are off by default
    fresh = client.application.test_client()
    headers = session_headers(first.headers[SESSION_HEADER], cred, ("GET", "/whoami"))
    body = fresh.get("/whoami", headers=headers).get_json()
    assert body["auth_method"] == "session"
    assert body["principal"] == "alice@SVC.TEST"


def test_browser_sessions_flag(demo_realm: MiniRealm, tmp_path: Path) -> None:
    from service_demo.__main__ import parse_args

    keytab = str(demo_realm.write_keytab(tmp_path / "http.keytab"))
    assert parse_args(["--keytab", keytab]).browser_sessions is False
    settings = parse_args(
        [
            "--keytab",
            keytab,
            "--principal",
            SERVICE,
            "--browser-sessions",
            "--db",
            str(tmp_path / "n"),
        ]
    )
    assert settings.browser_sessions is True
    browser = create_app(settings).test_client()
    cred = demo_realm.credential("alice")
    headers = {"Authorization": f"Ticket {token(cred)}"}
    answer = browser.get("/whoami", headers=headers, base_url="https://localhost")
    assert "Secure" in answer.headers["Set-Cookie"]
    assert browser.get("/whoami", base_url="https://localhost").status_code == 200
    with pytest.raises(SystemExit):
        parse_args(["--keytab", keytab, "--browser-sessions", "--no-sessions"])


def test_realm_must_match_the_keytab(demo_realm: MiniRealm, tmp_path: Path) -> None:
    from orthrus.errors import ConfigError

    keytab = demo_realm.write_keytab(tmp_path / "http.keytab")
    with pytest.raises(ConfigError, match=r"OTHER\.TEST"):
        create_app(
            DemoSettings(
                keytab=str(keytab),
                db=str(tmp_path / "n.sqlite"),
                realm="OTHER.TEST",
                principals=[SERVICE],
            )
        )


def test_principals_and_replay_cache_flags(capsys: pytest.CaptureFixture[str]) -> None:
    """``--principal`` (repeatable) names what the service is, ``--accept-any-keytab-principal``
    accepts its whole keytab; the replay cache is a file beside the database unless asked."""
    from service_demo.__main__ import parse_args

    base = ["--keytab", "k", "--db", "d/notes.sqlite"]
    settings = parse_args([*base, "--principal", "HTTP/a", "--principal", "HTTP/b@R.TEST"])
    verifier = settings.verifier_settings()
    assert verifier.principals == ["HTTP/a", "HTTP/b@R.TEST"]
    assert not verifier.accept_any_keytab_principal
    assert verifier.replay_cache == "sqlite"
    assert verifier.replay_cache_path == "d/notes.sqlite.replay"
    anyone = parse_args([*base, "--accept-any-keytab-principal", "--replay-cache", "memory"])
    assert anyone.verifier_settings().accept_any_keytab_principal
    assert anyone.verifier_settings().replay_cache == "memory"
    for wrong in (
        ["--principal", "HTTP/a", "--accept-any-keytab-principal"],
        ["--replay-cache", "memory", "--workers", "2"],
    ):
        with pytest.raises(SystemExit):
            parse_args([*base, *wrong])
    assert "exclude each other" in capsys.readouterr().err


def test_backend_page_without_a_backend_or_a_kdc(demo_realm: MiniRealm, tmp_path: Path) -> None:
    """``/backend/whoami`` (delegation): 404 when the service has no back end; 503 when the
    KDC it asks for the delegated ticket cannot be reached — never a 500."""
    keytab = demo_realm.write_keytab(tmp_path / "http.keytab")
    plain = DemoSettings(keytab=str(keytab), db=str(tmp_path / "a.sqlite"), principals=[SERVICE])
    closed = f"http://127.0.0.1:{free_port()}"
    settings = msgspec.structs.replace(
        plain,
        db=str(tmp_path / "b.sqlite"),
        kdc_url=closed,
        backend_url=closed,
        backend_principal=f"HTTP/backend@{REALM}",
    )
    for app_settings, status, name in ((plain, 404, "NO_BACKEND"), (settings, 503, "UNAVAILABLE")):
        client = create_app(app_settings).test_client()
        headers = auth(demo_realm, "alice", "GET", "/backend/whoami")
        response = client.get("/backend/whoami", headers=headers)
        assert response.status_code == status, response.get_data(as_text=True)
        assert response.get_json()["error"]["name"] == name
