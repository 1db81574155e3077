"""The launcher process against a real (TLS) ZooKeeper and real local nodes.

The scheduler's and executor's sides are played with the same ZooKeeper API
they use: ``NodeRequestStore.submit`` / ``delete`` and ``NodeStore.lock`` /
``update``.
"""

from __future__ import annotations

import json
import secrets
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from lockgate.launcher.providers.local import LocalProvider
from lockgate.launcher.providers.procs import ProcessRef, kill_and_wait
from lockgate.launcher.server import Launcher
from lockgate.model.events import ResultEvent
from lockgate.model.nodes import NodeRequest, NodeRequestState, NodeState
from lockgate.service_config import ServiceConfig
from lockgate.zk import NodeRequestStore, NodeStore, ZKClient, result_queue

from tests.fixtures.launcher import clean_state_dir, local_section, ssh_run
from tests.fixtures.waiting import wait_for


@pytest.fixture
def make_launcher(zk_connect, ssh_keypair) -> Iterator[Callable[..., Launcher]]:  # type: ignore[no-untyped-def]
    """``make_launcher(max_servers=2, labels="debian", state_dir=None)``: a
    started launcher with one local provider; stopped and cleaned afterwards."""
    launchers: list[Launcher] = []
    state_dirs: list[Path] = []

    def make(
        max_servers: int = 4,
        labels: str = "debian",
        state_dir: Path | None = None,
        provider: str | None = None,
        start: bool = True,
        extra: str = "",
    ) -> Launcher:
        if state_dir is None:
            state_dir = Path(tempfile.mkdtemp(prefix="lockgate-launcher-"))
            state_dirs.append(state_dir)
        provider = provider or f"t{secrets.token_hex(3)}"
        config = ServiceConfig.parse(
            f"""
[launcher]
state_dir = {state_dir}
hostname = test-launcher

[provider {provider}]
driver = local
labels = {labels}
max-servers = {max_servers}
authorized_keys = {ssh_keypair.public}
{extra}
""",
            "/test/lockgate.conf",
        )
        launcher = Launcher(config, client=zk_connect())
        launchers.append(launcher)
        if start:
            launcher.start()
        return launcher

    yield make
    for launcher in launchers:
        if launcher._thread is not None and launcher._thread.is_alive():
            launcher.stop()
    errors: list[str] = []
    for state_dir in state_dirs:
        errors += clean_state_dir(state_dir, ssh_keypair)
        shutil.rmtree(state_dir, ignore_errors=True)
    assert not errors, errors


def submit(client: ZKClient, *labels: str, event_id: str = "") -> NodeRequest:
    request = NodeRequest(
        labels=list(labels),
        tenant="demo",
        pipeline="check",
        buildset_uuid=secrets.token_hex(8),
        job_name="hello",
        event_id=event_id or secrets.token_hex(8),
    )
    NodeRequestStore(client).submit(request)
    return request


def final(client: ZKClient, request_id: str, timeout: float = 30) -> NodeRequest:
    store = NodeRequestStore(client)

    def done() -> NodeRequest | None:
        found = store.get(request_id)
        if found and found.record.state is not NodeRequestState.REQUESTED:
            return found.record
        return None

    return wait_for(done, timeout, f"node request {request_id} to be final")


def results(client: ZKClient) -> list[ResultEvent]:
    return [ResultEvent.from_dict(data) for _, data in result_queue(client, "demo").list()]


def namespace_exists(name: str) -> bool:
    return Path("/run/netns", name).exists()


def test_request_is_fulfilled_with_a_reachable_node(make_launcher, zk_client, ssh_keypair):
    launcher = make_launcher()
    request = submit(zk_client, "debian", "debian", event_id="evt-1")
    done = final(zk_client, request.id)
    assert done.state is NodeRequestState.FULFILLED
    assert done.provider == launcher.providers[0].name
    assert len(done.node_ids) == 2 and len(set(done.node_ids)) == 2
    nodes = NodeStore(zk_client)
    for node_id in done.node_ids:
        node = nodes.get(node_id).record
        assert node.state is NodeState.READY
        assert node.allocated_to == request.id
        assert node.label == "debian"
        result = ssh_run(node, ssh_keypair, "hostname")
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == node.provider_data["hostname"]
    event = wait_for(lambda: results(zk_client), 10, "a result event")[0]
    assert event.kind == "nodes-provisioned"
    assert event.request_id == request.id and event.result == "fulfilled"
    assert event.event_id == "evt-1" and event.buildset_uuid == request.buildset_uuid


