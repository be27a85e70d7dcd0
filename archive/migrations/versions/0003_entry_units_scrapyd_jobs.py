"""Entries linked to administrative units, and Scrapyd job ids of scheduled crawls.

- ``entry_units``: an article or document and a unit it was issued by (as on its date) or
  names; ``entry_unit_states``: what those links were computed from (archive/unit_links.py).
- ``schedule_fires.jobs``: slug -> Scrapyd job id, when the scheduler handed the crawl to
  Scrapyd (archive/scrapyd.py).

An archive made by the code of just before migrations may have these already (they were
created with the other tables then): what exists is left as it is.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06
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
    if "entry_units" not in tables or "ix_entry_units_unit_key" not in {
        i["name"] for i in inspector.get_indexes("entry_units")
    }:
        op.create_index("ix_entry_units_unit_key", "entry_units", ["unit_key"], unique=False)
    if "jobs" not in {c["name"] for c in inspector.get_columns("schedule_fires")}:
        with op.batch_alter_table("schedule_fires") as batch_op:
            batch_op.add_column(sa.Column("jobs", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("schedule_fires") as batch_op:
        batch_op.drop_column("jobs")
    op.drop_index("ix_entry_units_unit_key", table_name="entry_units")
    op.drop_table("entry_units")
    op.drop_table("entry_unit_states")
