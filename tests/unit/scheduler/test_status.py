"""status_json: Zuul's /api/tenant/{t}/status from pipeline records alone
(what the web serves without importing the scheduler)."""

from __future__ import annotations

import json

from lockgate.model.tenant_state import TenantLayoutState

from tests.unit.scheduler.world import SimWorld, make_layout, ref_updated, sha


def test_status_shows_queues_items_and_jobs():
    from lockgate.model.queue import status_json

    w = SimWorld(make_layout(), heads={"org/lib": {"master": sha(500)}})
    event = ref_updated()
    w.add_event(event)
    w.step()  # build's nodes ready, lint running
    w.run_scheduler()  # ... seen by the scheduler
    state, items = w.load("post")
    layout = TenantLayoutState(
        tenant="demo",
        pipelines=["post", "periodic"],
        pipeline_info={
            "post": {
                "description": "after merge",
                "manager": "independent",
                "triggers": [{"name": "git"}],
            }
        },
    )
    body = status_json(
        layout, {"post": (state, items)}, event_queue_lengths={"trigger": 2}, now=w.now
    )
    json.dumps(body)  # plain JSON
    assert body["trigger_event_queue"] == {"length": 2}
    post, periodic = body["pipelines"]
    assert (post["name"], post["description"], post["manager"]) == (
        "post",
        "after merge",
        "independent",
    )
    assert periodic["change_queues"] == []
    [queue] = post["change_queues"]
    [[entry]] = queue["heads"]
    assert entry["refs"][0]["newrev"] == event.newrev
    assert entry["project"] == "org/app" and entry["active"] is True
    assert entry["event_id"] == event.event_id
    jobs = {j["name"]: j for j in entry["jobs"]}
    assert set(jobs) == {"build", "test", "lint"}
    assert jobs["test"]["waiting_status"] == "dependencies: build"
    assert jobs["test"]["dependencies"] == ["build"]
    assert jobs["lint"]["voting"] is False
    assert jobs["lint"]["start_time"] == 1000.0 and jobs["lint"]["elapsed_time"] == 1000
    assert jobs["build"]["uuid"] is not None and jobs["build"]["result"] is None


def test_finished_item_leaves_the_status():
    from lockgate.model.queue import status_json

    w = SimWorld(make_layout(), heads={"org/lib": {"master": sha(500)}})
    w.add_event(ref_updated())
    for _ in range(8):
        w.step()
    state, items = w.load("post")
    body = status_json(None, {"post": (state, items)})
    assert body["pipelines"][0]["change_queues"] == []
