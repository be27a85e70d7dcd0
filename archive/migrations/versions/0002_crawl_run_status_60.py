"""crawl_runs.status: 60 characters, not 20.

A crawl stopped by one of Scrapy's limits is "stopped: <reason>", and the reasons are
up to 27 characters ("stopped: closespider_timeout" is 28): SQLite kept them whole,
PostgreSQL refused the row, and the run stayed "running".

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | tuple[str, ...] | None = "0001"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def upgrade() -> None:
    with op.batch_alter_table("crawl_runs") as batch_op:
        batch_op.alter_column(
            "status",
            existing_type=sa.String(length=20),
            type_=sa.String(length=60),
            existing_nullable=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("crawl_runs") as batch_op:
        batch_op.alter_column(
            "status",
            existing_type=sa.String(length=60),
            type_=sa.String(length=20),
            existing_nullable=False,
        )
