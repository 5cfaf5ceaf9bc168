"""Administration of the principal database: ``addprinc``, ``delprinc``, ``cpw``, ``modprinc``,
``getprinc``, ``listprincs``, ``ktadd``, key rotation and pruning, as MIT's ``kadmin`` has them.

Each operation goes through the ORM in one transaction. New keys are sealed under the master
key (:mod:`kdc.keys_at_rest`); a password's Argon2id key is derived here, its Kerberos keys
in :mod:`kdc.kerberos_keys`, and the realm's password policy (length, history) is checked
before anything is written.
"""

from __future__ import annotations

import hmac
import itertools
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from kdc import kerberos_keys
from kdc.config import KDCSettings
from kdc.database import Transaction, database_errors
from kdc.keys_at_rest import KeysAtRest
from kdc.models import GroupRow, KeyRow, PasswordHistoryRow, PrincipalRow, utcnow
from orthrus.crossrealm import issuing_realm
from orthrus.errors import OrthrusError
from orthrus.keys import Key
from orthrus.keytab import KeytabEntry
from orthrus.principal import Principal, krbtgt
from orthrus.pwkdf import SALT_BYTES, KDFParams, is_legacy_salt, string_to_key

__all__ = [
    "AdminError",
    "NewPrincipal",
    "PasswordRejected",
    "PrincipalAdmin",
    "PrincipalChanges",
    "PrincipalExists",
    "PrincipalMissing",
]


class AdminError(OrthrusError):
    """An administrative request that cannot be done (principal exists, is missing...)."""


class PasswordRejected(AdminError):
    """A new password the realm's policy refuses (too short, used recently)."""


class PrincipalMissing(AdminError):
    """The principal named does not exist (or lacks the keys asked for)."""


class PrincipalExists(AdminError):
    """``addprinc`` of a principal that exists already."""


@dataclass(frozen=True, slots=True)
class NewPrincipal:
    """What ``addprinc`` creates: a password key (Argon2id) or a random key."""

    principal: Principal
    password: str | None = field(default=None, repr=False)
    requires_preauth: bool = True
    groups: tuple[str, ...] = ()
    max_life: int | None = None
    max_renewable_life: int | None = None
    allow_svr: bool = False


@dataclass(frozen=True, slots=True)
class PrincipalChanges:
    """What ``modprinc`` changes; None leaves a field as it is."""

    add_groups: Sequence[str] = ()
    remove_groups: Sequence[str] = ()
    requires_preauth: bool | None = None
    allow_tickets: bool | None = None
    allow_svr: bool | None = None
    max_life: int | None = None
    max_renewable_life: int | None = None
    requires_otp: bool | None = None
    allow_forwardable: bool | None = None
    ok_as_delegate: bool | None = None
    #: Services this principal may (or may no longer) ask tickets for in a client's name.
    add_delegate_to: Sequence[Principal] = ()
    remove_delegate_to: Sequence[Principal] = ()


