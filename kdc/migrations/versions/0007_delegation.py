"""Delegation (issue 17 §3): per principal, whether its tickets may be forwardable
(``allow_forwardable``, true as MIT's default), whether its service tickets say a client may
forward a TGT to it (``ok_as_delegate``, false), and the services it may ask tickets for in
a client's name (``delegate_to``: principal names separated by spaces, empty for none;
constrained delegation, MS-SFU S4U2Proxy). Existing principals keep every behaviour they had:
forwardable tickets as before, no delegation.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

from typing import Literal

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"


#: ALTER TABLE, never a copy of the table (SQLite 3.35+ for DROP COLUMN): on SQLite, with
#: foreign keys enforced, dropping the old principals table deletes every key through ON
#: DELETE CASCADE.
_IN_PLACE: Literal["never"] = "never"


def upgrade() -> None:
    with op.batch_alter_table("principals", recreate=_IN_PLACE) as batch:
        batch.add_column(
            sa.Column("allow_forwardable", sa.Boolean(), nullable=False, server_default=sa.true())
        )
        batch.add_column(
            sa.Column("ok_as_delegate", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(sa.Column("delegate_to", sa.Text(), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("principals", recreate=_IN_PLACE) as batch:
        batch.drop_column("delegate_to")
        batch.drop_column("ok_as_delegate")
        batch.drop_column("allow_forwardable")
