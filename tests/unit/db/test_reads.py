"""The API's queries: every Zuul filter, paging, ordering and tenant scoping."""

from __future__ import annotations

import pytest
from lockgate.db import Database, RefInfo, reads

APP_MAIN = RefInfo(
    project="demo/app", ref="refs/heads/main", branch="main", oldrev="0" * 40, newrev="1" * 40
)
APP_STABLE = RefInfo(
    project="demo/app", ref="refs/heads/stable", branch="stable", oldrev="2" * 40, newrev="3" * 40
)
LIB_CHANGE = RefInfo(
    project="demo/lib_x",
    ref="refs/changes/45/12345/2",
    branch="main",
    change=12345,
    patchset="2",
    newrev="4" * 40,
)
OTHER = RefInfo(project="demo%app", ref="refs/heads/main", branch="main", newrev="5" * 40)


@pytest.fixture(scope="module")
def history(module_db: Database) -> Database:
    """Five builds over four buildsets in tenant t, and one in tenant u (read-only)."""
    db = module_db
    db.create_buildset("bs1", "t", "check", [APP_MAIN])
    db.create_build("b1", "bs1", "unit", start_time=1000, voting=True, nodeset="n1")
    db.update_build("b1", result="SUCCESS", end_time=1010, final=True, held=False)
    db.create_build("b2", "bs1", "lint", voting=False)
    db.update_build("b2", result="FAILURE", end_time=1020, final=True)
    db.update_buildset("bs1", "FAILURE", "Build failed.")

    db.create_buildset("bs2", "t", "gate", [APP_STABLE, LIB_CHANGE])
    db.create_build("b3", "bs2", "unit", LIB_CHANGE, nodeset="n2")
    db.update_build("b3", result="RETRY", final=False, held=True)

    db.create_buildset("bs3", "t", "post", [OTHER])
    db.create_build("b4", "bs3", "publish")  # still running: no result

    db.create_buildset("bs4", "t", "check", [APP_MAIN])
    db.create_build("b5", "bs4", "unit")
    db.update_build("b5", result="SUCCESS", final=True)
    db.update_buildset("bs4", "SUCCESS")

    db.create_buildset("bsu", "u", "check", [APP_MAIN])
    db.create_build("bu", "bsu", "unit")
    return db


def uuids(builds: list) -> list[str]:
    return [b.uuid for b in builds]


def test_builds_newest_first_and_scoped_to_tenant(history: Database) -> None:
    assert uuids(history.get_builds("t")) == ["b5", "b4", "b3", "b2", "b1"]
    assert uuids(history.get_builds("u")) == ["bu"]
    assert history.get_builds("nobody") == []


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"project": "demo/app"}, ["b5", "b2", "b1"]),
        ({"project": "demo/*"}, ["b5", "b3", "b2", "b1"]),  # '*' wildcard; '%' is literal
        ({"project": "demo%app"}, ["b4"]),
        ({"project": "demo/lib_x"}, ["b3"]),
        ({"project": "demo/lib?x"}, []),
        ({"project": "demo/li_*"}, []),  # '_' is literal too
        ({"pipeline": "check"}, ["b5", "b2", "b1"]),
        ({"pipeline": ["gate", "post"]}, ["b4", "b3"]),
        ({"pipeline": "ch*"}, ["b5", "b2", "b1"]),
        ({"job_name": "unit"}, ["b5", "b3", "b1"]),
        ({"job_name": "*n*"}, ["b5", "b3", "b2", "b1"]),
        ({"branch": "stable"}, []),  # build b3's own ref is the change on main
        ({"branch": "main", "project": "demo/lib_x"}, ["b3"]),
        ({"change": 12345}, ["b3"]),
        ({"change": 12345, "patchset": "2"}, ["b3"]),
        ({"patchset": "1"}, []),
        ({"ref": "refs/heads/main"}, ["b5", "b4", "b2", "b1"]),
        ({"newrev": "1" * 40}, ["b5", "b2", "b1"]),
        ({"uuid": "b2"}, ["b2"]),
        ({"uuid": ["b2", "b4"]}, ["b4", "b2"]),
        ({"result": "SUCCESS"}, ["b5", "b1"]),
        ({"result": ["SUCCESS", "FAILURE"]}, ["b5", "b2", "b1"]),
        ({"exclude_result": "SUCCESS"}, ["b4", "b3", "b2"]),
        ({"exclude_result": ["SUCCESS", "RETRY"]}, ["b4", "b2"]),
        ({"voting": False}, ["b2"]),
        ({"voting": True}, ["b5", "b4", "b3", "b1"]),
        ({"final": True}, ["b5", "b2", "b1"]),
        ({"final": False}, ["b3"]),
        ({"held": True}, ["b3"]),
        ({"nodeset": "n2"}, ["b3"]),
        ({"complete": True}, ["b5", "b3", "b2", "b1"]),
        ({"complete": False}, ["b4"]),
        ({"limit": 2}, ["b5", "b4"]),
        ({"limit": 2, "offset": 2}, ["b3", "b2"]),
        ({"offset": 10}, []),
    ],
)
def test_build_filters(history: Database, filters: dict, expected: list[str]) -> None:
    assert uuids(history.get_builds("t", **filters)) == expected


