"""``/api/tenant/{t}/builds``, ``build/{uuid}``, ``buildsets``, ``buildset/{uuid}``:
Zuul's JSON shapes and query filters, served from SQL, tenants from ZooKeeper."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from lockgate.db import Database, RefInfo

from tests.fixtures.web import WebHarness

MAIN = RefInfo(
    project="demo/app",
    ref="refs/heads/main",
    branch="main",
    oldrev="0" * 40,
    newrev="1" * 40,
    ref_url="http://git.example/demo/app",
)
LIB = RefInfo(project="demo/lib", ref="refs/heads/main", branch="main", newrev="2" * 40)
T0 = 1_700_000_000  # 2023-11-14T22:13:20Z

BUILD_KEYS = {
    "_id",
    "uuid",
    "job_name",
    "result",
    "held",
    "start_time",
    "end_time",
    "duration",
    "voting",
    "log_url",
    "nodeset",
    "error_detail",
    "final",
    "artifacts",
    "provides",
    "ref",
    "pipeline",
    "event_id",
    "event_timestamp",
    "buildset",
}
REF_KEYS = {"project", "branch", "change", "patchset", "ref", "oldrev", "newrev", "ref_url"}
BUILDSET_KEYS = {
    "_id",
    "uuid",
    "result",
    "message",
    "pipeline",
    "event_id",
    "event_timestamp",
    "first_build_start_time",
    "last_build_end_time",
    "refs",
}


def write_history(db: Database) -> None:
    db.create_buildset("bs1", "t", "check", [MAIN], event_id="ev1", event_timestamp=T0)
    db.create_build("b1", "bs1", "unit", start_time=T0 + 1, nodeset="ubuntu")
    db.update_build(
        "b1",
        result="SUCCESS",
        end_time=T0 + 31,
        final=True,
        log_url="http://127.0.0.1:9000/logs/b1/",
        artifacts=[{"name": "docs", "url": "http://x/docs/", "metadata": {"type": "docs"}}],
        provides=["docs"],
    )
    db.add_build_event("b1", "RETRY", "pre-run failed", event_time=T0 + 10)
    db.create_build("b2", "bs1", "lint", voting=False, start_time=T0 + 2)
    db.update_build("b2", result="FAILURE", end_time=T0 + 5, final=True, error_detail="lint failed")
    db.update_buildset("bs1", "FAILURE", "Build failed.")
    db.create_buildset("bs2", "t", "gate", [LIB, MAIN], event_id="ev2")
    db.create_build("b3", "bs2", "unit", LIB)  # running
    db.create_buildset("bs-u", "u", "check", [MAIN])
    db.create_build("b-u", "bs-u", "unit")


@pytest.fixture
def history(web_any_db: WebHarness, db: Database, publish: Callable[..., object]) -> WebHarness:
    publish("t", projects=["demo/app", "demo/lib"], pipelines=["check", "gate"])
    publish("u")
    write_history(db)
    return web_any_db


def test_builds_shape(history: WebHarness) -> None:
    builds = history.get_json("/api/tenant/t/builds")
    assert [b["uuid"] for b in builds] == ["b3", "b2", "b1"]
    b1 = builds[2]
    assert set(b1) == BUILD_KEYS
    assert set(b1["ref"]) == REF_KEYS
    assert b1 == {
        "_id": b1["_id"],
        "uuid": "b1",
        "job_name": "unit",
        "result": "SUCCESS",
        "held": None,
        "start_time": "2023-11-14T22:13:21",
        "end_time": "2023-11-14T22:13:51",
        "duration": 30.0,
        "voting": True,
        "log_url": "http://127.0.0.1:9000/logs/b1/",
        "nodeset": "ubuntu",
        "error_detail": None,
        "final": True,
        "artifacts": [{"name": "docs", "url": "http://x/docs/", "metadata": {"type": "docs"}}],
        "provides": [{"name": "docs"}],
        "ref": {
            "project": "demo/app",
            "branch": "main",
            "change": None,
            "patchset": None,
            "ref": "refs/heads/main",
            "oldrev": "0" * 40,
            "newrev": "1" * 40,
            "ref_url": "http://git.example/demo/app",
        },
        "pipeline": "check",
        "event_id": "ev1",
        "event_timestamp": "2023-11-14T22:13:20",
        "buildset": {"uuid": "bs1"},
    }
    assert builds[0]["result"] is None and builds[0]["end_time"] is None
    assert builds[0]["ref"]["project"] == "demo/lib"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("project=demo/app", ["b2", "b1"]),
        ("project=demo/*", ["b3", "b2", "b1"]),
        ("pipeline=gate", ["b3"]),
        ("job_name=unit", ["b3", "b1"]),
        ("job_name=unit&project=demo/lib", ["b3"]),
        ("result=SUCCESS", ["b1"]),
        ("result=SUCCESS&result=FAILURE", ["b2", "b1"]),
        ("exclude_result=FAILURE", ["b3", "b1"]),
        ("voting=false", ["b2"]),
        ("voting=true", ["b3", "b1"]),
        ("complete=true", ["b2", "b1"]),
        ("complete=false", ["b3"]),
        ("final=true", ["b2", "b1"]),
        ("newrev=" + "1" * 40, ["b2", "b1"]),
        ("ref=refs/heads/main&branch=main", ["b3", "b2", "b1"]),
        ("uuid=b2", ["b2"]),
        ("nodeset=ubuntu", ["b1"]),
        ("node_name=ubuntu", ["b1"]),  # the name zuul-client sends
        ("node_name=u*", []),  # exact, as in Zuul
        ("pipeline=ch*&job_name=*n*", ["b2", "b1"]),
        ("branch=ma*&project=*/lib", ["b3"]),
        ("limit=1", ["b3"]),
        ("limit=1&skip=1", ["b2"]),
        ("limit=1&offset=2", ["b1"]),
        ("change=42", []),
    ],
)
def test_builds_filters(history: WebHarness, query: str, expected: list[str]) -> None:
    builds = history.get_json(f"/api/tenant/t/builds?{query}")
    assert [b["uuid"] for b in builds] == expected


def test_builds_idx_bounds(history: WebHarness) -> None:
    ids = {b["uuid"]: b["_id"] for b in history.get_json("/api/tenant/t/builds")}
    builds = history.get_json(f"/api/tenant/t/builds?idx_min={ids['b2']}&idx_max={ids['b2']}")
    assert [b["uuid"] for b in builds] == ["b2"]


def test_other_tenants_builds_are_not_listed(history: WebHarness) -> None:
    assert [b["uuid"] for b in history.get_json("/api/tenant/u/builds")] == ["b-u"]
    history.get_json("/api/tenant/u/build/b1", status=404)


def test_build_detail_has_buildset_refs_and_events(history: WebHarness) -> None:
    build = history.get_json("/api/tenant/t/build/b1")
    assert set(build) == BUILD_KEYS | {"events"}
    assert build["buildset"]["uuid"] == "bs1"
    assert [r["project"] for r in build["buildset"]["refs"]] == ["demo/app"]
    assert build["events"] == [
        {
            "event_time": "2023-11-14T22:13:30",
            "event_type": "RETRY",
            "description": "pre-run failed",
        }
    ]


def test_buildsets_shape_and_filters(history: WebHarness) -> None:
    buildsets = history.get_json("/api/tenant/t/buildsets")
    assert [b["uuid"] for b in buildsets] == ["bs2", "bs1"]
    bs1 = buildsets[1]
    assert set(bs1) == BUILDSET_KEYS
    assert bs1["result"] == "FAILURE" and bs1["message"] == "Build failed."
    assert bs1["first_build_start_time"] == "2023-11-14T22:13:21"
    assert bs1["last_build_end_time"] == "2023-11-14T22:13:51"
    assert {r["project"] for r in buildsets[0]["refs"]} == {"demo/app", "demo/lib"}
    assert [b["uuid"] for b in history.get_json("/api/tenant/t/buildsets?project=demo/lib")] == [
        "bs2"
    ]
    assert [b["uuid"] for b in history.get_json("/api/tenant/t/buildsets?complete=true")] == ["bs1"]
    assert [
        b["uuid"] for b in history.get_json("/api/tenant/t/buildsets?pipeline=check&result=FAILURE")
    ] == ["bs1"]
    assert [b["uuid"] for b in history.get_json("/api/tenant/t/buildsets?limit=1&skip=1")] == [
        "bs1"
    ]


def test_buildset_detail_has_its_builds(history: WebHarness) -> None:
    bs = history.get_json("/api/tenant/t/buildset/bs1")
    assert set(bs) == BUILDSET_KEYS | {"builds"}
    assert [b["uuid"] for b in bs["builds"]] == ["b1", "b2"]
    # Builds nested in a buildset carry no buildset/pipeline of their own, as in Zuul.
    assert "buildset" not in bs["builds"][0] and "pipeline" not in bs["builds"][0]
    assert bs["builds"][0]["ref"]["project"] == "demo/app"


@pytest.mark.parametrize(
    ("path", "status", "words"),
    [
        ("/api/tenant/nope/builds", 404, "Unknown tenant: nope"),
        ("/api/tenant/nope/buildsets", 404, "Unknown tenant"),
        ("/api/tenant/nope/build/b1", 404, "Unknown tenant"),
        ("/api/tenant/t/build/nope", 404, "Build not found: nope"),
        ("/api/tenant/t/buildset/nope", 404, "Buildset not found: nope"),
        ("/api/tenant/t/builds?limit=ten", 400, "'limit' must be an integer"),
        ("/api/tenant/t/builds?limit=-1", 400, "'limit' must be at least 0"),
        ("/api/tenant/t/builds?limit=100000", 400, "at most"),
        ("/api/tenant/t/builds?voting=maybe", 400, "'voting' must be true or false"),
        ("/api/tenant/t/builds?change=abc", 400, "'change' must be an integer"),
        ("/api/tenant/t/builds?colour=blue", 400, "unknown query parameter 'colour'"),
        ("/api/tenant/t/buildsets?job_name=unit", 400, "unknown query parameter 'job_name'"),
    ],
)
def test_errors_are_json_with_a_reason(
    history: WebHarness, path: str, status: int, words: str
) -> None:
    body = history.get_json(path, status=status)
    assert words in body["description"]


def test_api_allows_cross_origin_reads(history: WebHarness) -> None:
    reply = history.get("/api/tenant/t/builds")
    assert reply.headers.get("Access-Control-Allow-Origin") == "*"


def test_build_times(history: WebHarness) -> None:
    rows = history.get_json("/api/tenant/t/build-times")
    assert [r["uuid"] for r in rows] == ["b1", "b2"]  # newest end first; running left out
    assert rows[0] == {
        "_id": rows[0]["_id"],
        "uuid": "b1",
        "job_name": "unit",
        "result": "SUCCESS",
        "start_time": "2023-11-14T22:13:21",
        "end_time": "2023-11-14T22:13:51",
        "duration": 30.0,
        "final": True,
        "project": "demo/app",
        "branch": "main",
        "pipeline": "check",
        "ref": "refs/heads/main",
    }
    assert [r["uuid"] for r in history.get_json("/api/tenant/t/build-times?job_name=lint")] == [
        "b2"
    ]
    assert [
        r["uuid"] for r in history.get_json("/api/tenant/t/build-times?exclude_result=SUCCESS")
    ] == ["b2"]
    # start_time/end_time bound the end time.
    late = history.get_json("/api/tenant/t/build-times?start_time=2023-11-14T22:13:30")
    assert [r["uuid"] for r in late] == ["b1"]
    early = history.get_json("/api/tenant/t/build-times?end_time=2023-11-14T22:13:30Z")
    assert [r["uuid"] for r in early] == ["b2"]
    bad = history.get_json("/api/tenant/t/build-times?start_time=yesterday", status=400)
    assert "'start_time'" in bad["description"]


def test_badge(history: WebHarness, db: Database) -> None:
    reply = history.get("/api/tenant/t/badge?project=demo/app")
    assert reply.status == 200
    assert reply.headers["Content-Type"].startswith("image/svg+xml")
    assert reply.headers["Cache-Control"] == "no-cache"
    assert "failing" in reply.text and reply.text.startswith("<svg")
    db.create_buildset("bs3", "t", "check", [MAIN])
    db.update_buildset("bs3", "SUCCESS")
    assert "passing" in history.get("/api/tenant/t/badge?project=demo/app&pipeline=check").text
    missing = history.get_json("/api/tenant/t/badge?project=demo/none", status=404)
    assert missing == {"error": "Not Found", "description": "No buildset found"}


def test_node_name_and_nodeset_together_are_refused(history: WebHarness) -> None:
    body = history.get_json("/api/tenant/t/builds?node_name=a&nodeset=b", status=400)
    assert "node_name" in body["description"]
