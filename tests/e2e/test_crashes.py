"""Crashes: a scheduler or executor SIGKILLed mid-build, ZooKeeper restarted.

Each test runs its own whole system (every component a process, ZooKeeper
over TLS) and checks the two promises of the design: no event lost (a commit
pushed while the scheduler is down still gets its build) and no build run
twice (one final build row per job and commit in SQL).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from lockgate.model.builds import BuildState
from lockgate.zk import BuildRequestStore

from tests.fixtures.system import LockgateSystem
from tests.fixtures.waiting import wait_for

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the local cloud needs root")

# Long enough to crash something while it runs; the test waits on the
# build's state, never on this duration.
SLOW_PLAY = (
    "- hosts: all\n  gather_facts: false\n  tasks:\n"
    "    - ansible.builtin.command: sleep 8\n"
    "    - ansible.builtin.command: echo CRASH-TEST-DONE-{{ zuul.newrev }}\n"
)
PROJECT = "crash/app"
FILES: dict[str, str | bytes] = {
    ".zuul.yaml": (
        "- job:\n    name: slow\n    run: playbooks/run.yaml\n"
        "- project:\n    post:\n      jobs: [slow]\n"
    ),
    "playbooks/run.yaml": SLOW_PLAY,
}


@pytest.fixture
def lockgate(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LockgateSystem]:
    system = LockgateSystem(tmp_path_factory.mktemp("lockgate-crash"), {PROJECT: FILES})
    try:
        system.start()
        yield system
    finally:
        system.stop()


def wait_running(system: LockgateSystem) -> None:
    """Until an executor has claimed the build and started running it."""
    assert system.system.client is not None
    store = BuildRequestStore(system.system.client)

    def running() -> bool:
        return any(v.record.state == BuildState.RUNNING for v in store.list())

    wait_for(running, timeout=120, what="a running build")


def final_rows(system: LockgateSystem, newrev: str) -> list[dict]:  # type: ignore[type-arg]
    return [r for r in system.sql_builds(newrev) if r["final"] in (None, True, 1)]


def test_scheduler_sigkilled_mid_build_loses_nothing(lockgate: LockgateSystem) -> None:
    first = lockgate.push(PROJECT, message="first")
    wait_running(lockgate)
    lockgate.kill("scheduler")
    # An event that arrives while no scheduler runs is not lost.
    second = lockgate.push(PROJECT, message="second")
    lockgate.restart("scheduler")
    for newrev in (first, second):
        build = lockgate.wait_for_build(newrev, "slow")
        assert build["result"] == "SUCCESS", lockgate.log_tail("scheduler")
        rows = final_rows(lockgate, newrev)
        assert len(rows) == 1, rows  # not run twice
        output = lockgate.get_text(build["log_url"] + "job-output.txt")
        assert f"CRASH-TEST-DONE-{newrev}" in output


def test_executor_sigkilled_mid_build_is_retried(lockgate: LockgateSystem) -> None:
    newrev = lockgate.push(PROJECT)
    wait_running(lockgate)
    lockgate.kill("executor")
    lockgate.restart("executor")
    build = lockgate.wait_for_build(newrev, "slow")
    assert build["result"] == "SUCCESS", lockgate.log_tail("scheduler")
    rows = final_rows(lockgate, newrev)
    assert len(rows) == 1, rows
    # The build that died with its executor was retried as a new attempt.
    results = [r["result"] for r in lockgate.sql_builds(newrev)]
    assert results == ["RETRY", "SUCCESS"], results


def test_zookeeper_restart_mid_build(lockgate: LockgateSystem) -> None:
    newrev = lockgate.push(PROJECT)
    wait_running(lockgate)
    assert lockgate.system.zookeeper is not None
    lockgate.system.zookeeper.restart()
    build = lockgate.wait_for_build(newrev, "slow")
    assert build["result"] == "SUCCESS", lockgate.log_tail("scheduler")
    assert len(final_rows(lockgate, newrev)) == 1
    # And the system keeps working after the restart.
    again = lockgate.push(PROJECT, message="after the restart")
    assert lockgate.wait_for_build(again, "slow")["result"] == "SUCCESS"
