"""``provided_artifacts``: what a needed change's builds provide, read from a
real (SQLite) build history written the way the scheduler writes it."""

from __future__ import annotations

from pathlib import Path

import pytest
from lockgate.db import Database, RefInfo
from lockgate.model.change import Change
from lockgate.scheduler.history import provided_artifacts
from lockgate.scheduler.manager.actions import LookupProvides


@pytest.fixture
def db(tmp_path: Path):
    database = Database(f"sqlite:///{tmp_path}/lockgate.db")
    database.upgrade()
    yield database
    database.close()


def change(number: int, patchset: int = 1) -> Change:
    return Change(
        connection="gerrit",
        project="org/lib",
        branch="master",
        number=number,
        patchset=patchset,
        commit=f"{number:040x}",
    )


def record(db: Database, buildset: str, build: str, result: str, number: int = 1, **kw) -> None:
    ref = RefInfo(
        project="org/lib",
        ref=f"refs/changes/{number}",
        branch="master",
        change=number,
        patchset="1",
    )
    db.create_buildset(buildset, "demo", kw.pop("pipeline", "check"), [ref])
    db.create_build(build, buildset, kw.pop("job", "image-build"), start_time=100.0)
    db.update_build(build, result=result, end_time=200.0, final=True, **kw)


def lookup(*changes: Change, requires=("image",)) -> LookupProvides:
    return LookupProvides(
        item_uuid="i",
        job_name="image-test",
        tenant="demo",
        pipeline="check",
        requires=tuple(requires),
        changes=changes,
    )


def test_the_newest_buildset_of_the_change_provides_its_artifacts(db: Database):
    record(
        db,
        "old",
        "b-old",
        "SUCCESS",
        provides=["image"],
        artifacts=[{"name": "image", "url": "https://reg/app:old"}],
    )
    record(
        db,
        "new",
        "b-new",
        "SUCCESS",
        provides=["image"],
        artifacts=[{"name": "image", "url": "https://reg/app:new", "metadata": {"k": 1}}],
    )
    record(db, "new", "b-other", "SUCCESS", job="docs", artifacts=[{"name": "d", "url": "u"}])
    answer = provided_artifacts(db, lookup(change(1)))
    assert answer.error is None
    assert answer.artifacts == (
        {
            "name": "image",
            "url": "https://reg/app:new",
            "project": "org/lib",
            "change": "1",
            "patchset": "1",
            "job": "image-build",
            "metadata": {"k": 1},
        },
    )


def test_a_failed_provider_is_an_error_naming_it(db: Database):
    record(db, "bs", "b-failed", "FAILURE", provides=["image"])
    answer = provided_artifacts(db, lookup(change(1)))
    assert answer.error == (
        "Job image-test requires artifact(s) image provided by build b-failed (triggered by "
        'change 1 on project org/lib), but that build failed with result "FAILURE"'
    )


def test_nothing_provided_elsewhere_or_without_a_database(db: Database):
    record(db, "bs", "b1", "SUCCESS", provides=["image"], pipeline="gate")
    record(db, "bs2", "b2", "SUCCESS", provides=["other"])
    assert provided_artifacts(db, lookup(change(1))).artifacts == ()
    assert provided_artifacts(db, lookup(change(2))).artifacts == ()
    assert provided_artifacts(None, lookup(change(1))).artifacts == ()
