"""The core's faster paths give exactly what the plain ones gave: the KDC's signature is the
JWS pyjwt makes, byte for byte; base64url decoding accepts and refuses exactly what the
reference (decode, then re-encode to check canonical form) did; principals compare and hash
as their components do; cached JWE headers are never shared with callers."""

from __future__ import annotations

import base64
import binascii
import os
import random

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from msgspec.structs import replace

from orthrus import b64
from orthrus.authz import ALGORITHM, AuthzSigner, AuthzVerifier, session_key_hash
from orthrus.b64 import b64u_decode, b64u_encode
from orthrus.errors import APError, MalformedMessage
from orthrus.keys import Key, KeyUsage
from orthrus.messages import EncryptionKey, EncTicketPart
from orthrus.principal import Principal
from orthrus.seal import open_sealed, peek_header, seal

REALM = "EX.TEST"


def _reference_b64u_decode(text: str) -> bytes:
    try:
        raw = text.encode("ascii")
        data = base64.b64decode(raw + b"=" * (-len(raw) % 4), altchars=b"-_", validate=True)
    except (UnicodeEncodeError, binascii.Error, ValueError) as exc:
        raise MalformedMessage("bad") from exc
    if base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii") != text:
        raise MalformedMessage("not canonical")
    return data


def _outcome(decode: object, text: str) -> bytes | str:
    try:
        return decode(text)  # type: ignore[operator, no-any-return]
    except MalformedMessage:
        return "refused"


