"""The scheduler against a real ZooKeeper (TLS), real git repositories and a
real SQLite database; the launcher and executor played by hand."""

from __future__ import annotations

import logging

from lockgate.model.queue import status_json
from lockgate.zk.pipelines import read_pipelines
from lockgate.zk.tenants import load_layout

from tests.fixtures.waiting import wait_for
from tests.integration.scheduler.harness import (
    build_requests,
    complete_build,
    fulfil_node_requests,
    run_job,
    wait_build_request,
    wait_node_request,
)


def test_event_to_report_through_zookeeper_and_sql(site, scheduler, caplog):
    caplog.set_level(logging.INFO)
    event = site.push_event("org/app", {"src.c": "int main;\n"})

    node_request = wait_node_request(site.client, "build")
    fulfil_node_requests(site.client)
    build = wait_build_request(site.client, "build")
    # The build request an executor gets: nodes, the commit, the zuul vars.
    assert build.node_ids == [f"node-{node_request}-0"]
    assert build.node_request_id == node_request
    assert build.project.commit == event.newrev and build.project.branch == "master"
    assert build.project.url.endswith("/org/app")
    zv = build.zuul_vars
    assert (zv["tenant"], zv["pipeline"], zv["job"], zv["build"]) == (
        "demo",
        "post",
        "build",
        build.uuid,
    )
    assert zv["project"]["canonical_name"] == "localhost/org/app"
    assert (zv["oldrev"], zv["newrev"], zv["ref"]) == (
        event.oldrev,
        event.newrev,
        "refs/heads/master",
    )
    assert zv["event_id"] == event.event_id and zv["attempts"] == 1
    # The status API's view while the build waits.
    status = status_json(load_layout(site.client, "demo"), read_pipelines(site.client, "demo"))
    [post] = [p for p in status["pipelines"] if p["name"] == "post"]
    [[item]] = post["change_queues"][0]["heads"]
    assert item["refs"][0]["newrev"] == event.newrev
    assert {j["name"]: j["uuid"] for j in item["jobs"]}["build"] == build.uuid

    complete_build(site.client, build.uuid, "SUCCESS")
    test_uuid = run_job(site.client, "test")
    db = site.database()

    def reported():
        sets = db.get_buildsets("demo", pipeline="post")
        return sets if sets and sets[0].result else None

    [buildset] = wait_for(reported, 30, "the buildset's result in SQL")
    assert buildset.result == "SUCCESS" and buildset.event_id == event.event_id
    full = db.get_buildset(buildset.uuid, "demo")
    assert {(b.job_name, b.result, b.final) for b in full.builds} == {
        ("build", "SUCCESS", True),
        ("test", "SUCCESS", True),
    }
    assert {b.uuid for b in full.builds} == {build.uuid, test_uuid}
    assert full.refs[0].newrev == event.newrev
    # Everything released: no requests left, the queue empty.
    wait_for(
        lambda: (
            not build_requests(site.client)
            and not fulfil_node_requests(site.client)
            and not read_pipelines(site.client, "demo")["post"][0].queues
        ),
        30,
        "cleanup",
    )
    # The report is a log line carrying the event id.
    reports = [r.getMessage() for r in caplog.records if r.name == "lockgate.scheduler.report"]
    assert any(
        m.startswith(f"[e: {event.event_id}]")
        and "Reported org/app" in m
        and ": SUCCESS (build: SUCCESS, test: SUCCESS)" in m
        for m in reports
    ), reports


def test_required_project_at_its_branch_head(site, scheduler):
    lib_head = site.repos["org/lib"].head()
    site.push_event("org/app", {"src.c": "x\n"})
    run_job(site.client, "build")
    wait_node_request(site.client, "test")
    fulfil_node_requests(site.client)
    test = wait_build_request(site.client, "test")
    assert [(r.project, r.commit) for r in test.repos][1] == ("org/lib", lib_head)
    entry = test.zuul_vars["projects"]["localhost/org/lib"]
    assert entry["required"] is True and entry["checkout"] == "master"
    assert entry["commit"] == lib_head


def test_failure_is_reported(site, scheduler):
    site.push_event("org/app", {"src.c": "bad\n"})
    run_job(site.client, "build", "FAILURE")
    db = site.database()
    [buildset] = wait_for(
        lambda: [b for b in db.get_buildsets("demo") if b.result], 30, "a reported buildset"
    )
    assert buildset.result == "FAILURE"
    builds = {b.job_name: b.result for b in db.get_buildset(buildset.uuid, "demo").builds}
    assert builds == {"build": "FAILURE", "test": "SKIPPED"}
    # Removing the requests follows the report, in a later step: wait for it.
    wait_for(lambda: build_requests(site.client) == [], 30, "the build requests removed")


def test_event_for_a_project_not_in_the_pipeline_is_acknowledged(site, scheduler):
    from lockgate.zk.queues import trigger_queue

    site.push_event("org/lib", {"README": "changed\n"})
    wait_for(lambda: len(trigger_queue(site.client, "demo")) == 0, 30, "the event acked")
    assert read_pipelines(site.client, "demo").get("post", (None, {}))[1] == {}
