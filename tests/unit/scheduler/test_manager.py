"""Scenarios of the independent pipeline manager's decision core, in the
simulated world (``world.py``): no ZooKeeper, no git, a number for a clock."""

from __future__ import annotations

import logging

from lockgate.model.builds import BuildState
from lockgate.model.nodes import NodeRequestState
from lockgate.model.queue import ItemState, JobStatus
from lockgate.scheduler.effects import dispatch
from lockgate.scheduler.manager import decide
from lockgate.scheduler.manager.actions import SubmitBuildRequest, SubmitNodeRequest

from tests.unit.scheduler.world import (
    APP,
    CONFIG,
    SimWorld,
    make_layout,
    ref_updated,
    sha,
)


def world(app: str = APP, errors: int = 0, **kw) -> SimWorld:
    layout = make_layout(
        {
            "config": {"master": {"zuul.yaml": CONFIG}},
            "org/app": {"master": {".zuul.yaml": app}},
        }
    )
    assert len(layout.errors) == errors, [e.format() for e in layout.errors]
    return SimWorld(layout, heads={"org/lib": {"master": sha(500)}}, **kw)


def run_until_idle(w: SimWorld, pipeline: str = "post", steps: int = 30) -> None:
    for _ in range(steps):
        w.step(pipeline)
        if not w.queue(pipeline) and not w.pending.get(pipeline):
            w.run_scheduler(pipeline)  # release what the last report left
            return
    raise AssertionError(f"pipeline {pipeline} did not drain: {w.queue(pipeline)}")


def builds_by_job(w: SimWorld) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for uuid, row in w.sql_builds.items():
        out.setdefault(row["job"], []).append({"uuid": uuid, **row})
    return out


# --- events become items ------------------------------------------------------------


def test_event_becomes_item_with_frozen_jobs_and_buildset_row():
    w = world()
    event = ref_updated()
    w.add_event(event)
    [decision, *_] = w.run_scheduler()
    [item] = w.queue()
    assert item.event_id == event.event_id
    assert (item.project, item.ref, item.newrev) == ("org/app", "refs/heads/master", sha(1))
    assert [js.name for js in item.jobs] == ["build", "test", "lint"]
    assert item.job("test").dependencies == ["build"]
    assert w.sql_buildsets[item.buildset_uuid]["event_id"] == event.event_id
    assert any("enqueued org/app refs/heads/master" in m for m in decision.logs(logging.INFO))
    # Every log line of the item carries its event id.
    assert all(line.startswith(f"[e: {event.event_id}]") for line in w.logs)


def test_jobs_run_in_dependency_order_and_item_reports_success():
    w = world()
    w.add_event(ref_updated())
    w.run_scheduler()
    [item] = w.queue()
    # build and lint start at once; test waits for build.
    assert item.job("build").status is JobStatus.NODES_REQUESTED
    assert item.job("lint").status is JobStatus.BUILD_REQUESTED  # no nodes: straight to a build
    assert item.job("test").status is JobStatus.WAITING
    run_until_idle(w)
    jobs = builds_by_job(w)
    assert jobs["test"][0]["start_time"] > jobs["build"][0]["end_time"] - 0.001
    assert {j: rows[0]["result"] for j, rows in jobs.items()} == {
        "build": "SUCCESS",
        "test": "SUCCESS",
        "lint": "SUCCESS",
    }
    [(uuid, result)] = w.reports
    assert result == "SUCCESS"
    buildset = next(iter(w.sql_buildsets.values()))
    assert buildset["message"].startswith("Build succeeded (post).")
    assert "- lint https://logs.example/" in buildset["message"]
    assert "(non-voting)" in buildset["message"]
    # Nothing is left behind: requests deleted, queue empty.
    assert w.node_requests == {} and w.builds == {} and w.queue() == []


def test_failed_dependency_skips_dependent_and_fails_item():
    w = world(build_result=lambda req: "FAILURE" if req.job.name == "build" else "SUCCESS")
    w.add_event(ref_updated())
    run_until_idle(w)
    jobs = builds_by_job(w)
    assert jobs["build"][0]["result"] == "FAILURE"
    assert jobs["test"][0]["result"] == "SKIPPED"
    assert jobs["test"][0]["error_detail"] == "dependency build FAILURE"
    assert w.reports[0][1] == "FAILURE"
    assert w.executed.keys() == {jobs["build"][0]["uuid"], jobs["lint"][0]["uuid"]}


def test_non_voting_failure_does_not_fail_item():
    w = world(build_result=lambda req: "FAILURE" if req.job.name == "lint" else "SUCCESS")
    w.add_event(ref_updated())
    run_until_idle(w)
    assert w.reports[0][1] == "SUCCESS"


