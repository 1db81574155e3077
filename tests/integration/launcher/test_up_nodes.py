"""``lockgate up`` removes its local nodes when it stops: a launcher's
graceful stop leaves the nodes builds run on (for a peer or its next start
to take over), but ``up`` owns the machine's whole system and must not
leave namespaces and sshd behind (``lockgate.up.nodes``)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from lockgate.up.nodes import remove_local_nodes


def namespaces() -> set[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    return {line.split()[0] for line in out.splitlines() if line.strip()}


def test_every_local_node_of_each_copy_is_removed(local_provider, ssh_keypair, tmp_path):
    copies = {1: tmp_path / "launcher", 2: tmp_path / "launcher-2"}
    nodes = []
    for k, state_dir in copies.items():
        provider = local_provider(state_dir=state_dir, name="local")
        nodes.append(provider.create_node("debian"))  # in use when up stopped
        config = tmp_path / ("lockgate.conf" if k == 1 else f"lockgate-{k}.conf")
        config.write_text(
            f"[launcher]\nstate_dir = {state_dir}\n\n"
            f"[provider local]\ndriver = local\nlabels = debian\n"
            f"authorized_keys = {ssh_keypair.public}\n"
        )
    assert {n.provider_data["namespace"] for n in nodes} <= namespaces()

    removed = remove_local_nodes(tmp_path / "lockgate.conf", replicas=2)

    assert sorted(removed) == sorted(n.provider_data["external_id"] for n in nodes)
    left = namespaces()
    for node, state_dir in zip(nodes, copies.values(), strict=True):
        assert node.provider_data["namespace"] not in left
        assert not (
            Path(state_dir) / "local" / "local" / node.provider_data["external_id"]
        ).exists()


def test_a_system_that_made_no_node_is_left_alone(tmp_path):
    config = tmp_path / "lockgate.conf"
    config.write_text(f"[launcher]\nstate_dir = {tmp_path / 'launcher'}\n")
    assert remove_local_nodes(config, replicas=1) == []
