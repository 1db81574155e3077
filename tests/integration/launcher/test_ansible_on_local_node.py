"""Ansible, as the executor will run it, against a local node: ``ansible -m
ping`` and a playbook whose task tries to escape the node."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.fixtures.launcher import known_hosts_file

BIN = Path(sys.executable).parent


def ansible_env(tmp: Path, known_hosts: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        ANSIBLE_HOME=str(tmp / "ansible-home"),
        ANSIBLE_LOCAL_TEMP=str(tmp / "ansible-tmp"),
        # No ControlPersist: its mux processes would outlive the node.
        ANSIBLE_SSH_ARGS=f"-o ControlMaster=no -o UserKnownHostsFile={known_hosts}",
        ANSIBLE_HOST_KEY_CHECKING="True",
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_RETRY_FILES_ENABLED="False",
    )
    return env


def inventory(tmp: Path, node, key) -> Path:  # type: ignore[no-untyped-def]
    path = tmp / "inventory.ini"
    path.write_text(
        f"node ansible_host={node.interface_ip} ansible_port={node.connection_port} "
        f"ansible_user={node.username} ansible_python_interpreter={node.python_path} "
        f"ansible_ssh_private_key_file={key.private}\n"
    )
    return path


def test_ansible_ping_and_playbook(local_provider, ssh_keypair, tmp_path):
    provider = local_provider()
    node = provider.create_node("debian")
    inv = inventory(tmp_path, node, ssh_keypair)
    env = ansible_env(tmp_path, known_hosts_file(node, tmp_path))

    ping = subprocess.run(
        [str(BIN / "ansible"), "-i", str(inv), "node", "-m", "ping"],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert ping.returncode == 0, ping.stdout + ping.stderr
    assert '"ping": "pong"' in ping.stdout

    host_file = tmp_path / "host-file.txt"
    host_file.write_text("untouched\n")
    playbook = tmp_path / "escape.yaml"
    playbook.write_text(
        f"""
- hosts: node
  gather_facts: true
  tasks:
    - name: write on the node
      copy:
        content: "from the playbook\\n"
        dest: /root/marker.txt
    - name: try to overwrite a host file
      shell: mkdir -p {tmp_path} && echo overwritten > {host_file}
    - name: report where we are
      debug:
        msg: "MARKER {{{{ ansible_hostname }}}} {{{{ ansible_distribution }}}}"
"""
    )
    run = subprocess.run(
        [str(BIN / "ansible-playbook"), "-i", str(inv), str(playbook)],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"MARKER {node.provider_data['hostname']}" in run.stdout
    node_root = provider.root / node.provider_data["external_id"] / "fs"
    assert (node_root / "root/marker.txt").read_text() == "from the playbook\n"
    assert host_file.read_text() == "untouched\n"
    # No ssh mux process is left holding on to the node: it deletes cleanly.
    provider.delete_node(node)
    assert not Path(f"/run/netns/{node.provider_data['namespace']}").exists()
