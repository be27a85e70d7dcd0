"""The archive's Alembic environment: ``env.py``, ``script.py.mako`` and ``versions/``.

Run through :mod:`archive.migrate` (``portal-archive db upgrade``, and every
:class:`archive.store.Archive` open); ``alembic.ini`` at the repository root points here for
developers (``alembic revision --autogenerate -m "..."``). See docs/database.md.
"""
