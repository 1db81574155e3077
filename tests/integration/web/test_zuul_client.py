"""Zuul's own command line client (PyPI ``zuul-client`` 14) against a running
Lockgate: every read command, unchanged, on ``lockgate up``'s whole system
(each component its own process) after one real build.

What is checked is what a user reads: the command succeeds and its table or
text names the build, job, project or node it should.  Errors come back in
Zuul's shape, so the client prints ``error: description``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from lockgate.up import seed

from tests.e2e.test_spine import play, project
from tests.fixtures.system import TENANT, LockgateSystem
from tests.fixtures.waiting import wait_for

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0, reason="the local cloud needs root"),
]

ZUUL_CLIENT = shutil.which("zuul-client", path=os.path.dirname(sys.executable))
PROJECT = "e2e/client"
JOB = "client-job"
# A job that runs until dequeued: its node is there to be held.
HOLD_PROJECT = "e2e/client-hold"
HOLD_JOB = "client-hold-job"
PROJECTS: dict[str, dict[str, str | bytes]] = {
    PROJECT: project(
        JOB,
        {"playbooks/run.yaml": play("    - ansible.builtin.command: /bin/true\n")},
        run="playbooks/run.yaml",
    ),
    HOLD_PROJECT: project(
        HOLD_JOB,
        {"playbooks/run.yaml": play("    - ansible.builtin.command: sleep 600\n")},
        run="playbooks/run.yaml",
    ),
}


@pytest.fixture(scope="module")
def lockgate(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LockgateSystem]:
    system = LockgateSystem(tmp_path_factory.mktemp("lockgate-zuul-client"), PROJECTS)
    try:
        system.start()
        yield system
    finally:
        system.stop()


@pytest.fixture(scope="module")
def build(lockgate: LockgateSystem) -> dict:
    wait_for(
        lambda: requests.get(f"{lockgate.web_url}/api/tenant/{TENANT}/jobs", timeout=10).ok,
        90,
        "the web to build the tenant's layout",
    )
    newrev = lockgate.push(PROJECT, message="Build for zuul-client")
    found = lockgate.wait_for_build(newrev, JOB)
    assert found["result"] == "SUCCESS"
    return found


def zuul_client(lockgate: LockgateSystem, *args: str, ok: bool = True) -> str:
    assert ZUUL_CLIENT is not None, "zuul-client is not installed (pip install -e .[test])"
    done = subprocess.run(
        [ZUUL_CLIENT, "--zuul-url", lockgate.web_url, *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ, HOME=str(lockgate.root)),  # no ~/.zuul.conf of the user's
    )
    if ok:
        assert done.returncode == 0, f"zuul-client {args}: {done.stdout}\n{done.stderr}"
    return done.stdout + done.stderr


def test_builds_and_build_info(lockgate: LockgateSystem, build: dict) -> None:
    table = zuul_client(lockgate, "builds", "--tenant", TENANT, "--job", JOB)
    assert build["uuid"] in table and PROJECT in table and "SUCCESS" in table
    by_project = zuul_client(lockgate, "builds", "--tenant", TENANT, "--project", PROJECT)
    assert build["uuid"] in by_project
    info = zuul_client(lockgate, "build-info", "--tenant", TENANT, "--uuid", build["uuid"])
    assert f"UUID: {build['uuid']}" in info
    assert "Result: SUCCESS" in info and f"Job: {JOB}" in info
    assert f"Project: {PROJECT}" in info


def test_job_graph_and_freeze_job(lockgate: LockgateSystem, build: dict) -> None:
    where = ["--tenant", TENANT, "--pipeline", "post", "--project", PROJECT, "--branch", "main"]
    graph = zuul_client(lockgate, "job-graph", *where)
    assert JOB in graph
    frozen = zuul_client(lockgate, "freeze-job", *where, "--job", JOB)
    assert f"Job: {JOB}" in frozen and "playbooks/run.yaml" in frozen


def test_node_and_request_lists(lockgate: LockgateSystem, build: dict) -> None:
    nodes = zuul_client(lockgate, "node-list", "--tenant", TENANT)
    assert "UUID" in nodes and "State" in nodes
    requests_table = zuul_client(lockgate, "nodeset-request-list", "--tenant", TENANT)
    assert "Labels" in requests_table


def test_autohold_list(lockgate: LockgateSystem, build: dict) -> None:
    table = zuul_client(lockgate, "autohold-list", "--tenant", TENANT)
    assert "No autohold requests found" in table  # none made: the list is empty, not an error


def test_errors_show_zuuls_error_and_description(lockgate: LockgateSystem, build: dict) -> None:
    out = zuul_client(lockgate, "build-info", "--tenant", TENANT, "--uuid", "nope", ok=False)
    assert "Not Found: Build not found: nope" in out
    out = zuul_client(lockgate, "builds", "--tenant", "nobody", ok=False)
    assert "Unknown tenant: nobody" in out


def test_encrypt_with_the_projects_public_key(
    lockgate: LockgateSystem, build: dict, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("s3cret")
    out = zuul_client(
        lockgate,
        "encrypt",
        "--tenant",
        TENANT,
        "--project",
        PROJECT,
        "--infile",
        str(secret),
        "--secret-name",
        "token",
        "--field-name",
        "value",
    )
    assert "!encrypted/pkcs1-oaep" in out


def admin_token(lockgate: LockgateSystem) -> str:
    """The token `lockgate up` tells its user to make."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "lockgate.cli",
            "-c",
            str(lockgate.system.state.config_file),
            "create-auth-token",
            "--auth-config",
            seed.AUTH_NAME,
            "--user",
            seed.ADMIN_USER,
            "--tenant",
            TENANT,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().removeprefix("Bearer ")


