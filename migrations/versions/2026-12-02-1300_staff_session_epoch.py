"""staff session epoch: sessions that can be ended

Revision ID: b7c1e0a5d201
Revises: 67d58b046815
Create Date: 2026-12-02 13:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "b7c1e0a5d201"
down_revision = "67d58b046815"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A session is valid only while it carries the account's current epoch; logout, password
    # reset, role change and disabling increment it. Existing rows start at 0.
    with op.batch_alter_table("staff_users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("session_epoch", sa.Integer(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("staff_users", schema=None) as batch_op:
        batch_op.drop_column("session_epoch")
