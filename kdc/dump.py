"""``orthrus-kdc dump`` / ``load``: the whole realm as one JSON file, keys still sealed under
the master key (as MIT's ``kdb5_util dump`` keeps them under the master key).

The file is deterministic (sorted, exact timestamps), so ``dump`` → ``load`` into another
realm → ``dump`` gives the same bytes. It names the realm and the master key's check value;
``load`` refuses a file from another realm or master key, or one whose keys do not open,
before it changes anything, and then replaces the database in one transaction. Moving a realm
between SQLite and PostgreSQL is a dump, an ``init --master-key`` on the new database, a load.
Dumps made before Kerberos keys existed (no ``kerberos_keys``) still load: their principals
get Kerberos keys at their next ``cpw``, as after migration 0005; dumps made before two-factor
login load with it off (0006).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import msgspec
from sqlalchemy import delete, select
from sqlalchemy.orm import selectinload

from kdc.kerberos_keys import seal_owner
from kdc.keys_at_rest import otp_owner
from kdc.models import (
    GroupRow,
    KerberosKeyRow,
    KeyRow,
    OTPRecoveryCodeRow,
    PasswordHistoryRow,
    PrincipalRow,
    SigningKeyRow,
)
from kdc.store import Store
from orthrus.crossrealm import issuing_realm
from orthrus.enctypes import UnsupportedEnctype, enctype
from orthrus.errors import ConfigError, MalformedMessage
from orthrus.principal import Principal

__all__ = ["dump_realm", "load_realm"]

FORMAT = "orthrus-dump/1"
_TIME = "%Y-%m-%dT%H:%M:%S.%fZ"

Stamp = Annotated[str, msgspec.Meta(pattern=r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")]


class DumpKey(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    kvno: int
    enctype: str
    wrapped: str
    created_at: Stamp


class DumpKerberosKey(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    kvno: int
    enctype: int
    salt: bytes | None
    iterations: int | None
    wrapped: str
    created_at: Stamp


class DumpKDF(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    salt: bytes
    iterations: int
    memory_kib: int
    lanes: int


class DumpHistory(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    kdf: DumpKDF
    wrapped: str
    created_at: Stamp


class DumpPrincipal(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    name: str
    kvno: int
    requires_preauth: bool
    allow_tickets: bool
    max_life: int | None
    max_renewable_life: int | None
    kdf: DumpKDF | None
    created_at: Stamp
    modified_at: Stamp
    password_changed_at: Stamp | None
    groups: list[str]
    keys: list[DumpKey]
    password_history: list[DumpHistory] = []
    #: Absent from dumps made before the flag existed: refused as a server, as after the
    #: migration that added it (0003_allow_svr).
    allow_svr: bool = False
    #: Absent from dumps made before Kerberos keys existed (0005_kerberos_keys).
    kerberos_keys: list[DumpKerberosKey] = []
    #: Two-factor login (0006_otp): the flag, the TOTP secret sealed under the master key
    #: (owner ``name#otp``) and the hashes of the unused recovery codes.
    requires_otp: bool = False
    otp_wrapped: str | None = None
    otp_recovery_codes: list[str] = []
    #: Absent from dumps made before delegation existed: as after 0007_delegation.
    allow_forwardable: bool = True
    ok_as_delegate: bool = False
    delegate_to: list[str] = []


class DumpSigningKey(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    kid: str
    wrapped: str
    created_at: Stamp


class DumpFile(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    format: str
    realm: str
    master_key: str
    principals: list[DumpPrincipal]
    signing_keys: list[DumpSigningKey]


def _stamp(moment: datetime) -> str:
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return moment.strftime(_TIME)


def _moment(stamp: str) -> datetime:
    return datetime.strptime(stamp, _TIME).replace(tzinfo=UTC)


def dump_realm(store: Store) -> bytes:
    """The realm as deterministic JSON bytes."""
    with store.transaction() as session:
        rows = session.scalars(
            select(PrincipalRow)
            .options(
                selectinload(PrincipalRow.keys),
                selectinload(PrincipalRow.kerberos_keys),
                selectinload(PrincipalRow.groups),
                selectinload(PrincipalRow.history),
                selectinload(PrincipalRow.recovery_codes),
            )
            .order_by(PrincipalRow.name)
        ).all()
        principals = [_dump_principal(row) for row in rows]
        signing = [
            DumpSigningKey(s.kid, s.wrapped, _stamp(s.created_at))
            for s in session.scalars(select(SigningKeyRow).order_by(SigningKeyRow.kid))
        ]
    document = DumpFile(
        FORMAT, store.settings.realm, store.master.fingerprint(), principals, signing
    )
    return msgspec.json.format(msgspec.json.encode(document), indent=1) + b"\n"


def _dump_principal(row: PrincipalRow) -> DumpPrincipal:
    kdf = None
    if row.kdf_salt is not None:
        kdf = DumpKDF(
            row.kdf_salt, row.kdf_iterations or 0, row.kdf_memory_kib or 0, row.kdf_lanes or 0
        )
    return DumpPrincipal(
        name=row.name,
        kvno=row.kvno,
        requires_preauth=row.requires_preauth,
        allow_tickets=row.allow_tickets,
        max_life=row.max_life,
        max_renewable_life=row.max_renewable_life,
        kdf=kdf,
        created_at=_stamp(row.created_at),
        modified_at=_stamp(row.modified_at),
        password_changed_at=_stamp(row.password_changed_at) if row.password_changed_at else None,
        groups=sorted(g.name for g in row.groups),
        keys=[
            DumpKey(k.kvno, k.enctype, k.wrapped, _stamp(k.created_at))
            for k in sorted(row.keys, key=lambda k: k.kvno)
        ],
        password_history=[
            DumpHistory(
                DumpKDF(h.kdf_salt, h.kdf_iterations, h.kdf_memory_kib, h.kdf_lanes),
                h.wrapped,
                _stamp(h.created_at),
            )
            for h in row.history
        ],
        allow_svr=row.allow_svr,
        allow_forwardable=row.allow_forwardable,
        ok_as_delegate=row.ok_as_delegate,
        delegate_to=row.delegate_to.split(),
        kerberos_keys=[
            DumpKerberosKey(
                k.kvno, k.enctype, k.salt, k.iterations, k.wrapped, _stamp(k.created_at)
            )
            for k in sorted(row.kerberos_keys, key=lambda k: (k.kvno, k.enctype))
        ],
        requires_otp=row.requires_otp,
        otp_wrapped=row.otp_wrapped,
        otp_recovery_codes=sorted(c.digest for c in row.recovery_codes),
    )


def _check(store: Store, document: DumpFile) -> None:
    """Refuse a foreign or damaged dump before anything changes."""
    if document.format != FORMAT:
        raise ConfigError(f"not an Orthrus dump (format {document.format!r})")
    if document.realm != store.settings.realm:
        raise ConfigError(
            f"the dump is of realm {document.realm}, this KDC serves {store.settings.realm}"
        )
    if document.master_key != store.master.fingerprint():
        raise ConfigError(
            "the dump's keys are sealed under another master key; create the realm with "
            "'orthrus-kdc init --master-key STASH' using the original stash"
        )
    for principal in document.principals:
        name = Principal.parse(principal.name)
        if name.realm != document.realm and issuing_realm(name, document.realm) is None:
            # krbtgt/THIS@OTHER is of another realm by name: an incoming trust's key.
            raise ConfigError(f"the dump holds {principal.name}, of another realm")
        if principal.kvno not in {k.kvno for k in principal.keys}:
            raise ConfigError(f"the dump has no current key for {principal.name}")
        if any(Principal.parse(t).realm != document.realm for t in principal.delegate_to):
            raise ConfigError(f"{principal.name} may delegate to a service of another realm")
        for key in principal.keys:
            store.master.unwrap(key.wrapped, f"{principal.name}#{key.kvno}")
        _check_kerberos_keys(store, principal)
        for old in principal.password_history:
            store.master.unwrap(old.wrapped, f"{principal.name}#history")
        if principal.otp_wrapped is not None:
            store.master.unwrap(principal.otp_wrapped, otp_owner(principal.name))
    for signing in document.signing_keys:
        store.master.unwrap(signing.wrapped, f"signing#{signing.kid}")
    if not document.signing_keys:
        raise ConfigError("the dump holds no KDC signing key")


def _check_kerberos_keys(store: Store, principal: DumpPrincipal) -> None:
    """Each Kerberos key is of a version the principal has, of a known enctype and size,
    opens under the master key for its name, kvno and enctype, and appears once."""
    versions = {k.kvno for k in principal.keys}
    seen = set()
    for key in principal.kerberos_keys:
        where = f"the Kerberos key of {principal.name} (kvno {key.kvno}, enctype {key.enctype})"
        if key.kvno not in versions:
            raise ConfigError(f"the dump has {where} but no key version {key.kvno}")
        if (key.kvno, key.enctype) in seen:
            raise ConfigError(f"the dump has {where} twice")
        seen.add((key.kvno, key.enctype))
        material = store.master.unwrap(
            key.wrapped, seal_owner(principal.name, key.kvno, key.enctype)
        )
        try:
            enctype(key.enctype).random_to_key(material)
        except (UnsupportedEnctype, MalformedMessage):
            raise ConfigError(f"the dump has {where}, of an unknown type or size") from None


def load_realm(store: Store, data: bytes) -> int:
    """Replace the realm's database with a dump; return the number of principals loaded."""
    try:
        document = msgspec.json.decode(data, type=DumpFile)
    except (msgspec.MsgspecError, UnicodeDecodeError) as exc:
        raise ConfigError(f"the dump is damaged or not an Orthrus dump: {exc}") from None
    _check(store, document)
    with store.transaction() as session:
        for table in (
            OTPRecoveryCodeRow,
            PasswordHistoryRow,
            GroupRow,
            KerberosKeyRow,
            KeyRow,
            PrincipalRow,
            SigningKeyRow,
        ):
            session.execute(delete(table))
        for item in document.principals:
            session.add(_principal_row(item))
        for signing in document.signing_keys:
            session.add(
                SigningKeyRow(
                    kid=signing.kid, wrapped=signing.wrapped, created_at=_moment(signing.created_at)
                )
            )
    return len(document.principals)


