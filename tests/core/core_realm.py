"""An in-memory realm (a builder) for driving the protocol core with a clock the test controls.

Nothing here touches a file, a socket or the wall clock: every exchange gets ``now`` (a
float the test picks, starting at :data:`T0`) and ``os.urandom``, exactly as the KDC, the
client and the services give them to the core.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from functools import lru_cache

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from orthrus import codec
from orthrus.as_exchange import ASOptions, handle_as_req, make_as_req, read_as_rep
from orthrus.authz import AuthzSigner, AuthzVerifier
from orthrus.b64 import b64u_decode, b64u_encode
from orthrus.credentials import Credential
from orthrus.keys import Key
from orthrus.messages import ASRep, ASReq, TGSRep, TGSReq
from orthrus.principal import Principal, krbtgt
from orthrus.pwkdf import KDFParams, string_to_key
from orthrus.realm import KDCContext, OpenedTGT, PrincipalEntry, RealmPolicy
from orthrus.replay import MemoryReplayCache
from orthrus.tgs_exchange import (
    TGSRequest,
    handle_tgs_req,
    make_proxy_req,
    make_tgs_req,
    read_tgs_rep,
)
from orthrus_io.expiring_cache import ExpiringCache

#: The fake clock's starting point (2025-06-15T15:06:40Z); tests move it as they like.
T0 = 1_750_000_000.0
REALM = "EX.TEST"


def cheap_kdf(name: str, kvno: int = 1) -> KDFParams:
    """Cheap Argon2id with a salt fixed per principal and kvno (so derivations are cached)."""
    salt = hashlib.sha256(f"salt|{name}|{kvno}".encode()).digest()
    return KDFParams(salt, iterations=1, memory_kib=8192, lanes=1)


@lru_cache(maxsize=256)
def password_key(password: str, principal: Principal, params: KDFParams, kvno: int) -> Key:
    return string_to_key(password, principal, params, kvno)


def flip_byte(part: str, index: int = 0) -> str:
    """Flip one bit of one byte of a part's decoded bytes and re-encode it."""
    raw = bytearray(b64u_decode(part))
    raw[index % len(raw)] ^= 0x01
    return b64u_encode(bytes(raw))


def with_part(token: str, index: int, value: str) -> str:
    parts = token.split(".")
    parts[index] = value
    return ".".join(parts)


def wire(message: object, type_: type) -> object:
    """A message as the peer sees it: encoded to JSON and decoded again."""
    return codec.decode(codec.encode(message), type_)


class CoreRealm:
    """A realm held in a dict: a KDC context, principals, a replay cache and a signer."""

    def __init__(self, name: str = REALM, policy: RealmPolicy | None = None) -> None:
        self.name = name
        self.policy = policy or RealmPolicy(name)
        self.entries: dict[Principal, PrincipalEntry] = {}
        self.replay = MemoryReplayCache()
        self.signer = AuthzSigner(Ed25519PrivateKey.generate(), "kdc-test-1", name)
        #: As the KDC keeps them (kdc.app): a TGT's own checks once per TGT.
        self.opened_tgts: ExpiringCache[OpenedTGT] = ExpiringCache()
        self.ctx = KDCContext(
            self.policy,
            self.entries.get,
            self.replay,
            os.urandom,
            self.signer,
            opened_tgts=self.opened_tgts,
        )
        self.tgs = krbtgt(name)
        self.entries[self.tgs] = PrincipalEntry(self.tgs, {1: Key.generate(os.urandom, 1)}, 1)

    # -- principals ---------------------------------------------------------------------------

    def principal(self, text: str) -> Principal:
        return Principal.parse(text, default_realm=self.name)

    def add_user(self, name: str, password: str, kvno: int = 1, **fields: object) -> Principal:
        principal = self.principal(name)
        params = cheap_kdf(str(principal), kvno)
        key = password_key(password, principal, params, kvno)
        self.entries[principal] = PrincipalEntry(principal, {kvno: key}, kvno, params, **fields)
        return principal

    def add_service(self, name: str, kvno: int = 1, **fields: object) -> Principal:
        principal = self.principal(name)
        keys = {kvno: Key.generate(os.urandom, kvno)}
        self.entries[principal] = PrincipalEntry(principal, keys, kvno, **fields)
        return principal

    def change(self, principal: Principal, **changes: object) -> None:
        self.entries[principal] = dataclasses.replace(self.entries[principal], **changes)

    def key_of(self, principal: Principal, kvno: int | None = None) -> Key:
        entry = self.entries[principal]
        return entry.keys[entry.kvno if kvno is None else kvno]

    def user_key(self, principal: Principal, password: str) -> Key:
        """The key a client derives from ``password`` with the salt the KDC tells it."""
        entry = self.entries[principal]
        assert entry.kdf is not None
        return password_key(password, principal, entry.kdf, entry.kvno)

    def verifier(self) -> AuthzVerifier:
        return AuthzVerifier(self.signer.jwks(), self.name)

    # -- exchanges ----------------------------------------------------------------------------

    def as_req(
        self,
        client: Principal,
        key: Key | None,
        now: float = T0,
        lifetime: int = 0,
        renewable_life: int | None = None,
        server: Principal | None = None,
        forwardable: bool = False,
    ) -> ASReq:
        options = ASOptions(lifetime, renewable_life, server, forwardable)
        return make_as_req(client, now, os.urandom, options, key)

    def as_exchange(self, req: ASReq, now: float = T0) -> ASRep:
        """The KDC's side, with both messages passed through the codec as on the wire."""
        rep = handle_as_req(wire(req, ASReq), self.ctx, now)  # type: ignore[arg-type]
        return wire(rep, ASRep)  # type: ignore[return-value]

    def login(
        self,
        client: Principal,
        key: Key,
        now: float = T0,
        lifetime: int = 0,
        renewable_life: int | None = None,
        forwardable: bool = False,
    ) -> Credential:
        req = self.as_req(client, key, now, lifetime, renewable_life, forwardable=forwardable)
        return read_as_rep(self.as_exchange(req, now), req, key, now)

    def tgs_exchange(self, request: TGSRequest | TGSReq, now: float = T0) -> TGSRep:
        message = request.message if isinstance(request, TGSRequest) else request
        rep = handle_tgs_req(wire(message, TGSReq), self.ctx, now)  # type: ignore[arg-type]
        return wire(rep, TGSRep)  # type: ignore[return-value]

    def service_ticket(self, tgt: Credential, server: Principal, now: float = T0) -> Credential:
        request = make_tgs_req(tgt, server, now, os.urandom)
        return read_tgs_rep(self.tgs_exchange(request, now), request, now)

    def service_login(self, service: Principal, now: float = T0) -> Credential:
        """A service's own TGT, from its random key (as a keytab login)."""
        return self.login(service, self.key_of(service), now)

    def delegate(
        self, service_tgt: Credential, evidence: Credential, backend: Principal, now: float = T0
    ) -> Credential:
        """S4U2Proxy: the service of ``service_tgt`` asks for a ticket to ``backend`` in the
        name of the client of ``evidence`` (its ticket to the service)."""
        request = make_proxy_req(
            service_tgt, evidence.ticket, evidence.client, backend, now, os.urandom
        )
        return read_tgs_rep(self.tgs_exchange(request, now), request, now)
