"""The principal database of one realm, behind one facade: :class:`Store`.

Its jobs live in their own modules: the engine and its errors (:mod:`kdc.database`), the
administrative operations (:mod:`kdc.principal_admin`), the principal lookups of the AS and
TGS exchanges with their cache (:mod:`kdc.lookups`, :mod:`kdc.change_detection`) and the
keys at rest under the master key (:mod:`kdc.keys_at_rest`). The schema is upgraded here
(:meth:`Store.migrate`, alembic revisions in kdc/migrations).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from kdc.config import KDCSettings
from kdc.database import DatabaseUnavailable, database_errors, make_engine, ping
from kdc.keys_at_rest import KeysAtRest
from kdc.lookups import PrincipalLookups
from kdc.masterkey import MasterKey
from kdc.principal_admin import (
    AdminError,
    NewPrincipal,
    PasswordRejected,
    PrincipalAdmin,
    PrincipalChanges,
)
from orthrus.authz import AuthzSigner
from orthrus.keytab import KeytabEntry
from orthrus.principal import Principal
from orthrus.realm import PrincipalEntry

__all__ = [
    "AdminError",
    "DatabaseUnavailable",
    "NewPrincipal",
    "PasswordRejected",
    "PrincipalChanges",
    "Store",
    "make_engine",
    "ping",
]


class Store:
    """The principal database of one realm."""

    def __init__(self, settings: KDCSettings, master: MasterKey, engine: Engine) -> None:
        self.settings = settings
        self._engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self.keys = KeysAtRest(settings, master, self.transaction)
        self.lookups = PrincipalLookups(settings, engine, self.keys)
        self.admin = PrincipalAdmin(settings, engine, self.keys, self.transaction)

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
        with database_errors(self._engine), self._engine.begin() as connection:
            config.attributes["connection"] = connection
            alembic_command.upgrade(config, "head")

    def ping(self) -> None:
        """Raise :class:`DatabaseUnavailable` if the database cannot be reached."""
        ping(self._engine)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One ORM session in one transaction: committed on success, rolled back on error."""
        with database_errors(self._engine), self._sessions() as session, session.begin():
            yield session

    @property
    def master(self) -> MasterKey:
        return self.keys.master

    def lookup(self, principal: Principal) -> PrincipalEntry | None:
        """See :meth:`kdc.lookups.PrincipalLookups.lookup`."""
        return self.lookups.lookup(principal)

    def add_principal(self, new: NewPrincipal) -> int:
        """See :meth:`kdc.principal_admin.PrincipalAdmin.add_principal`."""
        return self.admin.add_principal(new)

    def delete_principal(self, principal: Principal) -> None:
        """See :meth:`kdc.principal_admin.PrincipalAdmin.delete_principal`."""
        self.admin.delete_principal(principal)

    def change_key(self, principal: Principal, password: str | None) -> int:
        """See :meth:`kdc.principal_admin.PrincipalAdmin.change_key`."""
        return self.admin.change_key(principal, password)

    def rotate(self, principal: Principal, now: datetime) -> int:
        """See :meth:`kdc.principal_admin.PrincipalAdmin.rotate`."""
        return self.admin.rotate(principal, now)

    def prune_keys(self, now: datetime) -> list[tuple[str, int]]:
        """See :meth:`kdc.principal_admin.PrincipalAdmin.prune_keys`."""
        return self.admin.prune_keys(now)

    def modify(self, principal: Principal, changes: PrincipalChanges) -> None:
        """See :meth:`kdc.principal_admin.PrincipalAdmin.modify`."""
        self.admin.modify(principal, changes)

    def describe(self, principal: Principal) -> dict[str, Any]:
        """See :meth:`kdc.principal_admin.PrincipalAdmin.describe`."""
        return self.admin.describe(principal)

    def list_names(self) -> list[str]:
        """See :meth:`kdc.principal_admin.PrincipalAdmin.list_names`."""
        return self.admin.list_names()

    def keytab_entries(self, principal: Principal) -> list[KeytabEntry]:
        """See :meth:`kdc.principal_admin.PrincipalAdmin.keytab_entries`."""
        return self.admin.keytab_entries(principal)

    def rotate_master_key(self) -> int:
        """See :meth:`kdc.keys_at_rest.KeysAtRest.rotate_master_key`."""
        return self.keys.rotate_master_key()

    def create_signing_key(self) -> str:
        """See :meth:`kdc.keys_at_rest.KeysAtRest.create_signing_key`."""
        return self.keys.create_signing_key()

    def signer(self) -> AuthzSigner:
        """See :meth:`kdc.keys_at_rest.KeysAtRest.signer`."""
        return self.keys.signer()
