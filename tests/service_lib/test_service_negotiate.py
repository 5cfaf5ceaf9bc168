"""``Authorization: Negotiate`` (RFC 4559) on the Flask extension and the WSGI middleware:
an MIT keytab's keys, the groups the KDC signed, the AP-REP, both challenges on a 401."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from realm_helpers import (
    SERVICE,
    Clock,
    MiniRealm,
    kerberos_credential,
    negotiate,
    token,
    write_mit_keytab,
)
from test_service_flask import make_app
from werkzeug.test import Client

from orthrus import der
from orthrus.enctypes import KeyBlock
from orthrus.errors import ConfigError, ProtocolError
from orthrus.kerberos.gss import complete_security_context
from orthrus.kerberos.gss_tokens import NegTokenInit, decode_initial_token, decode_kerberos_token
from orthrus.negotiate import negotiate_header, parse_negotiate
from orthrus.principal import Principal
from orthrus.replay import MemoryReplayCache
from orthrus_io.events import ExchangeEvent
from service_lib import KeytabSource, TicketAuthMiddleware, Verifier, VerifierSettings
from service_lib.verifier import read_jwks

CHALLENGES = ['Ticket realm="SVC.TEST"', "Negotiate"]


@pytest.fixture
def mit_verifier(realm: MiniRealm, clock: Clock, tmp_path: Path) -> Verifier:
    """HTTP/localhost with the MIT keytab MIT's kadmin would export, and the KDC's JWKS."""
    path = write_mit_keytab(realm, tmp_path / "krb5.keytab")
    source = KeytabSource(path, kdc_jwks=realm.signer.jwks())
    return Verifier(source, MemoryReplayCache(), VerifierSettings(), clock=clock)


@pytest.fixture
def client(mit_verifier: Verifier) -> Any:
    return make_app(mit_verifier).test_client()


def reply_token(response: Any) -> bytes:
    scheme, _, value = response.headers["WWW-Authenticate"].partition(" ")
    assert scheme == "Negotiate"
    return base64.b64decode(value)


def assert_refused(response: Any, name: str) -> None:
    assert response.status_code == 401, response.get_data(as_text=True)
    assert response.get_json()["error"]["name"] == name
    assert response.headers.getlist("WWW-Authenticate") == CHALLENGES
    assert "Traceback" not in response.get_data(as_text=True)


def test_negotiate_names_the_client_with_its_signed_groups_and_proves_the_service(
    realm: MiniRealm, client: Any
) -> None:
    headers, context = negotiate(kerberos_credential(realm, "alice"))
    response = client.get("/whoami", headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json() == {
        "name": "alice@SVC.TEST",
        "groups": ["admins", "staff"],
        "method": "negotiate",
    }
    part = complete_security_context(context, reply_token(response))
    assert part is not None and (part.ctime, part.cusec) == (context.ctime, context.cusec)
    assert response.headers["Cache-Control"] == "private"


def test_without_mutual_authentication_the_answer_still_completes(
    realm: MiniRealm, client: Any
) -> None:
    headers, context = negotiate(kerberos_credential(realm, "alice"), mutual=False)
    response = client.get("/whoami", headers=headers)
    assert response.status_code == 200
    assert complete_security_context(context, reply_token(response)) is None


def test_groups_are_enforced_for_negotiate(realm: MiniRealm, client: Any) -> None:
    response = client.get("/admin", headers=negotiate(kerberos_credential(realm, "bob"))[0])
    assert response.status_code == 403
    assert response.get_json()["error"]["data"] == {"missing_groups": ["admins"]}
    reply_token(response)  # the exchange itself succeeded: the proof comes with the 403


def test_a_ticket_of_another_kdc_gives_an_identity_without_groups(
    realm: MiniRealm, clock: Clock, tmp_path: Path
) -> None:
    # An MIT keytab and no kdc_jwks: a service in an MIT realm, whose tickets carry no
    # Orthrus authorization data (and whose groups the service could not check anyway).
    path = write_mit_keytab(realm, tmp_path / "krb5.keytab")
    verifier = Verifier(KeytabSource(path), MemoryReplayCache(), clock=clock)
    client = make_app(verifier).test_client()
    for signed in (False, True):
        cred = kerberos_credential(realm, "alice", signed=signed)
        response = client.get("/whoami", headers=negotiate(cred)[0])
        assert response.status_code == 200
        assert response.get_json()["groups"] == []


def test_with_the_kdc_keys_a_ticket_without_signed_groups_is_refused(
    realm: MiniRealm, client: Any
) -> None:
    cred = kerberos_credential(realm, "alice", signed=False)
    assert_refused(client.get("/whoami", headers=negotiate(cred)[0]), "KRB_AP_ERR_MODIFIED")


def test_no_credentials_get_both_challenges(client: Any) -> None:
    response = client.get("/whoami")
    assert_refused(response, "KRB_ERR_GENERIC")
    assert "curl --negotiate" in response.get_json()["error"]["message"]


@pytest.mark.parametrize("value", ["Negotiate YII=", "Negotiate !!!", "Negotiate"])
def test_a_negotiate_token_that_does_not_parse_is_400(client: Any, value: str) -> None:
    response = client.get("/whoami", headers={"Authorization": value})
    assert response.status_code == 400
    assert response.get_json()["error"]["name"] == "KRB_ERR_GENERIC"
    assert "WWW-Authenticate" not in response.headers


def test_a_ticket_that_does_not_decode_is_400_and_changes_nothing(
    realm: MiniRealm, mit_verifier: Verifier, client: Any
) -> None:
    """The AP-REQ's ticket is decoded only when the ticket cache does not hold its octets:
    a ticket that is not DER (here tkt-vno 6) is still refused as malformed, before any key
    is tried, and enters neither cache."""
    header, _ = negotiate(kerberos_credential(realm, "alice"))
    sent = parse_negotiate(header["Authorization"]) or b""
    first = decode_initial_token(sent)
    assert isinstance(first, NegTokenInit) and first.mech_token is not None
    ticket = der.split_ap_req(decode_kerberos_token(first.mech_token).message).ticket
    bad = ticket.replace(b"\xa0\x03\x02\x01\x05", b"\xa0\x03\x02\x01\x06", 1)
    assert bad != ticket and sent.count(ticket) == 1
    response = client.get(
        "/whoami", headers={"Authorization": negotiate_header(sent.replace(ticket, bad))}
    )
    assert response.status_code == 400
    assert response.get_json()["error"]["name"] == "KRB_ERR_GENERIC"
    assert len(mit_verifier.kerberos_ticket_cache) == 0
    assert len(mit_verifier.replay_cache) == 0  # type: ignore[arg-type]  # a MemoryReplayCache


def test_ntlm_from_a_browser_without_a_ticket_is_401_with_both_challenges(client: Any) -> None:
    ntlm = base64.b64encode(b"NTLMSSP\x00\x01\x00\x00\x00").decode()
    response = client.get("/whoami", headers={"Authorization": f"Negotiate {ntlm}"})
    assert_refused(response, "KRB_AP_ERR_MSG_TYPE")


def test_the_ticket_scheme_on_an_mit_keytab_says_to_use_negotiate(
    realm: MiniRealm, client: Any
) -> None:
    response = client.get(
        "/whoami", headers={"Authorization": f"Ticket {token(realm.credential('alice'))}"}
    )
    assert_refused(response, "KRB_AP_ERR_NOT_US")
    assert "Negotiate" in response.get_json()["error"]["message"]


def test_wsgi_middleware_takes_negotiate(realm: MiniRealm, mit_verifier: Verifier) -> None:
    def app(environ: Any, start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "application/json")])
        body = {"user": environ["REMOTE_USER"], "type": environ["AUTH_TYPE"]}
        return [json.dumps(body).encode()]

    client = Client(TicketAuthMiddleware(app, mit_verifier))
    headers, context = negotiate(kerberos_credential(realm, "alice"))
    response = client.get("/x", headers=headers)
    assert response.status_code == 200
    assert response.get_json() == {"user": "alice@SVC.TEST", "type": "Negotiate"}
    assert complete_security_context(context, reply_token(response)) is not None
    refused = client.get("/x", headers=headers)  # the same header again: a replay
    assert refused.status_code == 401
    assert refused.headers.getlist("WWW-Authenticate") == CHALLENGES
    assert refused.get_json()["error"]["name"] == "KRB_AP_ERR_REPEAT"


def test_kdc_jwks_setting_is_read_and_checked(realm: MiniRealm, tmp_path: Path) -> None:
    good = tmp_path / "jwks.json"
    good.write_text(json.dumps(realm.signer.jwks()))
    assert read_jwks(str(good)) == realm.signer.jwks()
    for text in ("not json", "[1]"):
        bad = tmp_path / "bad.json"
        bad.write_text(text)
        with pytest.raises(ConfigError, match="kdc_jwks"):
            read_jwks(str(bad))


def test_an_orthrus_keytab_and_an_mit_one_together_serve_both_schemes(
    realm: MiniRealm, clock: Clock, tmp_path: Path
) -> None:
    orthrus = realm.write_keytab(tmp_path / "http.keytab")  # with the KDC's JWKS
    mit = write_mit_keytab(realm, tmp_path / "krb5.keytab")
    settings = VerifierSettings(keytab=f"{orthrus}, {mit}", principals=["HTTP/localhost"])
    assert settings.keytab_paths == [orthrus, mit]
    source = KeytabSource(settings.keytab_paths, check_interval=0)
    client = make_app(Verifier(source, MemoryReplayCache(), settings, clock=clock)).test_client()
    ticket_header = {"Authorization": f"Ticket {token(realm.credential('alice'))}"}
    ticket = client.get("/whoami", headers=ticket_header)
    assert ticket.get_json()["method"] == "ticket"
    negotiated = client.get("/whoami", headers=negotiate(kerberos_credential(realm, "alice"))[0])
    assert negotiated.get_json() == {
        "name": "alice@SVC.TEST",
        "groups": ["admins", "staff"],  # checked with the Orthrus keytab's JWKS
        "method": "negotiate",
    }
    # Either file replaced is reloaded (key rotation of the MIT keys): old tickets fail.
    old = kerberos_credential(realm, "alice")
    realm.kerberos_keys[Principal.parse(SERVICE)] = KeyBlock(18, bytes(32))
    write_mit_keytab(realm, mit)
    assert source.refresh()
    response = client.get("/whoami", headers=negotiate(old)[0])
    assert_refused(response, "KRB_AP_ERR_MODIFIED")
    fresh = client.get("/whoami", headers=negotiate(kerberos_credential(realm, "alice"))[0])
    assert fresh.status_code == 200


def test_a_ticket_is_opened_once_and_still_expires(
    realm: MiniRealm, mit_verifier: Verifier, clock: Clock
) -> None:
    cred = kerberos_credential(realm, "alice", now=clock.now, lifetime=600)
    for _ in range(3):  # the same ticket, a new authenticator each time
        header, _ = negotiate(cred, now=clock.now)
        assert mit_verifier.verify_negotiate(parse_negotiate(header["Authorization"]) or b"")
    assert len(mit_verifier.kerberos_ticket_cache) == 1  # opened and its signature checked once
    clock.now += 600 + 301  # past its end and the skew: the cached ticket is refused too
    header, _ = negotiate(cred, now=clock.now)
    with pytest.raises(ProtocolError) as caught:
        mit_verifier.verify_negotiate(parse_negotiate(header["Authorization"]) or b"")
    assert caught.value.name == "KRB_AP_ERR_TKT_EXPIRED"


class Recorded:
    """An event sink that keeps the events."""

    def __init__(self) -> None:
        self.events: list[ExchangeEvent] = []

    def emit(self, event: ExchangeEvent) -> None:
        self.events.append(event)


def test_a_cached_ticket_keeps_its_server_and_every_per_request_check(
    realm: MiniRealm, clock: Clock, tmp_path: Path
) -> None:
    """The ticket cache is keyed by the ticket's octets and a hit does not decode it again:
    the identity and a refusal's event still name the ticket's server, and the checks of the
    request (skew, replay) still run on a cached ticket."""
    recorded = Recorded()
    source = KeytabSource(write_mit_keytab(realm, tmp_path / "krb5.keytab"))
    verifier = Verifier(source, MemoryReplayCache(), clock=clock, events=recorded)
    cred = kerberos_credential(realm, "alice", now=clock.now)

    def verify(now: float) -> bytes:
        sent = parse_negotiate(negotiate(cred, now=now)[0]["Authorization"]) or b""
        identity = verifier.verify_negotiate(sent)
        assert str(identity.service) == SERVICE and str(identity.principal).startswith("alice@")
        return sent

    verify(clock.now)
    again = verify(clock.now)  # a hit: the same ticket, a new authenticator
    assert len(verifier.kerberos_ticket_cache) == 1
    skewed = parse_negotiate(negotiate(cred, now=clock.now - 301)[0]["Authorization"]) or b""
    for sent, name in ((again, "KRB_AP_ERR_REPEAT"), (skewed, "KRB_AP_ERR_SKEW")):
        with pytest.raises(ProtocolError) as caught:
            verifier.verify_negotiate(sent)
        assert caught.value.name == name
        refusal = recorded.events[-1]
        assert (refusal.ok, refusal.error, refusal.server) == (False, name, SERVICE)
        assert refusal.client is not None and refusal.client.startswith("alice@")


def test_negotiate_to_a_service_without_kerberos_keys_says_what_to_export(
    realm: MiniRealm, verifier: Verifier
) -> None:
    header, _ = negotiate(kerberos_credential(realm, "alice"))
    with pytest.raises(ProtocolError) as caught:
        verifier.verify_negotiate(parse_negotiate(header["Authorization"]) or b"")
    assert caught.value.name == "KRB_AP_ERR_NOT_US"
    assert "ktadd --format mit" in caught.value.message