def _principal_row(item: DumpPrincipal) -> PrincipalRow:
    row = PrincipalRow(
        name=item.name,
        kvno=item.kvno,
        requires_preauth=item.requires_preauth,
        allow_tickets=item.allow_tickets,
        allow_svr=item.allow_svr,
        requires_otp=item.requires_otp,
        otp_wrapped=item.otp_wrapped,
        allow_forwardable=item.allow_forwardable,
        ok_as_delegate=item.ok_as_delegate,
        delegate_to=" ".join(item.delegate_to),
        max_life=item.max_life,
        max_renewable_life=item.max_renewable_life,
        created_at=_moment(item.created_at),
        modified_at=_moment(item.modified_at),
        password_changed_at=_moment(item.password_changed_at) if item.password_changed_at else None,
    )
    if item.kdf is not None:
        row.kdf_salt, row.kdf_iterations = item.kdf.salt, item.kdf.iterations
        row.kdf_memory_kib, row.kdf_lanes = item.kdf.memory_kib, item.kdf.lanes
    row.keys = [
        KeyRow(kvno=k.kvno, enctype=k.enctype, wrapped=k.wrapped, created_at=_moment(k.created_at))
        for k in item.keys
    ]
    row.kerberos_keys = [
        KerberosKeyRow(
            kvno=k.kvno,
            enctype=k.enctype,
            salt=k.salt,
            iterations=k.iterations,
            wrapped=k.wrapped,
            created_at=_moment(k.created_at),
        )
        for k in item.kerberos_keys
    ]
    row.groups = [GroupRow(name=g) for g in item.groups]
    row.recovery_codes = [OTPRecoveryCodeRow(digest=d) for d in item.otp_recovery_codes]
    row.history = [
        PasswordHistoryRow(
            kdf_salt=h.kdf.salt,
            kdf_iterations=h.kdf.iterations,
            kdf_memory_kib=h.kdf.memory_kib,
            kdf_lanes=h.kdf.lanes,
            wrapped=h.wrapped,
            created_at=_moment(h.created_at),
        )
        for h in item.password_history
    ]
    return row
