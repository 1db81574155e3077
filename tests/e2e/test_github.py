"""End to end: GitHub pull requests with the whole system.

``lockgate up``'s ``System`` (every component its own process, a real
ZooKeeper over TLS, the launcher's local nodes, real ``ansible-playbook``)
with a ``[connection github]`` to the GitHub emulator, whose webhooks go to
the system's web process.  The stock ``check`` pipeline gains GitHub's
trigger and reporters (Zuul's GitHub quick-start: pull_request opened /
changed / reopened, a ``recheck`` comment; a commit status).

Issue 8 §3.1 (a PR opened runs check on a node and gets a success status)
and §3.6 (the web killed right after answering a webhook: the event is
still processed, once).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from lockgate.up import seed

from tests.fixtures.github.fixture import GitHubEmulator
from tests.fixtures.network import free_port, http_get
from tests.fixtures.system import TENANT, LockgateSystem
from tests.fixtures.waiting import wait_for

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the local cloud needs root")

CONTEXT = f"{TENANT}/check"

PLAYBOOK = """\
- hosts: all
  gather_facts: false
  tasks:
    - name: The pull request's file on the node
      ansible.builtin.command: cat {{ zuul.project.src_dir }}/pr.txt
"""

ZUUL_YAML = """\
- job:
    name: gh-show
    run: playbooks/show.yaml
- project:
    check:
      jobs: [gh-show]
"""

REPOS = {
    "acme/hello": {".zuul.yaml": ZUUL_YAML, "playbooks/show.yaml": PLAYBOOK, "README": "hi\n"},
    "acme/crash": {".zuul.yaml": ZUUL_YAML, "playbooks/show.yaml": PLAYBOOK, "README": "hi\n"},
}


def config_files() -> dict[str, str | bytes]:
    """The stock config project, its ``check`` also triggered by GitHub."""
    files = seed.config_project_files()
    pipelines = yaml.safe_load(files["zuul.d/pipelines.yaml"])
    for entry in pipelines:
        pipeline = entry.get("pipeline", {})
        if pipeline.get("name") != "check":
            continue
        pipeline["require"]["github"] = {"open": True, "current-patchset": True}
        pipeline["trigger"]["github"] = [
            {"event": "pull_request", "action": ["opened", "changed", "reopened"]},
            {"event": "pull_request", "action": "comment", "comment": r"(?i)^\s*recheck\s*$"},
        ]
        pipeline.setdefault("start", {})["github"] = {"status": "pending", "comment": False}
        pipeline["success"]["github"] = {"status": "success", "comment": False}
        pipeline["failure"]["github"] = {"status": "failure"}
    files["zuul.d/pipelines.yaml"] = yaml.safe_dump(pipelines, sort_keys=False)
    return files


class GithubLockgate(LockgateSystem):
    """``LockgateSystem`` plus a GitHub (the emulator) as a second review system."""

    def __init__(self, root: Any) -> None:
        from lockgate.up.main import System

        web_port = free_port()
        self.github = GitHubEmulator(
            root / "github",
            webhook_url=f"http://127.0.0.1:{web_port}/api/connection/github/payload",
        ).start()
        for name, files in REPOS.items():
            self.github.control.create_repo(name, files)
        self.root = root
        self.system = System(
            root / "state",
            web_port=web_port,
            projects={},
            review_projects={},
            config_files=config_files(),
            extra_connections=self.github.zuul_conf_text(),
            extra_sources={"github": list(REPOS)},
        )

    def stop(self) -> None:
        try:
            super().stop()
        finally:
            self.github.stop()


@pytest.fixture(scope="module")
def lockgate(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GithubLockgate]:
    system = GithubLockgate(tmp_path_factory.mktemp("lockgate-e2e-github"))
    try:
        system.start()
        yield system
    finally:
        system.stop()


def statuses(lg: GithubLockgate, project: str, number: int) -> list[dict[str, Any]]:
    return [s for s in lg.github.control.statuses(project, number) if s["context"] == CONTEXT]


def final_status(lg: GithubLockgate, project: str, number: int) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        lg.system.check_alive()
        found = [s for s in statuses(lg, project, number) if s["state"] != "pending"]
        return found[-1] if found else None

    return wait_for(done, 180, f"the check status of {project}#{number}", interval=0.25)


def project_builds(lg: GithubLockgate, project: str) -> list[dict[str, Any]]:
    return [b for b in lg.api(f"/api/tenant/{TENANT}/builds?project={project}")]


def test_a_pull_request_runs_check_on_a_node_and_gets_a_success_status(lockgate):
    c = lockgate.github.control
    pr = c.open_pull("acme/hello", "feature", {"pr.txt": "from the pull request\n"}, title="Hi")
    status = final_status(lockgate, "acme/hello", pr["number"])
    assert status["state"] == "success", status
    assert status["sha"] == pr["head_sha"]
    assert [s["state"] for s in statuses(lockgate, "acme/hello", pr["number"])][0] == "pending"
    (build,) = wait_for(
        lambda: [b for b in project_builds(lockgate, "acme/hello") if b.get("result")],
        60,
        "the build in the API",
    )
    assert build["job_name"] == "gh-show" and build["result"] == "SUCCESS"
    # The job ran the pull request's file on the node with Ansible.
    log = lockgate.get_text(build["log_url"].rstrip("/") + "/job-output.txt")
    assert "from the pull request" in log


def test_the_web_killed_right_after_answering_a_webhook_loses_nothing(lockgate):
    c = lockgate.github.control
    # The scheduler is down: the delivery can only live in ZooKeeper.
    lockgate.kill("scheduler")
    before = len(c.deliveries())
    started = time.monotonic()
    pr = c.open_pull("acme/crash", "crash", {"pr.txt": "after a crash\n"}, title="Crash")

    def answered() -> dict[str, Any] | None:
        found = [
            d
            for d in c.deliveries()[before:]
            if d["event"] == "pull_request" and d["action"] == "opened"
        ]
        return found[0] if found and found[0]["status_code"] else None

    opened = wait_for(answered, 30, "the opened delivery answered", interval=0.01)
    lockgate.kill("web")
    assert opened["status_code"] == 200
    # GitHub redelivers it (someone pressed "Redeliver") once the web is back.
    lockgate.restart("web")
    # Ready = ZooKeeper connected (before that a delivery is 503: "try again").
    wait_for(lambda: http_get(lockgate.web_url + "/health/ready")[0] == 200, 60, "the web ready")
    c.redeliver(opened["id"])
    again = wait_for(
        lambda: (d := c.delivery(opened["id"]))["attempts"][1:] and d, 30, "the redelivery"
    )
    assert [a["status"] for a in again["attempts"]] == [200, 200]
    lockgate.restart("scheduler")
    status = final_status(lockgate, "acme/crash", pr["number"])
    assert status["state"] == "success" and status["sha"] == pr["head_sha"]
    builds = wait_for(
        lambda: [b for b in project_builds(lockgate, "acme/crash") if b.get("result")],
        60,
        "the build",
    )
    # Processed once: one build, one pending and one success status.
    assert len(builds) == 1, builds
    assert [s["state"] for s in statuses(lockgate, "acme/crash", pr["number"])] == [
        "pending",
        "success",
    ]
    assert time.monotonic() - started < 180
