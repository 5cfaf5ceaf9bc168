"""Per-request proof that the sender of a session token holds its session key (RFC 9449 style).

A session token (:mod:`orthrus.session_token`) alone is a bearer token: whoever captures it
could send it again, here or at another instance of the service. So a client sends with
every request a proof, in the manner of DPoP (RFC 9449 §4) and of the AP authenticator it
replaces (RFC 4120 §5.5.1: "my name and the time, under the session key"): a part sealed
(:mod:`orthrus.seal`, JWE ``dir`` + ``A256GCM``) under the session key of the ticket the
token carries — known only to the client and the service — for its own key usage,
``SESSION_PROOF`` (1026), holding

- ``htm``, ``htu``: the request's method and target, exactly as the AP authenticator binds
  them (:func:`orthrus.httpauth.http_binding`);
- ``ath``: a hash of the session token (RFC 9449 §4.2), so a proof serves one session;
- ``ctime``, ``cusec``: the client's clock, checked against ``max_skew`` as an
  authenticator's is.

The service checks them in that order — ``KRB_AP_ERR_MODIFIED`` for a part that does not
open under this key and usage or is for another token or request, ``KRB_AP_ERR_SKEW`` for
the time — and last (so a refused proof never enters it) the replay cache that also holds
authenticators: a proof is accepted once (``KRB_AP_ERR_REPEAT``), remembered by its AEAD tag.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Annotated

import msgspec

from orthrus.b64 import b64u_decode, b64u_encode
from orthrus.codec import decode, encode
from orthrus.errors import APError, MalformedMessage
from orthrus.keys import Entropy, Key, KeyUsage
from orthrus.principal import Principal
from orthrus.replay import ReplayCache, check_replay
from orthrus.seal import open_sealed, seal
from orthrus.timecheck import check_skew

__all__ = [
    "MAX_PROOF_LENGTH",
    "ProofRules",
    "ProofTarget",
    "SessionProof",
    "check_session_proof",
    "make_session_proof",
]

MAX_PROOF_LENGTH = 16 * 1024


class SessionProof(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The sealed part of a proof: the request, the session token, the client's time."""

    htm: Annotated[str, msgspec.Meta(min_length=1, max_length=32)]
    htu: Annotated[str, msgspec.Meta(min_length=1, max_length=8192)]
    ath: Annotated[str, msgspec.Meta(min_length=43, max_length=43)]
    ctime: Annotated[int, msgspec.Meta(ge=0, lt=2**40)]
    cusec: Annotated[int, msgspec.Meta(ge=0, le=999_999)]


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
    seconds = int(now)
    proof = SessionProof(
        htm=bound.method.upper(),
        htu=bound.target,
        ath=_token_hash(bound.token),
        ctime=seconds,
        cusec=min(int((now - seconds) * 1_000_000), 999_999),
    )
    return seal(session_key, KeyUsage.SESSION_PROOF, encode(proof), entropy)


def _bad(why: str) -> APError:
    return APError(
        "KRB_AP_ERR_MODIFIED",
        f"the session proof {why}; send a fresh proof made with the session's key, or "
        "authenticate again with a ticket",
    )


def _opened(proof: str, session_key: Key) -> SessionProof:
    if len(proof) > MAX_PROOF_LENGTH:
        raise MalformedMessage(f"a session proof is at most {MAX_PROOF_LENGTH} characters")
    plaintext = open_sealed(session_key, KeyUsage.SESSION_PROOF, proof)
    try:
        return decode(plaintext, SessionProof)
    except MalformedMessage as exc:
        raise _bad("decrypted to garbage") from exc


def check_session_proof(
    proof: str | None, session_key: Key, bound: ProofTarget, now: float, rules: ProofRules
) -> None:
    """Check the proof sent with a session token; raise the first failed check's error.

    ``MODIFIED`` for no proof, one not sealed under the session key for ``SESSION_PROOF``
    (another key, another usage, altered), one for another session token or another
    request; ``SKEW`` for a time more than ``max_skew`` from ``now``; ``REPEAT`` for a proof
    already accepted.
    """
    if not proof:
        raise _bad("is missing: a session token is sent with an Orthrus-Session-Proof header")
    opened = _opened(proof, session_key)
    if opened.ath != _token_hash(bound.token):
        raise _bad("was made for another session token")
    if opened.htm != bound.method.upper() or opened.htu != bound.target:
        raise _bad("was made for another request (method or path)")
    made_at = opened.ctime + opened.cusec / 1e6
    check_skew(made_at, now, rules.max_skew, "service")
    # The decoded AEAD tag identifies the proof (base64url could spell it two ways).
    tag = b64u_decode(proof.rpartition(".")[2])
    entry = hashlib.sha256(
        b"%d|%s|" % (KeyUsage.SESSION_PROOF, str(rules.server).encode()) + tag
    ).digest()
    check_replay(
        rules.replay_cache, entry, opened.ctime + rules.max_skew + 1, now, made_at, "service"
    )
