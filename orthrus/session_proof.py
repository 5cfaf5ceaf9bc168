"""Per-request proof that the sender of a session token holds its session key (RFC 9449 style).

A session token (:mod:`orthrus.session_token`) alone is a bearer token: whoever captures it
could send it again, here or at another instance of the service. So a client sends with
every request a proof, in the manner of DPoP (RFC 9449 §4): a JWS (RFC 7515) signed with
HS256 (RFC 7518 §3.2) under a key derived from the session key of the ticket the token
carries — known only to the client and the service (RFC 4120 §3.2.3) — with the claims

- ``htm``, ``htu``: the request's method and target, exactly as the AP authenticator binds
  them (:func:`orthrus.httpauth.http_binding`);
- ``ath``: a hash of the session token (RFC 9449 §4.2), so a proof serves one session;
- ``iat``: the client's clock, checked against ``max_skew`` like an authenticator's time;
- ``jti``: random, so that two proofs never coincide.

The service checks them in that order, ``KRB_AP_ERR_MODIFIED`` for anything that does not
hold, ``KRB_AP_ERR_SKEW`` for the time, and last (so a refused proof never enters it) the
replay cache that also holds authenticators: a proof is accepted once (``KRB_AP_ERR_REPEAT``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import jwt
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from orthrus.b64 import b64u_encode
from orthrus.errors import APError, MalformedMessage
from orthrus.keys import KEY_SIZE, Entropy, Key, KeyUsage
from orthrus.principal import Principal
from orthrus.replay import ReplayCache
from orthrus.timecheck import check_skew

__all__ = [
    "ALGORITHM",
    "MAX_PROOF_LENGTH",
    "PROOF_TYPE",
    "ProofRules",
    "ProofTarget",
    "check_session_proof",
    "make_session_proof",
    "session_proof_key",
]

ALGORITHM = "HS256"
#: The ``typ`` of a proof's protected header (RFC 7515 §4.1.9), as ``dpop+jwt`` in RFC 9449.
PROOF_TYPE = "orthrus-session-proof+jwt"
MAX_PROOF_LENGTH = 4096
_REQUIRED = ["htm", "htu", "ath", "iat", "jti"]


def session_proof_key(session_key: Key) -> bytes:
    """The HS256 key of proofs for sessions of a ticket whose session key is ``session_key``:
    HKDF-SHA256 with ``info = "orthrus/usage/1026/hs256"`` (key usage ``SESSION_PROOF``)."""
    return _proof_key(session_key.material)


@lru_cache(maxsize=4096)
def _proof_key(material: bytes) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(),
        length=KEY_SIZE,
        salt=None,
        info=b"orthrus/usage/%d/hs256" % KeyUsage.SESSION_PROOF,
    ).derive(material)


def _token_hash(token: str) -> str:
    return b64u_encode(hashlib.sha256(token.encode()).digest())


@dataclass(frozen=True, slots=True)
class ProofTarget:
    """What a proof is bound to: the session token it goes with, and the request."""

    token: str
    method: str
    target: str


@dataclass(frozen=True, slots=True)
class ProofRules:
    """How a service checks proofs: its replay cache, its name (in the cache's entries),
    and the allowed clock skew."""

    replay_cache: ReplayCache
    server: Principal
    max_skew: int = 300


def make_session_proof(session_key: Key, bound: ProofTarget, now: float, entropy: Entropy) -> str:
    """A proof for one request made at ``now`` (the ``Orthrus-Session-Proof`` header)."""
    claims = {
        "htm": bound.method.upper(),
        "htu": bound.target,
        "ath": _token_hash(bound.token),
        "iat": int(now),
        "jti": b64u_encode(entropy(16)),
    }
    return jwt.encode(
        claims, session_proof_key(session_key), algorithm=ALGORITHM, headers={"typ": PROOF_TYPE}
    )


def _bad(why: str) -> APError:
    return APError(
        "KRB_AP_ERR_MODIFIED",
        f"the session proof {why}; send a fresh proof made with the session's key, or "
        "authenticate again with a ticket",
    )


def _decoded(proof: str, session_key: Key) -> tuple[dict[str, Any], bytes]:
    if len(proof) > MAX_PROOF_LENGTH:
        raise MalformedMessage(f"a session proof is at most {MAX_PROOF_LENGTH} characters")
    try:
        decoded = jwt.decode_complete(
            proof,
            session_proof_key(session_key),
            algorithms=[ALGORITHM],
            options={"require": _REQUIRED, "verify_iat": False},
        )
    except jwt.PyJWTError as exc:
        raise _bad(f"does not verify under the session's key ({exc})") from exc
    claims: dict[str, Any] = decoded["payload"]
    if decoded["header"].get("typ") != PROOF_TYPE:
        raise _bad(f"is not of type {PROOF_TYPE}")
    iat = claims["iat"]
    if not isinstance(iat, int) or isinstance(iat, bool):
        raise _bad("has a time of the wrong type")
    return claims, decoded["signature"]


def check_session_proof(
    proof: str | None, session_key: Key, bound: ProofTarget, now: float, rules: ProofRules
) -> None:
    """Check the proof sent with a session token; raise the first failed check's error.

    ``MODIFIED`` for no proof, a bad MAC (another key, another type), a proof for another
    session token or another request; ``SKEW`` for a time more than ``max_skew`` from
    ``now``; ``REPEAT`` for a proof already accepted.
    """
    if not proof:
        raise _bad("is missing: a session token is sent with an Orthrus-Session-Proof header")
    claims, signature = _decoded(proof, session_key)
    if claims["ath"] != _token_hash(bound.token):
        raise _bad("was made for another session token")
    if claims["htm"] != bound.method.upper() or claims["htu"] != bound.target:
        raise _bad("was made for another request (method or path)")
    check_skew(claims["iat"], now, rules.max_skew, "service")
    # The MAC identifies the proof (its decoded bytes: base64url can spell them two ways).
    entry = hashlib.sha256(
        b"%d|%s|" % (KeyUsage.SESSION_PROOF, str(rules.server).encode()) + signature
    ).digest()
    if not rules.replay_cache.check_and_store(entry, claims["iat"] + rules.max_skew + 1, now):
        raise APError(
            "KRB_AP_ERR_REPEAT",
            "this session proof was already used: a replayed request; send a fresh proof",
        )
