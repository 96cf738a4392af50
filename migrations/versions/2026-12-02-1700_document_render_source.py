"""documents rendered by a job: the composed source waits in the document row

Revision ID: c4d2a9e7f310
Revises: ed56fcada4b7
Create Date: 2026-12-02 17:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "c4d2a9e7f310"
down_revision = "ed56fcada4b7"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A notice is composed in the deciding transaction and rendered to PDF by a job: until
    # then the row holds the HTML and the PDF's metadata here, and content is empty.
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("render_source", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.drop_column("render_source")
