"""Making a SQLAlchemy engine from a ``dburi``, safe for several processes.

SQLite is the embedded default; several Lockgate processes (scheduler, web,
``lockgate up``) share one file, so every connection gets WAL journaling
(readers never block the writer), a busy timeout (a writer waits for the
lock instead of failing), and foreign keys.  Writers start their transaction
with ``BEGIN IMMEDIATE`` (ask with ``connection.execution_options(
lockgate_write=True)``): a deferred transaction that reads and then writes can
hit SQLITE_BUSY without waiting, which the busy timeout does not cover.

PostgreSQL: a plain ``postgresql://`` URI (the form Zuul's documentation and
ours show) is pinned to a driver that is installed — psycopg2, Lockgate's
``postgresql`` extra, else psycopg 3 — because SQLAlchemy 2.1 maps the plain
form to psycopg 3 alone.  An explicit driver (``postgresql+psycopg2://``) is
used as written.  Other SQLAlchemy dialects are used as they are.
``resolve_dburi`` picks the URI from the service config: ``[database]
dburi``, or a file in ``[scheduler] state_dir``.

Reads from a database server go through an engine of their own
(``make_read_engine``): autocommit, so a read is its statement alone (no
BEGIN or COMMIT to wait for), and a connection is pinged before use only
when it has been idle a while (``PING_AFTER_IDLE``), not before every use as
the writers' are: on a loaded machine each trip to the server costs
milliseconds of waiting to be scheduled (bench/web_builds.py).
"""

from __future__ import annotations

import importlib.util
import os
import sqlite3
import time
from typing import Any

import sqlalchemy as sa
from lockgate.service_config import KNOWN_SECTIONS, ServiceConfig
from sqlalchemy.engine import make_url
from sqlalchemy.pool import StaticPool

# How long a SQLite writer waits for another process's write lock.
SQLITE_BUSY_TIMEOUT_MS = 30_000
SQLITE_FILENAME = "lockgate.db"
# Seconds a read connection may sit in the pool before it is pinged on its
# next use.  A server restarted sooner than that after a connection's last
# use fails the next read on it; ``Database`` then reads once more on a new
# connection.
PING_AFTER_IDLE = 10.0

# Drivers tried, in order, for a dburi that names a backend but no driver.
DEFAULT_DRIVERS = {"postgresql": ("psycopg2", "psycopg")}
# What to install for a driver (the line after "no driver"), by the URI's
# scheme, else by its backend.
DRIVER_HINTS = {
    "postgresql+psycopg": "install psycopg[binary], or write postgresql:// to use psycopg2",
    "postgresql": "install psycopg2-binary (pip install 'lockgate[postgresql]')",
    "mysql": "MySQL/MariaDB is untested; install PyMySQL and write mysql+pymysql://",
}


class DatabaseError(Exception):
    """A database problem; ``str()`` is one line naming the URI (no password)."""


class DatabaseUnavailable(DatabaseError):
    """The database cannot be reached or is busy right now: retry later."""


def describe(dburi: str, error: BaseException) -> str:
    """One line for a driver error: the URI (no password) and the driver's first line."""
    orig = getattr(error, "orig", None) or error
    lines = str(orig).strip().splitlines()
    return f"database {redacted(dburi)}: {lines[0] if lines else type(orig).__name__}"


def redacted(dburi: str) -> str:
    try:
        return make_url(dburi).render_as_string(hide_password=True)
    except Exception:
        return "<unparseable dburi>"


def resolve_dburi(config: ServiceConfig) -> str:
    """The database URI for this service config.

    An explicit ``[database] dburi`` wins.  Otherwise the database is a SQLite
    file in ``[scheduler] state_dir`` (so ``lockgate up`` with a state dir keeps
    everything in one place).  Because the config loader fills defaults in, a
    ``dburi`` equal to the built-in default counts as not set.
    """
    default = KNOWN_SECTIONS["database"]["dburi"]
    section = config.sections.get("database")
    dburi = section.get("dburi") if section else None
    if dburi and dburi != default:
        return dburi
    state_dir = config.section("scheduler").get_path("state_dir") or "/var/lib/lockgate"
    return "sqlite:///" + os.path.join(os.path.abspath(state_dir), SQLITE_FILENAME)


