"""The Flask extension and the WSGI middleware: statuses, headers, bodies, sessions."""

from __future__ import annotations

import base64
import json
import os
from typing import Any

import msgspec
import pytest
from flask import Flask, g, jsonify
from realm_helpers import Clock, MakeVerifier, MiniRealm, ap_token, session_headers, token
from werkzeug.test import Client

from orthrus.ap import read_ap_rep
from orthrus.httpauth import (
    asks_for_session,
    decode_ap_rep,
    decode_ap_req,
    encode_ap_req,
    prefer_session,
)
from orthrus.keys import Key
from orthrus.priv import PrivChannel, decode_priv, encode_priv
from orthrus.session_token import SessionClaims, issue_session_token
from service_lib import (
    PRIV_CONTENT_TYPE,
    SESSION_COOKIE,
    SESSION_HEADER,
    TicketAuth,
    TicketAuthMiddleware,
    Verifier,
    current_identity,
    is_sealed_request,
    read_sealed_request,
    sealed_response,
)


def make_app(verifier: Verifier, sessions: bool = False, browser_sessions: bool = False) -> Flask:
    app = Flask(__name__)
    auth = TicketAuth(verifier=verifier, sessions=sessions, browser_sessions=browser_sessions)
    auth.init_app(app)

    @app.get("/whoami")
    @auth.required
    def whoami() -> Any:
        identity = g.orthrus_identity
        assert identity is current_identity()
        return jsonify(
            name=identity.name, groups=list(identity.groups), method=identity.auth_method
        )

    @app.get("/admin")
    @auth.required(groups=["admins"])
    def admin() -> Any:
        return jsonify(ok=True)

    @app.post("/echo")
    @auth.required
    def echo() -> Any:
        if is_sealed_request():
            return sealed_response(read_sealed_request().upper(), 201)
        return jsonify(plain=True)

    @app.get("/public")
    def public() -> Any:
        return jsonify(public=True)

    return app


@pytest.fixture
def client(verifier: Verifier) -> Any:
    return make_app(verifier).test_client()


def auth(tok: str) -> dict[str, str]:
    return {"Authorization": f"Ticket {tok}"}


def asking_session(tok: str) -> dict[str, str]:
    """An AP-REQ whose request asks for a session (RFC 7240), as client_lib sends it."""
    return {**auth(tok), "Prefer": "orthrus-session"}


def assert_error(response: Any, status: int, name: str) -> None:
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert body["error"]["name"] == name
    assert set(body["error"]) >= {"code", "name", "message"}
    assert isinstance(body["error"]["code"], int)
    assert "Traceback" not in response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "no-store"
    if status == 401:
        challenges = response.headers.getlist("WWW-Authenticate")
        assert challenges == ['Ticket realm="SVC.TEST"', "Negotiate"]
    else:
        assert "WWW-Authenticate" not in response.headers


def test_ok(realm: MiniRealm, client: Any) -> None:
    response = client.get(
        "/whoami", headers=auth(token(realm.credential("alice"), binding=("GET", "/whoami")))
    )
    assert response.status_code == 200
    assert response.get_json() == {
        "name": "alice@SVC.TEST",
        "groups": ["admins", "staff"],
        "method": "ticket",
    }
    assert "Authentication-Info" not in response.headers


def test_mutual_authentication_header(realm: MiniRealm, client: Any) -> None:
    cred = realm.credential("alice")
    tok, sent = ap_token(cred, mutual=True)
    response = client.get("/whoami", headers=auth(tok))
    scheme, _, reply = response.headers["Authentication-Info"].partition(" ")
    assert scheme == "Ticket"
    read_ap_rep(decode_ap_rep(reply), cred.session_key, sent)


def test_group_required(realm: MiniRealm, client: Any) -> None:
    assert client.get("/admin", headers=auth(token(realm.credential("alice")))).status_code == 200
    response = client.get("/admin", headers=auth(token(realm.credential("bob"))))
    assert_error(response, 403, "KDC_ERR_POLICY")
    assert response.get_json()["error"]["data"] == {"missing_groups": ["admins"]}


def test_no_header(client: Any) -> None:
    assert_error(client.get("/whoami"), 401, "KRB_ERR_GENERIC")
    assert client.get("/public").status_code == 200