def test_the_nodes_executor_zone_is_on_the_request(make_launcher, zk_client):
    """The scheduler routes the build by it (``[executor] zone``)."""
    make_launcher(extra="executor-zone = east")
    done = final(zk_client, submit(zk_client, "debian").id)
    assert done.state is NodeRequestState.FULFILLED and done.executor_zone == "east"


def test_unknown_label_fails_with_a_reason(make_launcher, zk_client):
    make_launcher(labels="debian")
    request = submit(zk_client, "debian", "windows")
    done = final(zk_client, request.id)
    assert done.state is NodeRequestState.FAILED
    assert "windows" in (done.failure_reason or "")
    assert done.node_ids == []
    event = wait_for(lambda: results(zk_client), 10, "a result event")[0]
    assert event.result == "failed" and event.request_id == request.id
    assert NodeStore(zk_client).ids() == []


def use_node(client: ZKClient, node_id: str):  # type: ignore[no-untyped-def]
    """What an executor does: lock the node, mark it IN_USE (lock kept)."""
    nodes = NodeStore(client)
    lock = nodes.lock(node_id)
    assert lock is not None
    current = nodes.get(node_id)
    current.record.state = NodeState.IN_USE
    nodes.update(current.record, current.version)
    return lock


def finish_node(client: ZKClient, node_id: str, lock) -> None:  # type: ignore[no-untyped-def]
    nodes = NodeStore(client)
    current = nodes.get(node_id)
    current.record.state = NodeState.USED
    nodes.update(current.record, current.version)
    lock.release()


def test_used_node_is_deleted_only_after_the_executor_lets_go(make_launcher, zk_client):
    launcher = make_launcher()
    request = submit(zk_client, "debian")
    done = final(zk_client, request.id)
    node_id = done.node_ids[0]
    nodes = NodeStore(zk_client)
    namespace = nodes.get(node_id).record.provider_data["namespace"]
    lock = use_node(zk_client, node_id)
    # Even with its request gone, a locked node stays.
    NodeRequestStore(zk_client).delete(request.id)
    launcher.run_once()
    assert nodes.get(node_id) is not None and namespace_exists(namespace)
    finish_node(zk_client, node_id, lock)
    wait_for(lambda: nodes.get(node_id) is None, 30, "the used node's record to go")
    wait_for(lambda: not namespace_exists(namespace), 10, "the node's namespace to go")
    assert launcher.providers[0].nodes() == []


def test_node_of_a_deleted_request_is_deleted(make_launcher, zk_client):
    launcher = make_launcher()
    request = submit(zk_client, "debian")
    done = final(zk_client, request.id)
    node_id = done.node_ids[0]
    NodeRequestStore(zk_client).delete(request.id)
    wait_for(lambda: NodeStore(zk_client).get(node_id) is None, 30, "the orphan node to go")
    assert launcher.providers[0].nodes() == []


def test_busy_provider_makes_requests_wait(make_launcher, zk_client):
    make_launcher(max_servers=1)
    first = submit(zk_client, "debian")
    second = submit(zk_client, "debian")
    done = final(zk_client, first.id)
    assert done.state is NodeRequestState.FULFILLED
    store = NodeRequestStore(zk_client)
    assert store.get(second.id).record.state is NodeRequestState.REQUESTED
    lock = use_node(zk_client, done.node_ids[0])
    finish_node(zk_client, done.node_ids[0], lock)
    assert final(zk_client, second.id).state is NodeRequestState.FULFILLED


