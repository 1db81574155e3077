"""Alembic migrations for the SQL schema (``lockgate.db.schema``).

Run by ``lockgate.db.migrate.upgrade`` at start; never by hand.  Each file in
``versions/`` is frozen once committed: a schema change is a new file, and
``schema.py`` changes with it (a test checks that the two agree).  Table
names carry ``[database] table_prefix``: scripts call ``table(name)``.
"""

from __future__ import annotations

from alembic import context


def table(name: str) -> str:
    """``name`` with the configured table prefix, for use in migration scripts."""
    return str(context.config.attributes.get("table_prefix", "")) + name