@pytest.mark.parametrize("header", ["Basic YWxpY2U6cHc=", "Bearer x.y.z"])
def test_wrong_scheme(client: Any, header: str) -> None:
    assert_error(
        client.get("/whoami", headers={"Authorization": header}), 401, "KRB_AP_ERR_MSG_TYPE"
    )


@pytest.mark.parametrize(
    "value",
    [
        "Ticket",
        "Ticket    ",
        "Ticket !!!not-base64!!!",
        "Ticket " + base64.urlsafe_b64encode(b"{not json").decode().rstrip("="),
        "Ticket " + base64.urlsafe_b64encode(b'{"type":"AP-REQ"}').decode().rstrip("="),
        "Ticket " + base64.urlsafe_b64encode(b"[1,2,3]").decode().rstrip("="),
        "Ticket " + base64.urlsafe_b64encode(b'{"type":"AS-REQ","x":1}').decode().rstrip("="),
        "Ticket \u00e9\u00e9\u00e9",
        "Ticket " + "A" * 40_000,
    ],
)
def test_malformed_tokens_are_400(client: Any, value: str) -> None:
    response = client.get("/whoami", headers={"Authorization": value})
    assert response.status_code == 400
    assert response.get_json()["error"]["name"] in {"KRB_ERR_GENERIC", "KRB_ERR_FIELD_TOOLONG"}


