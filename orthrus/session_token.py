"""Service session tokens: a JWT (RFC 7519) signed with HS256 (RFC 7515, RFC 7518 §3.2).

After an AP exchange (RFC 4120 §3.2) a service may hand its client a short-lived token so
that later requests need no new authenticator. The token is signed with a key derived by
HKDF-SHA256 (RFC 5869) from the service's long-term key of a given kvno, so every worker and
process holding the keytab can check it, and a key rotation invalidates nothing early. It is
bound to the ticket it came from: it names the ticket's client and groups and never outlives
the ticket. Decoding pins the algorithm; pyjwt compares the MAC in constant time.

Like the rest of the core this reads no clock: ``now`` is passed in, so the library's own
time checks are off and the same checks are made here against ``now``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import jwt
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from orthrus.ap import KeysFor
from orthrus.b64 import b64u_encode
from orthrus.errors import APError, MalformedMessage
from orthrus.keys import KEY_SIZE, Key, KeyUsage
from orthrus.principal import Principal
from orthrus.realm import select_key

__all__ = [
    "ALGORITHM",
    "MAX_TOKEN_LENGTH",
    "SessionClaims",
    "issue_session_token",
    "session_token_key",
    "ticket_id",
    "verify_session_token",
]

ALGORITHM = "HS256"
MAX_TOKEN_LENGTH = 8 * 1024
_REQUIRED = ["iss", "sub", "aud", "iat", "nbf", "exp", "groups", "tkt", "tkt_times"]


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
    """Who a session token speaks for, for which service, and until when.

    ``ticket`` is the :func:`ticket_id` of the ticket the session came from; ``authtime``,
    ``starttime`` and ``endtime`` are that ticket's times, and ``expires_at`` is never later
    than ``endtime``.
    """

    client: Principal
    server: Principal
    groups: tuple[str, ...]
    ticket: str
    authtime: int
    starttime: int
    endtime: int
    issued_at: int
    expires_at: int


def issue_session_token(claims: SessionClaims, key: Key) -> str:
    """Sign ``claims`` with the token key derived from ``key`` (its kvno in the header)."""
    if claims.expires_at > claims.endtime:
        raise ValueError("a session token never outlives its ticket")
    payload = {
        "iss": str(claims.server),
        "sub": str(claims.client),
        "aud": str(claims.server),
        "iat": claims.issued_at,
        "nbf": claims.issued_at,
        "exp": claims.expires_at,
        "groups": list(claims.groups),
        "tkt": claims.ticket,
        "tkt_times": [claims.authtime, claims.starttime, claims.endtime],
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


def _unverified(token: str) -> tuple[Principal, int]:
    if not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH:
        raise MalformedMessage(f"a session token is at most {MAX_TOKEN_LENGTH} characters")
    try:
        header = jwt.get_unverified_header(token)
        audience = jwt.decode(token, options={"verify_signature": False}).get("aud")
        kid = header.get("kid")
        if not isinstance(audience, str) or not isinstance(kid, str) or not kid.isdigit():
            raise _bad("names no service or key version")
        return Principal.parse(audience), int(kid)
    except (jwt.PyJWTError, MalformedMessage, ValueError) as exc:
        raise _bad("is not a well-formed token") from exc


def verify_session_token(token: str, keys_for: KeysFor, now: float, max_skew: int) -> SessionClaims:
    """Check a token made by :func:`issue_session_token` at time ``now``.

    ``NOT_US`` for a service not served here, ``BADKEYVER`` for a key version no longer held,
    ``MODIFIED`` for a bad signature or claims, ``TKT_EXPIRED`` once it expired,
    ``TKT_NYV`` if issued more than ``max_skew`` s in the future.
    """
    server, kvno = _unverified(token)
    keys = keys_for(server)
    if keys is None:
        raise APError(
            "KRB_AP_ERR_NOT_US", f"the session token is for {server}, which is not served here"
        )
    key = select_key(keys, kvno, server)
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            session_token_key(key),
            algorithms=[ALGORITHM],
            audience=str(server),
            issuer=str(server),
            options={
                "require": _REQUIRED,
                "verify_exp": False,
                "verify_nbf": False,
                "verify_iat": False,
            },
        )
    except jwt.PyJWTError as exc:
        raise _bad(f"does not verify ({exc})") from exc
    return _check_claims(claims, server, now, max_skew)


def _ints(claims: Mapping[str, Any], names: tuple[str, ...]) -> list[int]:
    values = [claims.get(name) for name in names]
    times = claims.get("tkt_times")
    if isinstance(times, list):
        values.extend(times)
    ints = [v for v in values if isinstance(v, int) and not isinstance(v, bool)]
    if len(ints) != len(names) + 3:
        raise _bad("has times of the wrong type")
    return ints


def _check_claims(
    claims: Mapping[str, Any], server: Principal, now: float, max_skew: int
) -> SessionClaims:
    iat, nbf, exp, authtime, starttime, endtime = _ints(claims, ("iat", "nbf", "exp"))
    groups = claims.get("groups")
    ticket = claims.get("tkt")
    if (
        not isinstance(groups, list)
        or not all(isinstance(g, str) for g in groups)
        or not isinstance(ticket, str)
        or exp > endtime
    ):
        raise _bad("has claims of the wrong type")
    if nbf - max_skew > now:
        raise APError("KRB_AP_ERR_TKT_NYV", "the session token is not valid yet; check the clock")
    if now >= exp:
        raise APError(
            "KRB_AP_ERR_TKT_EXPIRED",
            "the session token expired; authenticate again with a ticket",
        )
    try:
        client = Principal.parse(str(claims["sub"]))
    except MalformedMessage as exc:
        raise _bad("names no valid client") from exc
    return SessionClaims(
        client=client,
        server=server,
        groups=tuple(groups),
        ticket=ticket,
        authtime=authtime,
        starttime=starttime,
        endtime=endtime,
        issued_at=iat,
        expires_at=exp,
    )
