"""The executor process against a real ZooKeeper (TLS): claiming build
requests, running them with real Ansible, nodes, results and events."""

from __future__ import annotations

import dataclasses

from lockgate.executor.server import Executor
from lockgate.model.builds import BuildState
from lockgate.model.jobs import NodeSpec
from lockgate.model.node_admin import AdminNodeState, set_node_state
from lockgate.model.nodes import NodeState
from lockgate.zk import BuildRequestStore, NodeStore, list_components, result_queue

from tests.fixtures.executor import make_config, make_request, playbooks
from tests.fixtures.waiting import wait_for

OK = """
- hosts: all
  gather_facts: false
  tasks:
    - command: echo SERVER-MARKER-{{ inventory_hostname }}
"""
SLOW = """
- hosts: all
  gather_facts: false
  tasks:
    - command: sleep 3603
"""


def _completed(store, uuid):
    found = store.get(uuid)
    return found.record if found and found.record.state is BuildState.COMPLETED else None


def _start_slow_build(zk_client, ex, upstream):
    """Submit a build whose playbook runs for an hour; return (store, request)
    once the playbook has started on ``ex``."""
    tree = upstream.create("org/app", {"run.yaml": SLOW})
    request = make_request(tree, run=playbooks(tree, ["run.yaml"]))
    store = BuildRequestStore(zk_client, "default")
    store.submit(request)
    wait_for(lambda: "TASK [command]" in _console(ex, request), 60, "the playbook to start")
    return store, request


def _events(zk_client, tenant):
    return [
        (e["kind"], e["request_id"], e.get("result"))
        for _id, e in result_queue(zk_client, tenant).list()
    ]


def test_submitted_request_is_claimed_run_and_completed(zk_client, executor, upstream, tmp_path):
    leftover = tmp_path / "executor-state" / "builds" / "dead-build" / "work"
    leftover.mkdir(parents=True)
    ex = executor()
    assert not leftover.parent.exists(), "a killed executor's build directory is removed"
    tree = upstream.create("org/app", {"run.yaml": OK})
    request = make_request(tree, run=playbooks(tree, ["run.yaml"]))
    store = BuildRequestStore(zk_client, "default")
    store.submit(request)
    done = wait_for(lambda: _completed(store, request.uuid), 120, "the build to complete")
    assert done.result == "SUCCESS", done.error_detail
    assert done.worker == ex.component.name
    assert done.log_url == f"http://127.0.0.1:9000/logs/{request.uuid}/"
    assert done.start_time and done.end_time and done.end_time >= done.start_time
    # The lock goes right after the result is written.
    wait_for(lambda: not store.is_locked(request.uuid), 10, "the request's lock to go")
    console = (ex.settings.log_root / request.uuid / "job-output.txt").read_text()
    assert "localhost | SERVER-MARKER-localhost" in console
    events = wait_for(
        lambda: len(_events(zk_client, "example")) >= 2 and _events(zk_client, "example"),
        10,
        "result events",
    )
    assert events == [
        ("build-started", request.uuid, None),
        ("build-completed", request.uuid, "SUCCESS"),
    ]
    [info] = list_components(zk_client, "executor")
    assert info.state["zone"] == "default"


def test_build_on_a_node_locks_it_and_leaves_it_used(zk_client, executor, upstream, sshd_node):
    ex = executor(private_key_file=str(sshd_node.key.private))
    nodes = NodeStore(zk_client)
    node_id = nodes.create(dataclasses.replace(sshd_node.node, id=""))
    tree = upstream.create("org/app", {"run.yaml": OK})
    request = make_request(
        tree,
        run=playbooks(tree, ["run.yaml"]),
        nodes=[NodeSpec(name=["controller"], label="test-node")],
    )
    request.node_ids = [node_id]
    store = BuildRequestStore(zk_client, "default")
    store.submit(request)
    wait_for(lambda: nodes.get(node_id).record.state.value == "in-use", 60, "node IN_USE")
    assert nodes.is_locked(node_id)
    done = wait_for(lambda: _completed(store, request.uuid), 120, "the build to complete")
    assert done.result == "SUCCESS", done.error_detail
    assert nodes.get(node_id).record.state.value == "used"
    assert not nodes.is_locked(node_id)
    assert (
        "controller | SERVER-MARKER-controller"
        in (ex.settings.log_root / request.uuid / "job-output.txt").read_text()
    )


def test_missing_node_is_node_failure(zk_client, executor, upstream):
    executor()
    tree = upstream.create("org/app", {"run.yaml": OK})
    request = make_request(
        tree,
        run=playbooks(tree, ["run.yaml"]),
        nodes=[NodeSpec(name=["controller"], label="test-node")],
    )
    request.node_ids = ["0000099999"]
    store = BuildRequestStore(zk_client, "default")
    store.submit(request)
    done = wait_for(lambda: _completed(store, request.uuid), 60, "the build to complete")
    assert done.result == "NODE_FAILURE"
    assert "0000099999" in done.error_detail