def test_truncated_tokens(realm: MiniRealm, verifier: Verifier, client: Any) -> None:
    tok = token(realm.credential("alice"))
    for cut in (1, 2, 3, 10, 100, len(tok) // 2, len(tok) - 1):
        response = client.get("/whoami", headers=auth(tok[:cut]))
        assert response.status_code in {400, 401}, cut
        assert "error" in response.get_json()
    assert len(verifier.replay_cache) == 0  # type: ignore[arg-type]
    assert client.get("/whoami", headers=auth(tok)).status_code == 200


def test_every_refusal_is_401_with_its_name(realm: MiniRealm, client: Any, clock: Clock) -> None:
    cred = realm.credential("alice")
    tok = token(cred)
    assert client.get("/whoami", headers=auth(tok)).status_code == 200
    assert_error(client.get("/whoami", headers=auth(tok)), 401, "KRB_AP_ERR_REPEAT")
    assert_error(
        client.get("/whoami", headers=auth(token(cred, now=clock.now + 999))),
        401,
        "KRB_AP_ERR_SKEW",
    )
    other = realm.credential("alice", "HTTP/other@SVC.TEST")
    assert_error(client.get("/whoami", headers=auth(token(other))), 401, "KRB_AP_ERR_NOT_US")
    bound = token(cred, binding=("GET", "/admin"))
    assert_error(client.get("/whoami", headers=auth(bound)), 401, "KRB_AP_ERR_MODIFIED")


def test_binding_uses_path_and_query(realm: MiniRealm, client: Any) -> None:
    cred = realm.credential("alice")
    ok = token(cred, binding=("GET", "/whoami?x=1"))
    assert client.get("/whoami?x=1", headers=auth(ok)).status_code == 200
    moved = token(cred, binding=("GET", "/whoami?x=1"))
    assert_error(client.get("/whoami?x=2", headers=auth(moved)), 401, "KRB_AP_ERR_MODIFIED")


def test_rejected_request_leaves_replay_cache_unchanged(
    realm: MiniRealm, verifier: Verifier, client: Any
) -> None:
    cred = realm.credential("bob")
    client.get("/admin", headers=auth(token(cred)))  # 403, but the AP-REQ itself was fine
    before = len(verifier.replay_cache)  # type: ignore[arg-type]
    ap_req = decode_ap_req(token(cred))
    broken = msgspec.structs.replace(ap_req, authenticator=ap_req.authenticator[:-3] + "AAA")
    client.get("/whoami", headers=auth(encode_ap_req(broken)))
    client.get("/whoami", headers={"Authorization": "Ticket junk"})
    assert len(verifier.replay_cache) == before  # type: ignore[arg-type]


# Sealed bodies (KRB-PRIV over HTTP)


def sealed_post(
    client: Any, realm: MiniRealm, data: bytes, clock: Clock
) -> tuple[Any, PrivChannel]:
    channel = PrivChannel.initiator(os.urandom)
    tok = token(realm.credential("alice"), binding=("POST", "/echo"), channel=channel)
    body = encode_priv(channel.seal(data, clock.now, os.urandom))
    response = client.post(
        "/echo", data=body, headers={**auth(tok), "Content-Type": PRIV_CONTENT_TYPE}
    )
    return response, channel


def test_sealed_request_and_reply(realm: MiniRealm, client: Any, clock: Clock) -> None:
    response, channel = sealed_post(client, realm, b"secret note", clock)
    assert response.status_code == 201
    assert response.mimetype == PRIV_CONTENT_TYPE
    assert b"secret" not in response.data
    assert channel.open(decode_priv(response.data), clock.now) == b"SECRET NOTE"


def test_sealed_body_tampered(realm: MiniRealm, client: Any, clock: Clock) -> None:
    channel = PrivChannel.initiator(os.urandom)
    tok = token(realm.credential("alice"), channel=channel)
    message = channel.seal(b"note", clock.now, os.urandom)
    parts = message.enc_part.split(".")
    parts[3] = parts[3][:-1] + ("A" if parts[3][-1] != "A" else "B")
    body = json.dumps({"type": "KRB-PRIV", "enc_part": ".".join(parts)})
    response = client.post(
        "/echo", data=body, headers={**auth(tok), "Content-Type": PRIV_CONTENT_TYPE}
    )
    assert_error(response, 401, "KRB_AP_ERR_MODIFIED")


def test_sealed_body_under_another_key(realm: MiniRealm, client: Any, clock: Clock) -> None:
    channel = PrivChannel.initiator(os.urandom)
    other = PrivChannel(
        Key.generate(os.urandom), "initiator", (channel.initial_seq, channel.initial_seq)
    )
    tok = token(realm.credential("alice"), channel=channel)
    body = encode_priv(other.seal(b"note", clock.now, os.urandom))
    response = client.post(
        "/echo", data=body, headers={**auth(tok), "Content-Type": PRIV_CONTENT_TYPE}
    )
    assert_error(response, 401, "KRB_AP_ERR_MODIFIED")


def test_sealed_body_needs_a_subkey(realm: MiniRealm, client: Any, clock: Clock) -> None:
    channel = PrivChannel.initiator(os.urandom)
    tok = token(realm.credential("alice"))  # no subkey in the authenticator
    body = encode_priv(channel.seal(b"note", clock.now, os.urandom))
    response = client.post(
        "/echo", data=body, headers={**auth(tok), "Content-Type": PRIV_CONTENT_TYPE}
    )
    assert_error(response, 401, "KRB_AP_ERR_NOKEY")


def test_sealed_body_junk(realm: MiniRealm, client: Any) -> None:
    channel = PrivChannel.initiator(os.urandom)
    tok = token(realm.credential("alice"), channel=channel)
    response = client.post(
        "/echo", data=b"\x00junk", headers={**auth(tok), "Content-Type": PRIV_CONTENT_TYPE}
    )
    assert response.status_code == 400


def test_sealed_body_too_large(realm: MiniRealm, client: Any) -> None:
    channel = PrivChannel.initiator(os.urandom)
    tok = token(realm.credential("alice"), channel=channel)
    response = client.post(
        "/echo", data=b"x" * 200_000, headers={**auth(tok), "Content-Type": PRIV_CONTENT_TYPE}
    )
    assert_error(response, 400, "KRB_ERR_FIELD_TOOLONG")


# Sessions


@pytest.fixture
def session_client(verifier: Verifier) -> Any:
    return make_app(verifier, sessions=True).test_client()


def token_claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    claims: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * 3))
    return claims