def test_admin_commands_with_the_token_lockgate_up_offers(
    lockgate: LockgateSystem, build: dict
) -> None:
    where = ["--tenant", TENANT, "--pipeline", "post", "--project", PROJECT]
    refused = zuul_client(lockgate, "enqueue-ref", *where, "--ref", "refs/heads/main", ok=False)
    assert "401" in refused or "Unauthorized" in refused or "token" in refused.lower()
    token = ["--auth-token", admin_token(lockgate)]
    before = {b["uuid"] for b in lockgate.builds(job_name=JOB)}
    zuul_client(lockgate, *token, "enqueue-ref", *where, "--ref", "refs/heads/main")

    def rebuilt() -> list[dict]:
        return [
            b
            for b in lockgate.builds(job_name=JOB)
            if b["uuid"] not in before and b.get("result") == "SUCCESS"
        ]

    assert wait_for(rebuilt, 180, "the enqueued ref's build")
    zuul_client(
        lockgate,
        *token,
        "autohold",
        "--tenant",
        TENANT,
        "--project",
        PROJECT,
        "--job",
        JOB,
        "--reason",
        "look at it",
        "--count",
        "1",
    )
    listed = zuul_client(lockgate, "autohold-list", "--tenant", TENANT)
    assert "look at it" in listed
    hold_id = requests.get(f"{lockgate.web_url}/api/tenant/{TENANT}/autohold", timeout=30).json()[
        0
    ]["id"]
    zuul_client(lockgate, *token, "autohold-delete", "--tenant", TENANT, hold_id)
    assert requests.get(f"{lockgate.web_url}/api/tenant/{TENANT}/autohold", timeout=30).json() == []


def api(lockgate: LockgateSystem, path: str) -> Any:
    reply = requests.get(f"{lockgate.web_url}/api/tenant/{TENANT}/{path}", timeout=30)
    assert reply.ok, reply.text
    return reply.json()


def test_manage_events_node_set_state_and_nodeset_request_delete(
    lockgate: LockgateSystem, build: dict
) -> None:
    token = ["--auth-token", admin_token(lockgate)]
    tenant = ["--tenant", TENANT]
    refused = zuul_client(lockgate, "manage-events", *tenant, "pause-trigger", ok=False)
    assert "Auth Token required" in refused

    # Triggers paused: the push's event waits in the queue; status and info say why.
    zuul_client(
        lockgate, *token, "manage-events", *tenant, "pause-trigger", "--reason", "e2e upkeep"
    )
    state = wait_for(lambda: api(lockgate, "status").get("state"), 30, "the status's state")
    assert state["trigger_queue_paused"] is True and state["reason"] == "e2e upkeep"
    assert api(lockgate, "info")["info"]["state"]["trigger_queue_paused"] is True
    lockgate.push(HOLD_PROJECT, message="Hold my node")
    wait_for(
        lambda: api(lockgate, "status")["trigger_event_queue"]["length"] >= 1,
        90,
        "the push's event waiting in the paused trigger queue",
    )
    zuul_client(lockgate, *token, "manage-events", *tenant, "normal")

    # Processed once resumed: its build's node is held while the build runs...
    def running_node() -> dict | None:
        found = [n for n in api(lockgate, "nodes") if n.get("job_name") == HOLD_JOB]
        return found[0] if found and found[0]["state"] == "in-use" else None

    node = wait_for(running_node, 180, f"a node running {HOLD_JOB}")
    request_id = node["allocated_to"]
    # ... its nodeset request, fulfilled, cannot be deleted (only a pending one).
    out = zuul_client(lockgate, *token, "nodeset-request-delete", *tenant, request_id, ok=False)
    assert f"nodeset request {request_id} is fulfilled: only a pending" in out
    out = zuul_client(lockgate, *token, "nodeset-request-delete", *tenant, "999999", ok=False)
    assert f"Nodeset request 999999 not found in tenant {TENANT}" in out
    zuul_client(lockgate, *token, "node-set-state", *tenant, node["id"], "hold")
    assert "hold" in zuul_client(lockgate, "node-list", *tenant)

    # ... and kept after its build ends (dequeued), until set used: then deleted.
    where = [*tenant, "--pipeline", "post", "--project", HOLD_PROJECT]
    zuul_client(lockgate, *token, "dequeue", *where, "--ref", "refs/heads/main")

    def queued() -> bool:
        return any(
            ref.get("project") == HOLD_PROJECT
            for pipeline in api(lockgate, "status")["pipelines"]
            for queue in pipeline["change_queues"]
            for head in queue["heads"]
            for item in head
            for ref in item["refs"]
        )

    wait_for(lambda: not queued(), 120, "the dequeued item gone")
    [held] = [n for n in api(lockgate, "nodes") if n["id"] == node["id"]]
    assert held["state"] == "hold" and held["comment"] == f"held by {seed.ADMIN_USER}"
    zuul_client(lockgate, *token, "node-set-state", *tenant, node["id"], "used")
    wait_for(
        lambda: all(n["id"] != node["id"] for n in api(lockgate, "nodes")),
        60,
        "the node given back to the launcher and deleted",
    )
