"""A realm in memory, minting real tickets with the core exchanges (no KDC process).

Users and services get random keys (no Argon2), so minting a ticket costs microseconds.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import msgspec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from orthrus.ap import AuthenticatorFields, make_ap_req, open_ticket, seal_ticket
from orthrus.as_exchange import ASOptions, handle_as_req, make_as_req, read_as_rep
from orthrus.authz import AuthzSigner
from orthrus.credentials import Credential
from orthrus.enctypes import KeyBlock, enctype
from orthrus.httpauth import SESSION_HEADER, SESSION_PROOF_HEADER, encode_ap_req, http_binding
from orthrus.kerberos.client import KerberosCredential
from orthrus.kerberos.gss import DEFAULT_FLAGS, InitiatorContext, initiate_security_context
from orthrus.kerberos.gss_tokens import GSS_C_MUTUAL_FLAG
from orthrus.kerberos.tickets import seal_kerberos_ticket
from orthrus.keys import Key
from orthrus.keytab import Keytab, KeytabEntry
from orthrus.messages import Authenticator, EncryptionKey, EncTicketPart
from orthrus.mitkeytab import MITKeytabEntry, serialize_keytab
from orthrus.negotiate import negotiate_header
from orthrus.principal import Principal, krbtgt
from orthrus.priv import PrivChannel
from orthrus.realm import KDCContext, PrincipalEntry, RealmPolicy
from orthrus.replay import MemoryReplayCache
from orthrus.session_proof import ProofTarget, make_session_proof
from orthrus.tgs_exchange import handle_tgs_req, make_tgs_req, read_tgs_rep
from orthrus_io.files import write_private
from service_lib import Verifier

REALM = "SVC.TEST"
SERVICE = f"HTTP/localhost@{REALM}"


@dataclass
class MiniRealm:
    """A realm with a krbtgt, users and services, whose KDC signs authorization data."""

    name: str = REALM
    entries: dict[Principal, PrincipalEntry] = field(default_factory=dict)
    signer: AuthzSigner = field(init=False)
    #: Each service's RFC 3961 key (aes256-cts-hmac-sha1-96, kvno 1), for Negotiate.
    kerberos_keys: dict[Principal, KeyBlock] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.signer = AuthzSigner(Ed25519PrivateKey.generate(), "kdc-1", self.name)
        self._add(krbtgt(self.name), Key.generate(os.urandom, 1))

    def _add(self, principal: Principal, key: Key, groups: tuple[str, ...] = ()) -> None:
        self.entries[principal] = PrincipalEntry(
            principal, {key.kvno: key}, key.kvno, requires_preauth=False, groups=groups
        )

    def context(self, signer: AuthzSigner | None = None) -> KDCContext:
        return KDCContext(
            RealmPolicy(self.name),
            self.entries.get,
            MemoryReplayCache(),
            os.urandom,
            signer=signer or self.signer,
        )

    def add_user(self, name: str, groups: tuple[str, ...] = ()) -> Principal:
        principal = Principal.parse(name, self.name)
        self._add(principal, Key.generate(os.urandom, 1), groups)
        return principal

    def add_service(self, name: str = SERVICE, kvno: int = 1) -> Principal:
        principal = Principal.parse(name, self.name)
        self._add(principal, Key.generate(os.urandom, kvno))
        self.kerberos_keys[principal] = enctype(18).random_to_key(os.urandom(32))
        return principal

    def rotate(self, name: str = SERVICE, keep_old: bool = True) -> Key:
        """A new key for a service, with the next kvno; older kvnos kept (or dropped)."""
        entry = self.entries[Principal.parse(name)]
        key = Key.generate(os.urandom, entry.kvno + 1)
        keys = {**entry.keys, key.kvno: key} if keep_old else {key.kvno: key}
        self.entries[entry.principal] = dataclasses.replace(entry, keys=keys, kvno=key.kvno)
        return key

    def key(self, name: str = SERVICE) -> Key:
        return self.entries[Principal.parse(name)].current_key

    def credential(
        self,
        user: str,
        service: str = SERVICE,
        now: float | None = None,
        signer: AuthzSigner | None = None,
    ) -> Credential:
        """A service ticket for ``user``, through an AS and a TGS exchange."""
        now = time.time() if now is None else now
        client = Principal.parse(user, self.name)
        ctx = self.context(signer)
        req = make_as_req(client, now, os.urandom, ASOptions())
        tgt = read_as_rep(handle_as_req(req, ctx, now), req, self.entries[client].current_key, now)
        tgs_req = make_tgs_req(tgt, Principal.parse(service), now, os.urandom)
        return read_tgs_rep(handle_tgs_req(tgs_req.message, ctx, now), tgs_req, now)

    def keytab(self, service: str = SERVICE, jwks: bool = True) -> Keytab:
        entry = self.entries[Principal.parse(service)]
        entries = [
            KeytabEntry(entry.principal, kvno, key.material) for kvno, key in entry.keys.items()
        ]
        return Keytab(entries=entries, kdc_jwks=self.signer.jwks() if jwks else None)

    def write_keytab(self, path: Path, service: str = SERVICE, jwks: bool = True) -> Path:
        write_private(path, self.keytab(service, jwks).to_bytes())
        return path


def kerberos_credential(
    realm: MiniRealm,
    user: str,
    service: str = SERVICE,
    now: float | None = None,
    signed: bool = True,
    lifetime: int = 3600,
    signer: AuthzSigner | None = None,
    groups: tuple[str, ...] | None = None,
) -> KerberosCredential:
    """A DER service ticket for ``user`` under the service's Kerberos key, with the groups
    the KDC signs (RFC 4120 §5.3, ad-type -5010; ``signer`` and ``groups`` to forge them)
    unless ``signed`` is False, as MIT's KDC issues it."""
    now = time.time() if now is None else now
    client, server = Principal.parse(user, realm.name), Principal.parse(service)
    session = enctype(18).random_to_key(os.urandom(32))
    part = EncTicketPart(
        flags=[],
        key=EncryptionKey.from_keyblock(session),
        client=client,
        authtime=int(now),
        starttime=int(now),
        endtime=int(now) + lifetime,
    )
    if signed:
        signed_groups = realm.entries[client].groups if groups is None else groups
        by = signer or realm.signer
        part = msgspec.structs.replace(
            part, authorization_data=by.sign(part, server, signed_groups)
        )
    ticket = seal_kerberos_ticket(part, server, realm.kerberos_keys[server], 1, os.urandom)
    return KerberosCredential(client, server, ticket, session, part.endtime)


