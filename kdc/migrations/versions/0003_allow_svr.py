"""allow_svr: whether a principal whose key comes from a password may be a ticket's server.

False for every existing principal: after the upgrade the KDC issues no ticket for a
password principal until an administrator allows it (``orthrus-kdc modprinc --allow-svr``),
since such a ticket lets its holder guess the password offline (user roasting).

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    with op.batch_alter_table("principals") as batch:
        batch.add_column(
            sa.Column("allow_svr", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("principals") as batch:
        batch.drop_column("allow_svr")
