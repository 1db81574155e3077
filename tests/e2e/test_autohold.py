"""Autohold end to end, every component its own process (``lockgate up``'s
``System``): an autohold made through the admin API with a token; the job's
next failing build (real Ansible on a local node) leaves its node HOLD with
the hold's reason and expiry; the node is reachable over SSH with the
executor's key, and listed by the nodes endpoint with the hold; ``lockgate
client autohold-delete`` releases it and the
launcher deletes it."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from lockgate.auth.authenticators import AuthSettings
from lockgate.auth.tokens import create_token
from lockgate.model.nodes import NodeState
from lockgate.service_config import ServiceConfig
from lockgate.zk import NodeStore

from tests.e2e.test_spine import play, project
from tests.fixtures.auth import HS256Realm
from tests.fixtures.launcher import KeyPair, ssh_run
from tests.fixtures.system import TENANT, LockgateSystem, namespaces
from tests.fixtures.waiting import wait_for

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the local cloud needs root")

AUTH = HS256Realm(
    "operators", "lockgate.local", "lockgate-operators", "e2e-autohold-secret-long-enough-for-hs256"
).section(allow_authz_override="true")
PROJECTS: dict[str, dict[str, str | bytes]] = {
    "e2e/held": project(
        "held",
        {"playbooks/run.yaml": play("    - ansible.builtin.command: /bin/false\n")},
        run="playbooks/run.yaml",
    ),
}


@pytest.fixture(scope="module")
def lockgate(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LockgateSystem]:
    system = LockgateSystem(tmp_path_factory.mktemp("lockgate-autohold"), PROJECTS)
    system.system.extra_connections = AUTH
    try:
        system.start()
        yield system
    finally:
        system.stop()


def held_nodes(lockgate: LockgateSystem) -> list:  # noqa: ANN001
    assert lockgate.system.client is not None
    return [
        v.record
        for v in NodeStore(lockgate.system.client).list()
        if v.record.state is NodeState.HOLD
    ]


def test_a_failing_builds_node_is_held_reachable_and_released(lockgate: LockgateSystem) -> None:
    config_file = lockgate.system.state.config_file
    config = ServiceConfig.load(config_file)
    token = create_token(
        AuthSettings.from_section("operators", config.named("auth")["operators"]),
        "ops",
        [TENANT],
    )
    # The web reaches ZooKeeper in the background after it starts listening.
    wait_for(
        lambda: requests.get(f"{lockgate.web_url}/api/tenant/{TENANT}/info", timeout=10).ok,
        60,
        "the web to see the tenant",
    )
    reply = requests.post(
        f"{lockgate.web_url}/api/tenant/{TENANT}/project/e2e/held/autohold",
        json={
            "job": "held",
            "reason": "why does it fail?",
            "count": 1,
            "node_hold_expiration": 3600,
        },
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert reply.status_code == 200, reply.text
    newrev = lockgate.push("e2e/held", message="Fail, and be held")
    build = lockgate.wait_for_build(newrev, "held")
    assert build["result"] == "FAILURE"
    [hold] = lockgate.api(f"/api/tenant/{TENANT}/autohold")
    assert hold["current_count"] == 1 and hold["nodes"][0]["build"] == build["uuid"]
    [node] = wait_for(lambda: held_nodes(lockgate), 30, "the held node")
    assert node.id in hold["nodes"][0]["nodes"]
    [shown] = [n for n in lockgate.api(f"/api/tenant/{TENANT}/nodes") if n["id"] == node.id]
    assert shown["state"] == "hold" and shown["comment"] == "why does it fail?"
    assert shown["hold_expiration"] == 3600 and shown["hold_until"] > node.held_at
    # Still there once the scheduler is done with the build: reachable.
    key = lockgate.system.state.ssh_key
    result = ssh_run(node, KeyPair(key, Path(f"{key}.pub")), "hostname")
    assert result.returncode == 0, result.stderr
    namespace = node.provider_data["namespace"]
    assert namespace in namespaces()
    # Released with the client.
    env = dict(os.environ, LOCKGATE_AUTH_TOKEN=token)
    done = subprocess.run(
        [sys.executable, "-m", "lockgate.cli", "-c", str(config_file), "client",
         "autohold-delete", "--tenant", TENANT, str(hold["id"])],
        capture_output=True, text=True, env=env, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert lockgate.system.client is not None
    wait_for(
        lambda: NodeStore(lockgate.system.client).get(node.id) is None,
        60,
        "the released node to go",
    )
    wait_for(lambda: namespace not in namespaces(), 30, "its namespace to go")