def test_two_launchers_never_fulfil_one_request_twice(make_launcher, zk_client):
    a = make_launcher(max_servers=6)
    b = make_launcher(max_servers=6)
    requests = [submit(zk_client, "debian") for _ in range(8)]
    done = [final(zk_client, r.id, timeout=60) for r in requests]
    assert all(d.state is NodeRequestState.FULFILLED for d in done)
    nodes = NodeStore(zk_client)
    all_nodes = [v.record for v in nodes.list()]
    # Exactly one node per request, and every node belongs to the request naming it.
    assert len(all_nodes) == 8
    for d in done:
        assert len(d.node_ids) == 1
        node = nodes.get(d.node_ids[0]).record
        assert node.allocated_to == d.id and node.provider == d.provider
    assert len(a.providers[0].nodes()) + len(b.providers[0].nodes()) == 8
    assert len(results(zk_client)) == 8


def test_restart_cleans_leaks_and_keeps_known_nodes(make_launcher, zk_client, ssh_keypair):
    first = make_launcher()
    request = submit(zk_client, "debian")
    done = final(zk_client, request.id)
    kept = NodeStore(zk_client).get(done.node_ids[0]).record
    state_dir = Path(first.state_dir)
    name = first.providers[0].name
    first.stop()  # its node stays, as after a crash
    # A node made just before the "crash" that never reached ZooKeeper.
    orphan = LocalProvider(
        local_section(name, labels="debian", authorized_keys=ssh_keypair.public), state_dir
    ).create_node("debian")
    assert namespace_exists(orphan.provider_data["namespace"])
    second = make_launcher(state_dir=state_dir, provider=name)
    assert second.stats["leaked"] == 1
    assert not namespace_exists(orphan.provider_data["namespace"])
    assert ssh_run(kept, ssh_keypair, "true").returncode == 0
    assert second.providers[0].nodes() == [kept.provider_data["external_id"]]
    # The re-announcement after restart did not duplicate the result event.
    assert len(results(zk_client)) == 1


def test_graceful_stop_leaves_nodes_in_use_for_the_next_start(
    make_launcher, zk_client, ssh_keypair
):
    """SIGTERM is not the end of the builds: a node a build runs on, one
    handed to a request and not yet used, and a held one all stay, reachable;
    only a node the build is done with goes.  The next start takes them up."""
    from lockgate.model.holds import HoldRequest
    from lockgate.zk import list_components
    from lockgate.zk.holds import HoldRequestStore, hold_build_nodes

    launcher = make_launcher()
    nodes, requests = NodeStore(zk_client), NodeRequestStore(zk_client)
    busy, ready, held, done = (final(zk_client, submit(zk_client, "debian").id) for _ in range(4))
    busy_lock = use_node(zk_client, busy.node_ids[0])
    holds = HoldRequestStore(zk_client)
    hold_id = holds.create(HoldRequest("demo", "org/app", "hello", "look at it"))
    hold_lock = use_node(zk_client, held.node_ids[0])
    assert hold_build_nodes(
        zk_client, tenant="demo", projects=["org/app"], job="hello", ref="refs/heads/main",
        result="FAILURE", build="b-1", nodes=[nodes.get(held.node_ids[0]).record],
    ) is not None  # fmt: skip
    hold_lock.release()
    requests.delete(held.id)
    finish_node(zk_client, done.node_ids[0], use_node(zk_client, done.node_ids[0]))
    kept = {r.node_ids[0]: nodes.get(r.node_ids[0]).record for r in (busy, ready, held)}

    launcher.request_stop()  # what SIGTERM does (lockgate.lifecycle), then stop()
    launcher.stop()

    assert list_components(zk_client, "launcher") == []
    assert nodes.get(done.node_ids[0]) is None
    states = {node_id: nodes.get(node_id).record.state for node_id in kept}
    assert states == {
        busy.node_ids[0]: NodeState.IN_USE,
        ready.node_ids[0]: NodeState.READY,
        held.node_ids[0]: NodeState.HOLD,
    }
    for node in kept.values():
        assert namespace_exists(node.provider_data["namespace"]), node.id
        assert ssh_run(node, ssh_keypair, "true").returncode == 0, node.id

    # The next start (same identity) keeps them, and deletes each when done.
    again = make_launcher(state_dir=Path(launcher.state_dir), provider=launcher.providers[0].name)
    assert again.identity == launcher.identity and again.stats["leaked"] == 0
    again.run_once()
    assert set(kept) <= set(nodes.ids())
    finish_node(zk_client, busy.node_ids[0], busy_lock)
    requests.delete(ready.id)
    holds.delete(hold_id)
    wait_for(lambda: not set(kept) & set(nodes.ids()), 30, "the kept nodes to go once done")
    for node in kept.values():
        wait_for(lambda: not namespace_exists(node.provider_data["namespace"]), 10, "namespace")  # noqa: B023