def test_node_failure_is_the_jobs_result():
    w = world(node_result=lambda req: req.job_name != "build")
    w.add_event(ref_updated())
    run_until_idle(w)
    jobs = builds_by_job(w)
    assert jobs["build"][0]["result"] == "NODE_FAILURE"
    assert jobs["build"][0]["error_detail"] == "no quota"
    assert jobs["test"][0]["result"] == "SKIPPED"
    assert w.reports[0][1] == "FAILURE"


def test_project_without_jobs_in_pipeline_reports_no_jobs():
    w = world()
    w.add_event(ref_updated(project="org/other"))
    w.run_scheduler()
    assert w.queue() == []
    [(_, result)] = w.reports
    assert result == "NO_JOBS"


def test_broken_job_graph_reports_config_error():
    # test depends on build, which this project does not run: a graph error.
    w = world(app=APP.replace("jobs: [build, test, lint]", "jobs: [test, lint]"))
    w.add_event(ref_updated())
    w.run_scheduler()
    assert w.queue() == []
    [(_, result)] = w.reports
    assert result == "CONFIG_ERROR"
    [row] = w.sql_buildsets.values()
    assert "depends on job 'build', which does not run" in row["message"]


def test_file_matchers_use_the_events_changed_files():
    app = APP.replace("    voting: false", "    voting: false\n    files: ['^docs/.*$']")
    w = world(app=app)
    w.add_event(ref_updated(), changed_files=("src/main.c",))
    w.add_event(ref_updated(n=2), changed_files=("docs/index.rst",))
    w.run_scheduler()
    first, second = w.queue()
    assert [js.name for js in first.jobs] == ["build", "test"]
    assert [js.name for js in second.jobs] == ["build", "test", "lint"]


# --- no event lost, none processed twice ------------------------------------------------


def test_replayed_event_does_not_enqueue_twice():
    w = world()
    event = ref_updated()
    w.add_event(event)
    w.run_scheduler()
    # The loop died before acknowledging: the same event comes again.
    w.add_event(event)
    decisions = w.run_scheduler()
    assert len(w.queue()) == 1
    assert any("event already enqueued" in m for d in decisions for m in d.logs())
    # ... also once the item has finished and left the queue.
    run_until_idle(w)
    w.add_event(event)
    w.run_scheduler()
    assert w.queue() == [] and len(w.reports) == 1


def test_same_revision_already_in_pipeline_is_not_enqueued():
    w = world()
    w.add_event(ref_updated(n=1))
    w.add_event(ref_updated(n=1))  # another event (another id) for the same revision
    decisions = w.run_scheduler()
    assert len(w.queue()) == 1
    assert any("is already in pipeline post" in m for d in decisions for m in d.logs())


def test_node_request_submitted_but_not_recorded_is_adopted():
    w = world()
    w.add_event(ref_updated())
    w.run_scheduler(rounds=1)  # enqueued, being prepared
    decision = decide(w.snapshot("post"))
    # Apply up to the node request, as if killed right after it.
    for action in decision.before_save():
        dispatch(action, w)
    w.save(decision)
    [submit] = [a for a in decision.actions if isinstance(a, SubmitNodeRequest)]
    w.submit_node_request(submit)
    w.prepared.clear()
    w.run_scheduler()
    [item] = w.queue()
    [request_id] = w.node_requests
    assert item.job("build").node_request_id == request_id  # adopted, not submitted again


def test_build_recorded_but_never_submitted_is_submitted_under_the_same_uuid():
    w = world()
    w.add_event(ref_updated())
    w.step()  # build's nodes are fulfilled now
    decision = decide(w.snapshot("post"))
    [submit] = [
        a
        for a in decision.actions
        if isinstance(a, SubmitBuildRequest) and a.request.job.name == "build"
    ]
    for action in decision.before_save():
        dispatch(action, w)
    w.save(decision)  # ... and killed before the submission
    assert submit.request.uuid not in w.builds
    w.run_scheduler()
    [item] = w.queue()
    assert item.job("build").build_uuid == submit.request.uuid
    assert w.submissions[submit.request.uuid] == 1
    run_until_idle(w)
    assert w.reports[0][1] == "SUCCESS"


# --- retries -------------------------------------------------------------------------------


def test_retry_result_runs_next_attempt_on_new_nodes():
    attempts = {"n": 0}

    def result(req):
        if req.job.name == "build" and attempts["n"] == 0:
            attempts["n"] += 1
            return "RETRY"
        return "SUCCESS"

    w = world(build_result=result)
    w.add_event(ref_updated())
    run_until_idle(w)
    rows = sorted(builds_by_job(w)["build"], key=lambda r: r["start_time"])
    assert [(r["result"], r["final"]) for r in rows] == [("RETRY", False), ("SUCCESS", True)]
    assert w.reports[0][1] == "SUCCESS"
    assert all(count == 1 for count in w.executed.values())


