"""The inventory built from a job's nodeset and the provisioned nodes."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from lockgate.executor.inventory import InventoryError, build_inventory, write_inventory
from lockgate.model.jobs import FrozenJob, NodeSpec
from lockgate.model.nodes import Node

KH = Path("/b/ansible/known_hosts")
TMP = Path("/b/tmp/ansible-remote")


def node(ip: str, port: int = 22, keys=("ssh-ed25519 AAAAkey1 comment",), **kw) -> Node:
    return Node(
        label="debian",
        provider="local",
        id=f"n-{ip}",
        interface_ip=ip,
        connection_port=port,
        username="zuul",
        host_keys=list(keys),
        python_path="/usr/bin/python3",
        **kw,
    )


def build(job, nodes):
    return build_inventory(
        job, nodes, local_python="/venv/bin/python", known_hosts_file=KH, local_tmp=TMP
    )


def test_nodes_groups_and_vars():
    job = FrozenJob(
        name="j",
        nodes=[
            NodeSpec(name=["controller", "primary"], label="debian"),
            NodeSpec(name=["compute"], label="debian"),
        ],
        groups=[{"name": "all-compute", "nodes": ["compute"]}],
        vars={"v": 1},
        host_vars={"compute": {"hv": 2}},
        group_vars={"all-compute": {"gv": 3}},
    )
    inv = build(job, [node("10.0.0.1"), node("10.0.0.2", port=2022)])
    hosts = inv.data["all"]["hosts"]
    assert set(hosts) == {"controller", "primary", "compute"}
    c = hosts["controller"]
    assert c["ansible_host"] == "10.0.0.1" and c["ansible_port"] == 22
    assert c["ansible_user"] == "zuul"
    assert c["ansible_python_interpreter"] == "/usr/bin/python3"
    assert c["ansible_connection"] == "ssh"
    assert "StrictHostKeyChecking=yes" in c["ansible_ssh_common_args"]
    assert f"UserKnownHostsFile={KH}" in c["ansible_ssh_common_args"]
    assert c["nodepool"]["label"] == "debian"
    assert "ansible_ssh_private_key_file" not in c  # the key is in the agent only
    assert hosts["primary"]["ansible_host"] == "10.0.0.1"
    assert hosts["compute"]["hv"] == 2
    assert inv.data["all"]["children"]["all-compute"] == {
        "hosts": {"compute": None},
        "vars": {"gv": 3},
    }
    assert inv.data["all"]["vars"]["v"] == 1
    assert inv.data["all"]["vars"]["ansible_python_interpreter"] == "/venv/bin/python"
    assert inv.remote is True
    assert inv.known_hosts == [
        "10.0.0.1 ssh-ed25519 AAAAkey1",
        "[10.0.0.2]:2022 ssh-ed25519 AAAAkey1",
    ]


def test_empty_nodeset_gets_local_localhost():
    inv = build(FrozenJob(name="j"), [])
    assert inv.data["all"]["hosts"] == {
        "localhost": {
            "ansible_connection": "local",
            "ansible_python_interpreter": "/venv/bin/python",
            "ansible_remote_tmp": str(TMP),
        }
    }
    assert inv.remote is False


def test_node_without_host_keys_skips_checking():
    job = FrozenJob(name="j", nodes=[NodeSpec(name=["n"], label="debian")])
    inv = build(job, [node("10.0.0.1", keys=())])
    assert "StrictHostKeyChecking=no" in inv.data["all"]["hosts"]["n"]["ansible_ssh_common_args"]


@pytest.mark.parametrize(
    ("job", "nodes", "message"),
    [
        (FrozenJob(name="j", nodes=[NodeSpec(name=["a"], label="x")]), [], "needs 1 node"),
        (
            FrozenJob(
                name="j",
                nodes=[NodeSpec(name=["a"], label="x")],
                groups=[{"name": "g", "nodes": ["b"]}],
            ),
            [node("1.2.3.4")],
            "unknown node(s) b",
        ),
        (FrozenJob(name="j", nodes=[NodeSpec(name=["a"], label="x")]), [node("")], "no address"),
    ],
)
def test_mismatches_are_clear_errors(job, nodes, message):
    with pytest.raises(InventoryError, match=message.replace("(", r"\(").replace(")", r"\)")):
        build(job, nodes)


def test_write_inventory(tmp_path):
    job = FrozenJob(name="j", nodes=[NodeSpec(name=["n"], label="debian")])
    inv = build(job, [node("10.0.0.1")])
    write_inventory(inv, tmp_path / "inventory.yaml", tmp_path / "known_hosts")
    assert yaml.safe_load((tmp_path / "inventory.yaml").read_text()) == inv.data
    assert (tmp_path / "known_hosts").read_text() == "10.0.0.1 ssh-ed25519 AAAAkey1\n"
