"""``lockgate launcher`` as its own process, reading a config file, against
the TLS ZooKeeper: SIGTERM is a graceful stop (nodes handed out stay), SIGKILL
a crash that the next start recovers from."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from lockgate.model.nodes import NodeRequest, NodeRequestState
from lockgate.zk import NodeRequestStore, NodeStore, list_components

from tests.fixtures.launcher import clean_state_dir, ssh_run
from tests.fixtures.waiting import wait_for

RUN = (
    "import logging, sys\n"
    "logging.basicConfig(level=logging.INFO)\n"
    "from lockgate.launcher.server import main\n"
    "from lockgate.service_config import ServiceConfig\n"
    "sys.exit(main(ServiceConfig.load(sys.argv[1])))\n"
)


@pytest.fixture
def launcher_process(
    zk_server, zk_chroot, ssh_keypair
) -> Iterator[Callable[[], subprocess.Popen[str]]]:  # type: ignore[no-untyped-def]
    state_dir = Path(tempfile.mkdtemp(prefix="lockgate-launcher-"))
    config = state_dir.parent / f"{state_dir.name}.conf"
    tls = zk_server.tls.client
    config.write_text(
        f"""
[zookeeper]
hosts = {zk_server.server.hosts}
tls_ca = {tls.ca}
tls_cert = {tls.cert}
tls_key = {tls.key}
chroot = {zk_chroot}

[launcher]
state_dir = {state_dir}
hostname = process-test

[provider local]
driver = local
labels = debian
authorized_keys = {ssh_keypair.public}
max-servers = 4
"""
    )
    processes: list[subprocess.Popen[str]] = []

    def start() -> subprocess.Popen[str]:
        process = subprocess.Popen(
            [sys.executable, "-c", RUN, str(config)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        processes.append(process)
        return process

    yield start
    for process in processes:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=30)
    errors = clean_state_dir(state_dir, ssh_keypair)
    config.unlink(missing_ok=True)
    assert not errors, errors


def fulfilled(client, request_id: str) -> NodeRequest:  # type: ignore[no-untyped-def]
    store = NodeRequestStore(client)

    def check() -> NodeRequest | None:
        found = store.get(request_id)
        if found and found.record.state is NodeRequestState.FULFILLED:
            return found.record
        return None

    return wait_for(check, 60, f"request {request_id} fulfilled")


def submit(client) -> NodeRequest:  # type: ignore[no-untyped-def]
    request = NodeRequest(["debian"], "demo", "check", "bs", "job", "evt")
    NodeRequestStore(client).submit(request)
    return request


def test_sigterm_is_a_graceful_stop(launcher_process, zk_client, ssh_keypair):
    """Exit 0, unregistered; a node handed to a request stays (a build may be
    about to run on it) for the next start, which deletes it once done."""
    process = launcher_process()
    done = fulfilled(zk_client, submit(zk_client).id)
    node = NodeStore(zk_client).get(done.node_ids[0]).record
    assert Path("/run/netns", node.provider_data["namespace"]).exists()
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=60)
    assert process.returncode == 0, output
    assert list_components(zk_client, "launcher") == []
    assert NodeStore(zk_client).ids() == [node.id]
    assert ssh_run(node, ssh_keypair, "true").returncode == 0
    launcher_process()
    NodeRequestStore(zk_client).delete(done.id)
    wait_for(lambda: NodeStore(zk_client).get(node.id) is None, 30, "the node to go once done")
    wait_for(
        lambda: not Path("/run/netns", node.provider_data["namespace"]).exists(),
        10,
        "its namespace to go",
    )


def test_sigkill_then_restart_keeps_nodes_in_use_and_serves_on(
    launcher_process, zk_client, ssh_keypair
):
    first = launcher_process()
    done = fulfilled(zk_client, submit(zk_client).id)
    node = NodeStore(zk_client).get(done.node_ids[0]).record
    os.kill(first.pid, signal.SIGKILL)
    first.communicate(timeout=30)
    # The node outlives its launcher (a build on it would go on) ...
    assert ssh_run(node, ssh_keypair, "true").returncode == 0
    second = launcher_process()
    # ... the restarted launcher serves new requests ...
    again = fulfilled(zk_client, submit(zk_client).id)
    assert again.node_ids[0] != node.id
    # ... adopted the old node (still reachable), and deletes it once its request goes.
    assert ssh_run(node, ssh_keypair, "true").returncode == 0
    NodeRequestStore(zk_client).delete(done.id)
    wait_for(lambda: NodeStore(zk_client).get(node.id) is None, 30, "the old node to go")
    wait_for(
        lambda: not Path("/run/netns", node.provider_data["namespace"]).exists(),
        10,
        "its namespace to go",
    )
    second.send_signal(signal.SIGTERM)
    output, _ = second.communicate(timeout=60)
    assert second.returncode == 0, output
    # The old node was adopted, not taken for a leak.
    assert "leaked node" not in output, output
