"""What wakes the scheduler's loop: events put on a tenant's trigger and
result queues (ZooKeeper watches, ``Scheduler._poke``), not the tick.

The tick here is an hour, so nothing but a wake can start the passes this
test waits for; no duration is measured."""

from __future__ import annotations

import pytest

from tests.fixtures.waiting import wait_for
from tests.integration.scheduler.harness import (
    fulfil_node_requests,
    wait_build_request,
    wait_node_request,
)


@pytest.fixture
def scheduler_tick():
    """An hour: no pass but the first begins unless something wakes the loop."""
    return 3600


def test_queued_events_wake_the_loop(site, scheduler):
    """Each step is done by a pass that only a wake can have started (a
    pass counts once it ends, after the request it made is visible)."""
    wait_for(lambda: scheduler.passes >= 1, 30, "the first pass")
    before = scheduler.passes
    site.push_event("org/app", {"src.c": "x\n"})  # onto the trigger queue
    wait_node_request(site.client, "build")
    wait_for(lambda: scheduler.passes > before, 30, "the woken pass to end")
    before = scheduler.passes
    fulfil_node_requests(site.client)  # the launcher's result event
    wait_build_request(site.client, "build")
    wait_for(lambda: scheduler.passes > before, 30, "the woken pass to end")