def test_session_header_with_a_proof(
    realm: MiniRealm, session_client: Any, verifier: Verifier, clock: Clock
) -> None:
    cred = realm.credential("alice")
    response = session_client.get("/whoami", headers=asking_session(token(cred)))
    assert response.status_code == 200
    session = response.headers[SESSION_HEADER]
    assert "Set-Cookie" not in response.headers  # browser sessions are off by default
    # The token asserts no identity: it carries the ticket, whose KDC signature names alice.
    claims = token_claims(session)
    assert {"sub", "groups"} & set(claims) == set()
    assert claims["kind"] == "proof"
    assert claims["tkt"]["enc_part"] == cred.ticket.enc_part
    # A script sends it back with a proof for each request; no AP exchange.
    fresh = make_app(verifier, sessions=True).test_client()
    before = len(verifier.replay_cache)  # type: ignore[arg-type]
    again = fresh.get("/whoami", headers=session_headers(session, cred, ("GET", "/whoami")))
    assert again.get_json() == {
        "name": "alice@SVC.TEST",
        "groups": ["admins", "staff"],
        "method": "session",
    }
    assert SESSION_HEADER not in again.headers  # a session does not beget sessions
    assert len(verifier.replay_cache) == before + 1  # type: ignore[arg-type]
    admin = fresh.get("/admin", headers=session_headers(session, cred, ("GET", "/admin")))
    assert admin.status_code == 200
    query = session_headers(session, cred, ("GET", "/whoami?x=1"), clock.now)
    assert fresh.get("/whoami?x=1", headers=query).status_code == 200


def test_session_only_when_the_request_asks_for_one(
    realm: MiniRealm, session_client: Any, verifier: Verifier
) -> None:
    """A session is handed out to a request that prefers one (RFC 7240 ``Prefer``, among
    other preferences, any case), never to one that does not: no token, no cost."""
    cred = realm.credential("alice")
    plain = session_client.get("/whoami", headers=auth(token(cred)))
    assert plain.status_code == 200
    assert SESSION_HEADER not in plain.headers
    assert "Preference-Applied" not in plain.headers
    other = session_client.get(
        "/whoami", headers={**auth(token(cred)), "Prefer": "return=minimal, orthrus-sessions"}
    )
    assert SESSION_HEADER not in other.headers
    asked = {**auth(token(cred)), "Prefer": "return=minimal, Orthrus-Session; x=1"}
    answer = session_client.get("/whoami", headers=asked)
    assert token_claims(answer.headers[SESSION_HEADER])["kind"] == "proof"
    assert answer.headers["Preference-Applied"] == "orthrus-session"
    assert answer.headers["Cache-Control"] == "private"


def test_prefer_values() -> None:
    """The client's ``Prefer`` value keeps the caller's preferences and names ours once."""
    assert prefer_session(None) == "orthrus-session"
    assert prefer_session("return=minimal") == "return=minimal, orthrus-session"
    assert prefer_session("orthrus-session") == "orthrus-session"
    assert asks_for_session(["wait=10", "respond-async, orthrus-session=1"])
    assert not asks_for_session(["", "orthrus-sessionx", "x; orthrus-session"])


def test_session_lifetime_comes_from_the_verifier_settings(
    realm: MiniRealm, make_verifier: MakeVerifier
) -> None:
    verifier = make_verifier(session_lifetime=60)
    client = make_app(verifier, sessions=True).test_client()
    response = client.get("/whoami", headers=asking_session(token(realm.credential("alice"))))
    claims = token_claims(response.headers[SESSION_HEADER])
    assert claims["exp"] - claims["iat"] == 60


def test_browser_session_is_an_https_only_cookie(
    realm: MiniRealm, verifier: Verifier, clock: Clock
) -> None:
    app = make_app(verifier, sessions=True, browser_sessions=True)
    browser = app.test_client()
    cred = realm.credential("alice")
    response = browser.get(
        "/whoami", headers=asking_session(token(cred)), base_url="https://localhost"
    )
    cookie = response.headers["Set-Cookie"]
    value = cookie.split(";")[0].removeprefix(f"{SESSION_COOKIE}=")
    for attribute in ("Secure", "HttpOnly", "SameSite=Strict", "Max-Age=3600", "Path=/"):
        assert attribute in cookie
    assert value != response.headers[SESSION_HEADER]  # a cookie token is no header token
    assert token_claims(value)["kind"] == "browser"
    answer = browser.get("/whoami", base_url="https://localhost")
    assert answer.get_json()["method"] == "session"
    assert browser.get("/admin", base_url="https://localhost").status_code == 200
    with pytest.raises(ValueError, match="needs sessions=True"):
        TicketAuth(verifier=verifier, browser_sessions=True)


