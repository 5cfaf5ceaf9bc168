"""Service session tokens: a JWT (RFC 7519) signed with HS256 (RFC 7515, RFC 7518 §3.2).

After an AP exchange (RFC 4120 §3.2) a service may hand its client a short-lived token so
that later requests need no new AP-REQ. The token asserts no identity of its own: it
carries the ticket that opened the session (sealed under the service's key, with the
KDC-signed authorization data inside, RFC 4120 §5.2.6). Each time the session is used the
service opens that ticket again and checks the KDC's signature again, and takes the client
and its groups from there only (:func:`check_session_ticket` ties the two together). Whoever
holds the keytab can sign a token, but not the KDC's signature: a session names no one and
no group the KDC did not sign, and never outlives the ticket.

The token is signed with a key derived by HKDF-SHA256 (RFC 5869) from the service's
long-term key of a given kvno (``kid``), so every worker holding the keytab checks it; its
``aud`` is the service principal. ``kind`` says how the token may come back: ``proof``
(a header, with a per-request proof of the session key, :mod:`orthrus.session_proof`) or
``browser`` (an HTTPS-only cookie, for clients that cannot hold a key); one is refused
where the other is expected.

Only this service makes its tokens, so checking one is strict and done in one pass: the
protected header must be exactly the one :func:`issue_session_token` writes (which pins
HS256 and leaves no room for ``none``, ``jku`` or ``crit``), the segments canonical base64url,
the claims typed (:mod:`orthrus.codec`), the MAC compared in constant time. Tests hold both
directions to pyjwt's (``jwt.encode`` gives the same bytes, ``jwt.decode`` accepts them):
pyjwt itself checks a 1.6 KB token's every character in Python, ~250 µs per pass.

Like the rest of the core this reads no clock: ``now`` is passed in.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal

import msgspec
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from orthrus.ap import KeysFor
from orthrus.b64 import b64u_decode, b64u_encode
from orthrus.codec import decode
from orthrus.errors import APError, MalformedMessage
from orthrus.keys import KEY_SIZE, Key, KeyUsage
from orthrus.messages import EncTicketPart, Ticket
from orthrus.principal import Principal
from orthrus.realm import select_key

__all__ = [
    "ALGORITHM",
    "MAX_TOKEN_LENGTH",
    "SessionClaims",
    "SessionKind",
    "check_session_ticket",
    "issue_session_token",
    "session_token_key",
    "ticket_id",
    "verify_session_token",
]

ALGORITHM = "HS256"
#: A ticket fits in an AP-REQ token of at most 32 KiB (:mod:`orthrus.httpauth`).
MAX_TOKEN_LENGTH = 48 * 1024

#: ``proof``: sent in a header with a proof per request; ``browser``: an HTTPS-only cookie.
SessionKind = Literal["proof", "browser"]


class _Header(msgspec.Struct, frozen=True):
    kid: str


class _Claims(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The token's claims as they must be: every one present, of its type, nothing else."""

    iss: Principal
    aud: Principal
    iat: int
    nbf: int
    exp: int
    kind: SessionKind
    tkt: Ticket


def session_token_key(key: Key) -> bytes:
    """The HS256 key for tokens of the service whose long-term key is ``key``.

    HKDF-SHA256 with ``info = "orthrus/usage/1025/hs256"`` (key usage ``SESSION_TOKEN``),
    distinct from every AEAD key :meth:`Key.aead` derives. Derived once per service key.
    """
    return _token_key(key.material)


@lru_cache(maxsize=64)
def _token_key(material: bytes) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(),
        length=KEY_SIZE,
        salt=None,
        info=b"orthrus/usage/%d/hs256" % KeyUsage.SESSION_TOKEN,
    ).derive(material)


@lru_cache(maxsize=64)
def _encoded_header(kid: str) -> bytes:
    # The protected header pyjwt writes (sorted keys, compact).
    header = {"alg": ALGORITHM, "kid": kid, "typ": "JWT"}
    return b64u_encode(json.dumps(header, separators=(",", ":"), sort_keys=True).encode()).encode()


def ticket_id(sealed_ticket: str) -> str:
    """A public identifier of a ticket (a hash of its ciphertext), for logs and revocation."""
    return b64u_encode(hashlib.sha256(sealed_ticket.encode("ascii")).digest()[:16])


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionClaims:
    """The ticket a session token carries, for which service, how it is sent, until when.

    ``ticket`` is the ticket of the AP-REQ that opened the session, exactly as sent; the
    client and its groups are in it, under the KDC's signature. ``expires_at`` is never later
    than the ticket's end (:func:`check_session_ticket`).
    """

    server: Principal
    ticket: Ticket = field(repr=False)
    kind: SessionKind
    issued_at: int
    expires_at: int


