"""Executor zones end to end through the scheduler (real ZooKeeper, git and
SQLite; the launcher and an executor of zone ``east`` played by hand).

A job whose nodes are in an executor zone (the provider's ``executor-zone``,
copied onto the node request) has its build request in that zone's folder,
where only that zone's executors look.  The scheduler must find it there --
reading only the ``default`` zone it would submit the request again each
pass and never see its result -- and a zone no executor serves falls back
to the unzoned executors (Zuul's rule).  Which zones the executors serve
comes from their registrations: a zoned executor with ``allow_unzoned``
serves the unzoned queue too, and the scheduler warns when nobody does."""

from __future__ import annotations

import logging

import pytest
from lockgate.zk.components import register
from lockgate.zk.pipelines import read_pipelines

from tests.fixtures.waiting import wait_for
from tests.integration.scheduler.harness import (
    build_requests,
    complete_build,
    fulfil_node_requests,
    running_scheduler,
    wait_build_request,
    wait_node_request,
)

UNSERVED = "no executor takes unzoned builds now"


@pytest.fixture
def east_executor(site):
    """The registration of an executor with ``[executor] zone = east``."""
    component = register(site.client, "executor", {"zone": "east"}, hostname="east-executor")
    yield component
    component.unregister()


@pytest.fixture
def scheduler(site, east_executor):
    """Started after the east executor registered: every pass sees zone east served."""
    with running_scheduler(site.service_config()) as sched:
        yield sched


def _scheduler_messages(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name.startswith("lockgate.scheduler")]


def test_a_zoned_job_runs_in_its_zone_and_is_reported_once(site, scheduler, caplog):
    caplog.set_level(logging.INFO)
    site.push_event("org/app", {"src.c": "int main;\n"})

    # "build" gets nodes of zone east: its request goes to east's folder only.
    wait_node_request(site.client, "build")
    fulfil_node_requests(site.client, executor_zone="east")
    build = wait_build_request(site.client, "build", zone="east")
    assert build.zone == "east"
    assert build_requests(site.client) == []  # nothing for the unzoned executors
    complete_build(site.client, build.uuid, "SUCCESS", zone="east")

    # "test" gets nodes of a zone no executor serves: unzoned, with a warning.
    wait_node_request(site.client, "test")
    fulfil_node_requests(site.client, executor_zone="west")
    test = wait_build_request(site.client, "test")
    assert test.zone == "default"
    complete_build(site.client, test.uuid, "SUCCESS")

    db = site.database()

    def reported():
        sets = db.get_buildsets("demo", pipeline="post")
        return sets if sets and sets[0].result else None

    [buildset] = wait_for(reported, 30, "the buildset's result in SQL")
    assert buildset.result == "SUCCESS"
    full = db.get_buildset(buildset.uuid, "demo")
    assert {(b.job_name, b.result, b.final) for b in full.builds} == {
        ("build", "SUCCESS", True),
        ("test", "SUCCESS", True),
    }
    # The zoned request was seen where it was: submitted once, never again,
    # and removed from its zone once reported.
    wait_for(
        lambda: (
            not build_requests(site.client, zone="east")
            and not read_pipelines(site.client, "demo")["post"][0].queues
        ),
        30,
        "the zoned request and the item to go",
    )
    messages = _scheduler_messages(caplog)
    assert not [m for m in messages if "submitting build request of job build again" in m]
    assert len([m for m in messages if "build request submitted for job build " in m]) == 1
    assert [m for m in messages if "executor zone 'west', which no executor serves" in m]
    # Only east, without allow_unzoned: the unzoned build has nobody to take it.
    assert [m for m in messages if "job test: " + UNSERVED in m]
    assert not [m for m in messages if "job build: " + UNSERVED in m]


def test_a_zoned_executor_with_allow_unzoned_serves_the_unzoned_queue(site, caplog):
    """The registration an executor with ``zone = east`` and ``allow_unzoned
    = true`` makes (``lockgate.executor.server``): the unzoned builds -- of
    unzoned nodes, or of nodes in a zone nobody serves -- have an executor,
    and the scheduler does not warn that they wait."""
    caplog.set_level(logging.INFO)
    component = register(
        site.client,
        "executor",
        {"zone": "east", "allow_unzoned": True},
        hostname="east-executor",
    )
    try:
        with running_scheduler(site.service_config()):
            site.push_event("org/app", {"src.c": "int main;\n"})
            wait_node_request(site.client, "build")
            fulfil_node_requests(site.client, executor_zone="west")
            build = wait_build_request(site.client, "build")
            assert build.zone == "default"
            complete_build(site.client, build.uuid, "SUCCESS")
            wait_node_request(site.client, "test")
            fulfil_node_requests(site.client)
            test = wait_build_request(site.client, "test")
            assert test.zone == "default"
            complete_build(site.client, test.uuid, "SUCCESS")
            wait_for(
                lambda: not read_pipelines(site.client, "demo")["post"][0].queues,
                30,
                "the item to be reported and go",
            )
    finally:
        component.unregister()
    messages = _scheduler_messages(caplog)
    # The fallback is still said; that nobody takes it is not.
    assert [m for m in messages if "executor zone 'west', which no executor serves" in m]
    assert [m for m in messages if "build request submitted for job test " in m]
    assert not [m for m in messages if UNSERVED in m]
