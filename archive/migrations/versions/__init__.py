"""Alembic revisions of the archive's schema, oldest first (see archive/migrate.py)."""
