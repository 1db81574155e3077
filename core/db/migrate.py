"""Bringing a database's schema up to date, safely from several processes at once.

Every process that opens the database calls ``Database.upgrade()`` at start
(``lockgate up`` starts the scheduler and the web together), so two may
migrate at the same moment.  The whole upgrade runs in one transaction that
first takes a database-wide lock: on PostgreSQL a transaction-scoped advisory
lock, on SQLite ``BEGIN IMMEDIATE`` (the write lock; the other process waits in
its busy timeout).  The second process then finds the schema at head and does
nothing.  PostgreSQL and SQLite have transactional DDL, so a failed migration
leaves the schema as it was.
"""

from __future__ import annotations

import logging
from importlib import resources

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from lockgate.db.schema import VERSION_TABLE

log = logging.getLogger("lockgate.db")

# An arbitrary constant naming "Lockgate's schema migration" among advisory locks.
PG_MIGRATION_LOCK_KEY = 0x4C6B6774  # "Lkgt"


def _alembic_config(prefix: str) -> Config:
    cfg = Config()
    location = resources.files("lockgate.db") / "migrations"
    cfg.set_main_option("script_location", str(location))
    cfg.attributes["table_prefix"] = prefix
    return cfg


def head_revision() -> str:
    """The newest migration shipped with this version of Lockgate."""
    head = ScriptDirectory.from_config(_alembic_config("")).get_current_head()
    assert head is not None
    return head


def current_revision(engine: sa.Engine, prefix: str = "") -> str | None:
    """The migration the database is at, or None for an empty database."""
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"version_table": prefix + VERSION_TABLE})
        return context.get_current_revision()


def upgrade(engine: sa.Engine, prefix: str = "", revision: str = "head") -> None:
    """Migrate to ``revision`` (default: the newest) under the migration lock."""
    cfg = _alembic_config(prefix)
    with engine.connect() as conn:
        conn = conn.execution_options(lockgate_write=True)
        with conn.begin():
            dialect = conn.dialect.name
            if dialect == "postgresql":
                conn.execute(
                    sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_MIGRATION_LOCK_KEY}
                )
            elif dialect == "sqlite":
                # BEGIN IMMEDIATE (see engine.py) already holds the write lock.
                pass
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
    log.debug("database schema at %s", revision)
