"""The principal lookup the AS and TGS exchanges see (:meth:`PrincipalLookups.lookup`).

Two Core queries (statements built once: the principal with all its keys — Argon2id and
Kerberos, in one UNION ALL — then its groups) and the keys opened through
:class:`kdc.keys_at_rest.KeysAtRest`. The principals read are kept for as long as the
database has not changed: a lookup first asks the database whether any connection — of
this process or any other — committed a change since (:mod:`kdc.change_detection`), and any
change at all empties the cache. The exchange runner opens a lookup scope around each
request (:meth:`PrincipalLookups.scope`): inside it only the request's first lookup asks,
and its other lookups (a TGS exchange makes three) reuse that answer, so a request pays
one change check, not one per principal. Outside any scope (the admin CLI, tests) every
lookup asks. So a principal added, deleted, disabled or re-keyed through any process is
seen by the very next request, exactly as without the cache (and outside a scope by the
very next lookup); a change committed while a request runs, after its first lookup, is
seen from the next request on. With ``hide_unknown_principals`` the cache holds the whole
table, read again after each commit, so that the time a lookup takes does not tell whether
the name exists (:meth:`PrincipalLookups._whole_table`).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from contextvars import ContextVar, Token
from types import TracebackType
from typing import Any

from sqlalchemy import (
    CompoundSelect,
    Engine,
    Integer,
    LargeBinary,
    Select,
    bindparam,
    cast,
    null,
    select,
    union_all,
)

from kdc import kerberos_keys
from kdc.change_detection import Changes, change_detector
from kdc.config import KDCSettings
from kdc.database import DatabaseUnavailable, database_errors
from kdc.keys_at_rest import KeysAtRest
from kdc.models import GroupRow, KerberosKeyRow, KeyRow, PrincipalRow
from orthrus.principal import Principal
from orthrus.pwkdf import KDFParams
from orthrus.realm import PrincipalEntry

__all__ = ["PrincipalLookups"]

_LOOKUP_CACHE_LIMIT = 16384


def _principals_and_keys(by_name: bool) -> CompoundSelect[Any]:
    """One row per key of each principal (or of the one named ``:name``): the principal's
    columns, then ``key_kvno``, ``wrapped`` and, for a Kerberos key (null for the Argon2id
    key), ``key_enctype``, ``key_salt`` and ``key_iterations``. A UNION ALL of two joins,
    each using its table's index: one round trip, and no product of the two key tables."""
    dialect_keys: Select[Any] = select(
        PrincipalRow.__table__,
        KeyRow.kvno.label("key_kvno"),
        KeyRow.wrapped,
        cast(null(), Integer).label("key_enctype"),
        cast(null(), LargeBinary).label("key_salt"),
        cast(null(), Integer).label("key_iterations"),
    ).join(KeyRow, KeyRow.principal_id == PrincipalRow.id)
    kerberos: Select[Any] = select(
        PrincipalRow.__table__,
        KerberosKeyRow.kvno.label("key_kvno"),
        KerberosKeyRow.wrapped,
        KerberosKeyRow.enctype.label("key_enctype"),
        KerberosKeyRow.salt.label("key_salt"),
        KerberosKeyRow.iterations.label("key_iterations"),
    ).join(KerberosKeyRow, KerberosKeyRow.principal_id == PrincipalRow.id)
    if by_name:
        dialect_keys = dialect_keys.where(PrincipalRow.name == bindparam("name"))
        kerberos = kerberos.where(PrincipalRow.name == bindparam("name"))
    return union_all(dialect_keys, kerberos)


# The lookup's statements, built once: building a SQLAlchemy expression costs more than
# running it on SQLite.
_ALL_PRINCIPALS_AND_KEYS = _principals_and_keys(by_name=False)
_PRINCIPAL_AND_KEYS = _principals_and_keys(by_name=True)
_ALL_GROUPS = select(GroupRow.principal_id, GroupRow.name).order_by(
    GroupRow.principal_id, GroupRow.name
)
# Ordered, as _ALL_GROUPS is: PostgreSQL returns rows in no particular order.
_GROUPS = (
    select(GroupRow.name)
    .where(GroupRow.principal_id == bindparam("principal_id"))
    .order_by(GroupRow.name)
)