def test_retry_limit_after_attempts():
    w = world(build_result=lambda req: "RETRY" if req.job.name == "build" else "SUCCESS")
    w.add_event(ref_updated())
    run_until_idle(w)
    rows = sorted(builds_by_job(w)["build"], key=lambda r: r["start_time"])
    assert [r["result"] for r in rows] == ["RETRY", "RETRY", "RETRY_LIMIT"]
    assert w.reports[0][1] == "FAILURE"


def test_build_whose_executor_died_is_retried_as_next_attempt():
    w = world()
    w.add_event(ref_updated())
    w.run_scheduler()
    w.run_launcher()
    w.run_scheduler()
    w.run_executor(finish=False)  # both builds running
    [item] = w.queue()
    lost = item.job("build").build_uuid
    assert w.builds[lost].state is BuildState.RUNNING
    w.kill_executor(lost)
    decisions = w.run_scheduler()
    [item] = w.queue()
    js = item.job("build")
    assert js.status is JobStatus.NODES_REQUESTED  # fresh nodes for the next attempt
    assert js.retries[0].uuid == lost and js.retries[0].error_detail == "its executor went away"
    assert lost not in w.builds  # the orphan is deleted
    w.run_launcher()
    w.run_scheduler()
    js = w.queue()[0].job("build")
    assert js.attempt == 2 and js.build_uuid not in (None, lost)
    assert w.builds[js.build_uuid].attempt == 2
    assert any(
        "will be retried: its executor went away" in m
        for d in decisions
        for m in d.logs(logging.WARNING)
    )
    run_until_idle(w)
    assert w.reports[0][1] == "SUCCESS"
    assert w.sql_builds[lost]["result"] == "RETRY"


# --- preparing, dequeuing -----------------------------------------------------------------


def test_timer_item_builds_the_branch_head():
    w = world()
    w.heads["org/app"] = {"master": sha(777)}
    event = ref_updated()
    timer = type(event)(
        type="timer",
        connection="timer",
        project="org/app",
        ref="refs/heads/master",
        branch="master",
        pipeline="periodic",
        timespec="0 * * * *",
    )
    w.add_event(timer, pipeline="periodic")
    run_until_idle(w, "periodic")
    [(_, result)] = w.reports
    assert result == "SUCCESS"
    [row] = w.sql_builds.values()
    assert row["job"] == "noop" and row["result"] == "SUCCESS"
    assert w.executed == {}  # noop never reaches an executor


def test_prepare_failure_reports_error_after_attempts():
    from lockgate.scheduler.manager.snapshot import PrepareResult

    w = world()
    w.prepare_item = lambda action: w.prepared.__setitem__(  # type: ignore[method-assign]
        action.item_uuid, PrepareResult(error="git server unreachable")
    )
    w.add_event(ref_updated())
    w.run_scheduler()
    [item] = w.queue()
    assert item.prepare_attempts == 1 and item.prepare_retry_at == w.now + 10
    w.now += 9
    w.run_scheduler()
    assert w.queue()[0].prepare_attempts == 1  # not yet
    w.now += 1
    w.run_scheduler()
    assert w.queue()[0].prepare_attempts == 2
    w.now += 20
    w.run_scheduler()
    assert w.queue() == []
    [(_, result)] = w.reports
    assert result == "ERROR"
    assert "git server unreachable" in next(iter(w.sql_buildsets.values()))["message"]


def test_pipeline_removed_from_layout_dequeues_and_cancels():
    w = world()
    w.add_event(ref_updated())
    w.run_scheduler()
    w.run_launcher()
    w.run_scheduler()
    w.run_executor(finish=False)
    assert {b.state for b in w.builds.values()} == {BuildState.RUNNING}
    w.layout = make_layout(
        {
            "config": {
                "master": {
                    "zuul.yaml": CONFIG.split("- pipeline:\n    name: periodic")[0].replace(
                        "name: post", "name: other"
                    )
                }
            }
        }
    )
    w.run_scheduler()
    assert w.queue() == []
    assert w.reports[-1][1] == "DEQUEUED"
    assert all(b.cancel_requested for b in w.builds.values())
    assert {r["job"]: r["result"] for r in w.sql_builds.values()} == {
        "build": "CANCELED",
        "lint": "CANCELED",
    }
    w.run_executor()  # the executor aborts, lets go
    w.run_scheduler()
    assert w.builds == {} and w.node_requests == {}


def test_state_round_trips_through_json():
    w = world()
    w.add_event(ref_updated())
    w.step()
    state, items = w.saved["post"]
    assert isinstance(state, str) and all(isinstance(v, str) for v in items.values())
    [item] = w.queue()
    assert item.state is ItemState.ACTIVE
    assert item.repos["org/lib"].heads == {"master": sha(500)}
    assert any(js.status is JobStatus.BUILD_REQUESTED for js in item.jobs)
    assert {r.state for r in w.node_requests.values()} <= {NodeRequestState.FULFILLED}
