"""Results in SQL: the model's enums in and out, their values in the rows.

The columns hold the strings Zuul's tables hold (``SUCCESS``,
``MERGE_CONFLICT``...), so rows written before the results were typed read
back the same; a row whose result Lockgate never writes is an error naming
the row, not a record with a stray string in it.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from lockgate.db import Database, RefInfo
from lockgate.model.builds import BuildResult, BuildsetResult

REF = RefInfo(project="demo/app", ref="refs/heads/main", branch="main", newrev="b" * 40)


def _column(db: Database, table: sa.Table, uuid: str) -> object:
    with db.engine.connect() as conn:
        return conn.execute(sa.select(table.c.result).where(table.c.uuid == uuid)).scalar_one()


def test_results_are_enums_in_records_and_strings_in_rows(db: Database) -> None:
    db.create_buildset("bs1", "t", "gate", [REF])
    db.create_build("b1", "bs1", "unit")
    db.update_build("b1", result=BuildResult.NODE_FAILURE, final=True)
    db.update_buildset("bs1", result=BuildsetResult.MERGE_CONFLICT, message="Merge failed.")
    stored = (_column(db, db.t.buildset, "bs1"), _column(db, db.t.build, "b1"))
    assert stored == ("MERGE_CONFLICT", "NODE_FAILURE")
    assert all(type(value) is str for value in stored)
    buildset = db.get_buildset("bs1", "t")
    assert buildset is not None
    assert buildset.result is BuildsetResult.MERGE_CONFLICT
    assert buildset.builds[0].result is BuildResult.NODE_FAILURE
    build = db.get_build("b1", "t")
    assert build is not None and build.result is BuildResult.NODE_FAILURE
    assert build.buildset.result is BuildsetResult.MERGE_CONFLICT


def test_a_row_written_as_a_string_reads_back_as_the_enum(db: Database) -> None:
    db.create_buildset("bs1", "t", "check", [REF])
    db.create_build("b1", "bs1", "unit")
    with db.engine.begin() as conn:
        conn.execute(db.t.buildset.update().values(result="NO_JOBS"))
        conn.execute(db.t.build.update().values(result="SKIPPED"))
    [buildset] = db.get_buildsets("t")
    assert buildset.result is BuildsetResult.NO_JOBS
    [build] = db.get_builds("t")
    assert build.result is BuildResult.SKIPPED


def test_a_result_lockgate_never_writes_is_an_error_naming_the_row(db: Database) -> None:
    db.create_buildset("bs1", "t", "check", [REF])
    with db.engine.begin() as conn:
        conn.execute(db.t.buildset.update().values(result="MERGER_FAILURE"))
    with pytest.raises(ValueError, match="buildset bs1: result 'MERGER_FAILURE'"):
        db.get_buildsets("t")
