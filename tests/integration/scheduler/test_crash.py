"""A scheduler killed with SIGKILL at any point, started again — or a second
scheduler running alongside — finishes every item: no event lost, no build
run twice.  The scheduler runs as ``python -m lockgate.scheduler`` with its
git poller as the event source (pushes are the events); the launcher and
executor are played by hand through ZooKeeper.

A SIGKILLed scheduler's ZooKeeper session lives on until it times out (10 s
here), and with it any lock it held: the next scheduler may wait that long
before it takes the tenant over."""

from __future__ import annotations

import threading

import pytest
from lockgate.scheduler.server import Scheduler
from lockgate.zk.requests import BuildRequestStore, NodeRequestStore

from tests.fixtures.waiting import wait_for
from tests.integration.scheduler.harness import (
    SchedulerProcess,
    build_requests,
    complete_build,
    fulfil_node_requests,
    push_polled,
    run_job,
    running_build,
    wait_build_request,
    wait_node_request,
    wait_poller_ready,
)


class Seen:
    """Every build and node request ever created (a ZooKeeper watch)."""

    def __init__(self, client):
        self.builds: set[str] = set()
        self.nodes: set[str] = set()
        self.lock = threading.Lock()
        self._stops = [
            BuildRequestStore(client).watch(self._add(self.builds)),
            NodeRequestStore(client).watch(self._add(self.nodes)),
        ]

    def _add(self, into):
        def callback(ids):
            with self.lock:
                into.update(ids)

        return callback

    def stop(self):
        for stop in self._stops:
            stop()


@pytest.fixture
def seen(site):
    s = Seen(site.client)
    yield s
    s.stop()


@pytest.fixture
def procs(site):
    started: list[SchedulerProcess] = []

    def start(name: str = "scheduler") -> SchedulerProcess:
        config = site.config_file(name, poll_delay=0.2)
        proc = SchedulerProcess(config, site.root / f"{name}.log").start()
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.proc is not None and proc.proc.poll() is None:
            proc.kill()


def reported_buildsets(site, count: int, timeout: float = 60):
    db = site.database()

    def done():
        sets = [b for b in db.get_buildsets("demo", limit=None) if b.result]
        return sets if len(sets) >= count else None

    return db, wait_for(done, timeout, f"{count} reported buildsets")


def newrevs(db, sets) -> dict[str, str]:
    """newrev -> buildset result."""
    return {db.get_buildset(s.uuid, "demo").refs[0].newrev: s.result for s in sets}


def test_sigkill_at_every_stage_loses_nothing_and_builds_once(site, seen, procs):
    sched = procs()
    wait_poller_ready(site)
    app = site.push("org/app", {"a.c": "1\n"})
    # 1. Killed once the node request is out; the launcher fulfils it meanwhile.
    wait_node_request(site.client, "build")
    sched.kill()
    fulfil_node_requests(site.client)
    # 2. A new scheduler asks for the build: once.
    sched = procs()
    build = wait_build_request(site.client, "build")
    # 3. Killed while the build runs; the executor finishes meanwhile.
    with running_build(site.client, build.uuid):
        sched.kill()
    complete_build_uuid = build.uuid
    store = BuildRequestStore(site.client)
    found = store.get(complete_build_uuid)
    assert found is not None and found.record.state.value == "running"
    # (the executor claimed it above and let go without a result: an
    # executor dying too: the next scheduler retries it as attempt 2)
    # 4. An event arrives while no scheduler runs: not lost.
    other = site.push("org/other", {"b.c": "2\n"})
    sched = procs()
    # The retry runs on fresh nodes.
    wait_for(lambda: fulfil_node_requests(site.client), 60, "the retry's node request")
    retry = wait_for(
        lambda: next(
            (b for b in build_requests(site.client) if b.job.name == "build" and b.attempt == 2),
            None,
        ),
        60,
        "attempt 2 of the build",
    )
    assert retry.uuid != build.uuid
    complete_build(site.client, retry.uuid, "SUCCESS")
    # 5. Killed right after a result: the next scheduler picks it up.
    test_node = wait_node_request(site.client, "test")
    sched.kill()
    sched = procs()
    assert wait_node_request(site.client, "test") == test_node  # adopted, not asked again
    run_job(site.client, "test")
    run_job(site.client, "other-job")
    db, sets = reported_buildsets(site, 2)
    sched.terminate()
    assert newrevs(db, sets) == {app: "SUCCESS", other: "SUCCESS"}
    assert len({b.event_id for b in sets}) == 2
    builds = [b for s in sets for b in db.get_buildset(s.uuid, "demo").builds]
    # One row per attempt; every build uuid requested exactly once.
    assert sorted((b.job_name, b.result, b.final) for b in builds) == [
        ("build", "RETRY", False),
        ("build", "SUCCESS", True),
        ("other-job", "SUCCESS", True),
        ("test", "SUCCESS", True),
    ]
    assert {b.uuid for b in builds} == seen.builds
    assert len(seen.nodes) == 4  # build x2 (fresh nodes for the retry), test, other-job
    wait_for(lambda: not build_requests(site.client), 30, "build requests deleted")


def test_killed_right_after_the_event_arrives(site, seen, procs):
    pushed = []
    for n in range(3):
        sched = procs()
        wait_poller_ready(site)
        # Killed as soon as the poller has put the event on the queue:
        # somewhere between "not yet processed" and "processed, not acked".
        pushed.append(push_polled(site, "org/other", {"n": f"{n}\n"}))
        sched.kill()
    sched = procs()
    for _ in pushed:
        run_job(site.client, "other-job", timeout=60)
    db, sets = reported_buildsets(site, 3)
    sched.terminate()
    assert sorted(newrevs(db, sets)) == sorted(pushed)
    assert len(seen.builds) == 3


def test_two_schedulers_share_the_work_without_doing_it_twice(site, seen, zk_connect):
    # Not harness.running_scheduler: the two peers stop together, both loops first.
    scheds = []
    stops = []
    for name in ("one", "two"):
        sched = Scheduler(site.service_config(name, poll_delay=0.2), client=zk_connect(), tick=0.3)
        sched.start()
        stops.append(sched.run_in_thread())
        scheds.append(sched)
    try:
        wait_poller_ready(site)
        pushed = [
            push_polled(site, p, {"n": f"{n}\n"})
            for n in range(2)
            for p in ("org/other", "org/app")
        ]
        for _ in range(2):
            run_job(site.client, "other-job")
            run_job(site.client, "build")
            run_job(site.client, "test")
        db, sets = reported_buildsets(site, 4)
    finally:
        for stop in stops:
            stop()
        for sched in scheds:
            sched.stop()
    assert sorted(newrevs(db, sets)) == sorted(pushed)
    builds = [b for s in sets for b in db.get_buildset(s.uuid, "demo").builds]
    assert len(builds) == 6 and {b.uuid for b in builds} == seen.builds
    assert all(s.passes > 0 for s in scheds)