def issue_session_token(claims: SessionClaims, key: Key) -> str:
    """Sign ``claims`` with the token key derived from ``key`` (its kvno in the header)."""
    ticket = claims.ticket
    payload = {
        "iss": str(claims.server),
        "aud": str(claims.server),
        "iat": claims.issued_at,
        "nbf": claims.issued_at,
        "exp": claims.expires_at,
        "kind": claims.kind,
        "tkt": {"server": str(ticket.server), "kvno": ticket.kvno, "enc_part": ticket.enc_part},
    }
    # Byte for byte what jwt.encode(payload, token_key, "HS256", headers={"kid": kvno})
    # gives, without its per-call checks (a test holds the two together).
    body = b64u_encode(json.dumps(payload, separators=(",", ":")).encode()).encode()
    signing_input = _encoded_header(str(key.kvno)) + b"." + body
    signature = hmac.digest(session_token_key(key), signing_input, "sha256")
    return f"{signing_input.decode('ascii')}.{b64u_encode(signature)}"


def _bad(why: str) -> APError:
    return APError(
        "KRB_AP_ERR_MODIFIED",
        f"the session token {why}; authenticate again with a ticket",
    )


def _parts(token: str) -> tuple[int, str, _Claims, bytes]:
    """The key version, signing input, claims and MAC of a token, none of them trusted yet."""
    if not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH:
        raise MalformedMessage(f"a session token is at most {MAX_TOKEN_LENGTH} characters")
    try:
        header, payload, signature = token.split(".")
        kid = decode(b64u_decode(header), _Header).kid
        if not (kid.isascii() and kid.isdigit() and len(kid) <= 10):
            raise _bad("names no key version")
        if header.encode("ascii") != _encoded_header(kid):
            raise _bad(f"is not signed with {ALGORITHM} as this service signs its tokens")
        claims = decode(b64u_decode(payload), _Claims)
        return int(kid), f"{header}.{payload}", claims, b64u_decode(signature)
    except (MalformedMessage, ValueError, UnicodeEncodeError) as exc:
        raise _bad("is not a well-formed token") from exc


def verify_session_token(
    token: str, kind: SessionKind, keys_for: KeysFor, now: float, max_skew: int
) -> SessionClaims:
    """Check a token made by :func:`issue_session_token`, sent as ``kind``, at time ``now``.

    ``NOT_US`` for a service not served here, ``BADKEYVER`` for a key version no longer held,
    ``MODIFIED`` for a bad signature or claims or another kind, ``TKT_EXPIRED`` once it
    expired, ``TKT_NYV`` if issued more than ``max_skew`` s in the future. The ticket inside
    is not opened here: the caller opens it and calls :func:`check_session_ticket`.
    """
    kid, signing_input, claims, mac = _parts(token)
    server = claims.aud
    keys = keys_for(server)
    if keys is None:
        raise APError(
            "KRB_AP_ERR_NOT_US", f"the session token is for {server}, which is not served here"
        )
    key = select_key(keys, kid, server)
    expected = hmac.digest(session_token_key(key), signing_input.encode("ascii"), "sha256")
    if not hmac.compare_digest(mac, expected):
        raise _bad("does not verify under the service's key")
    if claims.iss != server:
        raise _bad("was issued by another service")
    if claims.kind != kind:
        raise _bad(f"was not issued to be sent as a {kind} session")
    if claims.nbf - max_skew > now:
        raise APError("KRB_AP_ERR_TKT_NYV", "the session token is not valid yet; check the clock")
    if now >= claims.exp:
        raise APError(
            "KRB_AP_ERR_TKT_EXPIRED",
            "the session token expired; authenticate again with a ticket",
        )
    return SessionClaims(
        server=server,
        ticket=claims.tkt,
        kind=claims.kind,
        issued_at=claims.iat,
        expires_at=claims.exp,
    )


def check_session_ticket(claims: SessionClaims, ticket: EncTicketPart) -> None:
    """``MODIFIED`` unless the session ends no later than its ticket (opened and checked by
    the caller: the ticket, not the token, says who the client is and until when)."""
    if claims.expires_at > ticket.endtime:
        raise _bad("outlives the ticket it came from")
