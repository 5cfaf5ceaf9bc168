"""KDC-signed authorization data: what a stolen service key still cannot forge."""

from __future__ import annotations

import hashlib
import hmac
import json
import os

import jwt
import msgspec
import pytest
from core_realm import T0, CoreRealm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from orthrus.ap import (
    APRules,
    AuthenticatorFields,
    make_ap_req,
    open_ticket,
    seal_ticket,
    verify_ap_req,
)
from orthrus.authz import AuthzSigner, AuthzVerifier, session_key_hash
from orthrus.b64 import b64u_decode, b64u_encode
from orthrus.credentials import Credential
from orthrus.errors import APError
from orthrus.messages import EncTicketPart
from orthrus.principal import Principal
from orthrus.replay import MemoryReplayCache

SKEW = 300


@pytest.fixture
def ticket(core: CoreRealm, tgt: Credential, http: Principal) -> Credential:
    return core.service_ticket(tgt, http, T0)


@pytest.fixture
def part(core: CoreRealm, ticket: Credential, http: Principal) -> EncTicketPart:
    return open_ticket(ticket.ticket, core.key_of(http))


def not_signed(verifier: AuthzVerifier, part: EncTicketPart, server: Principal) -> str:
    with pytest.raises(APError) as caught:
        verifier.verify(part, server, SKEW, now=T0)
    assert caught.value.name == "KRB_AP_ERR_MODIFIED"
    return caught.value.message


def with_authz(part: EncTicketPart, token: str | None) -> EncTicketPart:
    return msgspec.structs.replace(part, authorization_data=token)


def forge_token(header: dict, claims: dict, signature: bytes = b"") -> str:
    def enc(obj: dict) -> str:
        return b64u_encode(json.dumps(obj, separators=(",", ":")).encode())

    return f"{enc(header)}.{enc(claims)}.{b64u_encode(signature)}"


def claims_of(token: str) -> dict:
    return json.loads(b64u_decode(token.split(".")[1]))


def test_round_trip(core: CoreRealm, part: EncTicketPart, http: Principal) -> None:
    assert core.verifier().verify(part, http, SKEW, now=T0) == ("admins",)
    claims = claims_of(part.authorization_data)
    assert claims["sub"] == "alice@EX.TEST"
    assert claims["aud"] == "HTTP/web@EX.TEST"
    assert claims["iss"] == "EX.TEST"
    assert claims["exp"] == part.endtime
    assert claims["ckey"] == session_key_hash(part.key.to_key())
    assert jwt.get_unverified_header(part.authorization_data)["alg"] == "EdDSA"


def test_jwks_publishes_only_the_public_key(core: CoreRealm) -> None:
    jwks = core.signer.jwks()
    (jwk,) = jwks["keys"]
    assert jwk["kty"] == "OKP"
    assert jwk["crv"] == "Ed25519"
    assert jwk["alg"] == "EdDSA"
    assert jwk["use"] == "sig"
    assert jwk["kid"] == "kdc-test-1"
    assert "d" not in jwk
    raw = core.signer.private_key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    assert b64u_encode(raw) not in json.dumps(jwks)


def test_time_window_uses_the_callers_clock(
    core: CoreRealm, part: EncTicketPart, http: Principal
) -> None:
    verifier = core.verifier()
    assert verifier.verify(part, http, SKEW, now=part.endtime + SKEW) == ("admins",)
    assert verifier.verify(part, http, SKEW, now=part.starttime - SKEW) == ("admins",)
    for now in (part.endtime + SKEW + 1, part.starttime - SKEW - 1):
        with pytest.raises(APError, match="not valid at this time"):
            verifier.verify(part, http, SKEW, now=now)


def test_silver_ticket_with_altered_groups_is_refused(
    core: CoreRealm, ticket: Credential, part: EncTicketPart, http: Principal
) -> None:
    """Whoever holds the service key re-seals a ticket claiming more groups: refused."""
    service_key = core.key_of(http)
    header_b64, _payload, signature = part.authorization_data.split(".")
    claims = claims_of(part.authorization_data)
    claims["groups"] = ["admins", "root"]
    altered = f"{header_b64}.{b64u_encode(json.dumps(claims).encode())}.{signature}"
    forged = seal_ticket(with_authz(part, altered), http, service_key, os.urandom)
    forged_part = open_ticket(forged, service_key)
    assert "does not verify" in not_signed(core.verifier(), forged_part, http)
    # Signed with the attacker's own Ed25519 key under the KDC's kid: refused too.
    mine = jwt.encode(
        claims, Ed25519PrivateKey.generate(), algorithm="EdDSA", headers={"kid": "kdc-test-1"}
    )
    assert "does not verify" in not_signed(core.verifier(), with_authz(part, mine), http)
    # And end to end, the service's verifier refuses the re-sealed ticket.
    forged_credential = msgspec.structs.replace(ticket, ticket=forged)
    ap_req, _ = make_ap_req(forged_credential, T0, os.urandom, AuthenticatorFields())

    def check(p: EncTicketPart, server: Principal) -> None:
        core.verifier().verify(p, server, SKEW, now=T0)

    rules = APRules(MemoryReplayCache(), ticket_check=check)
    with pytest.raises(APError) as caught:
        verify_ap_req(ap_req, lambda p: {1: service_key} if p == http else None, T0, rules)
    assert caught.value.name == "KRB_AP_ERR_MODIFIED"
    genuine, _ = make_ap_req(ticket, T0, os.urandom, AuthenticatorFields())
    verified = verify_ap_req(genuine, lambda p: {1: service_key}, T0, rules)
    assert verified.ticket.client == core.principal("alice")


