"""End to end: GitHub pull requests with the whole system.

``lockgate up``'s ``System`` (every component its own process, a real
ZooKeeper over TLS, the launcher's local nodes, real ``ansible-playbook``)
with a ``[connection github]`` to the GitHub emulator, whose webhooks go to
the system's web process.  The stock ``check`` pipeline gains GitHub's
trigger and reporters (Zuul's GitHub quick-start: pull_request opened /
changed / reopened, a ``recheck`` comment; a commit status).

Issue 8 §3.1 (a PR opened runs check on a node and gets a success status),
§3.2 (a ``recheck`` comment runs it again; a push to the PR dequeues the old
head, whose build is canceled), §3.3 (PRs approved by a writer and labelled
``gate`` are tested together, each on the ones ahead, and merged in order
by Lockgate; a failing one is reported and the one behind it still merges),
§3.4 (a broken ``.zuul.yaml`` gets the ``file:line`` error as a comment and
check-run annotations) and §3.6 (the web killed right after answering a
webhook: the event is still processed, once).  One system serves the
whole module.
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

# A job that waits while the pull request has slow.txt (to be canceled).
SLOW_PLAYBOOK = """\
- hosts: all
  gather_facts: false
  tasks:
    - name: The pull request's file on the node
      ansible.builtin.command: cat {{ zuul.project.src_dir }}/pr.txt
    - name: Slow while asked to be
      ansible.builtin.shell: if [ -f {{ zuul.project.src_dir }}/slow.txt ]; then sleep 120; fi
"""

FLOW_YAML = """\
- job:
    name: gh-flow
    run: playbooks/flow.yaml
- project:
    check:
      jobs: [gh-flow]
"""

# The gate's job lists what it is tested with and fails on bad.txt.
GATE_PLAYBOOK = """\
- hosts: all
  gather_facts: false
  tasks:
    - name: What this build is tested with
      ansible.builtin.command: ls {{ zuul.project.src_dir }}
    - name: No bad file
      ansible.builtin.command: test ! -f {{ zuul.project.src_dir }}/bad.txt
"""

GATED_YAML = """\
- job:
    name: gh-gate
    run: playbooks/gate.yaml
- project:
    gate:
      jobs: [gh-gate]
"""

REPOS = {
    "acme/hello": {".zuul.yaml": ZUUL_YAML, "playbooks/show.yaml": PLAYBOOK, "README": "hi\n"},
    "acme/crash": {
        ".zuul.yaml": ZUUL_YAML.replace("gh-show", "gh-crash"),
        "playbooks/show.yaml": PLAYBOOK,
        "README": "hi\n",
    },
    "acme/flow": {".zuul.yaml": FLOW_YAML, "playbooks/flow.yaml": SLOW_PLAYBOOK, "README": "f\n"},
    "acme/gated": {".zuul.yaml": GATED_YAML, "playbooks/gate.yaml": GATE_PLAYBOOK, "README": "g\n"},
}
REPO_OPTIONS: dict[str, dict[str, Any]] = {
    "acme/gated": {"collaborators": {"alice": "write", "mallory": "read"}, "labels": ["gate"]}
}
GATE = f"{TENANT}/gate"


def config_files() -> dict[str, str | bytes]:
    """The stock config project, its ``check`` and ``gate`` also GitHub's
    (Zuul's GitHub quick-start: a writer's approval and the gate label)."""
    files = seed.config_project_files()
    pipelines = yaml.safe_load(files["zuul.d/pipelines.yaml"])
    for entry in pipelines:
        pipeline = entry.get("pipeline", {})
        if pipeline.get("name") == "check":
            pipeline["require"]["github"] = {"open": True, "current-patchset": True}
            pipeline["trigger"]["github"] = [
                {"event": "pull_request", "action": ["opened", "changed", "reopened"]},
                {"event": "pull_request", "action": "comment", "comment": r"(?i)^\s*recheck\s*$"},
            ]
            pipeline.setdefault("start", {})["github"] = {
                "status": "pending",
                "check": "in_progress",
                "comment": False,
            }
            pipeline["success"]["github"] = {"status": "success", "comment": False}
            pipeline["failure"]["github"] = {"status": "failure", "check": "failure"}
        elif pipeline.get("name") == "gate":
            pipeline["require"]["github"] = {
                "open": True,
                "current-patchset": True,
                "label": "gate",
                "review": [{"type": "approved", "permission": "write"}],
            }
            pipeline["trigger"]["github"] = [
                {"event": "pull_request_review", "action": "submitted", "state": "approved"},
                {"event": "pull_request", "action": "labeled", "label": "gate"},
            ]
            pipeline["start"]["github"] = {"status": "pending", "comment": False}
            pipeline["success"]["github"] = {"status": "success", "merge": True, "comment": False}
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
            self.github.control.create_repo(name, files, **REPO_OPTIONS.get(name, {}))
        self.root = root
        self.killed: set[str] = set()  # as LockgateSystem keeps it
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
        # Deliveries are taken once the web's ZooKeeper session is up (503 before).
        wait_for(lambda: http_get(system.web_url + "/health/ready")[0] == 200, 60, "the web ready")
        yield system
    finally:
        system.stop()


def statuses(
    lg: GithubLockgate, project: str, number: int, context: str = CONTEXT
) -> list[dict[str, Any]]:
    return [s for s in lg.github.control.statuses(project, number) if s["context"] == context]


def final_status(
    lg: GithubLockgate, project: str, number: int, context: str = CONTEXT, count: int = 1
) -> dict[str, Any]:
    """The ``count``-th final (not pending) status of ``context``."""

    def done() -> dict[str, Any] | None:
        lg.system.check_alive()
        found = [s for s in statuses(lg, project, number, context) if s["state"] != "pending"]
        return found[count - 1] if len(found) >= count else None

    return wait_for(done, 180, f"the {context} status of {project}#{number}", interval=0.25)


def project_builds(lg: GithubLockgate, project: str) -> list[dict[str, Any]]:
    return [b for b in lg.api(f"/api/tenant/{TENANT}/builds?project={project}")]


def builds_of(lg: GithubLockgate, project: str, number: int) -> list[dict[str, Any]]:
    """The builds API's builds of pull request ``project#number`` (newest first)."""
    return [b for b in project_builds(lg, project) if b["ref"].get("change") == number]


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


