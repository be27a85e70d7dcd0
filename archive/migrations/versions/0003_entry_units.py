"""Administrative-unit links of entries, and Scrapyd job ids of schedule fires.

What main added to the models while migrations were being written on another branch
(entry_units, entry_unit_states, schedule_fires.jobs). An archive made by main before
migrations already has them (it is adopted and stamped 0001 first): only what is missing
is created.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | tuple[str, ...] | None = "0002"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    tables = set(inspector.get_table_names())
    if "entry_unit_states" not in tables:
        op.create_table(
            "entry_unit_states",
            sa.Column("entry_id", sa.String(length=140), nullable=False),
            sa.Column("state", sa.String(length=40), nullable=False),
            sa.PrimaryKeyConstraint("entry_id"),
        )
    if "entry_units" not in tables:
        op.create_table(
            "entry_units",
            sa.Column("entry_id", sa.String(length=140), nullable=False),
            sa.Column("unit_key", sa.String(length=20), nullable=False),
            sa.Column("role", sa.String(length=10), nullable=False),
            sa.PrimaryKeyConstraint("entry_id", "unit_key", "role"),
        )
        op.create_index(op.f("ix_entry_units_unit_key"), "entry_units", ["unit_key"])
    if "jobs" not in {c["name"] for c in inspector.get_columns("schedule_fires")}:
        with op.batch_alter_table("schedule_fires", schema=None) as batch_op:
            batch_op.add_column(sa.Column("jobs", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("schedule_fires", schema=None) as batch_op:
        batch_op.drop_column("jobs")
    op.drop_index(op.f("ix_entry_units_unit_key"), table_name="entry_units")
    op.drop_table("entry_units")
    op.drop_table("entry_unit_states")