def make_engine(dburi: str, *, pool_recycle: float | None = None, **kwargs: Any) -> sa.Engine:
    """An engine for ``dburi``; raises ``DatabaseError`` for a bad URI or missing driver.
    ``pool_recycle`` applies to server databases (SQLite keeps its connections)."""
    try:
        url = make_url(dburi)
    except Exception:
        raise DatabaseError(
            f"[database] dburi: cannot parse {dburi!r} as a database URI "
            "(e.g. sqlite:////var/lib/lockgate/lockgate.db or "
            "postgresql://user:pass@host/db)"
        ) from None
    if url.get_backend_name() == "sqlite":
        return _sqlite_engine(url, **kwargs)
    url = pin_driver(url)
    if pool_recycle is not None:
        kwargs["pool_recycle"] = pool_recycle
    try:
        return sa.create_engine(url, pool_pre_ping=True, future=True, **kwargs)
    except (sa.exc.NoSuchModuleError, ImportError) as e:
        hint = DRIVER_HINTS.get(url.drivername) or DRIVER_HINTS.get(
            _backend(url), "install the SQLAlchemy driver it names"
        )
        raise DatabaseError(
            f"[database] dburi {redacted(dburi)}: no driver for {url.drivername} ({e}); {hint}"
        ) from None


def make_read_engine(
    dburi: str, *, pool_recycle: float | None = None, **kwargs: Any
) -> sa.Engine | None:
    """An engine for reads from the server database at ``dburi`` (see the
    module's docstring); None for SQLite, whose reads share the writers'
    engine (no server to wait for, and a transaction is its snapshot)."""
    if make_url(dburi).get_backend_name() == "sqlite":
        return None
    url = pin_driver(make_url(dburi))
    if pool_recycle is not None:
        kwargs["pool_recycle"] = pool_recycle
    # Most recently used first: under steady use the same few connections
    # serve, and they are never idle long enough to need a ping.
    engine = sa.create_engine(
        url, isolation_level="AUTOCOMMIT", pool_use_lifo=True, future=True, **kwargs
    )
    _ping_when_idle(engine)
    return engine


def _ping_when_idle(engine: sa.Engine) -> None:
    """Ping a pooled connection on checkout if it was idle longer than
    ``PING_AFTER_IDLE``; a dead one makes the pool connect anew."""

    @sa.event.listens_for(engine, "checkin")
    def _checked_in(dbapi_connection: Any, record: Any) -> None:
        if record is not None:
            record.info["lockgate_idle_since"] = time.monotonic()

    @sa.event.listens_for(engine, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        since = record.info.get("lockgate_idle_since")
        if since is None or time.monotonic() - since < PING_AFTER_IDLE:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as e:
            raise sa.exc.DisconnectionError(str(e).strip()) from e


def _backend(url: sa.URL) -> str:
    name = url.drivername.split("+", 1)[0]
    return "postgresql" if name == "postgres" else name


def pin_driver(url: sa.URL) -> sa.URL:
    """``url`` with the driver a plain ``BACKEND://`` URI should use here.

    SQLAlchemy 2.1 reads ``postgresql://`` as psycopg 3, which Lockgate does
    not depend on; the first installed of ``DEFAULT_DRIVERS`` is named
    instead (``postgres://``, an old alias SQLAlchemy no longer knows, too).
    A URI that names its driver is left alone.  Nothing installed: the URI
    is returned as it is and creating the engine names what is missing.
    """
    if "+" in url.drivername:
        return url
    backend = _backend(url)
    for driver in DEFAULT_DRIVERS.get(backend, ()):
        if importlib.util.find_spec(driver) is not None:
            return url.set(drivername=f"{backend}+{driver}")
    return url.set(drivername=backend)


def _sqlite_engine(url: sa.URL, **kwargs: Any) -> sa.Engine:
    database = url.database or ""
    in_memory = database in ("", ":memory:")
    if not in_memory:
        parent = os.path.dirname(os.path.abspath(database))
        try:
            os.makedirs(parent, exist_ok=True)
        except OSError as e:
            raise DatabaseError(
                f"[database] dburi {url}: cannot create directory {parent}: {e.strerror}"
            ) from None
    connect_args = {"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
    if in_memory:
        # One shared connection, or every connection would see its own empty db.
        kwargs.setdefault("poolclass", StaticPool)
    engine = sa.create_engine(url, connect_args=connect_args, future=True, **kwargs)

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, record: Any) -> None:
        # Take transaction control away from the sqlite3 module so that the
        # "begin" hook below decides how each transaction starts.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            if not in_memory:
                _enable_wal(cursor)
                cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA foreign_keys=ON")
        finally:
            cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        if conn.get_execution_options().get("lockgate_write"):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")

    return engine


def _enable_wal(cursor: Any) -> None:
    """Switch the file to WAL, waiting (up to the busy timeout) for a writer.

    Changing the journal mode needs the database to itself, and SQLite does
    not call the busy handler for it: while another process migrates a new
    (not yet WAL) file, the pragma fails at once with "database is locked".
    Once the file is in WAL mode the pragma is a no-op that never waits.
    """
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    delay = 0.005
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as e:
            if "locked" not in str(e) or time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.2)