def test_build_idx_bounds(history: Database) -> None:
    ids = {b.uuid: b.id for b in history.get_builds("t")}
    got = history.get_builds("t", idx_min=ids["b2"], idx_max=ids["b4"])
    assert uuids(got) == ["b4", "b3", "b2"]


def test_build_list_carries_buildset_and_ref(history: Database) -> None:
    [b3] = history.get_builds("t", uuid="b3")
    assert b3.ref == LIB_CHANGE
    assert (b3.buildset.uuid, b3.buildset.pipeline, b3.buildset.tenant) == ("bs2", "gate", "t")


def uuids_bs(buildsets: list) -> list[str]:
    return [b.uuid for b in buildsets]


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({}, ["bs4", "bs3", "bs2", "bs1"]),
        ({"project": "demo/app"}, ["bs4", "bs2", "bs1"]),  # bs2 via its APP_STABLE ref
        ({"project": "demo/lib_x"}, ["bs2"]),
        ({"branch": "stable"}, ["bs2"]),
        ({"change": 12345}, ["bs2"]),
        ({"pipeline": "check"}, ["bs4", "bs1"]),
        ({"result": "FAILURE"}, ["bs1"]),
        ({"exclude_result": "FAILURE"}, ["bs4", "bs3", "bs2"]),
        ({"complete": True}, ["bs4", "bs1"]),
        ({"complete": False}, ["bs3", "bs2"]),
        ({"newrev": "3" * 40}, ["bs2"]),
        ({"ref": "refs/heads/main"}, ["bs4", "bs3", "bs1"]),
        ({"uuid": "bs3"}, ["bs3"]),
        ({"limit": 1, "offset": 1}, ["bs3"]),
    ],
)
def test_buildset_filters(history: Database, filters: dict, expected: list[str]) -> None:
    assert uuids_bs(history.get_buildsets("t", **filters)) == expected


def test_buildset_list_has_all_refs_but_no_builds(history: Database) -> None:
    [bs2] = history.get_buildsets("t", uuid="bs2")
    assert set(bs2.refs) == {APP_STABLE, LIB_CHANGE}
    assert bs2.builds == ()


def test_get_buildset_has_builds_oldest_first(history: Database) -> None:
    bs1 = history.get_buildset("bs1", "t")
    assert bs1 is not None
    assert [b.uuid for b in bs1.builds] == ["b1", "b2"]
    assert (bs1.result, bs1.message) == ("FAILURE", "Build failed.")


@pytest.mark.parametrize(
    "filters",
    [
        {"project": "demo/app"},
        {"project": "demo/*"},
        {"branch": "main", "project": "demo/lib_x"},
        {"change": 12345},
        {"ref": "refs/heads/main"},
        {"project": "nothing"},
    ],
)
def test_ref_filters_give_the_same_answer_joined_or_by_ids(
    history: Database, monkeypatch: pytest.MonkeyPatch, filters: dict
) -> None:
    """Few matching refs are looked up first (``ref_id IN``), many are joined:
    both ways find the same builds and buildsets."""
    by_ids = uuids(history.get_builds("t", **filters))
    by_ids_bs = uuids_bs(history.get_buildsets("t", **filters))
    times = uuids(
        history.get_build_times("t", **{k: v for k, v in filters.items() if k != "change"})
    )
    monkeypatch.setattr(reads, "REF_IDS_MAX", 0)
    assert uuids(history.get_builds("t", **filters)) == by_ids
    assert uuids_bs(history.get_buildsets("t", **filters)) == by_ids_bs
    assert (
        uuids(history.get_build_times("t", **{k: v for k, v in filters.items() if k != "change"}))
        == times
    )


def test_build_times_newest_end_first_completed_only(history: Database) -> None:
    assert uuids(history.get_build_times("t")) == ["b2", "b1"]
    assert uuids(history.get_build_times("t", job_name="unit")) == ["b1"]
    assert uuids(history.get_build_times("t", result="RETRY")) == []  # no end time


def test_durations_of_recent_successes_per_job_project_branch(history: Database) -> None:
    found = history.get_durations(
        "t", [("unit", "demo/app", "main"), ("lint", "demo/app", "main"), ("x", "y", None)]
    )
    assert found == {("unit", "demo/app", "main"): [10.0]}