@pytest.mark.parametrize("pybase64", [True, False], ids=["pybase64", "binascii"])
def test_b64u_decode_accepts_and_refuses_as_the_reference(
    pybase64: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not pybase64:
        monkeypatch.setattr(b64, "_fast", None)
    rng = random.Random(7)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    odd = "+/= \n\t.é\x00"
    samples = ["", "A", "AA", "AB", "AAA", "AAB", "AAAA", "QQ", "QR", "Zg", "Zh", "Zm8", "Zm9"]
    for i in range(20_000):
        # Short texts and, one in ten, longer than b64._SHORT (the other decoder).
        size = rng.randint(0, 11) if i % 10 else rng.randint(b64._SHORT - 8, 2 * b64._SHORT)
        chars = [rng.choice(alphabet) for _ in range(size)]
        if chars and rng.random() < 0.2:
            chars[rng.randrange(len(chars))] = rng.choice(odd)
        samples.append("".join(chars))
    for size in (*range(40), *range(90, 100), 1341):
        samples.append(b64u_encode(os.urandom(size)))
    for text in samples:
        assert _outcome(b64u_decode, text) == _outcome(_reference_b64u_decode, text), text


def _ticket() -> EncTicketPart:
    return EncTicketPart(
        flags=["initial", "pre-authent"],
        key=EncryptionKey.from_key(Key.generate(os.urandom)),
        client=Principal.parse(f"alice@{REALM}"),
        authtime=1_800_000_000,
        starttime=1_800_000_000,
        endtime=1_800_036_000,
    )


def test_the_kdc_signature_is_the_jws_pyjwt_makes() -> None:
    signer = AuthzSigner(Ed25519PrivateKey.generate(), "kdc-1", REALM)
    ticket = _ticket()
    server = Principal.parse(f"HTTP/www@{REALM}")
    token = signer.sign(ticket, server, ("admins", "staff"))
    claims = {
        "iss": REALM,
        "sub": f"alice@{REALM}",
        "aud": f"HTTP/www@{REALM}",
        "groups": ["admins", "staff"],
        "iat": ticket.authtime,
        "nbf": ticket.starttime,
        "exp": ticket.endtime,
        "ckey": session_key_hash(ticket.key.to_key()),
    }
    expected = jwt.encode(claims, signer.private_key, algorithm=ALGORITHM, headers={"kid": "kdc-1"})
    assert token == expected
    verifier = AuthzVerifier(signer.jwks(), REALM)
    signed = replace(ticket, authorization_data=token)
    assert verifier.verify(signed, server, 300, now=ticket.starttime) == ("admins", "staff")


def test_a_changed_signature_is_still_refused() -> None:
    signer = AuthzSigner(Ed25519PrivateKey.generate(), "kdc-1", REALM)
    ticket = _ticket()
    server = Principal.parse(f"HTTP/www@{REALM}")
    head, payload, sig = signer.sign(ticket, server, ()).split(".")
    forged = f"{head}.{payload}.{sig[:-2]}{'A' if sig[-2] != 'A' else 'B'}{sig[-1]}"
    with pytest.raises(APError):
        AuthzVerifier(signer.jwks(), REALM).verify(
            replace(ticket, authorization_data=forged), server, 300, now=ticket.starttime
        )


def test_principals_compare_and_hash_by_their_components() -> None:
    a = Principal.parse(f"HTTP/www.example.test@{REALM}")
    b = Principal(("HTTP", "www.example.test"), REALM)
    c = Principal(("HTTP", "www.example.test"), "OTHER.TEST")
    assert a == b and hash(a) == hash(b) and str(a) == str(b) == f"HTTP/www.example.test@{REALM}"
    assert a != c and a != str(a)
    assert {a: 1}[b] == 1
    with pytest.raises(AttributeError):
        a.realm = "X"  # type: ignore[misc]


def test_peek_header_hands_out_copies_of_cached_headers() -> None:
    key = Key.generate(os.urandom, kvno=3)
    token = seal(key, KeyUsage.TICKET, b"part", os.urandom, context="x")
    header = peek_header(token)
    header["usage"] = 99
    header["kid"] = "7"
    assert peek_header(token)["kid"] == "3"
    assert open_sealed(key, KeyUsage.TICKET, token, context="x") == b"part"


def test_session_tokens_are_the_jws_pyjwt_makes() -> None:
    from orthrus.messages import Ticket
    from orthrus.session_token import (
        SessionClaims,
        issue_session_token,
        session_token_key,
        verify_session_token,
    )

    key = Key.generate(os.urandom, kvno=4)
    server = Principal.parse(f"HTTP/www@{REALM}")
    claims = SessionClaims(
        server=server,
        ticket=Ticket(server=server, kvno=4, enc_part="a.b.c.d.e"),
        kind="proof",
        issued_at=1_800_000_100,
        expires_at=1_800_003_700,
    )
    token = issue_session_token(claims, key)
    payload = {
        "iss": str(server),
        "aud": str(server),
        "iat": claims.issued_at,
        "nbf": claims.issued_at,
        "exp": claims.expires_at,
        "kind": "proof",
        "tkt": {"server": str(server), "kvno": 4, "enc_part": "a.b.c.d.e"},
    }
    expected = jwt.encode(payload, session_token_key(key), algorithm="HS256", headers={"kid": "4"})
    assert token == expected
    # The other way: pyjwt accepts what the one-pass check accepts...
    decoded = jwt.decode(
        token, session_token_key(key), algorithms=["HS256"], audience=str(server),
        issuer=str(server),
        options={"verify_exp": False, "verify_nbf": False, "verify_iat": False},
    )  # fmt: skip
    assert decoded == payload
    checked = verify_session_token(token, "proof", lambda p: {4: key}, claims.issued_at + 1, 300)
    assert checked == claims
    # ...and the one-pass check refuses what pyjwt would take with another header: the
    # same claims under another algorithm, none, or extra header fields.
    hs384_key = session_token_key(key) * 2  # (pyjwt warns of a shorter HS384 key)
    keys = {"HS384": hs384_key, "none": None, "HS256": session_token_key(key)}
    for alg, extra in (("HS384", {}), ("none", {}), ("HS256", {"jku": "https://evil"})):
        signed = jwt.encode(payload, keys[alg], algorithm=alg, headers={"kid": "4", **extra})
        with pytest.raises(APError) as refused:
            verify_session_token(signed, "proof", lambda p: {4: key}, claims.issued_at + 1, 300)
        assert refused.value.name == "KRB_AP_ERR_MODIFIED"
