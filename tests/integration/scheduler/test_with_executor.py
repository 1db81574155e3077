"""The scheduler and a real executor (``lockgate.executor``, real Ansible)
through ZooKeeper: a push runs a job with no nodes (localhost, sandboxed) to
a report in SQL; the executor reads what the scheduler put in the build
request (repositories, zuul variables)."""

from __future__ import annotations

import pytest
from lockgate.executor.server import Executor
from lockgate.service_config import ServiceConfig

from tests.fixtures.waiting import wait_for
from tests.integration.scheduler.harness import make_site, running_scheduler

APP = """
- job:
    name: hello
    nodeset:
      nodes: []
    run: playbooks/hello.yaml
- project:
    post:
      jobs: [hello]
"""

HELLO = """
- hosts: localhost
  gather_facts: false
  tasks:
    - debug:
        msg: "HELLO-MARKER {{ zuul.project.name }} {{ zuul.newrev }} {{ zuul.pipeline }}"
"""


@pytest.fixture
def site(tmp_path, upstream, zk_server, zk_chroot, zk_client):
    """This module's own org/app: a job with no nodes, for a real executor."""
    return make_site(tmp_path, upstream, zk_server, zk_chroot, zk_client, app=APP)


def test_push_runs_a_real_job_to_a_report(site, zk_connect):
    state = site.root / "executor"
    text = (
        site.config_text()
        + f"""
[executor]
state_dir = {state}
log_root = {state / "logs"}
log_url = http://127.0.0.1:9000/logs/
hostname = executor.test
private_key_file = {site.root / "no-such-key"}
"""
    )
    path = site.root / "all.conf"
    path.write_text(text)
    config = ServiceConfig.load(path)
    executor = Executor(config, client=zk_connect())
    executor.start()
    try:
        with running_scheduler(config, client=zk_connect()):
            sha = site.push("org/app", {"playbooks/hello.yaml": HELLO})
            _, old, _ = site.last_push
            event = site.ref_updated("org/app", old, sha)
            db = site.database()
            [buildset] = wait_for(
                lambda: [b for b in db.get_buildsets("demo") if b.result], 180, "the report"
            )
    finally:
        executor.stop()
    [build] = db.get_buildset(buildset.uuid, "demo").builds
    assert (buildset.result, build.result, build.job_name) == ("SUCCESS", "SUCCESS", "hello")
    assert buildset.event_id == event.event_id
    assert build.log_url == f"http://127.0.0.1:9000/logs/{build.uuid}/"
    console = (state / "logs" / build.uuid / "job-output.txt").read_text()
    assert f"HELLO-MARKER org/app {sha} post" in console