def test_a_node_held_before_its_build_starts_is_node_failure_and_stays_held(
    zk_client, executor, upstream, sshd_node
):
    executor(private_key_file=str(sshd_node.key.private))
    nodes = NodeStore(zk_client)
    node_id = nodes.create(dataclasses.replace(sshd_node.node, id=""))
    found = nodes.get(node_id)
    held = set_node_state(
        found.record, AdminNodeState.HOLD, tenant="example", by="admin alice", now=1.0
    )
    nodes.update(held, found.version)  # as node-set-state writes it
    tree = upstream.create("org/app", {"run.yaml": OK})
    request = make_request(
        tree,
        run=playbooks(tree, ["run.yaml"]),
        nodes=[NodeSpec(name=["controller"], label="test-node")],
    )
    request.node_ids = [node_id]
    store = BuildRequestStore(zk_client, "default")
    store.submit(request)
    done = wait_for(lambda: _completed(store, request.uuid), 60, "the build to complete")
    assert done.result == "NODE_FAILURE"
    assert done.error_detail == (
        f"node {node_id} is held (held by admin alice): not used for this build"
    )
    wait_for(lambda: not nodes.is_locked(node_id), 10, "the node's lock to go")
    after = nodes.get(node_id).record
    assert after.state is NodeState.HOLD and after.comment == "held by admin alice"


def test_cancel_requested_aborts_the_running_build(zk_client, executor, upstream):
    ex = executor()
    store, request = _start_slow_build(zk_client, ex, upstream)
    found = store.get(request.uuid)
    found.record.cancel_requested = True
    store.update(found.record, found.version)
    done = wait_for(lambda: _completed(store, request.uuid), 60, "the build to complete")
    assert done.result == "ABORTED"
    assert done.error_detail == "canceled"


def test_cancel_by_uuid(zk_client, executor, upstream):
    ex = executor()
    store, request = _start_slow_build(zk_client, ex, upstream)
    assert ex.cancel(request.uuid)
    done = wait_for(lambda: _completed(store, request.uuid), 60, "the build to complete")
    assert done.result == "ABORTED"


def test_stop_leaves_the_request_for_resubmission(zk_client, executor, upstream):
    ex = executor()
    store, request = _start_slow_build(zk_client, ex, upstream)
    ex.stop()
    record = store.get(request.uuid).record
    assert record.state is BuildState.RUNNING and record.result is None
    assert [v.record.uuid for v in store.orphaned()] == [request.uuid]
    assert [e[0] for e in _events(zk_client, "example")] == ["build-started"]
    assert list_components(zk_client, "executor") == []


def test_max_builds_limits_concurrent_claims(zk_client, executor, upstream):
    ex = executor(max_builds="1")
    tree = upstream.create("org/app", {"run.yaml": SLOW})
    store = BuildRequestStore(zk_client, "default")
    first = make_request(tree, run=playbooks(tree, ["run.yaml"]))
    second = make_request(tree, run=playbooks(tree, ["run.yaml"]))
    store.submit(first)
    wait_for(lambda: "TASK [command]" in _console(ex, first), 60, "the first playbook to start")
    scans = ex.scans
    store.submit(second)
    # The dispatcher looks again (the watch fires) but does not claim it.
    # (Two scans: one may have been under way when the request arrived.)
    wait_for(lambda: ex.scans > scans + 1, 30, "the dispatcher to scan")
    assert ex.running == [first.uuid]
    assert store.get(second.uuid).record.state is BuildState.REQUESTED
    ex.cancel(first.uuid)
    wait_for(lambda: second.uuid in ex.running, 60, "the second build to be claimed")
    ex.cancel(second.uuid)
    wait_for(lambda: _completed(store, second.uuid), 60, "the second build to complete")


def _console(ex, request) -> str:
    path = ex.settings.log_root / request.uuid / "job-output.txt"
    return path.read_text() if path.exists() else ""


def test_lost_session_drops_the_build_without_a_result(
    zk_server, zk_connect, zk_client, upstream, tmp_path
):
    from tests.fixtures.zk import expire_session

    own = zk_connect()
    ex = Executor(make_config(tmp_path), client=own)
    ex.start()
    try:
        tree = upstream.create("org/app", {"run.yaml": SLOW.replace("3603", "3606")})
        request = make_request(tree, run=playbooks(tree, ["run.yaml"]))
        store = BuildRequestStore(zk_client, "default")
        store.submit(request)
        wait_for(lambda: "TASK [command]" in _console(ex, request), 60, "the playbook to start")
        expire_session(zk_server, own)
        wait_for(lambda: not ex.running, 60, "the build to be dropped")
        record = store.get(request.uuid).record
        assert record.state is BuildState.RUNNING and record.result is None
        assert not store.is_locked(request.uuid)
        # The executor is registered again in its new session, ready for work.
        wait_for(lambda: list_components(zk_client, "executor"), 30, "re-registration")
    finally:
        ex.stop()


def test_request_canceled_before_it_started_is_canceled(zk_client, executor, upstream):
    ex = executor()
    tree = upstream.create("org/app", {"run.yaml": OK})
    request = make_request(tree, run=playbooks(tree, ["run.yaml"]))
    request.cancel_requested = True
    store = BuildRequestStore(zk_client, "default")
    store.submit(request)
    done = wait_for(lambda: _completed(store, request.uuid), 60, "the request to complete")
    assert done.result == "CANCELED"
    assert not (ex.settings.log_root / request.uuid).exists(), "nothing ran"
    events = wait_for(lambda: _events(zk_client, "example"), 10, "the result event")
    assert events == [("build-completed", request.uuid, "CANCELED")]
