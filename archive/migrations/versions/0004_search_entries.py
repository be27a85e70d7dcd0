"""The PostgreSQL search backend's table (search/postgres.py): one row per indexed entry,
its terms as a GIN-indexed ``tsvector``, its facets as GIN-indexed arrays.

Created on SQLite too, where it stays empty (one schema for both databases); there the
vector and the arrays are text and JSON, and the indexes plain ones.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | tuple[str, ...] | None = "0003"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None

_LIST = sa.JSON().with_variant(postgresql.ARRAY(sa.Text()), "postgresql")
_GIN = ("terms", "topics", "doc_kinds", "units")


def upgrade() -> None:
    op.create_table(
        "search_entries",
        sa.Column("id", sa.String(length=140), nullable=False),
        sa.Column("type", sa.String(length=10), nullable=False),
        sa.Column("portal", sa.String(length=100), nullable=False),
        sa.Column("topics", _LIST, nullable=False),
        sa.Column("doc_kinds", _LIST, nullable=False),
        sa.Column("units", _LIST, nullable=False),
        sa.Column("year", sa.Integer(), nullable=True),
        sa.Column("published", sa.DateTime(), nullable=True),
        sa.Column("pub", sa.String(length=40), nullable=False),
        sa.Column("state", sa.String(length=64), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("lead", sa.Text(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column(
            "terms", sa.Text().with_variant(postgresql.TSVECTOR(), "postgresql"), nullable=False
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_search_entries_portal", "search_entries", ["portal"])
    op.create_index("ix_search_entries_published", "search_entries", ["published"])
    for column in _GIN:
        op.create_index(
            f"ix_search_entries_{column}", "search_entries", [column], postgresql_using="gin"
        )


def downgrade() -> None:
    op.drop_table("search_entries")
