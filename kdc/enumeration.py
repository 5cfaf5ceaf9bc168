"""Hiding which principals exist (``hide_unknown_principals = true`` in ``kdc.toml``).

RFC 4120 §3.1.3 answers an unknown client with ``KDC_ERR_C_PRINCIPAL_UNKNOWN`` and an unknown
server with ``KDC_ERR_S_PRINCIPAL_UNKNOWN``, which tells anyone which names exist (user
enumeration, the first step of password spraying and AS-REP roasting). With this setting the
AS exchange sees, for every name it looks up, what :meth:`DecoyPrincipals.present` gives:

- an unknown name is a *decoy*: a principal that requires pre-authentication, with a salt
  derived from a realm secret and the name (so repeated probes see the same salt, as they
  would for a real user) and a key nobody knows;
- a principal with a random key (a service) that requires pre-authentication gets its
  decoy's KDF parameters, so its ``KDC_ERR_PREAUTH_REQUIRED`` carries a ``kdf`` as a user's;
- a user is itself.

The unchanged code of :func:`orthrus.as_exchange.handle_as_req` then runs, so the answers
are the same — ``KDC_ERR_PREAUTH_REQUIRED`` with the KDF parameters, then
``KDC_ERR_PREAUTH_FAILED`` for any encrypted timestamp, lockout included — whether the client
or the server exists or not. Only a client that proved its key (or one that needs no
pre-authentication) learns that its server does not exist: the exchange's reply is then
dropped for ``KDC_ERR_S_PRINCIPAL_UNKNOWN``.

The work is the same too (the timing, docs/security.md): every name costs one lookup in the
store (which, with this setting, holds the whole table: kdc/lookups.py) and one in the cache
of what :meth:`~DecoyPrincipals.present` made of it, keyed on the store's entry. When that
entry is new (a name not seen before, or any name after a commit) the presentation is
rebuilt by the same steps whether the name exists or not: the decoy derived, new key
objects whose per-usage keys are derived on first use.

Still visible: a disabled principal (``KDC_ERR_POLICY``), the kvno of a principal whose key
changed (a decoy always says kvno 1), and to a client that needs no pre-authentication,
whether its server exists.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

import msgspec
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from kdc.kerberos_keys import default_salt
from orthrus.as_exchange import handle_as_req
from orthrus.authz import AuthzSigner
from orthrus.der import KDCRep, KDCReq
from orthrus.enctypes import enctype
from orthrus.errors import KDCError
from orthrus.kerberos.exchanges import handle_kerberos_as
from orthrus.kerberos.names import principal_of
from orthrus.keys import Key
from orthrus.messages import ASRep, ASReq
from orthrus.principal import Principal
from orthrus.pwkdf import SALT_BYTES, KDFParams
from orthrus.realm import KDCContext, KerberosKey, PrincipalEntry, ticket_server

if TYPE_CHECKING:
    from kdc.config import KDCSettings

__all__ = ["DecoyPrincipals", "as_handler", "decoy_secret"]

ASHandler = Callable[[ASReq, KDCContext, float], ASRep]
R = TypeVar("R")
T = TypeVar("T")


def decoy_secret(signing_key: Ed25519PrivateKey, realm: str) -> bytes:
    """The realm secret decoys are made from: derived from the KDC's signing key, which only
    the KDC holds and which stays the same across processes and restarts."""
    raw = signing_key.private_bytes(
        serialization.Encoding.Raw,
        serialization.PrivateFormat.Raw,
        serialization.NoEncryption(),
    )
    return hmac.new(raw, b"orthrus/decoy-principals|" + realm.encode(), hashlib.sha256).digest()


#: Names whose presentation is kept (then the cache starts over, as the store's does).
_PRESENTED_LIMIT = 16384


def _presentation(entry: PrincipalEntry | None, decoy: PrincipalEntry) -> PrincipalEntry:
    """What the exchange sees for a principal whose store entry is ``entry``, built by the
    same steps for every name: new key objects (their per-usage keys derived on first use,
    as a new decoy's are) and KDF parameters for anyone who must pre-authenticate."""
    shown = decoy if entry is None else entry
    keys = {kvno: Key(key.material, key.kvno, key.enctype) for kvno, key in shown.keys.items()}
    kdf = shown.kdf
    if kdf is None and shown.requires_preauth:
        # A random key (a service): no password, but its KDC_ERR_PREAUTH_REQUIRED must
        # carry KDF parameters as a user's and a decoy's do.
        kdf = decoy.kdf
    # On the Kerberos wire likewise: a random key's PA-ETYPE-INFO2 has a user's salt and
    # PBKDF2 count (the decoy's: the default salt, the realm's count).
    salted = {k.enctype: k for k in decoy.kerberos_keys}
    kerberos_keys = tuple(
        k
        if k.salt is not None or k.enctype not in salted
        else dataclasses.replace(
            k, salt=salted[k.enctype].salt, iterations=salted[k.enctype].iterations
        )
        for k in shown.kerberos_keys
    )
    # Whether it may be a ticket's server is decided from the store's entry once the client
    # proved its key (DecoyPrincipals._answer), as for a name that does not exist.
    return dataclasses.replace(
        shown, keys=keys, kdf=kdf, allow_svr=True, kerberos_keys=kerberos_keys
    )


@dataclasses.dataclass(frozen=True, slots=True)
class DecoyPrincipals:
    """An AS handler that answers for unknown clients and servers as if they existed (see
    module doc).

    ``kdf`` gives the Argon2id costs a new password would get (the realm's settings), and
    ``enctypes`` and ``iterations`` the Kerberos keys a new password would get, so a decoy's
    parameters look like a real user's on either wire.
    """

    secret: bytes = dataclasses.field(repr=False)
    kdf: KDFParams
    enctypes: tuple[int, ...] = ()
    iterations: int = 0
    #: name -> (the store's entry, what the exchange sees for it).
    _presented: dict[str, tuple[PrincipalEntry | None, PrincipalEntry]] = dataclasses.field(
        default_factory=dict, init=False, repr=False, compare=False
    )
    _lock: threading.Lock = dataclasses.field(
        default_factory=threading.Lock, init=False, repr=False, compare=False
    )

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
            kerberos_keys=tuple(self._kerberos_key(principal, n) for n in self.enctypes),
        )

    def _kerberos_key(self, principal: Principal, number: int) -> KerberosKey:
        """A decoy's key of enctype ``number``: unknowable, with the salt a user of that name
        would have (RFC 4120 §4: the realm, then the name's components) and the realm's count."""
        kind = enctype(number)
        seed = hmac.new(self.secret, b"krb|%d|%s" % (number, str(principal).encode()), "sha256")
        key = kind.random_to_key(seed.digest()[: kind.key_size])
        return KerberosKey(1, key, default_salt(principal), self.iterations)

    def present(self, principal: Principal, entry: PrincipalEntry | None) -> PrincipalEntry:
        """What the exchange sees for ``principal``, whose entry in the store is ``entry``.

        The same steps for every name, whether it exists or not: one cache lookup, made
        again (deriving the decoy, whether it is used or not) when the store's entry is
        another object than last time: a name not seen before, a change in the database,
        or a store without a cache.
        """
        name = str(principal)
        cached = self._presented.get(name)
        if cached is None or cached[0] is not entry:
            cached = (entry, _presentation(entry, self.decoy(principal)))
            with self._lock:
                if len(self._presented) >= _PRESENTED_LIMIT:
                    self._presented.clear()
                self._presented[name] = cached
        return cached[1]

    def __call__(self, req: ASReq, ctx: KDCContext, now: float) -> ASRep:
        """Answer ``req`` as :func:`handle_as_req` would, with decoys for unknown names."""
        return self._answer(handle_as_req, req, req.client, req.body.server, ctx, now)

    def kerberos(self, req: KDCReq, ctx: KDCContext, now: float) -> KDCRep:
        """Answer a DER AS-REQ as :func:`handle_kerberos_as` would, with decoys."""
        body = req.req_body
        client, server = principal_of(body.cname, body.realm), principal_of(body.sname, body.realm)
        return self._answer(handle_kerberos_as, req, client, server, ctx, now)

    def _answer(
        self,
        handle: Callable[[R, KDCContext, float], T],
        req: R,
        client: Principal,
        server: Principal,
        ctx: KDCContext,
        now: float,
    ) -> T:
        """``handle(req)`` with decoys for unknown names; ``KDC_ERR_S_PRINCIPAL_UNKNOWN``
        (:func:`orthrus.realm.ticket_server`) only once the client has proved its key."""
        real = ctx.lookup
        stored: dict[Principal, PrincipalEntry | None] = {}

        def lookup(principal: Principal) -> PrincipalEntry | None:
            entry = stored[principal] = real(principal)  # the same step for every name
            return self.present(principal, entry)

        reply = handle(req, dataclasses.replace(ctx, lookup=lookup), now)
        if stored[client] is None:  # unreachable: a decoy's key comes from a secret
            raise KDCError("KDC_ERR_PREAUTH_FAILED", "pre-authentication failed")
        # An unknown server, or a user asked for as one (user roasting), only now.
        ticket_server(server, stored[server], ctx.policy)
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
    return DecoyPrincipals(
        decoy_secret(signer.private_key, settings.realm),
        kdf,
        settings.enctype_numbers,
        settings.kerberos_iterations,
    )
