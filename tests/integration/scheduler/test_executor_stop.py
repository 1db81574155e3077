"""A build on an executor that is told to stop is handed back, not lost.

The scheduler (in this process) and a real ``lockgate executor`` process
through ZooKeeper: the executor process claims the build and runs its
playbook; a second executor starts; SIGTERM stops the first within 10 s
without a result, and the scheduler retries the build on the second, which
finishes it.  SQL has both attempts: RETRY (not final), then SUCCESS.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest
from lockgate.executor.server import Executor
from lockgate.model.builds import BuildState
from lockgate.scheduler.server import Scheduler
from lockgate.service_config import ServiceConfig
from lockgate.zk import BuildRequestStore

from tests.fixtures.waiting import wait_for
from tests.integration.scheduler.harness import make_site

APP = """
- job:
    name: slow-on-a
    nodeset:
      nodes: []
    run: playbooks/run.yaml
- project:
    post:
      jobs: [slow-on-a]
"""

# Slow only on the executor that is stopped, so that the retry is quick.
RUN = """
- hosts: localhost
  gather_facts: false
  tasks:
    - command: sleep 3607
      when: zuul.executor.hostname == 'executor-a'
    - debug:
        msg: "DONE-ON {{ zuul.executor.hostname }}"
"""


@pytest.fixture
def site(tmp_path, upstream, zk_server, zk_chroot, zk_client):  # type: ignore[no-untyped-def]
    """This module's own org/app: a job with no nodes, for real executors."""
    return make_site(tmp_path, upstream, zk_server, zk_chroot, zk_client, app=APP)


def executor_config(site, name: str) -> ServiceConfig:  # type: ignore[no-untyped-def]
    state = site.root / name
    path = site.root / f"{name}.conf"
    path.write_text(
        site.config_text()
        + f"""
[executor]
state_dir = {state}
log_root = {site.root / "logs"}
hostname = {name}
private_key_file = {site.root / "no-such-key"}
"""
    )
    return ServiceConfig.load(path)


def test_a_stopping_executor_hands_its_build_back(site, zk_connect) -> None:  # type: ignore[no-untyped-def]
    config_a = executor_config(site, "executor-a")
    executor_a = subprocess.Popen(
        [sys.executable, "-m", "lockgate.cli", "-c", config_a.path, "executor"],
        stdout=open(site.root / "executor-a.log", "wb"),  # noqa: SIM115
        stderr=subprocess.STDOUT,
    )
    # Not harness.running_scheduler: executor-a is killed before the loop ends.
    sched = Scheduler(site.service_config(), client=zk_connect(), tick=0.5)
    executor_b: Executor | None = None
    stop_loop = None
    try:
        sched.start()
        stop_loop = sched.run_in_thread()
        store = BuildRequestStore(site.client)
        site.push_event("org/app", {"playbooks/run.yaml": RUN})

        def running_on_a() -> bool:
            return any(
                v.record.state is BuildState.RUNNING and "executor-a" in (v.record.worker or "")
                for v in store.list()
            )

        wait_for(running_on_a, 120, "executor-a to run the build")
        executor_b = Executor(executor_config(site, "executor-b"), client=zk_connect())
        executor_b.start()

        executor_a.send_signal(signal.SIGTERM)
        sent = time.monotonic()
        code = executor_a.wait(30)
        assert time.monotonic() - sent < 10, (site.root / "executor-a.log").read_text()
        assert code == 0, (site.root / "executor-a.log").read_text()

        db = site.database()
        [buildset] = wait_for(
            lambda: [b for b in db.get_buildsets("demo") if b.result], 180, "the report"
        )
    finally:
        if executor_a.poll() is None:
            executor_a.kill()
            executor_a.wait(30)
        if stop_loop is not None:
            stop_loop()
        sched.stop()
        if executor_b is not None:
            executor_b.stop()
    builds = db.get_buildset(buildset.uuid, "demo").builds
    assert buildset.result == "SUCCESS"
    attempts = sorted((b.result, b.final) for b in builds if b.job_name == "slow-on-a")
    assert attempts == [("RETRY", False), ("SUCCESS", True)], attempts
    [done] = [b for b in builds if b.result == "SUCCESS"]
    console = (site.root / "logs" / done.uuid / "job-output.txt").read_text()
    assert "DONE-ON executor-b" in console