def test_session_never_outlives_the_ticket(
    realm: MiniRealm, verifier: Verifier, clock: Clock
) -> None:
    cred = realm.credential("alice", now=clock.now - 10 * 3600 + 60)
    browser = make_app(verifier, sessions=True, browser_sessions=True).test_client()
    response = browser.get(
        "/whoami", headers=asking_session(token(cred)), base_url="https://localhost"
    )
    assert response.status_code == 200
    cookie = response.headers["Set-Cookie"]
    assert "Max-Age=60" in cookie or "Max-Age=59" in cookie
    assert token_claims(response.headers[SESSION_HEADER])["exp"] <= cred.endtime


def test_session_expires(realm: MiniRealm, session_client: Any, clock: Clock) -> None:
    cred = realm.credential("alice")
    response = session_client.get("/whoami", headers=asking_session(token(cred)))
    session = response.headers[SESSION_HEADER]
    clock.now += 3601
    fresh = session_client.application.test_client()
    headers = session_headers(session, cred, ("GET", "/whoami"), clock.now)
    assert_error(fresh.get("/whoami", headers=headers), 401, "KRB_AP_ERR_TKT_EXPIRED")


def test_forged_session_is_refused(realm: MiniRealm, session_client: Any, clock: Clock) -> None:
    cred = realm.credential("bob")
    response = session_client.get("/whoami", headers=asking_session(token(cred)))
    session = response.headers[SESSION_HEADER]
    header, _, signature = session.split(".")
    claims = token_claims(session)
    claims["exp"] += 3600
    forged_payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    forged = f"{header}.{forged_payload}.{signature}"
    fresh = session_client.application.test_client()
    headers = session_headers(forged, cred, ("GET", "/whoami"))
    assert_error(fresh.get("/whoami", headers=headers), 401, "KRB_AP_ERR_MODIFIED")
    # Signed with a key that is not the service's.
    claims_obj = SessionClaims(
        server=realm.entries[cred.ticket.server].principal,
        ticket=cred.ticket,
        kind="proof",
        issued_at=int(clock.now),
        expires_at=int(clock.now) + 600,
    )
    wrong = issue_session_token(claims_obj, Key.generate(os.urandom, realm.key().kvno))
    headers = session_headers(wrong, cred, ("GET", "/whoami"))
    assert_error(fresh.get("/whoami", headers=headers), 401, "KRB_AP_ERR_MODIFIED")
    for junk in ("x", "a.b.c", "e30.e30.", "\u00e9"):
        response = fresh.get("/admin", headers=session_headers(junk, cred, ("GET", "/admin")))
        assert response.status_code in {400, 401}


def test_session_alg_none_is_refused(realm: MiniRealm, session_client: Any) -> None:
    cred = realm.credential("bob")
    response = session_client.get("/whoami", headers=asking_session(token(cred)))
    _, payload, _ = response.headers[SESSION_HEADER].split(".")
    none_header = base64.urlsafe_b64encode(b'{"alg":"none","kid":"1"}').decode().rstrip("=")
    fresh = session_client.application.test_client()
    unsigned = f"{none_header}.{payload}."
    assert_error(
        fresh.get("/whoami", headers=session_headers(unsigned, cred, ("GET", "/whoami"))),
        401,
        "KRB_AP_ERR_MODIFIED",
    )


def test_sessions_off_ignore_session_tokens(
    realm: MiniRealm, session_client: Any, client: Any
) -> None:
    cred = realm.credential("alice")
    session = session_client.get("/whoami", headers=asking_session(token(cred))).headers[
        SESSION_HEADER
    ]
    headers = session_headers(session, cred, ("GET", "/whoami"))
    assert_error(client.get("/whoami", headers=headers), 401, "KRB_ERR_GENERIC")


# Plain WSGI


def wsgi_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    identity = environ.get("orthrus.identity")
    body = json.dumps(
        {
            "user": environ.get("REMOTE_USER"),
            "type": environ.get("AUTH_TYPE"),
            "groups": list(identity.groups) if identity else None,
        }
    ).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]


