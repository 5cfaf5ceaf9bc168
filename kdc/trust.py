"""Cross-realm trust keys (RFC 4120 §1.2): ``orthrus-kdc trust add`` and ``trust list``.

Realm A lets its users reach realm B's services when both KDCs hold the same key of
``krbtgt/B@A``. One KDC makes the key (random, every enctype of its realm, the JSON
dialect's too) and writes it to a transfer file sealed under a one-time code
(:class:`~orthrus.keys.KeyUsage` ``TRUST_KEY_TRANSFER``, bound to both realms' names); the
code is printed, never written, so the file and the code travel apart. The other KDC opens
the file with the code and stores the same keys under its own master key. A trust key never
reaches a log, a ``repr`` or an error message.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Annotated, Literal

import msgspec
from sqlalchemy.exc import IntegrityError

from kdc.kerberos_keys import seal_owner
from kdc.models import KerberosKeyRow, KeyRow, PrincipalRow
from kdc.store import AdminError, NewPrincipal, Store
from orthrus.b64 import b64u_decode, b64u_encode
from orthrus.enctypes import ENCTYPES
from orthrus.errors import ConfigError, MalformedMessage, ProtocolError
from orthrus.keys import KEY_SIZE, Key, KeyUsage
from orthrus.principal import Principal
from orthrus.seal import open_sealed, seal

__all__ = ["TRUST_FORMAT", "Direction", "TrustTransfer", "export_trust", "import_trust"]

TRUST_FORMAT = "orthrus-trust/1"
#: ``outgoing``: this realm's users reach the other's services; ``incoming``: the reverse.
Direction = Literal["outgoing", "incoming", "both"]


class _KerberosKey(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    enctype: int
    key: bytes


class _TrustKey(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    name: str
    kvno: Annotated[int, msgspec.Meta(ge=1, lt=2**31)]
    key: bytes
    kerberos_keys: list[_KerberosKey]


class _TrustFile(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    format: str
    made_by: str
    peer: str
    keys: list[_TrustKey]


@dataclass(frozen=True, slots=True)
class TrustTransfer:
    """What ``trust add --export`` hands to the other realm: the sealed file, and the
    one-time code that opens it (to be carried apart from the file)."""

    principals: tuple[Principal, ...]
    sealed: bytes
    code: str

    def __repr__(self) -> str:
        return f"TrustTransfer(principals={[str(p) for p in self.principals]})"


def trust_principals(realm: str, peer: str, direction: Direction) -> tuple[Principal, ...]:
    """The cross-realm TGS names of a trust between ``realm`` and ``peer``, seen from
    ``realm``: outgoing ``krbtgt/PEER@REALM``, incoming ``krbtgt/REALM@PEER``, or both."""
    if peer == realm:
        raise ConfigError(f"{peer} is this KDC's own realm; name the other realm to trust")
    names = []
    if direction in ("outgoing", "both"):
        names.append(Principal(("krbtgt", peer), realm))
    if direction in ("incoming", "both"):
        names.append(Principal(("krbtgt", realm), peer))
    return tuple(names)


def _context(made_by: str, peer: str) -> str:
    return f"{TRUST_FORMAT}|{made_by}|{peer}"


def export_trust(store: Store, peer: str, direction: Direction) -> TrustTransfer:
    """Create the trust keys with ``peer`` (random, every enctype of the realm) and seal
    them for the other KDC under a new one-time code."""
    realm = store.settings.realm
    principals = trust_principals(realm, peer, direction)
    existing = [str(name) for name in principals if store.lookup(name) is not None]
    if existing:  # checked first: "both" never leaves one of its two keys made
        raise AdminError(
            f"{', '.join(existing)} exists already; delete it first (orthrus-kdc delprinc) "
            "to make a new trust key"
        )
    for name in principals:
        store.add_principal(NewPrincipal(name, password=None))
    keys = []
    for name in principals:
        entry = store.lookup(name)
        if entry is None:  # just committed: only a concurrent delprinc removes it
            raise AdminError(f"{name} disappeared while the trust was made; run trust add again")
        keys.append(
            _TrustKey(
                str(name),
                entry.kvno,
                entry.current_key.material,
                [
                    _KerberosKey(k.enctype, k.key.material)
                    for k in entry.kerberos_keys
                    if k.kvno == entry.kvno
                ],
            )
        )
    transfer_key = Key.generate(os.urandom)
    document = msgspec.json.encode(_TrustFile(TRUST_FORMAT, realm, peer, keys))
    sealed = seal(
        transfer_key, KeyUsage.TRUST_KEY_TRANSFER, document, os.urandom, _context(realm, peer)
    )
    return TrustTransfer(principals, sealed.encode("ascii"), b64u_encode(transfer_key.material))


def _open(sealed: bytes, code: str, made_by: str, peer: str) -> _TrustFile:
    try:
        material = b64u_decode(code.strip())
        if len(material) != KEY_SIZE:
            raise MalformedMessage("wrong length")
        plaintext = open_sealed(
            Key(material),
            KeyUsage.TRUST_KEY_TRANSFER,
            sealed.decode("ascii"),
            _context(made_by, peer),
        )
        document = msgspec.json.decode(plaintext, type=_TrustFile)
    except (ProtocolError, UnicodeDecodeError, ValueError, msgspec.ValidationError):
        # ProtocolError covers MalformedMessage and the seal's KRB_AP_ERR_MODIFIED.
        raise ConfigError(
            f"the trust file does not open with this code: it was changed, it is not "
            f"{made_by}'s file for {peer}, or the code is not the one 'orthrus-kdc trust add' "
            f"printed with it on {made_by}'s KDC"
        ) from None
    if document.format != TRUST_FORMAT or (document.made_by, document.peer) != (made_by, peer):
        raise ConfigError(
            f"the trust file is {document.made_by}'s for {document.peer}, not {made_by}'s "
            f"for {peer}"
        )
    return document


def import_trust(
    store: Store, peer: str, direction: Direction, sealed: bytes, code: str
) -> tuple[Principal, ...]:
    """Store the trust keys ``peer``'s KDC exported for this realm, after checking that
    the file is that KDC's, made for this realm, and holds exactly the keys ``direction``
    asks for (seen from here: an outgoing trust here is an incoming one there)."""
    realm = store.settings.realm
    principals = trust_principals(realm, peer, direction)
    document = _open(sealed, code, peer, realm)
    if sorted(k.name for k in document.keys) != sorted(str(p) for p in principals):
        held = ", ".join(k.name for k in document.keys)
        raise ConfigError(
            f"the trust file holds {held}; a trust '{direction}' with {peer} needs "
            + ", ".join(str(p) for p in principals)
            + f": use the --direction that matches the one given on {peer}'s KDC"
        )
    rows = [_row(store, item) for item in document.keys]
    try:
        with store.transaction() as session:
            session.add_all(rows)
    except IntegrityError:
        raise AdminError(
            f"a trust key with {peer} exists already; delete it first (orthrus-kdc delprinc) "
            "to replace it"
        ) from None
    return principals


def _row(store: Store, item: _TrustKey) -> PrincipalRow:
    """The database row of a trust key, its keys sealed under this realm's master key."""
    name = Principal.parse(item.name)  # one of trust_principals(): checked by the caller
    if len(item.key) != KEY_SIZE:
        raise ConfigError(f"the trust file's key of {name} is not a key")
    master = store.master
    row = PrincipalRow(name=str(name), kvno=item.kvno, requires_preauth=True, allow_tickets=True)
    row.keys.append(
        KeyRow(
            kvno=item.kvno,
            enctype=Key(item.key).enctype,
            wrapped=master.wrap(item.key, f"{name}#{item.kvno}"),
        )
    )
    for kerberos in item.kerberos_keys:
        kind = ENCTYPES.get(kerberos.enctype)
        if kind is None or len(kerberos.key) != kind.key_size:
            raise ConfigError(f"the trust file holds a key of unknown enctype {kerberos.enctype}")
        row.kerberos_keys.append(
            KerberosKeyRow(
                kvno=item.kvno,
                enctype=kerberos.enctype,
                salt=None,
                iterations=None,
                wrapped=master.wrap(
                    kerberos.key, seal_owner(str(name), item.kvno, kerberos.enctype)
                ),
            )
        )
    return row