def write_mit_keytab(realm: MiniRealm, path: Path, service: str = SERVICE) -> Path:
    """The service's Kerberos key as MIT's ``kadmin ktadd`` writes it."""
    principal = Principal.parse(service)
    entry = MITKeytabEntry(principal, 1, realm.kerberos_keys[principal])
    write_private(path, serialize_keytab([entry]))
    return path


def negotiate(
    cred: KerberosCredential, now: float | None = None, mutual: bool = True
) -> tuple[dict[str, str], InitiatorContext]:
    """An ``Authorization: Negotiate`` header for ``cred``, and the initiator's context."""
    now = time.time() if now is None else now
    flags = DEFAULT_FLAGS if mutual else DEFAULT_FLAGS & ~GSS_C_MUTUAL_FLAG
    context = initiate_security_context(cred, now, os.urandom, flags=flags)
    return {"Authorization": negotiate_header(context.token)}, context


def token(
    cred: Credential,
    now: float | None = None,
    binding: tuple[str, str] | None = None,
    mutual: bool = False,
    channel: PrivChannel | None = None,
) -> str:
    """An ``Authorization: Ticket`` token for ``cred``."""
    return ap_token(cred, now, binding, mutual, channel)[0]


def ap_token(
    cred: Credential,
    now: float | None = None,
    binding: tuple[str, str] | None = None,
    mutual: bool = False,
    channel: PrivChannel | None = None,
) -> tuple[str, Authenticator]:
    now = time.time() if now is None else now
    fields = AuthenticatorFields(
        checksum=http_binding(*binding) if binding else None,
        subkey=channel.key if channel else None,
        seq=channel.initial_seq if channel else None,
        mutual=mutual,
    )
    ap_req, authenticator = make_ap_req(cred, now, os.urandom, fields)
    return encode_ap_req(ap_req), authenticator


def session_headers(
    session: str, cred: Credential, binding: tuple[str, str], now: float | None = None
) -> dict[str, str]:
    """A session token and its proof, made with ``cred``'s session key, for one request."""
    now = time.time() if now is None else now
    proof = make_session_proof(cred.session_key, ProofTarget(session, *binding), now, os.urandom)
    return {SESSION_HEADER: session, SESSION_PROOF_HEADER: proof}


def reseal(cred: Credential, service_key: Key, **changes: object) -> Credential:
    """The "silver ticket": open a ticket with the service key, change it, seal it again."""
    part = open_ticket(cred.ticket, service_key)
    forged: EncTicketPart = msgspec.structs.replace(part, **changes)
    ticket = seal_ticket(forged, cred.ticket.server, service_key, os.urandom)
    return msgspec.structs.replace(cred, ticket=ticket)


class Clock:
    """A clock tests set by hand."""

    def __init__(self, now: float | None = None) -> None:
        self.now = time.time() if now is None else now

    def __call__(self) -> float:
        return self.now


#: The ``make_verifier`` fixture: a Verifier of HTTP/localhost with VerifierSettings(**kwargs).
MakeVerifier = Callable[..., Verifier]
