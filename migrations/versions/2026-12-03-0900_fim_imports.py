"""fim imports: uploaded schema and code lists, progress and result of the import job

Revision ID: 7a3c5e9d1b42
Revises: 5e1f3b9c2a77
Create Date: 2026-12-03 09:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "7a3c5e9d1b42"
down_revision = "5e1f3b9c2a77"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "fim_imports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("municipality_id", sa.Integer(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("filenames", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
        sa.Column("files", sa.LargeBinary(), nullable=False),
        sa.Column("state", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("stage", sa.Integer(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("error", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["municipality_id"],
            ["municipalities.id"],
            name=op.f("fk_fim_imports_municipality_id_municipalities"),
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"], ["staff_users.id"], name=op.f("fk_fim_imports_staff_id_staff_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fim_imports")),
    )
    with op.batch_alter_table("fim_imports", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_fim_imports_created_at"), ["created_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_fim_imports_municipality_id"), ["municipality_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("fim_imports", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_fim_imports_municipality_id"))
        batch_op.drop_index(batch_op.f("ix_fim_imports_created_at"))
    op.drop_table("fim_imports")
