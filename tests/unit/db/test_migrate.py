"""Migrations: from an empty database to head, matching the schema, safe in parallel."""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from lockgate.db import Database, DatabaseError, RefInfo, migrate
from lockgate.db.schema import VERSION_TABLE, tables


def _diff(db: Database, prefix: str = "") -> list:
    version_table = prefix + VERSION_TABLE
    ours = {t.name for t in tables(prefix).metadata.sorted_tables}

    def include(
        obj: object, name: str | None, type_: str, reflected: bool, compare_to: object
    ) -> bool:
        if type_ == "table":
            return name in ours
        return True

    with db.engine.connect() as conn:
        ctx = MigrationContext.configure(
            conn,
            opts={"compare_type": True, "version_table": version_table, "include_object": include},
        )
        return compare_metadata(ctx, tables(prefix).metadata)


def test_upgrade_from_empty_reaches_head(dburi: str) -> None:
    db = Database(dburi)
    try:
        assert migrate.current_revision(db.engine) is None
        db.upgrade()
        assert migrate.current_revision(db.engine) == migrate.head_revision()
        names = set(sa.inspect(db.engine).get_table_names())
        assert {t.name for t in db.t.metadata.sorted_tables} <= names
        db.upgrade()  # a second start changes nothing
        assert migrate.current_revision(db.engine) == migrate.head_revision()
    finally:
        db.close()


def test_migrated_schema_matches_the_models(db: Database) -> None:
    assert _diff(db) == []


def test_table_prefix_keeps_installations_apart(dburi: str) -> None:
    plain, prefixed = Database(dburi), Database(dburi, table_prefix="other_")
    try:
        plain.upgrade()
        prefixed.upgrade()
        assert _diff(prefixed, "other_") == []
        names = set(sa.inspect(plain.engine).get_table_names())
        assert {"lockgate_build", "other_lockgate_build", "other_lockgate_alembic_version"} <= names
        ref = RefInfo(project="p", ref="refs/heads/main")
        plain.create_buildset("bs", "t", "check", [ref])
        assert plain.get_buildsets("t") and not prefixed.get_buildsets("t")
    finally:
        plain.close()
        prefixed.close()


def test_concurrent_upgrades_from_empty(dburi: str) -> None:
    """Several processes starting at once: each upgrade succeeds, the schema is made once."""
    dbs = [Database(dburi) for _ in range(4)]
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(dbs))

    def run(db: Database) -> None:
        try:
            barrier.wait(timeout=30)
            db.upgrade()
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=run, args=(db,)) for db in dbs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    try:
        assert errors == []
        assert migrate.current_revision(dbs[0].engine) == migrate.head_revision()
        assert _diff(dbs[0]) == []
    finally:
        for db in dbs:
            db.close()


def test_unreachable_database_is_a_one_line_error() -> None:
    # Port 1 on loopback: nothing listens there.
    db = Database("postgresql+psycopg2://lockgate:secret@127.0.0.1:1/lockgate")
    try:
        with pytest.raises(DatabaseError) as info:
            db.upgrade()
        message = str(info.value)
        assert "127.0.0.1:1" in message and "\n" not in message
        assert "secret" not in message
        with pytest.raises(DatabaseError):
            db.ping()
    finally:
        db.close()


def test_ping_fails_before_upgrade_and_passes_after(dburi: str) -> None:
    db = Database(dburi)
    try:
        with pytest.raises(DatabaseError):
            db.ping()
        db.upgrade()
        db.ping()
    finally:
        db.close()


def test_writes_and_reads_on_an_unreachable_database_raise_one_retryable_error() -> None:
    from lockgate.db import DatabaseUnavailable

    db = Database("postgresql+psycopg2://lockgate:secret@127.0.0.1:1/lockgate")
    ref = RefInfo(project="p", ref="refs/heads/main")
    try:
        for call in (
            lambda: db.create_buildset("bs", "t", "check", [ref]),
            lambda: db.update_build("b", result="SUCCESS"),
            lambda: db.get_builds("t"),
            lambda: db.get_buildset("bs"),
        ):
            with pytest.raises(DatabaseUnavailable) as info:
                call()
            message = str(info.value)
            assert "127.0.0.1:1" in message and "\n" not in message and "secret" not in message
    finally:
        db.close()


def test_upgrade_from_0002_copies_the_filter_columns_onto_existing_builds(dburi: str) -> None:
    """Migration 0003 on a database with builds: each build gets its buildset's
    tenant and pipeline and its ref's project and branch, and the lists filter
    on them at once."""
    db = Database(dburi)
    try:
        migrate.upgrade(db.engine, revision="0002")
        with db.engine.begin() as conn:
            for sql in (
                "INSERT INTO lockgate_ref (id, project, ref, ref_url, change, patchset, oldrev,"
                " newrev, branch) VALUES (1, 'org/a', 'refs/heads/main', '', 0, '', '', 'x1',"
                " 'main'), (2, 'org/b', 'refs/changes/1/1/1', '', 1, '1', '', 'x2', '')",
                "INSERT INTO lockgate_buildset (id, uuid, tenant, pipeline)"
                " VALUES (1, 'bs1', 't1', 'gate'), (2, 'bs2', 't2', 'check')",
                "INSERT INTO lockgate_build (id, buildset_id, ref_id, uuid, job_name, result)"
                " VALUES (1, 1, 1, 'b1', 'unit', 'SUCCESS'), (2, 1, 2, 'b2', 'lint', NULL),"
                " (3, 2, 2, 'b3', 'unit', 'FAILURE')",
            ):
                conn.execute(sa.text(sql))
        db.upgrade()
        b = db.t.build
        with db.engine.connect() as conn:
            rows = conn.execute(
                sa.select(b.c.uuid, b.c.tenant, b.c.pipeline, b.c.project, b.c.branch).order_by(
                    b.c.id
                )
            ).all()
        assert [tuple(row) for row in rows] == [
            ("b1", "t1", "gate", "org/a", "main"),
            ("b2", "t1", "gate", "org/b", None),
            ("b3", "t2", "check", "org/b", None),
        ]
        assert [x.uuid for x in db.get_builds("t1", project="org/b", pipeline="gate")] == ["b2"]
        assert [x.uuid for x in db.get_builds("t2", job_name="unit")] == ["b3"]
        assert _diff(db) == []
    finally:
        db.close()
