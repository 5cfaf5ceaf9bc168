"""The principal database: SQLAlchemy 2 over SQLite (default, WAL, durable commits) or PostgreSQL.

Administration (add, delete, change keys, modify, list) goes through the ORM in one
transaction each. The hot path, :meth:`Store.lookup`, is what the AS and TGS exchanges see
as their principal lookup: two Core queries (statements built once: the principal with
all its keys — Argon2id and Kerberos, in one UNION ALL — then its groups) and a cache of
unwrapped keys. It also keeps the principals it has read, for as long as the database has
not changed: every lookup first asks the database whether any connection — of this process
or any other — committed a change since, and any change at all empties the cache. SQLite
answers with ``PRAGMA data_version`` (a few microseconds, no disk read); PostgreSQL with the
notifications its triggers send (LISTEN/NOTIFY, :mod:`kdc.pg_changes`). So a principal
added, deleted, disabled or re-keyed through any process is seen by the very next lookup,
exactly as without the cache. With ``hide_unknown_principals`` the cache holds the whole
table, read again after each commit, so that the time a lookup takes does not tell whether
the name exists (:meth:`Store._whole_table`).
"""

from __future__ import annotations

import hmac
import itertools
import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import (
    CompoundSelect,
    Engine,
    Integer,
    LargeBinary,
    Select,
    bindparam,
    cast,
    create_engine,
    event,
    null,
    select,
    text,
    union_all,
)
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError
from sqlalchemy.orm import Session, selectinload, sessionmaker

from kdc import kerberos_keys
from kdc.config import KDCSettings
from kdc.masterkey import MasterKey
from kdc.models import (
    GroupRow,
    KerberosKeyRow,
    KeyRow,
    PasswordHistoryRow,
    PrincipalRow,
    SigningKeyRow,
    utcnow,
)
from kdc.pg_changes import PostgresChanges
from orthrus.authz import AuthzSigner
from orthrus.enctypes import KeyBlock, enctype
from orthrus.errors import ConfigError, OrthrusError
from orthrus.keys import Key
from orthrus.keytab import KeytabEntry
from orthrus.principal import Principal
from orthrus.pwkdf import SALT_BYTES, KDFParams, is_legacy_salt, string_to_key
from orthrus.realm import KerberosKey, PrincipalEntry
from orthrus_io.errors import Unavailable

__all__ = [
    "AdminError",
    "DatabaseUnavailable",
    "NewPrincipal",
    "PrincipalChanges",
    "Store",
    "make_engine",
]

_UNWRAP_CACHE_LIMIT = 16384
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


class AdminError(OrthrusError):
    """An administrative request that cannot be done (principal exists, is missing...)."""


class PasswordRejected(AdminError):
    """A new password the realm's policy refuses (too short, used recently)."""


