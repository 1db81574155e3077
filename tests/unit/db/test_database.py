"""Writes the scheduler makes, and that repeating them (after a crash) changes nothing."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
import sqlalchemy as sa
from lockgate.db import ArtifactInfo, Database, NotFound, RefInfo, to_utc

REF = RefInfo(
    project="demo/app",
    ref="refs/heads/main",
    branch="main",
    oldrev="a" * 40,
    newrev="b" * 40,
    ref_url="http://git.example/demo/app",
)
T0 = 1_700_000_000.0


def _count(db: Database, table: sa.Table) -> int:
    with db.engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def test_to_utc_accepts_epoch_and_aware_datetimes() -> None:
    assert to_utc(0) == dt.datetime(1970, 1, 1)
    aware = dt.datetime(2024, 1, 1, 12, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    assert to_utc(aware) == dt.datetime(2024, 1, 1, 10)
    assert to_utc(None) is None


def test_create_buildset_and_build_round_trip(db: Database) -> None:
    db.create_buildset("bs1", "tenant-a", "check", [REF], event_id="ev1", event_timestamp=T0)
    db.create_build("b1", "bs1", "unit-tests", voting=False, nodeset="ubuntu", start_time=T0 + 1)
    build = db.get_build("b1", "tenant-a")
    assert build is not None
    assert (build.job_name, build.voting, build.nodeset) == ("unit-tests", False, "ubuntu")
    assert build.result is None and build.end_time is None and build.duration is None
    assert build.ref == REF  # defaulted to the buildset's ref
    assert build.buildset.uuid == "bs1"
    assert build.buildset.pipeline == "check"
    assert build.buildset.event_id == "ev1"
    assert build.buildset.event_timestamp == to_utc(T0)
    assert build.buildset.first_build_start_time == to_utc(T0 + 1)
    assert build.buildset.refs == (REF,)


def test_writes_are_idempotent(db: Database) -> None:
    for _ in range(2):
        db.create_buildset("bs1", "t", "check", [REF], event_id="ev1")
        db.create_build("b1", "bs1", "job", start_time=T0)
        db.update_build(
            "b1",
            result="SUCCESS",
            end_time=T0 + 5,
            final=True,
            artifacts=[ArtifactInfo("docs", "http://logs/docs/", {"type": "docs"})],
            provides=["docs"],
        )
        db.add_build_event("b1", "RETRY", "pre-run failed", event_time=T0 + 2)
        db.update_buildset("bs1", "SUCCESS", "Build succeeded.")
    t = db.t
    assert _count(db, t.buildset) == 1
    assert _count(db, t.build) == 1
    assert _count(db, t.ref) == 1
    assert _count(db, t.buildset_ref) == 1
    assert _count(db, t.artifact) == 1
    assert _count(db, t.provides) == 1
    assert _count(db, t.build_event) == 1
    build = db.get_build("b1")
    assert build is not None
    assert build.result == "SUCCESS" and build.final is True
    assert build.duration == 5.0
    assert build.artifacts == (ArtifactInfo("docs", "http://logs/docs/", {"type": "docs"}),)
    assert build.provides == ("docs",)
    assert [(e.event_type, e.description) for e in build.events] == [("RETRY", "pre-run failed")]


def test_recreating_a_build_keeps_its_result(db: Database) -> None:
    db.create_buildset("bs1", "t", "check", [REF])
    db.create_build("b1", "bs1", "job")
    db.update_build("b1", result="FAILURE")
    db.create_build("b1", "bs1", "job")
    build = db.get_build("b1")
    assert build is not None and build.result == "FAILURE"


def test_update_only_writes_given_fields(db: Database) -> None:
    db.create_buildset("bs1", "t", "check", [REF])
    db.create_build("b1", "bs1", "job")
    db.update_build("b1", log_url="http://logs/b1/")
    db.update_build("b1", result="TIMED_OUT", error_detail="job timeout after 30s")
    build = db.get_build("b1")
    assert build is not None
    assert (build.log_url, build.result, build.error_detail) == (
        "http://logs/b1/",
        "TIMED_OUT",
        "job timeout after 30s",
    )
    db.update_buildset("bs1", result="FAILURE")
    db.update_buildset("bs1", message="Build failed.")
    bs = db.get_buildset("bs1")
    assert bs is not None and (bs.result, bs.message) == ("FAILURE", "Build failed.")


def test_replacing_artifacts_and_provides(db: Database) -> None:
    db.create_buildset("bs1", "t", "check", [REF])
    db.create_build("b1", "bs1", "job")
    db.update_build(
        "b1",
        artifacts=[{"name": "a", "url": "u1"}, {"name": "b", "url": "u2"}],
        provides=["x", "y"],
    )
    db.update_build("b1", artifacts=[{"name": "c", "url": "u3"}], provides=[])
    build = db.get_build("b1")
    assert build is not None
    assert build.artifacts == (ArtifactInfo("c", "u3", None),)
    assert build.provides == ()


def test_buildset_times_follow_builds(db: Database) -> None:
    db.create_buildset("bs1", "t", "gate", [REF])
    db.create_build("b1", "bs1", "one", start_time=T0 + 10)
    db.create_build("b2", "bs1", "two", start_time=T0 + 5)
    db.update_build("b1", end_time=T0 + 50)
    db.update_build("b2", end_time=T0 + 20)
    bs = db.get_buildset("bs1")
    assert bs is not None
    assert bs.first_build_start_time == to_utc(T0 + 5)
    assert bs.last_build_end_time == to_utc(T0 + 50)
    db.update_buildset("bs1", end=T0 + 60)
    bs = db.get_buildset("bs1")
    assert bs is not None and bs.last_build_end_time == to_utc(T0 + 60)


def test_buildset_with_several_refs_and_builds_on_each(db: Database) -> None:
    other = RefInfo(project="demo/lib", ref="refs/heads/main", branch="main", newrev="c" * 40)
    db.create_buildset("bs1", "t", "gate", [REF, other])
    db.create_buildset("bs1", "t", "gate", [other])  # adds nothing new
    db.create_build("b1", "bs1", "app-tests", REF)
    db.create_build("b2", "bs1", "lib-tests", other)
    bs = db.get_buildset("bs1")
    assert bs is not None
    assert set(bs.refs) == {REF, other}
    assert [(b.uuid, b.ref.project) for b in bs.builds] == [("b1", "demo/app"), ("b2", "demo/lib")]


def test_refs_are_shared_between_buildsets(db: Database) -> None:
    db.create_buildset("bs1", "t", "check", [REF])
    db.create_buildset("bs2", "t", "post", [REF])
    assert _count(db, db.t.ref) == 1


def test_unknown_uuids_are_errors(db: Database) -> None:
    with pytest.raises(NotFound, match="buildset nope"):
        db.update_buildset("nope", "SUCCESS")
    with pytest.raises(NotFound, match="buildset nope"):
        db.create_build("b1", "nope", "job")
    with pytest.raises(NotFound, match="build nope"):
        db.update_build("nope", result="SUCCESS")
    with pytest.raises(NotFound, match="build nope"):
        db.add_build_event("nope", "RETRY")
    with pytest.raises(ValueError, match="at least one ref"):
        db.create_buildset("bs", "t", "check", [])


def test_distinct_events_are_all_kept(db: Database) -> None:
    db.create_buildset("bs1", "t", "check", [REF])
    db.create_build("b1", "bs1", "job")
    db.add_build_event("b1", "RETRY", "first", event_time=T0 + 2)
    db.add_build_event("b1", "RETRY", "second", event_time=T0 + 1)
    db.add_build_event("b1", "PAUSED", None, event_time=T0 + 3)
    db.add_build_event("b1", "PAUSED", None, event_time=T0 + 3)
    build = db.get_build("b1")
    assert build is not None
    assert [(e.event_type, e.description) for e in build.events] == [
        ("RETRY", "second"),
        ("RETRY", "first"),
        ("PAUSED", None),
    ]


def test_get_unknown_returns_none_and_other_tenants_are_invisible(db: Database) -> None:
    db.create_buildset("bs1", "t", "check", [REF])
    db.create_build("b1", "bs1", "job")
    assert db.get_build("nope") is None
    assert db.get_buildset("nope") is None
    assert db.get_build("b1", "other-tenant") is None
    assert db.get_buildset("bs1", "other-tenant") is None
    assert db.get_build("b1", "t") is not None


def _copies(db: Database, uuid: str) -> tuple:
    b = db.t.build
    with db.engine.connect() as conn:
        row = conn.execute(
            sa.select(b.c.tenant, b.c.pipeline, b.c.project, b.c.branch).where(b.c.uuid == uuid)
        ).one()
    return tuple(row)


def test_a_build_row_holds_its_buildset_and_ref_filter_columns(db: Database) -> None:
    """The builds list filters on copies of the buildset's tenant and pipeline
    and the ref's project and branch on the build row (``schema``)."""
    change = RefInfo(project="demo/lib", ref="refs/changes/1/1/1", change=1, patchset="1")
    db.create_buildset("bs1", "t", "check", [REF, change])
    db.create_build("b1", "bs1", "unit")
    db.create_build("b2", "bs1", "unit", change)
    assert _copies(db, "b1") == ("t", "check", "demo/app", "main")
    assert _copies(db, "b2") == ("t", "check", "demo/lib", None)
    # A ref already known keeps the branch it was first written with.
    db.create_build("b3", "bs1", "lint", dataclasses.replace(REF, branch="other"))
    assert _copies(db, "b3")[3] == "main"
    # A buildset written again with another pipeline takes its builds along.
    db.create_buildset("bs1", "t", "gate", [REF])
    assert {_copies(db, u)[1] for u in ("b1", "b2", "b3")} == {"gate"}
    assert [b.uuid for b in db.get_builds("t", pipeline="gate")] == ["b3", "b2", "b1"]
    assert db.get_builds("t", pipeline="check") == []
