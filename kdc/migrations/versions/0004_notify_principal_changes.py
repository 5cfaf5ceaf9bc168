"""On PostgreSQL, tell the KDCs when a principal, key or group changed (LISTEN/NOTIFY).

Every statement that writes ``principals``, ``keys`` or ``groups`` sends
``NOTIFY orthrus_principals`` (delivered at commit, collapsed within one transaction); each
KDC process listens and empties its lookup cache (kdc/pg_changes.py). SQLite needs nothing:
the KDC reads its ``data_version`` instead.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"

_TABLES = ("principals", "keys", "groups")


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        """
        CREATE OR REPLACE FUNCTION orthrus_principals_changed() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('orthrus_principals', '');
            RETURN NULL;
        END
        $$
        """
    )
    for table in _TABLES:
        op.execute(
            f"CREATE TRIGGER orthrus_{table}_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
            f'ON "{table}" FOR EACH STATEMENT EXECUTE FUNCTION orthrus_principals_changed()'
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in _TABLES:
        op.execute(f'DROP TRIGGER IF EXISTS orthrus_{table}_changed ON "{table}"')
    op.execute("DROP FUNCTION IF EXISTS orthrus_principals_changed()")
