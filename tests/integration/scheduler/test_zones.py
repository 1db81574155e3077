"""Executor zones end to end through the scheduler (real ZooKeeper, git and
SQLite; the launcher and an executor of zone ``east`` played by hand).

A job whose nodes are in an executor zone (the provider's ``executor-zone``,
copied onto the node request) has its build request in that zone's folder,
where only that zone's executors look.  The scheduler must find it there --
reading only the ``default`` zone it would submit the request again each
pass and never see its result -- and a zone no executor serves falls back
to the unzoned executors (Zuul's rule)."""

from __future__ import annotations

import logging

import pytest
from lockgate.scheduler.server import Scheduler
from lockgate.zk.components import register
from lockgate.zk.pipelines import read_pipelines

from tests.fixtures.waiting import wait_for
from tests.integration.scheduler.harness import (
    build_requests,
    complete_build,
    fulfil_node_requests,
    make_site,
    wait_build_request,
    wait_node_request,
)


@pytest.fixture
def site(tmp_path, upstream, zk_server, zk_chroot, zk_client):
    return make_site(tmp_path, upstream, zk_server, zk_chroot, zk_client)


@pytest.fixture
def east_executor(site):
    """The registration of an executor with ``[executor] zone = east``."""
    component = register(site.client, "executor", {"zone": "east"}, hostname="east-executor")
    yield component
    component.unregister()


@pytest.fixture
def scheduler(site, east_executor):
    sched = Scheduler(site.service_config(), tick=0.5)
    sched.start()
    stop = sched.run_in_thread()
    yield sched
    stop()
    sched.stop()


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
    messages = [r.getMessage() for r in caplog.records if r.name.startswith("lockgate.scheduler")]
    assert not [m for m in messages if "submitting build request of job build again" in m]
    assert len([m for m in messages if "build request submitted for job build " in m]) == 1
    assert [m for m in messages if "executor zone 'west', which no executor serves" in m]
