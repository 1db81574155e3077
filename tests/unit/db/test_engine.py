"""Engine set-up: which database a config names, and SQLite shared by several processes."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from lockgate.db import Database, DatabaseError, RefInfo, resolve_dburi
from lockgate.db.engine import pin_driver
from lockgate.service_config import ServiceConfig
from sqlalchemy.engine import make_url

from tests.fixtures.postgres import PostgresServer


def _config(text: str) -> ServiceConfig:
    return ServiceConfig.parse(textwrap.dedent(text), "/etc/lockgate/lockgate.conf")


def test_explicit_dburi_wins() -> None:
    config = _config("""
        [scheduler]
        tenant_config = /etc/main.yaml
        state_dir = /srv/lg
        [database]
        dburi = postgresql://lg@db/lg
        """)
    assert resolve_dburi(config) == "postgresql://lg@db/lg"


def test_default_is_sqlite_in_state_dir() -> None:
    config = _config("""
        [scheduler]
        tenant_config = /etc/main.yaml
        state_dir = /srv/lg
        """)
    assert resolve_dburi(config) == "sqlite:////srv/lg/lockgate.db"
    assert (
        resolve_dburi(_config("[web]\nport = 9000\n")) == "sqlite:////var/lib/lockgate/lockgate.db"
    )


def test_from_config_uses_table_prefix(tmp_path: Path) -> None:
    config = _config(f"""
        [database]
        dburi = sqlite:///{tmp_path}/x.db
        table_prefix = zz_
        """)
    db = Database.from_config(config)
    try:
        assert db.table_prefix == "zz_"
        assert db.t.build.name == "zz_lockgate_build"
    finally:
        db.close()


def test_sqlite_creates_its_directory_and_uses_wal(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "lockgate.db"
    db = Database(f"sqlite:///{path}")
    try:
        db.upgrade()
        assert path.exists()
        with db.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 1000
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    finally:
        db.close()


@pytest.mark.parametrize(
    ("dburi", "words"),
    [
        ("not a uri", "cannot parse"),
        ("nosuchdb://x/y", "no driver"),
    ],
)
def test_bad_dburi_is_a_clear_error(dburi: str, words: str) -> None:
    with pytest.raises(DatabaseError, match=words):
        Database(dburi)


WRITER = """
import sys
from lockgate.db import Database, RefInfo
dburi, name, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
db = Database(dburi)
db.upgrade()
ref = RefInfo(project="demo/app", ref="refs/heads/main", newrev=name)
for i in range(count):
    db.create_buildset(f"{name}-bs{i}", "t", "check", [ref])
    db.create_build(f"{name}-b{i}", f"{name}-bs{i}", "job", start_time=i)
    db.update_build(f"{name}-b{i}", result="SUCCESS", end_time=i + 1)
    db.get_builds("t", limit=5)
db.close()
"""


def test_several_processes_write_one_sqlite_file(tmp_path: Path) -> None:
    """The scheduler and web (and a second scheduler) share the file: no write is lost
    and nobody fails with 'database is locked'."""
    dburi = f"sqlite:///{tmp_path}/shared.db"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, dburi, f"w{n}", "25"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(3)
    ]
    for proc in procs:
        out, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, err
    db = Database(dburi)
    try:
        builds = db.get_builds("t", limit=None)
        assert len(builds) == 75
        assert {b.result for b in builds} == {"SUCCESS"}
        # All three writers share the one ref row per newrev.
        assert len({b.ref for b in builds}) == 3
    finally:
        db.close()


@pytest.mark.parametrize(
    ("dburi", "pinned"),
    [
        ("postgresql://lg:pw@db/lg", "postgresql+psycopg2"),
        ("postgres://lg@db/lg", "postgresql+psycopg2"),
        ("postgresql+psycopg2://lg@db/lg", "postgresql+psycopg2"),
        ("postgresql+psycopg://lg@db/lg", "postgresql+psycopg"),
        ("mysql+pymysql://lg@db/lg", "mysql+pymysql"),
    ],
)
def test_a_plain_postgresql_uri_gets_the_installed_driver(dburi: str, pinned: str) -> None:
    """SQLAlchemy 2.1 reads plain postgresql:// as psycopg 3, which is not
    installed; the driver Lockgate depends on is named instead.  A URI that
    names its driver keeps it."""
    url = pin_driver(make_url(dburi))
    assert url.drivername == pinned
    assert url.password == make_url(dburi).password


def test_a_missing_driver_names_what_to_install() -> None:
    # psycopg 3 is not installed here: asked for by name, the error says so
    # and does not claim that psycopg2 is missing.
    with pytest.raises(DatabaseError) as raised:
        Database("postgresql+psycopg://lg:secret@db/lg")
    message = str(raised.value)
    assert "no driver for postgresql+psycopg (No module named 'psycopg')" in message
    assert "install psycopg[binary], or write postgresql:// to use psycopg2" in message
    assert "secret" not in message
    with pytest.raises(DatabaseError, match="PyMySQL"):
        Database("mysql://lg@db/lg")


@pytest.mark.parametrize("scheme", ["postgresql", "postgresql+psycopg2", "postgres"])
def test_the_forms_users_write_reach_postgresql(
    postgres_server: PostgresServer, postgres_database: str, scheme: str
) -> None:
    """The form doc/database.md shows (and Zuul's documentation) migrates and
    keeps history on a real PostgreSQL, as the explicit-driver form does."""
    db = Database(postgres_server.dburi(postgres_database, scheme=scheme))
    try:
        db.upgrade()
        ref = RefInfo(project="demo/app", ref="refs/heads/main", newrev="1" * 40)
        db.create_buildset("bs1", "t", "check", [ref])
        db.create_build("b1", "bs1", "job", start_time=1)
        db.update_build("b1", result="SUCCESS", end_time=2)
        [build] = db.get_builds("t")
        assert (build.uuid, build.result) == ("b1", "SUCCESS")
        assert db.engine.dialect.driver == "psycopg2"
    finally:
        db.close()


def _drop_other_connections(db: Database) -> int:
    """What a server restart does to the pool: every other session ends."""
    with db.engine.connect() as conn:
        dropped = conn.exec_driver_sql(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).scalar_one()
        conn.commit()
    return int(dropped)


@pytest.mark.parametrize("idle", ["just used", "idle"])
def test_reads_from_postgresql_survive_their_connection_being_dropped(
    postgres_dburi: str, monkeypatch: pytest.MonkeyPatch, idle: str
) -> None:
    """Read connections are pinged only after ``PING_AFTER_IDLE``: an idle one
    is pinged and replaced; a just-used one fails its read, which is made
    again on a new connection.  Either way the caller gets its answer."""
    from lockgate.db import engine

    db = Database(postgres_dburi)
    try:
        db.upgrade()
        db.create_buildset("bs", "t", "check", [RefInfo(project="p", ref="refs/heads/main")])
        db.create_build("b", "bs", "unit")
        assert db.read_engine is not db.engine
        assert [b.uuid for b in db.get_builds("t")] == ["b"]
        with db.read_engine.connect() as conn:
            # Reads are one statement each: no transaction around them.
            assert conn.exec_driver_sql("SHOW transaction_isolation").scalar() is not None
            assert conn.connection.dbapi_connection.autocommit is True
        monkeypatch.setattr(engine, "PING_AFTER_IDLE", 0.0 if idle == "idle" else 3600.0)
        assert _drop_other_connections(db) >= 1
        assert [b.uuid for b in db.get_builds("t")] == ["b"]
        assert db.get_buildset("bs", "t") is not None
    finally:
        db.close()