class DatabaseUnavailable(Unavailable):
    """The database cannot be reached or answered with an error; the URL hides its password."""


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


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite gets WAL, full sync and foreign keys."""
    engine = create_engine(url, pool_pre_ping=not url.startswith("sqlite"))
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


@contextmanager
def database_errors(engine: Engine) -> Iterator[None]:
    """Turn a lost or refused database connection into :class:`DatabaseUnavailable`."""
    try:
        yield
    except (OperationalError, InterfaceError) as exc:
        url = engine.url.render_as_string(hide_password=True)
        first_line = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
        raise DatabaseUnavailable(f"database {url} is unavailable: {first_line}") from None


class _SQLiteChanges:
    """Whether any connection committed to an SQLite file since: ``PRAGMA data_version``.

    SQLite changes the value a connection reads whenever another connection, in this process
    or another, has committed in the meantime (https://sqlite.org/pragma.html#pragma_data_version);
    in WAL mode reading it touches only the shared-memory index. The values of one
    connection are comparable only with each other, so one connection (per process, opened
    lazily, never crossing a fork) serves every thread, under a lock. It never writes.
    """

    def __init__(self, path: str) -> None:
        self._path = path
        self._conn: sqlite3.Connection | None = None
        self._pid = 0
        self._lock = threading.Lock()

    def version(self) -> int:
        with self._lock:
            if self._conn is None or self._pid != os.getpid():
                # A connection opened before a fork is left alone (never used or closed).
                self._conn = sqlite3.connect(
                    self._path, isolation_level=None, check_same_thread=False
                )
                self._pid = os.getpid()
            row = self._conn.execute("PRAGMA data_version").fetchone()
        return int(row[0])

    def close(self) -> None:
        """Close this process's connection (with the engine: see :func:`_sqlite_changes`)."""
        with self._lock:
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn = None


class _Changes(Protocol):
    """A change detector: :meth:`version` differs once anything was committed since."""

    def version(self) -> int: ...

    def close(self) -> None: ...


def _change_detector(engine: Engine) -> _Changes | None:
    """A change detector for an SQLite file or PostgreSQL database, else None (no cache)."""
    changes: _Changes
    if engine.dialect.name == "postgresql":
        changes = PostgresChanges(engine)
    elif engine.dialect.name == "sqlite":
        path = engine.url.database
        if not path or path == ":memory:" or path.startswith("file:") or not Path(path).is_file():
            return None
        changes = _SQLiteChanges(path)
    else:
        return None
    # Disposing of the engine closes every connection to the database; this one too, so
    # that nothing of this process holds it open (and SQLite's POSIX locks) after that.
    event.listen(engine, "engine_disposed", lambda _engine: changes.close())
    return changes


def ping(engine: Engine) -> None:
    """Raise :class:`DatabaseUnavailable` if the database cannot be reached."""
    with database_errors(engine), engine.connect() as conn:
        conn.execute(text("SELECT 1"))


class Store:
    """The principal database of one realm."""

    def __init__(self, settings: KDCSettings, master: MasterKey, engine: Engine) -> None:
        self.settings = settings
        self._master = master
        self._engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._unwrapped: dict[tuple[str, int, str], Key] = {}
        #: Kerberos keys by (seal owner, wrapped); each KeyBlock keeps its derived keys.
        self._unwrapped_kerberos: dict[tuple[str, str], KeyBlock] = {}
        self._lock = threading.Lock()
        self._changes = _change_detector(engine)
        self._entries: dict[str, tuple[int, PrincipalEntry | None]] = {}
        #: With hide_unknown_principals: (data_version, every principal) and its reload lock.
        self._table: tuple[int, dict[str, PrincipalEntry]] | None = None
        self._reload = threading.Lock()

    @classmethod
    def open(cls, settings: KDCSettings) -> Store:
        """Open the realm's database with its master key stash.

        The stash must open what the database holds (its newest signing key is tried), so a
        wrong stash is refused before anything is written under it.
        """
        master = MasterKey.load(settings.master_key_path)
        store = cls(settings, master, make_engine(settings.database_url))
        store.signer()
        return store

    def migrate(self) -> None:
        """Create or upgrade the schema to the newest alembic revision (kdc/migrations)."""
        # Imported here: alembic takes ~0.6 s to import, and only init/upgrade need it.
        from alembic import command as alembic_command
        from alembic.config import Config as AlembicConfig

        config = AlembicConfig()
        config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
        with self._database_errors(), self._engine.begin() as connection:
            config.attributes["connection"] = connection
            alembic_command.upgrade(config, "head")

    def ping(self) -> None:
        """Raise :class:`DatabaseUnavailable` if the database cannot be reached."""
        ping(self._engine)

    def _database_errors(self) -> AbstractContextManager[None]:
        return database_errors(self._engine)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One ORM session in one transaction: committed on success, rolled back on error."""
        with self._database_errors(), self._sessions() as session, session.begin():
            yield session

    @property
    def master(self) -> MasterKey:
        return self._master

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
                self.settings, self._master, Principal.parse(row.name), password, kvno
            )
        )
        wrapped = self._master.wrap(key.material, f"{row.name}#{kvno}")
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
                candidate, self._master.unwrap(old.wrapped, f"{row.name}#history")
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
                wrapped=self._master.wrap(key.material, f"{row.name}#history"),
            )
        )
        del row.history[:-keep]

    def _check_realm(self, principal: Principal) -> None:
        if principal.realm != self.settings.realm:
            raise AdminError(
                f"{principal} is not in realm {self.settings.realm}; this KDC serves only it"
            )

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
            with self.transaction() as session:
                session.add(row)
        except IntegrityError:
            raise AdminError(f"principal {new.principal} already exists") from None
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
            raise AdminError(f"principal {principal} does not exist")
        return row

    def delete_principal(self, principal: Principal) -> None:
        if principal.is_tgs and principal.realm == self.settings.realm:
            raise AdminError(f"{principal} is the realm's own TGS; it cannot be deleted")
        with self.transaction() as session:
            session.delete(self._get(session, principal))

    def change_key(self, principal: Principal, password: str | None) -> int:
        """A new key version (password or random); older versions stay for issued tickets."""
        with self.transaction() as session:
            row = self._get(session, principal)
            kvno = row.kvno + 1
            row.keys.append(self._new_key(row, password, kvno))
            row.kvno = kvno
            row.modified_at = utcnow()
        return kvno

    def rotate(self, principal: Principal, now: datetime) -> int:
        """A new random key version for a service or krbtgt; older ones stay until every
        ticket under them has expired (see :meth:`prune_keys`)."""
        with self.transaction() as session:
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
        with self.transaction() as session:
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

    def rotate_master_key(self) -> int:
        """Re-encrypt every stored key under a new master key version, atomically.

        1. the stash gets the new version beside the old (both can unwrap);
        2. one transaction re-wraps every key; a crash leaves the old wrapping intact;
        3. the stash drops the old version.
        A crash between steps leaves a stash that opens whatever the database holds.
        """
        path = self.settings.master_key_path
        old, new = self._master, self._master.with_new_version()
        new.stash(path)
        self._master = new
        with self.transaction() as session:
            for key_row in session.scalars(select(KeyRow)):
                owner = f"{key_row.principal.name}#{key_row.kvno}"
                key_row.wrapped = new.wrap(old.unwrap(key_row.wrapped, owner), owner)
            for kerberos in session.scalars(select(KerberosKeyRow)):
                owner = kerberos_keys.seal_owner(
                    kerberos.principal.name, kerberos.kvno, kerberos.enctype
                )
                kerberos.wrapped = new.wrap(old.unwrap(kerberos.wrapped, owner), owner)
            for signing in session.scalars(select(SigningKeyRow)):
                owner = f"signing#{signing.kid}"
                signing.wrapped = new.wrap(old.unwrap(signing.wrapped, owner), owner)
            for history in session.scalars(select(PasswordHistoryRow)):
                owner = f"{history.principal.name}#history"
                history.wrapped = new.wrap(old.unwrap(history.wrapped, owner), owner)
        self._master = new.only_current()
        self._master.stash(path)
        self._unwrapped.clear()
        self._unwrapped_kerberos.clear()
        return self._master.kvno

    def modify(self, principal: Principal, changes: PrincipalChanges) -> None:
        with self.transaction() as session:
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
            ):
                value = getattr(changes, name)
                if value is not None:
                    setattr(row, name, value)
            row.modified_at = utcnow()

    def describe(self, principal: Principal) -> dict[str, Any]:
        """What ``getprinc`` shows: public attributes only, never key material."""
        with self.transaction() as session:
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
                "max_life": row.max_life or self.settings.max_life,
                "max_renewable_life": row.max_renewable_life or self.settings.max_renewable_life,
                "groups": [g.name for g in row.groups],
                "created": _iso(row.created_at),
                "modified": _iso(row.modified_at),
                "password_changed": _iso(row.password_changed_at),
            }

    def list_names(self) -> list[str]:
        with self._database_errors(), self._engine.connect() as conn:
            return list(conn.scalars(select(PrincipalRow.name).order_by(PrincipalRow.name)))

    def keytab_entries(self, principal: Principal) -> list[KeytabEntry]:
        """Every key version still held for ``principal``, for ``ktadd``."""
        with self.transaction() as session:
            row = self._get(session, principal)
            return [
                KeytabEntry(principal, k.kvno, self._unwrap(row.name, k.kvno, k.wrapped).material)
                for k in row.keys
            ]

    def _open(self, wrapped: str, owner: str) -> bytes:
        """The material of a stored key, with whichever master key version sealed it."""
        if self._master.wrapped_with(wrapped) not in self._master.kvnos:
            # Another process rotated the master key: its new version is in the stash.
            self._master = MasterKey.load(self.settings.master_key_path)
        return self._master.unwrap(wrapped, owner)

    def _unwrap(self, name: str, kvno: int, wrapped: str) -> Key:
        cache_key = (name, kvno, wrapped)
        key = self._unwrapped.get(cache_key)
        if key is None:
            key = Key(self._open(wrapped, f"{name}#{kvno}"), kvno)
            with self._lock:
                if len(self._unwrapped) >= _UNWRAP_CACHE_LIMIT:
                    self._unwrapped.clear()
                self._unwrapped[cache_key] = key
        return key

    def _unwrap_kerberos(self, name: str, row: Any) -> KerberosKey:
        """The Kerberos key of a lookup row (one with a ``key_enctype``)."""
        owner = kerberos_keys.seal_owner(name, row.key_kvno, row.key_enctype)
        cache_key = (owner, row.wrapped)
        key = self._unwrapped_kerberos.get(cache_key)
        if key is None:
            key = enctype(row.key_enctype).random_to_key(self._open(row.wrapped, owner))
            with self._lock:
                if len(self._unwrapped_kerberos) >= _UNWRAP_CACHE_LIMIT:
                    self._unwrapped_kerberos.clear()
                self._unwrapped_kerberos[cache_key] = key
        return KerberosKey(row.key_kvno, key, row.key_salt, row.key_iterations)

    def lookup(self, principal: Principal) -> PrincipalEntry | None:
        """The principal as the exchanges need it, or None if it does not exist.

        An entry read since the last change committed to the database (by any connection
        of any process) is returned again without querying; see the module's docstring.
        With ``hide_unknown_principals``, every entry is read at once (:meth:`_whole_table`).
        """
        if self._changes is None:
            return self._read_entry(principal)
        name = str(principal)
        try:
            # Read before querying: a commit landing in between makes the entry look old
            # (read again next time), never a stale entry look current.
            version = self._changes.version()
        except sqlite3.Error as exc:
            url = self._engine.url.render_as_string(hide_password=True)
            raise DatabaseUnavailable(f"database {url} is unavailable: {exc}") from None
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
        with self._database_errors(), self._engine.connect() as conn:
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
        with self._database_errors(), self._engine.connect() as conn:
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
            r.key_kvno: self._unwrap(name, r.key_kvno, r.wrapped)
            for r in rows
            if r.key_enctype is None
        }
        kerberos = kerberos_keys.realm_order(
            (
                self._unwrap_kerberos(name, r)
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
            max_life=row.max_life,
            max_renewable_life=row.max_renewable_life,
            groups=groups,
            kerberos_keys=kerberos,
        )

    def create_signing_key(self) -> str:
        """A new Ed25519 key for authorization data; returns its key id."""
        private = Ed25519PrivateKey.generate()
        raw = private.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        kid = f"kdc-{utcnow().strftime('%Y%m%d%H%M%S')}-{os.urandom(3).hex()}"
        with self.transaction() as session:
            session.add(SigningKeyRow(kid=kid, wrapped=self._master.wrap(raw, f"signing#{kid}")))
        return kid

    def signer(self) -> AuthzSigner:
        """The newest signing key, as an :class:`~orthrus.authz.AuthzSigner`."""
        with self.transaction() as session:
            row = session.scalars(
                select(SigningKeyRow).order_by(SigningKeyRow.created_at.desc())
            ).first()
            if row is None:
                raise ConfigError("the KDC has no signing key; was 'orthrus-kdc init' completed?")
            raw = self._master.unwrap(row.wrapped, f"signing#{row.kid}")
        return AuthzSigner(Ed25519PrivateKey.from_private_bytes(raw), row.kid, self.settings.realm)


def _utc(moment: datetime) -> datetime:
    """SQLite gives naive datetimes (stored as UTC), PostgreSQL aware ones: make both aware."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return _utc(moment).strftime("%Y-%m-%dT%H:%M:%SZ")