def test_recheck_runs_check_again_and_a_push_dequeues_the_old_head(lockgate):
    c = lockgate.github.control
    # Two pull requests at once: one to recheck, one pushed to while its
    # head's build runs (slow.txt keeps that build running).
    pr = c.open_pull("acme/flow", "recheck", {"pr.txt": "first\n"}, title="Recheck")
    slow = c.open_pull("acme/flow", "pushed", {"pr.txt": "old\n", "slow.txt": "1\n"}, title="Slow")
    n, m = pr["number"], slow["number"]
    wait_for(lambda: builds_of(lockgate, "acme/flow", m), 120, "the old head's build running")
    new = c.push_to_pull("acme/flow", m, {"pr.txt": "new\n", "slow.txt": None})
    assert final_status(lockgate, "acme/flow", n)["state"] == "success"
    c.comment("acme/flow", n, "recheck", user="alice")
    status = final_status(lockgate, "acme/flow", m)
    assert status["state"] == "success" and status["sha"] == new
    assert not [
        s
        for s in statuses(lockgate, "acme/flow", m)
        if s["sha"] == slow["head_sha"] and s["state"] != "pending"
    ]
    old = wait_for(
        lambda: [
            b
            for b in builds_of(lockgate, "acme/flow", m)
            if b["ref"]["patchset"] == slow["head_sha"]
        ][0]["result"],
        60,
        "the old head's build ended",
    )
    assert old in ("CANCELED", "ABORTED"), old
    again = final_status(lockgate, "acme/flow", n, count=2)
    assert again["state"] == "success" and again["sha"] == pr["head_sha"]
    ran = wait_for(
        lambda: (
            len(b := [x for x in builds_of(lockgate, "acme/flow", n) if x["result"]]) == 2 and b
        ),
        60,
        "two builds of the rechecked pull request",
    )
    assert {(b["result"], b["ref"]["patchset"]) for b in ran} == {("SUCCESS", pr["head_sha"])}


def test_pull_requests_gated_together_merge_in_order_and_a_failing_one_is_reported(lockgate):
    c = lockgate.github.control
    repo = "acme/gated"
    first = c.open_pull(repo, "first", {"ok-first.txt": "1\n"}, title="First")["number"]
    bad = c.open_pull(repo, "bad", {"bad.txt": "2\n"}, title="Bad")["number"]
    last = c.open_pull(repo, "last", {"ok-last.txt": "3\n"}, title="Last")["number"]
    c.review(repo, first, "mallory", "APPROVE")  # a reader's approval counts for nothing
    for n in (first, bad, last):
        c.review(repo, n, "alice", "APPROVE")
        c.label(repo, n, add=["gate"], user="alice")
    for n in (first, last):
        wait_for(lambda n=n: c.pull(repo, n)["merged"], 180, f"#{n} merged", interval=0.25)
    failed = final_status(lockgate, repo, bad, GATE)
    assert failed["state"] == "failure"
    comment = wait_for(lambda: c.comments(repo, bad), 30, "the failure comment")[-1]
    assert "gh-gate" in comment["body"] and "FAILURE" in comment["body"]
    assert not c.pull(repo, bad)["merged"]
    # Merged by Lockgate, in queue order, each after its gate status.
    assert [m["number"] for m in c.merges(repo)] == [first, last]
    assert {m["by"] for m in c.merges(repo)} == {"lockgate-test[bot]"}
    for n in (first, last):
        assert [s["state"] for s in statuses(lockgate, repo, n, GATE)][-1] == "success"
    # The last one was tested on the first (speculatively), without the bad one.
    final = [
        b
        for b in builds_of(lockgate, repo, last)
        if b["pipeline"] == "gate" and b["result"] == "SUCCESS"
    ]
    log = lockgate.get_text(final[0]["log_url"].rstrip("/") + "/job-output.txt")
    assert "ok-first.txt" in log and "ok-last.txt" in log and "bad.txt" not in log


def test_a_broken_zuul_yaml_gets_the_file_and_line_as_comment_and_annotation(lockgate):
    c = lockgate.github.control
    broken = ZUUL_YAML + "- job:\n    name: broken\n    runn: nothing.yaml\n"
    pr = c.open_pull("acme/hello", "broken", {".zuul.yaml": broken}, title="Break it")
    n = pr["number"]
    assert final_status(lockgate, "acme/hello", n)["state"] == "failure"
    comment = wait_for(lambda: c.comments("acme/hello", n), 60, "the error comment")[-1]
    assert ".zuul.yaml:" in comment["body"] and "runn" in comment["body"]
    run = wait_for(
        lambda: [
            r for r in c.check_runs("acme/hello", n) if r["name"] == CONTEXT and r["conclusion"]
        ],
        60,
        "the check run",
    )[-1]
    assert run["conclusion"] == "failure"
    (note,) = [a for a in run["annotations"] if a["path"] == ".zuul.yaml"]
    assert note["start_line"] > 1 and "runn" in note["message"]
    assert not builds_of(lockgate, "acme/hello", n)


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