def test_stripped_authz_is_refused(core: CoreRealm, part: EncTicketPart, http: Principal) -> None:
    assert "carries no" in not_signed(core.verifier(), with_authz(part, None), http)


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"client": Principal.parse("bob@EX.TEST")}, id="other-client"),
        pytest.param({"endtime": int(T0) + 30 * 86400}, id="longer-life"),
        pytest.param({"authtime": int(T0) + 3600}, id="later-authtime"),
        pytest.param({"starttime": int(T0) - 3600}, id="earlier-starttime"),
    ],
)
def test_ticket_altered_around_genuine_authz_is_refused(
    core: CoreRealm, part: EncTicketPart, http: Principal, change: dict
) -> None:
    altered = msgspec.structs.replace(part, **change)
    assert "another ticket" in not_signed(core.verifier(), altered, http)


def test_authz_copied_from_another_ticket_is_refused(
    core: CoreRealm, tgt: Credential, part: EncTicketPart, http: Principal
) -> None:
    """Same client, server and times, another session key: the ckey binding refuses it."""
    other = open_ticket(core.service_ticket(tgt, http, T0).ticket, core.key_of(http))
    assert other.key != part.key
    assert other.endtime == part.endtime
    swapped = with_authz(part, other.authorization_data)
    assert "another ticket" in not_signed(core.verifier(), swapped, http)


def test_authz_for_another_service_is_refused(
    core: CoreRealm, tgt: Credential, part: EncTicketPart, http: Principal
) -> None:
    mail = core.add_service("imap/mail")
    assert "does not verify" in not_signed(core.verifier(), part, mail)


def test_authz_from_another_realm_or_kdc_key_is_refused(
    core: CoreRealm, part: EncTicketPart, http: Principal
) -> None:
    other_realm = AuthzVerifier(core.signer.jwks(), "OTHER.TEST")
    assert "does not verify" in not_signed(other_realm, part, http)
    stranger = AuthzSigner(Ed25519PrivateKey.generate(), "kdc-other", "EX.TEST")
    resigned = with_authz(part, stranger.sign(part, http, ("admins", "root")))
    assert "unknown KDC key" in not_signed(core.verifier(), resigned, http)
    assert "unknown KDC key" in not_signed(AuthzVerifier({"keys": []}, "EX.TEST"), part, http)


def test_hs256_with_the_public_key_as_secret_is_refused(
    core: CoreRealm, part: EncTicketPart, http: Principal
) -> None:
    """The algorithm-confusion attack: HMAC keyed with the published public key."""
    claims = claims_of(part.authorization_data)
    claims["groups"] = ["admins", "root"]
    jwk = core.signer.jwks()["keys"][0]
    for secret in (b64u_decode(jwk["x"]), jwk["x"].encode(), json.dumps(jwk).encode()):
        header = {"alg": "HS256", "typ": "JWT", "kid": "kdc-test-1"}
        unsigned = forge_token(header, claims).rsplit(".", 1)[0]
        mac = hmac.new(secret, unsigned.encode(), hashlib.sha256).digest()
        token = f"{unsigned}.{b64u_encode(mac)}"
        assert "does not verify" in not_signed(core.verifier(), with_authz(part, token), http)


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "HS512", "RS256", "ES256"])
def test_other_algorithms_are_refused(
    core: CoreRealm, part: EncTicketPart, http: Principal, alg: str
) -> None:
    claims = claims_of(part.authorization_data)
    token = forge_token({"alg": alg, "kid": "kdc-test-1"}, claims)
    assert "does not verify" in not_signed(core.verifier(), with_authz(part, token), http)
    signature = part.authorization_data.rsplit(".", 1)[1]
    token = forge_token({"alg": alg, "kid": "kdc-test-1"}, claims) + signature
    assert "does not verify" in not_signed(core.verifier(), with_authz(part, token), http)


@pytest.mark.parametrize("token", ["", "a.b", "a.b.c", "...", "x" * 100])
def test_garbage_authz_is_refused(
    core: CoreRealm, part: EncTicketPart, http: Principal, token: str
) -> None:
    not_signed(core.verifier(), with_authz(part, token), http)


def test_missing_claims_are_refused(core: CoreRealm, part: EncTicketPart, http: Principal) -> None:
    claims = claims_of(part.authorization_data)
    for name in ("iss", "sub", "aud", "exp", "nbf", "iat", "ckey", "groups"):
        partial = {k: v for k, v in claims.items() if k != name}
        token = jwt.encode(
            partial, core.signer.private_key, algorithm="EdDSA", headers={"kid": "kdc-test-1"}
        )
        not_signed(core.verifier(), with_authz(part, token), http)
    assert core.verifier().verify(part, http, SKEW, now=T0) == ("admins",)