def test_node_found_dead_at_restart_is_failed_and_deleted(make_launcher, zk_client):
    first = make_launcher()
    done = final(zk_client, submit(zk_client, "debian").id)
    node = NodeStore(zk_client).get(done.node_ids[0]).record
    first.stop()  # the node stays for the next start
    # The node's sandbox dies while no launcher runs (as after a reboot).
    token = node.provider_data["external_id"]
    state = json.loads((first.providers[0].root / token / "node.json").read_text())
    ref = ProcessRef(state["process"]["pid"], state["process"]["start_time"])
    assert kill_and_wait([ref], node.provider_data["namespace"])
    second = make_launcher(state_dir=Path(first.state_dir), provider=node.provider)
    assert second.stats["leaked"] == 0
    wait_for(lambda: NodeStore(zk_client).get(node.id) is None, 30, "the dead node's record to go")
    assert not namespace_exists(node.provider_data["namespace"])


def test_launchers_of_one_machine_share_its_max_servers(make_launcher, zk_client):
    """Two launchers, one machine (the same hostname), a local provider of
    the same name: together never more nodes than max_servers."""
    name = f"t{secrets.token_hex(3)}"
    a = make_launcher(max_servers=2, provider=name)
    b = make_launcher(max_servers=2, provider=name)
    requests = [submit(zk_client, "debian") for _ in range(3)]
    nodes = NodeStore(zk_client)
    wait_for(lambda: len(nodes.ids()) == 2, 60, "two nodes")
    a.run_once()
    b.run_once()
    store = NodeRequestStore(zk_client)
    states = [store.get(r.id).record.state for r in requests]
    assert states.count(NodeRequestState.FULFILLED) == 2, states
    assert len(nodes.ids()) == 2  # the third waits, whichever launcher looks
    scopes = {v.record.provider_data["scope"] for v in nodes.list()}
    assert scopes == {f"{name}@test-launcher"}
    # One node freed: the third request gets one.
    first = next(r for r in requests if store.get(r.id).record.state is NodeRequestState.FULFILLED)
    node_id = store.get(first.id).record.node_ids[0]
    finish_node(zk_client, node_id, use_node(zk_client, node_id))
    third = next(r for r in requests if store.get(r.id).record.state is NodeRequestState.REQUESTED)
    assert final(zk_client, third.id).state is NodeRequestState.FULFILLED
    assert len(nodes.ids()) <= 2


def test_a_dead_launchers_nodes_are_adopted_by_a_peer(make_launcher, zk_client):
    name = f"t{secrets.token_hex(3)}"
    dead = make_launcher(max_servers=1, provider=name)
    request = submit(zk_client, "debian")
    node_id = final(zk_client, request.id).node_ids[0]
    nodes = NodeStore(zk_client)
    node = nodes.get(node_id).record
    lock = use_node(zk_client, node_id)  # a build runs on it
    dead.stop()  # gone: registration and loop; the node in use stays
    peer = make_launcher(max_servers=1, provider=name)
    wait_for(
        lambda: nodes.get(node_id).record.provider_data["launcher"] == peer.identity,
        30,
        "the peer to adopt the node",
    )
    # Still in use: the shared max_servers has no room; nothing touched it.
    waiting = submit(zk_client, "debian")
    peer.run_once()
    assert NodeRequestStore(zk_client).get(waiting.id).record.state is NodeRequestState.REQUESTED
    assert namespace_exists(node.provider_data["namespace"])
    # The build ends: the peer deletes the node from the dead one's directory,
    # and its room serves the waiting request.
    finish_node(zk_client, node_id, lock)
    wait_for(lambda: nodes.get(node_id) is None, 30, "the adopted node to go")
    assert not namespace_exists(node.provider_data["namespace"])
    assert not (Path(node.provider_data["root"]) / node.provider_data["external_id"]).exists()
    assert final(zk_client, waiting.id).state is NodeRequestState.FULFILLED