class _Scope:
    """One request's change check: the version its first lookup read (None: not yet).

    Entering sets it as the current scope of this thread or task; leaving restores the one
    before. Its lookups are those of ``owner`` only (two stores, two scopes).
    """

    __slots__ = ("_token", "owner", "version")

    def __init__(self, owner: PrincipalLookups) -> None:
        self.owner = owner
        self.version: int | None = None
        self._token: Token[_Scope | None] | None = None

    def __enter__(self) -> None:
        self._token = _SCOPE.set(self)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._token is not None:
            _SCOPE.reset(self._token)
            self._token = None


#: The lookup scope of this thread or asyncio task, if any (:meth:`PrincipalLookups.scope`).
_SCOPE: ContextVar[_Scope | None] = ContextVar("orthrus_lookup_scope", default=None)


class PrincipalLookups:
    """The principals of one realm's database as the exchanges need them, cached."""

    def __init__(self, settings: KDCSettings, engine: Engine, keys: KeysAtRest) -> None:
        self.settings = settings
        self._engine = engine
        self._keys = keys
        self._lock = threading.Lock()
        self._changes = change_detector(engine)
        self._entries: dict[str, tuple[int, PrincipalEntry | None]] = {}
        #: With hide_unknown_principals: (data_version, every principal) and its reload lock.
        self._table: tuple[int, dict[str, PrincipalEntry]] | None = None
        self._reload = threading.Lock()

    def scope(self) -> _Scope:
        """A lookup scope, for one request: ``with lookups.scope(): ...``.

        Inside it, the first lookup asks the database for changes and the others reuse what
        it read, so a change committed after that first lookup waits for the next scope. The
        check is made by the first lookup, not on entering: a request that looks nothing up
        (malformed, refused early) costs no check and answers as before when the database
        is down, and a database found down raises :class:`DatabaseUnavailable` from that
        lookup, as outside a scope.
        """
        return _Scope(self)

    def lookup(self, principal: Principal) -> PrincipalEntry | None:
        """The principal as the exchanges need it (RFC 4120 §3.1.3, §3.3.3), or None if it
        does not exist.

        An entry read since the last change committed to the database (by any connection
        of any process) is returned again without querying; inside a lookup scope
        (:meth:`scope`), since the last change the scope's first lookup saw. See the
        module's docstring. With ``hide_unknown_principals``, every entry is read at once
        (:meth:`_whole_table`).
        """
        changes = self._changes
        if changes is None:
            return self._read_entry(principal)
        name = str(principal)
        # Read before querying: a commit landing in between makes the entry look old (read
        # again next time), never a stale entry look current. A scope's version was read
        # before any of its queries too.
        scope = _SCOPE.get()
        if scope is not None and scope.owner is self:
            version = scope.version
            if version is None:
                version = scope.version = self._version(changes)
        else:
            version = self._version(changes)
        if self.settings.hide_unknown_principals:
            return self._whole_table(version).get(name)
        cached = self._entries.get(name)
        if cached is not None and cached[0] == version:
            return cached[1]
        entry = self._read_entry(principal)
        with self._lock:
            if len(self._entries) >= _LOOKUP_CACHE_LIMIT:
                self._entries.clear()
            self._entries[name] = (version, entry)
        return entry

    def _version(self, changes: Changes) -> int:
        """The change detector's version; :class:`DatabaseUnavailable` if SQLite fails."""
        try:
            return changes.version()
        except sqlite3.Error as exc:
            url = self._engine.url.render_as_string(hide_password=True)
            raise DatabaseUnavailable(f"database {url} is unavailable: {exc}") from None

    def _whole_table(self, version: int) -> dict[str, PrincipalEntry]:
        """Every principal, read again after any commit (by one thread; the others wait).

        With ``hide_unknown_principals`` a lookup must cost the same whether the name
        exists, was looked up since the last commit, or was never heard of: cached one name
        at a time, a name someone had used answered from memory and any other from the
        database, and a lookup read fewer pages for a name that does not exist. Read whole,
        every lookup is one dictionary lookup, and the reload after a commit costs the
        same whichever name the request that pays for it carries.
        """
        table = self._table
        if table is None or table[0] != version:
            with self._reload:
                table = self._table
                if table is None or table[0] != version:
                    table = self._table = (version, self._read_all())
        return table[1]

    def _read_all(self) -> dict[str, PrincipalEntry]:
        with database_errors(self._engine), self._engine.connect() as conn:
            rows: Sequence[Any] = conn.execute(_ALL_PRINCIPALS_AND_KEYS).all()
            group_rows: Sequence[Any] = conn.execute(_ALL_GROUPS).all()
        groups: dict[int, list[str]] = {}
        for group in group_rows:
            groups.setdefault(group.principal_id, []).append(group.name)
        by_id: dict[int, list[Any]] = {}
        for row in rows:
            by_id.setdefault(row.id, []).append(row)
        return {
            found[0].name: self._entry(
                Principal.parse(found[0].name), found, tuple(groups.get(principal_id, ()))
            )
            for principal_id, found in by_id.items()
        }

    def _read_entry(self, principal: Principal) -> PrincipalEntry | None:
        with database_errors(self._engine), self._engine.connect() as conn:
            rows: Sequence[Any] = conn.execute(_PRINCIPAL_AND_KEYS, {"name": str(principal)}).all()
            # The groups are asked for a name that does not exist too (no principal has id
            # -1): without a lookup cache (in-memory SQLite), the number of queries must not tell
            # whether a name exists (hide_unknown_principals, kdc/enumeration.py).
            principal_id = rows[0].id if rows else -1
            groups = tuple(conn.scalars(_GROUPS, {"principal_id": principal_id}))
        if not rows:
            return None
        return self._entry(principal, rows, groups)

    def _entry(
        self, principal: Principal, rows: Sequence[Any], groups: tuple[str, ...]
    ) -> PrincipalEntry:
        """The entry of ``principal`` from its rows (one per key) and its groups.

        Kerberos keys of an enctype the realm no longer lists are left out (and not opened).
        """
        name = str(principal)
        row = rows[0]
        enctypes = self.settings.enctype_numbers
        keys = {
            r.key_kvno: self._keys.unwrap(name, r.key_kvno, r.wrapped)
            for r in rows
            if r.key_enctype is None
        }
        kerberos = kerberos_keys.realm_order(
            (
                self._keys.unwrap_kerberos(name, r)
                for r in rows
                if r.key_enctype is not None and r.key_enctype in enctypes
            ),
            enctypes,
        )
        kdf = None
        if row.kdf_salt is not None:
            kdf = KDFParams(
                row.kdf_salt, "argon2id", row.kdf_iterations, row.kdf_memory_kib, row.kdf_lanes
            )
        return PrincipalEntry(
            principal=principal,
            keys=keys,
            kvno=row.kvno,
            kdf=kdf,
            requires_preauth=row.requires_preauth,
            allow_tickets=row.allow_tickets,
            allow_svr=row.allow_svr,
            allow_forwardable=row.allow_forwardable,
            ok_as_delegate=row.ok_as_delegate,
            delegate_to=frozenset(Principal.parse(n) for n in row.delegate_to.split()),
            max_life=row.max_life,
            max_renewable_life=row.max_renewable_life,
            groups=groups,
            kerberos_keys=kerberos,
            requires_otp=row.requires_otp,
            otp=self._keys.otp_secret(name, row.otp_wrapped),
        )
