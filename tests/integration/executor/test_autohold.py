# ruff: noqa: F811  (the executor fixture is imported by name and used as a parameter)
"""An executor finishing a failing build that an autohold request matches
holds its node (HOLD, with the request's reason), not USED; the request
counts it.  Real Ansible on a real SSH node, real ZooKeeper."""

from __future__ import annotations

import dataclasses

from lockgate.model.holds import HoldRequest
from lockgate.model.jobs import NodeSpec
from lockgate.model.nodes import NodeState
from lockgate.zk import BuildRequestStore, NodeStore
from lockgate.zk.holds import HoldRequestStore

from tests.fixtures.executor import make_request, playbooks
from tests.fixtures.waiting import wait_for
from tests.integration.executor.test_server import _completed

FAIL = """
- hosts: all
  gather_facts: false
  tasks:
    - command: /bin/false
"""


def run_failing_build(zk_client, ex, tree, sshd_node):  # noqa: ANN001, ANN201
    nodes = NodeStore(zk_client)
    node_id = nodes.create(dataclasses.replace(sshd_node.node, id=""))
    request = make_request(
        tree,
        run=playbooks(tree, ["run.yaml"]),
        nodes=[NodeSpec(name=["controller"], label="test-node")],
    )
    request.node_ids = [node_id]
    store = BuildRequestStore(zk_client, "default")
    store.submit(request)
    done = wait_for(lambda: _completed(store, request.uuid), 120, "the build to complete")
    assert done.result == "FAILURE", done.error_detail
    return request, nodes.get(node_id).record


def test_a_matching_failing_build_holds_its_node(zk_client, executor, upstream, sshd_node):
    ex = executor(private_key_file=str(sshd_node.key.private))
    holds = HoldRequestStore(zk_client)
    hold_id = holds.create(
        HoldRequest("example", "org/app", "test-job", "why does it fail?", node_expiration=60)
    )
    tree = upstream.create("org/app", {"run.yaml": FAIL})
    request, node = run_failing_build(zk_client, ex, tree, sshd_node)
    assert node.state is NodeState.HOLD
    assert node.hold_request == hold_id and node.comment == "why does it fail?"
    assert node.hold_expiration == 60 and node.held_at is not None
    assert not NodeStore(zk_client).is_locked(node.id)
    hold = holds.get(hold_id).record
    assert hold.current_count == 1
    assert hold.nodes == [{"build": request.uuid, "nodes": [node.id]}]
    # Used up: the next failing build's node is given back as usual.
    _, again = run_failing_build(zk_client, ex, tree, sshd_node)
    assert again.state is NodeState.USED
