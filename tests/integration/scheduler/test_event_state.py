"""What the scheduler does with an admin's ``manage-events`` state and a
cancelled node request, against a real ZooKeeper, real git and SQLite; the
launcher and executor played by hand (``harness``), the admin's writes made
as the web makes them (``lockgate.zk.event_state``, ``lockgate.zk.node_admin``;
the endpoints themselves: ``tests/unit/web/test_api_admin_events.py``).

- paused triggers stay queued, in order, and are processed when resumed;
- discarded triggers are taken off the queue and dropped, each with a log line;
- paused results: a fulfilled node request is not acted on until resumed;
- a pending node request an admin cancels ends its job NODE_FAILURE, saying
  who cancelled it, and the scheduler removes the request.
"""

from __future__ import annotations

import logging

from lockgate.model.event_state import TenantEventState
from lockgate.scheduler.server import Scheduler
from lockgate.zk.event_state import save_event_state
from lockgate.zk.node_admin import admin_cancel_node_request
from lockgate.zk.pipelines import read_pipelines
from lockgate.zk.queues import result_queue, trigger_queue
from lockgate.zk.requests import NodeRequestStore

from tests.fixtures.waiting import wait_for
from tests.integration.scheduler.harness import (
    build_requests,
    complete_build,
    fulfil_node_requests,
    wait_build_request,
    wait_node_request,
)


def set_state(site, scheduler: Scheduler, **flags: bool) -> TenantEventState:
    """Store the state as the web does; wait for the scheduler to know it."""
    state = TenantEventState(tenant="demo", reason="maintenance", **flags)
    save_event_state(site.client, state)
    assert scheduler.processor is not None
    wait_for(
        lambda: scheduler.processor.event_states.get("demo") == state,  # type: ignore[union-attr]
        10,
        "the scheduler to see the new state",
    )
    return state


def passes(scheduler: Scheduler, n: int = 2) -> None:
    """Wait for ``n`` whole passes begun after now."""
    start = scheduler.passes
    wait_for(lambda: scheduler.passes > start + n, 30, f"{n} scheduler passes")


def node_requests(site) -> list[str]:
    return [v.record.id for v in NodeRequestStore(site.client).list()]


def items(site) -> int:
    state = read_pipelines(site.client, "demo")["post"][0]
    return len(list(state.item_uuids())) if state is not None else 0


def test_paused_triggers_wait_and_discarded_ones_are_dropped(site, scheduler, caplog):
    caplog.set_level(logging.INFO)
    set_state(site, scheduler, trigger_queue_paused=True)
    first = site.push_event("org/app", {"src.c": "one\n"})
    second = site.push_event("org/app", {"src.c": "two\n"})
    passes(scheduler)
    assert len(trigger_queue(site.client, "demo")) == 2  # left, in order
    assert node_requests(site) == [] and items(site) == 0

    set_state(site, scheduler)  # normal: the pause is lifted, the loop woken
    wait_for(lambda: len(trigger_queue(site.client, "demo")) == 0, 30, "the queue to drain")
    wait_for(lambda: items(site) == 2, 30, "both refs enqueued")
    before = set(node_requests(site))

    set_state(site, scheduler, trigger_queue_discarding=True)
    dropped = site.push_event("org/app", {"src.c": "three\n"})
    wait_for(lambda: len(trigger_queue(site.client, "demo")) == 0, 30, "the event discarded")
    passes(scheduler)
    assert items(site) == 2 and set(node_requests(site)) == before
    lines = [r.getMessage() for r in caplog.records if "discarded" in r.getMessage()]
    assert any(
        line.startswith(f"[e: {dropped.event_id}]")
        and "ref-updated event for org/app" in line
        and "trigger events discarded: maintenance" in line
        for line in lines
    ), lines
    assert not any(e.event_id in line for e in (first, second) for line in lines)


def test_paused_results_wait_and_a_cancelled_request_ends_its_job(site, scheduler):
    site.push_event("org/app", {"src.c": "int main;\n"})
    wait_node_request(site.client, "build")
    set_state(site, scheduler, trigger_queue_paused=True, result_queue_paused=True)
    fulfil_node_requests(site.client)  # the launcher's part, and its result event
    passes(scheduler)
    assert len(result_queue(site.client, "demo")) == 1  # left for later
    assert build_requests(site.client) == []  # nodes ready, nothing done with them

    set_state(site, scheduler)
    build = wait_build_request(site.client, "build")
    complete_build(site.client, build.uuid, "SUCCESS")
    waiting = wait_node_request(site.client, "test")
    cancelled = admin_cancel_node_request(site.client, "demo", waiting, by="ops")
    assert cancelled.failure_reason == f"nodeset request {waiting} deleted by ops"

    db = site.database()
    [buildset] = wait_for(
        lambda: [b for b in db.get_buildsets("demo") if b.result], 30, "the item reported"
    )
    builds = {b.job_name: b for b in db.get_buildset(buildset.uuid, "demo").builds}
    assert builds["build"].result == "SUCCESS"
    assert builds["test"].result == "NODE_FAILURE"
    assert f"nodeset request {waiting} deleted by ops" in (builds["test"].error_detail or "")
    assert buildset.result == "FAILURE"
    wait_for(lambda: node_requests(site) == [], 30, "the cancelled request removed")
