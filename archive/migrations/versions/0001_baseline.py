"""The first schema: every table as it was when migrations began.

Written by ``alembic revision --autogenerate`` against an empty database, then read: the
indexes are plain ``op.create_index`` (batch mode is for later ALTERs on SQLite). Archives
made before migrations are stamped at this revision (archive/migrate.py reads the tables
from ``upgrade()`` below to give them what they lack). Never edit it: add a revision.

Revision ID: 0001
Revises:
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | tuple[str, ...] | None = None
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def upgrade() -> None:
    op.create_table(
        "admin_units",
        sa.Column("key", sa.String(length=20), nullable=False),
        sa.Column("code", sa.String(length=8), nullable=False),
        sa.Column("era", sa.String(length=10), nullable=False),
        sa.Column("level", sa.String(length=10), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("short_name", sa.String(length=200), nullable=False),
        sa.Column("folded_name", sa.String(length=200), nullable=False),
        sa.Column("folded_short", sa.String(length=200), nullable=False),
        sa.Column("parent_key", sa.String(length=20), nullable=True),
        sa.Column("province_key", sa.String(length=20), nullable=True),
        sa.Column("former_parent_key", sa.String(length=20), nullable=True),
        sa.Column("valid_from", sa.Date(), nullable=True),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("source", sa.String(length=120), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_index(op.f("ix_admin_units_code"), "admin_units", ["code"], unique=False)
    op.create_index(
        op.f("ix_admin_units_folded_short"), "admin_units", ["folded_short"], unique=False
    )
    op.create_index(op.f("ix_admin_units_parent_key"), "admin_units", ["parent_key"], unique=False)
    op.create_index(
        op.f("ix_admin_units_province_key"), "admin_units", ["province_key"], unique=False
    )
    op.create_table(
        "crawl_locks",
        sa.Column("slug", sa.String(length=100), nullable=False),
        sa.Column("holder", sa.String(length=300), nullable=False),
        sa.Column("token", sa.String(length=32), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("hostname", sa.String(length=255), nullable=False),
        sa.Column("acquired_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("slug"),
    )
    op.create_table(
        "documents",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("file_type", sa.String(length=20), nullable=False),
        sa.Column("filename", sa.Text(), nullable=True),
        sa.Column("first_url", sa.Text(), nullable=False),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("text_method", sa.String(length=20), nullable=True),
        sa.Column("ocr", sa.Boolean(), nullable=False),
        sa.Column("pages", sa.Integer(), nullable=True),
        sa.Column("legacy_encoding", sa.String(length=10), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("doc_kind", sa.String(length=60), nullable=True),
        sa.Column("number", sa.String(length=120), nullable=True),
        sa.Column("issuer", sa.Text(), nullable=True),
        sa.Column("place", sa.Text(), nullable=True),
        sa.Column("doc_date", sa.Date(), nullable=True),
        sa.Column("subject", sa.Text(), nullable=True),
        sa.Column("signer", sa.Text(), nullable=True),
        sa.Column("meta_complete", sa.Boolean(), nullable=False),
        sa.Column("meta", sa.JSON(), nullable=True),
        sa.Column("number_source", sa.String(length=120), nullable=True),
        sa.PrimaryKeyConstraint("sha256"),
    )
    op.create_index(op.f("ix_documents_number"), "documents", ["number"], unique=False)
    op.create_table(
        "portals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("unit", sa.String(length=300), nullable=False),
        sa.Column("base_url", sa.String(length=500), nullable=False),
        sa.Column("family", sa.String(length=40), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("slug"),
    )
    op.create_table(
        "schedules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("target", sa.String(length=2000), nullable=False),
        sa.Column("cron", sa.String(length=200), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("paused", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_run_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_run_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_status", sa.String(length=20), nullable=True),
        sa.Column("last_message", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_schedules_next_run_at"), "schedules", ["next_run_at"], unique=False)
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=40), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=True),
        sa.Column("is_admin", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("username"),
    )
    op.create_table(
        "admin_unit_names",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unit_key", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("short_name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("folded_name", sa.String(length=200), nullable=False),
        sa.Column("folded_short", sa.String(length=200), nullable=False),
        sa.Column("current", sa.Boolean(), nullable=False),
        sa.Column("source", sa.String(length=120), nullable=False),
        sa.ForeignKeyConstraint(
            ["unit_key"],
            ["admin_units.key"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("unit_key", "name"),
    )
    op.create_index(
        op.f("ix_admin_unit_names_folded_short"), "admin_unit_names", ["folded_short"], unique=False
    )
    op.create_index(
        op.f("ix_admin_unit_names_unit_key"), "admin_unit_names", ["unit_key"], unique=False
    )
    op.create_table(
        "articles",
        sa.Column("id", sa.String(length=140), nullable=False),
        sa.Column("portal_id", sa.Integer(), nullable=False),
        sa.Column("canonical_url", sa.Text(), nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version_count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["portal_id"],
            ["portals.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("canonical_url"),
    )
    op.create_index(op.f("ix_articles_portal_id"), "articles", ["portal_id"], unique=False)
    op.create_table(
        "collections",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["owner_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("owner_id", "name"),
    )
    op.create_index(op.f("ix_collections_owner_id"), "collections", ["owner_id"], unique=False)
    op.create_table(
        "crawl_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("portal_id", sa.Integer(), nullable=False),
        sa.Column("trigger", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("pages", sa.Integer(), nullable=False),
        sa.Column("articles_new", sa.Integer(), nullable=False),
        sa.Column("articles_updated", sa.Integer(), nullable=False),
        sa.Column("articles_unchanged", sa.Integer(), nullable=False),
        sa.Column("items_invalid", sa.Integer(), nullable=False),
        sa.Column("errors", sa.Integer(), nullable=False),
        sa.Column("stats", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["portal_id"],
            ["portals.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_crawl_runs_portal_id"), "crawl_runs", ["portal_id"], unique=False)
    op.create_table(
        "schedule_fires",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("schedule_id", sa.Integer(), nullable=False),
        sa.Column("scheduled_for", sa.DateTime(timezone=True), nullable=False),
        sa.Column("fired_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("slugs", sa.JSON(), nullable=False),
        sa.Column("busy", sa.JSON(), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("pid", sa.Integer(), nullable=True),
        sa.Column("exit_code", sa.Integer(), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["schedule_id"], ["schedules.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_schedule_fires_schedule_id"), "schedule_fires", ["schedule_id"], unique=False
    )
    op.create_table(
        "unit_succession",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("from_key", sa.String(length=20), nullable=False),
        sa.Column("to_key", sa.String(length=20), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("effective", sa.Date(), nullable=True),
        sa.Column("main", sa.Boolean(), nullable=False),
        sa.Column("source", sa.String(length=120), nullable=False),
        sa.ForeignKeyConstraint(
            ["from_key"],
            ["admin_units.key"],
        ),
        sa.ForeignKeyConstraint(
            ["to_key"],
            ["admin_units.key"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("from_key", "to_key"),
    )
    op.create_index(
        op.f("ix_unit_succession_from_key"), "unit_succession", ["from_key"], unique=False
    )
    op.create_index("ix_unit_succession_to", "unit_succession", ["to_key"], unique=False)
    op.create_table(
        "article_urls",
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("article_id", sa.String(length=140), nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["articles.id"],
        ),
        sa.PrimaryKeyConstraint("url"),
    )
    op.create_index(
        op.f("ix_article_urls_article_id"), "article_urls", ["article_id"], unique=False
    )
    op.create_table(
        "article_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("article_id", sa.String(length=140), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("is_current", sa.Boolean(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("published", sa.String(length=40), nullable=True),
        sa.Column("published_day", sa.Date(), nullable=True),
        sa.Column("author", sa.Text(), nullable=True),
        sa.Column("views", sa.Integer(), nullable=True),
        sa.Column("lead", sa.Text(), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("topics", sa.JSON(), nullable=False),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("raw_sha256", sa.String(length=64), nullable=True),
        sa.Column("crawl_run_id", sa.Integer(), nullable=True),
        sa.Column("warc_file", sa.Text(), nullable=True),
        sa.Column("warc_offset", sa.BigInteger(), nullable=True),
        sa.Column("warc_length", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["articles.id"],
        ),
        sa.ForeignKeyConstraint(
            ["crawl_run_id"],
            ["crawl_runs.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("article_id", "version"),
    )
    op.create_index(
        op.f("ix_article_versions_article_id"), "article_versions", ["article_id"], unique=False
    )
    op.create_index(
        op.f("ix_article_versions_published_day"),
        "article_versions",
        ["published_day"],
        unique=False,
    )
    op.create_index(
        "ix_versions_current", "article_versions", ["is_current", "article_id"], unique=False
    )
    op.create_table(
        "collection_items",
        sa.Column("collection_id", sa.Integer(), nullable=False),
        sa.Column("article_id", sa.String(length=140), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["articles.id"],
        ),
        sa.ForeignKeyConstraint(["collection_id"], ["collections.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("collection_id", "article_id"),
    )
    op.create_index(
        op.f("ix_collection_items_article_id"), "collection_items", ["article_id"], unique=False
    )
    op.create_table(
        "downloads",
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("http_status", sa.Integer(), nullable=True),
        sa.Column("headers", sa.JSON(), nullable=False),
        sa.Column("filename", sa.Text(), nullable=True),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("crawl_run_id", sa.Integer(), nullable=True),
        sa.Column("warc_file", sa.Text(), nullable=True),
        sa.Column("warc_offset", sa.BigInteger(), nullable=True),
        sa.Column("warc_length", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["crawl_run_id"],
            ["crawl_runs.id"],
        ),
        sa.ForeignKeyConstraint(
            ["sha256"],
            ["documents.sha256"],
        ),
        sa.PrimaryKeyConstraint("url"),
    )
    op.create_index(op.f("ix_downloads_sha256"), "downloads", ["sha256"], unique=False)
    op.create_table(
        "raw_responses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("crawl_run_id", sa.Integer(), nullable=True),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("headers", sa.JSON(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("warc_file", sa.Text(), nullable=True),
        sa.Column("warc_offset", sa.BigInteger(), nullable=True),
        sa.Column("warc_length", sa.BigInteger(), nullable=True),
        sa.Column("warc_type", sa.String(length=10), nullable=True),
        sa.Column("warc_digest", sa.String(length=40), nullable=True),
        sa.Column("via", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["crawl_run_id"],
            ["crawl_runs.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_raw_responses_crawl_run_id"), "raw_responses", ["crawl_run_id"], unique=False
    )
    op.create_index(op.f("ix_raw_responses_sha256"), "raw_responses", ["sha256"], unique=False)
    op.create_table(
        "attachments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["article_versions.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_attachments_version_id"), "attachments", ["version_id"], unique=False)
    op.create_table(
        "doc_references",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=120), nullable=False),
        sa.Column("kind", sa.String(length=60), nullable=True),
        sa.Column("date", sa.Date(), nullable=True),
        sa.Column("issuer", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["article_versions.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_doc_references_number"), "doc_references", ["number"], unique=False)
    op.create_index(
        op.f("ix_doc_references_version_id"), "doc_references", ["version_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_doc_references_version_id"), table_name="doc_references")
    op.drop_index(op.f("ix_doc_references_number"), table_name="doc_references")
    op.drop_table("doc_references")
    op.drop_index(op.f("ix_attachments_version_id"), table_name="attachments")
    op.drop_table("attachments")
    op.drop_index(op.f("ix_raw_responses_sha256"), table_name="raw_responses")
    op.drop_index(op.f("ix_raw_responses_crawl_run_id"), table_name="raw_responses")
    op.drop_table("raw_responses")
    op.drop_index(op.f("ix_downloads_sha256"), table_name="downloads")
    op.drop_table("downloads")
    op.drop_index(op.f("ix_collection_items_article_id"), table_name="collection_items")
    op.drop_table("collection_items")
    op.drop_index("ix_versions_current", table_name="article_versions")
    op.drop_index(op.f("ix_article_versions_published_day"), table_name="article_versions")
    op.drop_index(op.f("ix_article_versions_article_id"), table_name="article_versions")
    op.drop_table("article_versions")
    op.drop_index(op.f("ix_article_urls_article_id"), table_name="article_urls")
    op.drop_table("article_urls")
    op.drop_index("ix_unit_succession_to", table_name="unit_succession")
    op.drop_index(op.f("ix_unit_succession_from_key"), table_name="unit_succession")
    op.drop_table("unit_succession")
    op.drop_index(op.f("ix_schedule_fires_schedule_id"), table_name="schedule_fires")
    op.drop_table("schedule_fires")
    op.drop_index(op.f("ix_crawl_runs_portal_id"), table_name="crawl_runs")
    op.drop_table("crawl_runs")
    op.drop_index(op.f("ix_collections_owner_id"), table_name="collections")
    op.drop_table("collections")
    op.drop_index(op.f("ix_articles_portal_id"), table_name="articles")
    op.drop_table("articles")
    op.drop_index(op.f("ix_admin_unit_names_unit_key"), table_name="admin_unit_names")
    op.drop_index(op.f("ix_admin_unit_names_folded_short"), table_name="admin_unit_names")
    op.drop_table("admin_unit_names")
    op.drop_table("users")
    op.drop_index(op.f("ix_schedules_next_run_at"), table_name="schedules")
    op.drop_table("schedules")
    op.drop_table("portals")
    op.drop_index(op.f("ix_documents_number"), table_name="documents")
    op.drop_table("documents")
    op.drop_table("crawl_locks")
    op.drop_index(op.f("ix_admin_units_province_key"), table_name="admin_units")
    op.drop_index(op.f("ix_admin_units_parent_key"), table_name="admin_units")
    op.drop_index(op.f("ix_admin_units_folded_short"), table_name="admin_units")
    op.drop_index(op.f("ix_admin_units_code"), table_name="admin_units")
    op.drop_table("admin_units")
