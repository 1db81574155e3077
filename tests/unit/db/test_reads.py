"""The API's queries: every Zuul filter, paging, ordering and tenant scoping."""

from __future__ import annotations

import pytest
from lockgate.db import ArtifactInfo, Database, RefInfo

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
        {},
        {"project": "demo/app"},
        {"project": "demo/*"},
        {"branch": "main", "project": "demo/lib_x"},
        {"change": 12345},
        {"ref": "refs/heads/main"},
        {"project": "nothing"},
        {"pipeline": "check", "job_name": "unit"},
        {"buildset_uuid": "bs2"},
        {"limit": 2, "offset": 1},
    ],
)
def test_a_page_in_one_statement_is_its_ids_then_their_rows(
    history: Database, filters: dict
) -> None:
    """The page's query as a common table expression of the rows' statement
    finds what its ids, then the rows of those ids, find."""
    with history._read() as reader:
        ids = reader.build_ids("t", **filters)
        assert reader.find_builds("t", **filters) == reader.builds(ids)
        buildset_filters = {
            k: v for k, v in filters.items() if k not in ("job_name", "buildset_uuid")
        }
        buildset_ids = reader.buildset_ids("t", **buildset_filters)
        assert reader.find_buildsets("t", **buildset_filters) == reader.buildsets(buildset_ids)


def test_builds_come_with_their_artifacts_and_provides_in_order(db: Database) -> None:
    """Artifacts and provides are rows of the page's statement too: each build
    gets its own, in the order written, and they neither repeat nor cut the page."""
    db.create_buildset("bs1", "t", "check", [APP_MAIN])
    artifacts = [
        ArtifactInfo("docs", "http://logs/docs/", {"type": "docs"}),
        ArtifactInfo("wheel", "http://logs/x.whl"),
        ArtifactInfo("image", "http://logs/image", {"tags": ["a", "b"]}),
    ]
    for uuid in ("b1", "b2", "b3"):
        db.create_build(uuid, "bs1", "unit")
    db.update_build("b1", result="SUCCESS", end_time=10, artifacts=artifacts, provides=["x", "a"])
    db.update_build("b2", result="SUCCESS", end_time=20)
    db.update_build("b3", result="SUCCESS", end_time=30, provides=["y"])
    [b3, b2] = db.get_builds("t", limit=2)
    assert (b3.uuid, b3.artifacts, b3.provides) == ("b3", (), ("y",))
    assert (b2.uuid, b2.artifacts, b2.provides) == ("b2", (), ())
    [b1] = db.get_builds("t", offset=2)
    assert (b1.artifacts, b1.provides) == (tuple(artifacts), ("x", "a"))
    assert [b.uuid for b in db.get_build_times("t")] == ["b3", "b2", "b1"]
    assert db.get_build_times("t")[2].artifacts == tuple(artifacts)
    buildset = db.get_buildset("bs1", "t")
    assert buildset is not None
    assert [(b.uuid, len(b.artifacts), b.provides) for b in buildset.builds] == [
        ("b1", 3, ("x", "a")),
        ("b2", 0, ()),
        ("b3", 0, ("y",)),
    ]
    build = db.get_build("b1", "t")
    assert build is not None and build.artifacts == tuple(artifacts)
    assert build.buildset.refs == (APP_MAIN,)


def test_build_times_newest_end_first_completed_only(history: Database) -> None:
    assert uuids(history.get_build_times("t")) == ["b2", "b1"]
    assert uuids(history.get_build_times("t", job_name="unit")) == ["b1"]
    assert uuids(history.get_build_times("t", result="RETRY")) == []  # no end time


def test_durations_of_recent_successes_per_job_project_branch(history: Database) -> None:
    found = history.get_durations(
        "t", [("unit", "demo/app", "main"), ("lint", "demo/app", "main"), ("x", "y", None)]
    )
    assert found == {("unit", "demo/app", "main"): [10.0]}
