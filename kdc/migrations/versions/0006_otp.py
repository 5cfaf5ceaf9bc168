"""otp: two-factor login with TOTP (RFC 6238, issue 17 §2).

``principals.requires_otp`` (false for every existing principal) and ``otp_wrapped``, the
enrolled shared secret sealed under the master key (owner ``name#otp``); the table
``otp_recovery_codes`` holds each principal's unused recovery codes, hashed.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"


# Plain ALTER TABLE, not alembic's batch mode: on SQLite that copies and drops
# ``principals``, and with foreign keys on the drop cascades to every key of every principal.


def upgrade() -> None:
    op.add_column(
        "principals",
        sa.Column("requires_otp", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.add_column("principals", sa.Column("otp_wrapped", sa.Text(), nullable=True))
    op.create_table(
        "otp_recovery_codes",
        sa.Column(
            "principal_id",
            sa.Integer(),
            sa.ForeignKey("principals.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("digest", sa.String(64), primary_key=True),
    )


def downgrade() -> None:
    op.drop_table("otp_recovery_codes")
    # ALTER TABLE ... DROP COLUMN: PostgreSQL, and SQLite since 3.35.
    op.execute("ALTER TABLE principals DROP COLUMN otp_wrapped")
    op.execute("ALTER TABLE principals DROP COLUMN requires_otp")
