"""Kerberos keys: a principal's RFC 3961 keys for Kerberos clients (issue 14 §4).

One row per kvno and enctype, sealed under the master key as ``keys.wrapped`` is, with the
PBKDF2 salt and iteration count of a key made from a password (null for a random key).
Existing principals have none: they get them at their next ``cpw`` (or ``rotate``). On
PostgreSQL the table notifies the KDCs' lookup caches as the tables of 0004 do.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"


def upgrade() -> None:
    op.create_table(
        "kerberos_keys",
        sa.Column(
            "principal_id",
            sa.Integer(),
            sa.ForeignKey("principals.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("kvno", sa.Integer(), primary_key=True),
        sa.Column("enctype", sa.Integer(), primary_key=True),
        sa.Column("salt", sa.LargeBinary(1024), nullable=True),
        sa.Column("iterations", sa.Integer(), nullable=True),
        sa.Column("wrapped", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    if op.get_bind().dialect.name == "postgresql":
        # The function comes from 0004.
        op.execute(
            "CREATE TRIGGER orthrus_kerberos_keys_changed AFTER INSERT OR UPDATE OR DELETE OR "
            'TRUNCATE ON "kerberos_keys" FOR EACH STATEMENT EXECUTE FUNCTION '
            "orthrus_principals_changed()"
        )


def downgrade() -> None:
    # Dropping the table drops its trigger.
    op.drop_table("kerberos_keys")