class PrincipalAdmin:
    """The administrative operations on one realm's principals."""

    def __init__(
        self, settings: KDCSettings, engine: Engine, keys: KeysAtRest, transaction: Transaction
    ) -> None:
        self.settings = settings
        self._engine = engine
        self._keys = keys
        self._transaction = transaction

    def _kdf_params(self) -> KDFParams:
        s = self.settings
        return KDFParams(
            os.urandom(SALT_BYTES), "argon2id", s.kdf_iterations, s.kdf_memory_kib, s.kdf_lanes
        )

    def _new_key(self, row: PrincipalRow, password: str | None, kvno: int) -> KeyRow:
        """Key version ``kvno`` of ``row``: the returned Argon2id (or random) key of the JSON
        dialect; the Kerberos keys of the same version are added to ``row`` here."""
        if password is None:
            key = Key.generate(os.urandom, kvno)
            row.kdf_salt = row.kdf_iterations = row.kdf_memory_kib = row.kdf_lanes = None
        else:
            self._check_password_policy(row, password)
            params = self._kdf_params()
            key = string_to_key(password, Principal.parse(row.name), params, kvno)
            row.kdf_salt, row.kdf_iterations = params.salt, params.iterations
            row.kdf_memory_kib, row.kdf_lanes = params.memory_kib, params.lanes
            row.password_changed_at = utcnow()
            self._remember_password(row, params, key)
        row.kerberos_keys.extend(
            kerberos_keys.new_rows(
                self.settings, self._keys.master, Principal.parse(row.name), password, kvno
            )
        )
        wrapped = self._keys.master.wrap(key.material, f"{row.name}#{kvno}")
        return KeyRow(kvno=kvno, enctype=key.enctype, wrapped=wrapped)

    def _check_password_policy(self, row: PrincipalRow, password: str) -> None:
        """The realm's password policy: minimum length, no reuse of recent passwords."""
        minimum = self.settings.min_password_length
        if len(password) < minimum:
            raise PasswordRejected(f"the password is too short: use at least {minimum} characters")
        for old in row.history:
            params = KDFParams(
                old.kdf_salt, "argon2id", old.kdf_iterations, old.kdf_memory_kib, old.kdf_lanes
            )
            candidate = string_to_key(password, Principal.parse(row.name), params, 0).material
            if hmac.compare_digest(
                candidate, self._keys.master.unwrap(old.wrapped, f"{row.name}#history")
            ):
                raise PasswordRejected(
                    f"this password was used recently; the last {self.settings.password_history} "
                    "passwords cannot be reused"
                )

    def _remember_password(self, row: PrincipalRow, params: KDFParams, key: Key) -> None:
        keep = self.settings.password_history
        if keep == 0:
            return
        row.history.append(
            PasswordHistoryRow(
                kdf_salt=params.salt,
                kdf_iterations=params.iterations,
                kdf_memory_kib=params.memory_kib,
                kdf_lanes=params.lanes,
                wrapped=self._keys.master.wrap(key.material, f"{row.name}#history"),
            )
        )
        del row.history[:-keep]

    def _check_realm(self, principal: Principal) -> None:
        """A principal of this realm, or ``krbtgt/THIS@OTHER``: the key of an incoming
        cross-realm trust (RFC 4120 §1.2, :mod:`kdc.trust`), named in the other realm."""
        realm = self.settings.realm
        if principal.realm != realm and issuing_realm(principal, realm) is None:
            raise AdminError(f"{principal} is not in realm {realm}; this KDC serves only it")

    def add_principal(self, new: NewPrincipal) -> int:
        """Create a principal with key version 1; returns the kvno."""
        self._check_realm(new.principal)
        row = PrincipalRow(
            name=str(new.principal),
            kvno=1,
            requires_preauth=new.requires_preauth,
            allow_tickets=True,
            allow_svr=new.allow_svr,
            max_life=new.max_life,
            max_renewable_life=new.max_renewable_life,
        )
        row.keys.append(self._new_key(row, new.password, 1))
        row.groups.extend(GroupRow(name=g) for g in sorted(set(new.groups)))
        try:
            with self._transaction() as session:
                session.add(row)
        except IntegrityError:
            raise PrincipalExists(f"principal {new.principal} already exists") from None
        return 1

    def _get(self, session: Session, principal: Principal) -> PrincipalRow:
        row = session.scalars(
            select(PrincipalRow)
            .where(PrincipalRow.name == str(principal))
            .options(
                selectinload(PrincipalRow.keys),
                selectinload(PrincipalRow.kerberos_keys),
                selectinload(PrincipalRow.groups),
                selectinload(PrincipalRow.history),
            )
        ).first()
        if row is None:
            raise PrincipalMissing(f"principal {principal} does not exist")
        return row

    def delete_principal(self, principal: Principal) -> None:
        """``delprinc``: the principal with its keys, groups and password history."""
        if principal == krbtgt(self.settings.realm):  # a trust key (krbtgt/B@A) may go
            raise AdminError(f"{principal} is the realm's own TGS; it cannot be deleted")
        with self._transaction() as session:
            session.delete(self._get(session, principal))

    def change_key(self, principal: Principal, password: str | None) -> int:
        """A new key version (password or random); older versions stay for issued tickets."""
        with self._transaction() as session:
            row = self._get(session, principal)
            kvno = row.kvno + 1
            row.keys.append(self._new_key(row, password, kvno))
            row.kvno = kvno
            row.modified_at = utcnow()
        return kvno

    def rotate(self, principal: Principal, now: datetime) -> int:
        """A new random key version for a service or krbtgt; older ones stay until every
        ticket under them has expired (see :meth:`prune_keys`)."""
        with self._transaction() as session:
            if self._get(session, principal).kdf_salt is not None:
                raise AdminError(
                    f"{principal} has a password key; change it with: orthrus-kdc cpw {principal}"
                )
        kvno = self.change_key(principal, None)
        self.prune_keys(now)
        return kvno

    def prune_keys(self, now: datetime) -> list[tuple[str, int]]:
        """Delete superseded key versions no ticket can still be under.

        A ticket lives at most ``max_life``; every ticket is sealed with the newest key, so
        version *k* is unused once version *k+1* is older than ``max_life`` plus the skew.
        Renewal re-seals with the newest key, so renewable life does not extend this.
        The Kerberos keys of a pruned version go with it.
        """
        horizon = timedelta(seconds=self.settings.max_life + self.settings.max_skew)
        pruned: list[tuple[str, int]] = []
        with self._transaction() as session:
            for row in session.scalars(
                select(PrincipalRow).options(
                    selectinload(PrincipalRow.keys), selectinload(PrincipalRow.kerberos_keys)
                )
            ):
                versions = sorted(row.keys, key=lambda k: k.kvno)
                for older, newer in itertools.pairwise(versions):
                    if _utc(newer.created_at) + horizon < now:
                        row.keys.remove(older)
                        row.kerberos_keys = [k for k in row.kerberos_keys if k.kvno != older.kvno]
                        pruned.append((row.name, older.kvno))
        return pruned

    def modify(self, principal: Principal, changes: PrincipalChanges) -> None:
        """``modprinc``: groups, flags and lifetimes; the keys stay as they are."""
        with self._transaction() as session:
            row = self._get(session, principal)
            kept = {g.name for g in row.groups} - set(changes.remove_groups)
            wanted = kept | set(changes.add_groups)
            row.groups = [g for g in row.groups if g.name in wanted]
            have = {g.name for g in row.groups}
            row.groups.extend(GroupRow(name=g) for g in sorted(wanted - have))
            for name in (
                "requires_preauth",
                "allow_tickets",
                "allow_svr",
                "max_life",
                "max_renewable_life",
                "requires_otp",
                "allow_forwardable",
                "ok_as_delegate",
            ):
                value = getattr(changes, name)
                if value is not None:
                    setattr(row, name, value)
            row.delegate_to = self._delegate_to(session, row, changes)
            row.modified_at = utcnow()

    def _delegate_to(self, session: Session, row: PrincipalRow, changes: PrincipalChanges) -> str:
        """The services ``row`` may delegate to after ``changes`` (MS-SFU's
        msDS-AllowedToDelegateTo): each added one must be a principal of this realm."""
        for target in changes.add_delegate_to:
            self._check_realm(target)
            if (
                session.scalar(select(PrincipalRow.id).where(PrincipalRow.name == str(target)))
                is None
            ):
                raise AdminError(
                    f"principal {target} does not exist; add the service first (orthrus-kdc "
                    "addprinc --randkey), then allow delegation to it"
                )
        removed = {str(t) for t in changes.remove_delegate_to}
        kept = [n for n in row.delegate_to.split() if n not in removed]
        added = [str(t) for t in changes.add_delegate_to if str(t) not in kept]
        return " ".join(sorted(set(kept + added)))

    def describe(self, principal: Principal) -> dict[str, Any]:
        """What ``getprinc`` shows: public attributes only, never key material."""
        with self._transaction() as session:
            row = self._get(session, principal)
            return {
                "principal": row.name,
                "kvno": row.kvno,
                "keys": [{"kvno": k.kvno, "enctype": k.enctype} for k in row.keys],
                "kerberos_keys": kerberos_keys.describe(
                    row.kerberos_keys, self.settings.enctype_numbers
                ),
                "password_key": row.kdf_salt is not None,
                "legacy_salt": row.kdf_salt is not None and is_legacy_salt(row.kdf_salt),
                "requires_preauth": row.requires_preauth,
                "allow_tickets": row.allow_tickets,
                "allow_svr": row.allow_svr,
                "requires_otp": row.requires_otp,
                "otp_enrolled": row.otp_wrapped is not None,
                "allow_forwardable": row.allow_forwardable,
                "ok_as_delegate": row.ok_as_delegate,
                "allowed_to_delegate_to": row.delegate_to.split(),
                "max_life": row.max_life or self.settings.max_life,
                "max_renewable_life": row.max_renewable_life or self.settings.max_renewable_life,
                "groups": [g.name for g in row.groups],
                "created": _iso(row.created_at),
                "modified": _iso(row.modified_at),
                "password_changed": _iso(row.password_changed_at),
            }

    def list_names(self) -> list[str]:
        """``listprincs``: every principal's name, sorted."""
        with database_errors(self._engine), self._engine.connect() as conn:
            return list(conn.scalars(select(PrincipalRow.name).order_by(PrincipalRow.name)))

    def keytab_entries(self, principal: Principal) -> list[KeytabEntry]:
        """Every key version still held for ``principal``, for ``ktadd``."""
        with self._transaction() as session:
            row = self._get(session, principal)
            return [
                KeytabEntry(
                    principal, k.kvno, self._keys.unwrap(row.name, k.kvno, k.wrapped).material
                )
                for k in row.keys
            ]


def _utc(moment: datetime) -> datetime:
    """SQLite gives naive datetimes (stored as UTC), PostgreSQL aware ones: make both aware."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return _utc(moment).strftime("%Y-%m-%dT%H:%M:%SZ")
