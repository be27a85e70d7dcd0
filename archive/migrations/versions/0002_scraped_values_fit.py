"""Columns wide enough for what crawls put in them (PostgreSQL checks lengths, SQLite not).

- ``crawl_runs.status``: 60 characters, not 20. A crawl stopped by one of Scrapy's limits
  is "stopped: <reason>", and the reasons are up to 27 characters ("stopped:
  closespider_timeout" is 28): PostgreSQL refused the run's last write and it stayed
  "running".
- ``article_urls.url``, ``downloads.url``: 2083 characters, not 2000: Scrapy fetches URLs
  up to 2083 characters long (its URLLENGTH_LIMIT).

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

WIDER = [("crawl_runs", "status", 20, 60), ("article_urls", "url", 2000, 2083)]
WIDER += [("downloads", "url", 2000, 2083)]


def upgrade() -> None:
    for table, column, before, after in WIDER:
        with op.batch_alter_table(table) as batch_op:
            batch_op.alter_column(
                column,
                existing_type=sa.String(length=before),
                type_=sa.String(length=after),
                existing_nullable=False,
            )


def downgrade() -> None:
    for table, column, before, after in reversed(WIDER):
        with op.batch_alter_table(table) as batch_op:
            batch_op.alter_column(
                column,
                existing_type=sa.String(length=after),
                type_=sa.String(length=before),
                existing_nullable=False,
            )