def test_wsgi_middleware(realm: MiniRealm, verifier: Verifier) -> None:
    client = Client(TicketAuthMiddleware(wsgi_app, verifier, public_paths={"/livez"}))
    cred = realm.credential("alice")
    tok, sent = ap_token(cred, binding=("GET", "/x/y?z=1"), mutual=True)
    response = client.get("/x/y?z=1", headers=auth(tok))
    assert response.status_code == 200
    assert response.json == {
        "user": "alice@SVC.TEST",
        "type": "Ticket",
        "groups": ["admins", "staff"],
    }
    reply = response.headers["Authentication-Info"].split(" ", 1)[1]
    read_ap_rep(decode_ap_rep(reply), cred.session_key, sent)
    assert client.get("/livez").json == {"user": None, "type": None, "groups": None}
    for headers, status, name in [
        ({}, 401, "KRB_ERR_GENERIC"),
        ({"Authorization": "Basic eDp5"}, 401, "KRB_AP_ERR_MSG_TYPE"),
        ({"Authorization": "Ticket %%%"}, 400, "KRB_ERR_GENERIC"),
        (auth(tok), 401, "KRB_AP_ERR_REPEAT"),
    ]:
        response = client.get("/x/y?z=1", headers=headers)
        assert response.status_code == status
        assert response.json["error"]["name"] == name
        assert ("WWW-Authenticate" in response.headers) == (status == 401)


def test_wsgi_middleware_optional(verifier: Verifier) -> None:
    client = Client(TicketAuthMiddleware(wsgi_app, verifier, required=False))
    assert client.get("/").json["user"] is None


def test_verifier_settings_from_toml(
    tmp_path: Any, keytab_file: Any, make_verifier: MakeVerifier
) -> None:
    from orthrus.errors import ConfigError
    from service_lib import VerifierSettings, load_verifier_settings

    config = tmp_path / "service.toml"
    config.write_text(
        f'[service]\nkeytab = "{keytab_file}"\nmax_skew = 120\nbind_requests = true\n'
    )
    settings = load_verifier_settings(config, env={})
    assert (settings.max_skew, settings.bind_requests, settings.require_authz) == (120, True, True)
    assert load_verifier_settings(config, env={"ORTHRUS_MAX_SKEW": "60"}).max_skew == 60
    with pytest.raises(ConfigError, match="ORTHRUS_MAX_SKEW"):
        load_verifier_settings(config, env={"ORTHRUS_MAX_SKEW": "abc"})
    with pytest.raises(ConfigError, match="redis_url"):
        load_verifier_settings(config, env={"ORTHRUS_REPLAY_CACHE": "redis"})
    config.write_text('[service]\nkeytab = "x"\nmax_skw = 1\n')
    with pytest.raises(ConfigError, match="max_skw"):
        load_verifier_settings(config, env={})
    config.write_text("[service]\nmax_skew = 120\n")
    with pytest.raises(ConfigError, match="no keytab"):
        load_verifier_settings(config, env={})
    with pytest.raises(ConfigError, match="no keytab"):
        Verifier.from_settings(VerifierSettings())
    # A principal without realm is in the keytab's realm.
    config.write_text('[service]\nprincipals = ["HTTP/localhost"]\n')
    verifier = Verifier.from_settings(
        load_verifier_settings(config, env={"ORTHRUS_KEYTAB": str(keytab_file)})
    )
    assert verifier.realm == "SVC.TEST"
    env = {"ORTHRUS_KEYTAB": "k", "ORTHRUS_SERVICE_PRINCIPALS": "HTTP/a, HTTP/b@R.TEST"}
    assert load_verifier_settings(None, env).principals == ["HTTP/a", "HTTP/b@R.TEST"]
    env = {"ORTHRUS_KEYTAB": "k", "ORTHRUS_ACCEPT_ANY_KEYTAB_PRINCIPAL": "true"}
    assert load_verifier_settings(None, env).accept_any_keytab_principal


def test_mutual_reply_comes_with_a_403_too(realm: MiniRealm, client: Any) -> None:
    """The AP exchange succeeded; the client can trust the 403 came from the service."""
    cred = realm.credential("bob")
    tok, sent = ap_token(cred, mutual=True)
    response = client.get("/admin", headers=auth(tok))
    assert response.status_code == 403
    reply = response.headers["Authentication-Info"].split(" ", 1)[1]
    read_ap_rep(decode_ap_rep(reply), cred.session_key, sent)
