"""Alembic's environment for the archive database.

Two ways in: :mod:`archive.migrate` passes an open connection in ``config.attributes``
(the whole upgrade is then one transaction it controls, under its lock); the ``alembic``
command of a developer (``alembic.ini`` at the repository root) gets the database the CLI
would use: ``$PORTAL_ARCHIVE_DB``, else the SQLite file of ``$PORTAL_ARCHIVE_DATA``.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from archive.migrate import target_metadata

config = context.config

# ALTERs on SQLite are "move and copy" (a new table, the rows copied, the old one dropped);
# batch mode does that for every later revision, and is a plain ALTER on PostgreSQL.
OPTIONS = {"target_metadata": target_metadata(), "render_as_batch": True, "compare_type": True}


def run_offline() -> None:
    context.configure(url=_url(), literal_binds=True, **OPTIONS)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, **OPTIONS)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(_url())
    with engine.connect() as connection:
        context.configure(connection=connection, **OPTIONS)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


def _url() -> str:
    from archive.config import Config

    return config.get_main_option("sqlalchemy.url") or Config.resolve().db_url


if context.is_offline_mode():
    run_offline()
else:
    run_online()
