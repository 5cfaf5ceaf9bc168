"""Hiding which principals exist (``hide_unknown_principals = true`` in ``kdc.toml``).

RFC 4120 §3.1.3 answers an unknown client with ``KDC_ERR_C_PRINCIPAL_UNKNOWN``, which tells
anyone which names exist (user enumeration, the first step of password spraying and AS-REP
roasting). With this setting the AS exchange treats an unknown client of the realm as a
*decoy*: a principal that requires pre-authentication, with a salt derived from a realm
secret and the name (so repeated probes see the same salt, as they would for a real user)
and a key nobody knows. The unchanged code of :func:`orthrus.as_exchange.handle_as_req` then
runs for it, so the answers are the same — ``KDC_ERR_PREAUTH_REQUIRED`` with the KDF
parameters, then ``KDC_ERR_PREAUTH_FAILED`` for any encrypted timestamp, lockout included —
and so is the work done, hence the timing.

Still visible: a disabled principal (``KDC_ERR_POLICY``) and the kvno of a real user whose
password changed (a decoy always says kvno 1).
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
from collections.abc import Callable
from typing import TYPE_CHECKING

import msgspec
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from orthrus.as_exchange import handle_as_req
from orthrus.authz import AuthzSigner
from orthrus.errors import KDCError
from orthrus.keys import Key
from orthrus.messages import ASRep, ASReq
from orthrus.principal import Principal
from orthrus.pwkdf import SALT_BYTES, KDFParams
from orthrus.realm import KDCContext, PrincipalEntry

if TYPE_CHECKING:
    from kdc.config import KDCSettings

__all__ = ["DecoyPrincipals", "as_handler", "decoy_secret"]

ASHandler = Callable[[ASReq, KDCContext, float], ASRep]


def decoy_secret(signing_key: Ed25519PrivateKey, realm: str) -> bytes:
    """The realm secret decoys are made from: derived from the KDC's signing key, which only
    the KDC holds and which stays the same across processes and restarts."""
    raw = signing_key.private_bytes(
        serialization.Encoding.Raw,
        serialization.PrivateFormat.Raw,
        serialization.NoEncryption(),
    )
    return hmac.new(raw, b"orthrus/decoy-principals|" + realm.encode(), hashlib.sha256).digest()


@dataclasses.dataclass(frozen=True, slots=True)
class DecoyPrincipals:
    """An AS handler that answers for unknown clients as if they existed (see module doc).

    ``kdf`` gives the Argon2id costs a new password would get (the realm's settings), so a
    decoy's parameters look like a real user's.
    """

    secret: bytes = dataclasses.field(repr=False)
    kdf: KDFParams

    def decoy(self, principal: Principal) -> PrincipalEntry:
        """The stable stand-in for ``principal``: same salt every time, an unknowable key."""
        name = str(principal).encode()
        # The random salt part of a real key has SALT_BYTES; a decoy's must look the same.
        salt = hmac.new(self.secret, b"salt|" + name, hashlib.sha256).digest()[:SALT_BYTES]
        key = Key(hmac.new(self.secret, b"key|" + name, hashlib.sha256).digest(), 1)
        return PrincipalEntry(
            principal=principal,
            keys={1: key},
            kvno=1,
            kdf=msgspec.structs.replace(self.kdf, salt=salt),
            requires_preauth=True,
        )

    def __call__(self, req: ASReq, ctx: KDCContext, now: float) -> ASRep:
        """Answer ``req`` as :func:`handle_as_req` would, with a decoy for an unknown client."""
        real = ctx.lookup
        used: list[Principal] = []

        def lookup(principal: Principal) -> PrincipalEntry | None:
            entry = real(principal)
            if entry is None and principal == req.client:
                used.append(principal)
                return self.decoy(principal)
            return entry

        reply = handle_as_req(req, dataclasses.replace(ctx, lookup=lookup), now)
        if used:  # unreachable: a decoy's key is derived from a secret nobody else holds
            raise KDCError("KDC_ERR_PREAUTH_FAILED", "pre-authentication failed")
        return reply


def as_handler(settings: KDCSettings, signer: AuthzSigner) -> ASHandler:
    """The AS handler ``settings`` ask for: with decoys if ``hide_unknown_principals``."""
    if not settings.hide_unknown_principals:
        return handle_as_req
    kdf = KDFParams(
        b"\0" * SALT_BYTES,
        "argon2id",
        settings.kdf_iterations,
        settings.kdf_memory_kib,
        settings.kdf_lanes,
    )
    return DecoyPrincipals(decoy_secret(signer.private_key, settings.realm), kdf)
