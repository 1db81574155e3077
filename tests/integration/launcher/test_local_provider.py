"""The local provider against the real kernel: namespaces, veths, bubblewrap, sshd.

Each test makes real nodes and checks what a job on them can and cannot do;
the ``local_provider`` fixture removes everything by PID afterwards.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import time
from pathlib import Path

import pytest
from lockgate.launcher.providers import CapacityError, Fit
from lockgate.launcher.providers.procs import ProcessRef, kill_and_wait
from lockgate.model.nodes import NodeState

from tests.fixtures.launcher import ssh_run


def tree_digest(root: Path) -> dict[str, str]:
    """Every file under ``root`` with a hash of its content (symlinks by target)."""
    out: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in filenames + dirnames:
            path = Path(dirpath) / name
            rel = str(path.relative_to(root))
            if path.is_symlink():
                out[rel] = "-> " + os.readlink(path)
            elif path.is_file():
                out[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
            else:
                out[rel] = "dir"
    return out


def node_pid(provider, node) -> ProcessRef:  # type: ignore[no-untyped-def]
    import json

    state = json.loads(
        (provider.root / node.provider_data["external_id"] / "node.json").read_text()
    )
    return ProcessRef(state["process"]["pid"], state["process"]["start_time"])


def namespaces() -> set[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    return {line.split()[0] for line in out.splitlines() if line.strip()}


def test_node_is_ready_and_reachable_over_ssh(local_provider, ssh_keypair):
    provider = local_provider()
    node = provider.create_node("debian")
    assert node.state == NodeState.READY
    assert node.label == "debian" and node.provider == provider.name
    assert node.connection_port == 22 and node.username == "root"
    assert node.python_path == "/usr/bin/python3"
    assert node.host_keys and node.host_keys[0].startswith("ssh-ed25519 ")
    result = ssh_run(node, ssh_keypair, "id -u; hostname; /usr/bin/python3 -c 'print(6*7)'")
    assert result.returncode == 0, result.stderr
    uid, hostname, answer = result.stdout.split()
    assert uid == "0"
    assert hostname == node.provider_data["hostname"]
    assert answer == "42"


def test_wrong_key_is_refused(local_provider, tmp_path):
    from tests.fixtures.launcher import make_keypair

    provider = local_provider()
    node = provider.create_node("debian")
    stranger = make_keypair(tmp_path / "stranger")
    result = ssh_run(node, stranger, "true")
    assert result.returncode == 255
    assert "Permission denied" in result.stderr


def test_job_cannot_write_the_hosts_filesystem(local_provider, ssh_keypair, tmp_path):
    provider = local_provider()
    node = provider.create_node("debian")
    host_file = tmp_path / "host-owned.txt"
    host_file.write_text("original\n")
    passwd_before = Path("/etc/passwd").read_bytes()
    probe = Path("/etc/lockgate-node-probe")
    assert not probe.exists()
    script = f"""
        echo pwned > {host_file}
        mkdir -p {tmp_path} && echo pwned > {host_file}
        echo pwned > {probe}
        echo 'pwned:x:0:0::/:/bin/sh' >> /etc/passwd && echo passwd-written
        touch /usr/lockgate-node-probe && echo usr-written
        mount -t tmpfs none /mnt 2>/dev/null && echo mounted
        exit 0
    """
    result = ssh_run(node, ssh_keypair, script)
    assert result.returncode == 0, result.stderr
    # The writes that "succeeded" landed in the node's own root, not the host's.
    assert host_file.read_text() == "original\n"
    assert not probe.exists()
    assert Path("/etc/passwd").read_bytes() == passwd_before
    assert not Path("/usr/lockgate-node-probe").exists()
    assert "passwd-written" not in result.stdout
    assert "usr-written" not in result.stdout
    assert "mounted" not in result.stdout
    node_root = provider.root / node.provider_data["external_id"] / "fs"
    assert (node_root / str(host_file).lstrip("/")).read_text() == "pwned\n"


def test_job_cannot_touch_another_node(local_provider, ssh_keypair):
    provider = local_provider()
    a = provider.create_node("debian")
    b = provider.create_node("debian")
    b_dir = provider.root / b.provider_data["external_id"]
    assert ssh_run(b, ssh_keypair, "echo mine > /root/owned-by-b").returncode == 0
    before = tree_digest(b_dir / "fs")  # (sshd.log beside it grows with every login)
    script = f"""
        mkdir -p {b_dir}/fs/root && echo pwned > {b_dir}/fs/root/owned-by-b
        echo pwned > {b_dir}/fs/tmp/from-a
        ls /proc | grep -c '^[0-9]'
        timeout 3 bash -c 'echo > /dev/tcp/{b.interface_ip}/22' && echo reached-b
        ip route add default via {a.provider_data["host_ip"]} 2>/dev/null && echo route-added
        timeout 3 bash -c 'echo > /dev/tcp/{b.interface_ip}/22' && echo reached-b-after-route
        exit 0
    """
    result = ssh_run(a, ssh_keypair, script)
    assert result.returncode == 0, result.stderr
    assert "reached-b" not in result.stdout
    assert "route-added" not in result.stdout
    assert tree_digest(b_dir / "fs") == before
    assert ssh_run(b, ssh_keypair, "cat /root/owned-by-b").stdout == "mine\n"
    # A sees only its own processes (bwrap's init, sshd, the session): few, not the host's.
    visible = int(result.stdout.split()[0])
    assert visible < 15, result.stdout


def test_delete_leaves_nothing_behind(local_provider, ssh_keypair):
    provider = local_provider()
    node = provider.create_node("debian")
    # A job leaves a background process behind on the node.
    assert ssh_run(node, ssh_keypair, "nohup sleep 600 >/dev/null 2>&1 &").returncode == 0
    namespace = node.provider_data["namespace"]
    host_if = node.provider_data["host_interface"]
    ref = node_pid(provider, node)
    node_dir = provider.root / node.provider_data["external_id"]
    assert namespace in namespaces() and ref.alive() and node_dir.is_dir()
    provider.delete_node(node)
    assert namespace not in namespaces()
    assert not Path(f"/sys/class/net/{host_if}").exists()
    assert not ref.alive()
    assert not node_dir.exists()
    assert provider.nodes() == []
    provider.delete_node(node)  # deleting again is harmless


def test_max_servers_and_labels(local_provider):
    provider = local_provider(labels="debian, bookworm", max_servers=2)
    assert provider.labels == {"debian", "bookworm"}
    assert provider.fits(["debian", "bookworm"]) is Fit.NOW
    assert provider.fits(["ubuntu"]) is Fit.NEVER
    assert provider.fits(["debian"] * 3) is Fit.NEVER
    provider.create_node("debian")
    assert provider.fits(["debian"]) is Fit.NOW
    assert provider.fits(["debian", "debian"]) is Fit.LATER
    node = provider.create_node("bookworm")
    with pytest.raises(CapacityError, match="max_servers"):
        provider.create_node("debian")
    provider.delete_node(node)
    assert provider.fits(["debian"]) is Fit.NOW


def test_cleanup_after_a_crashed_launcher(local_provider, ssh_keypair):
    provider = local_provider(max_servers=5)
    kept = provider.create_node("debian")
    leaked = [provider.create_node("debian") for _ in range(2)]
    leaked_refs = [node_pid(provider, n) for n in leaked]
    state_dir = provider.root.parent.parent
    # The launcher "crashes": its provider object is gone, the nodes remain.
    provider.close()
    del provider
    fresh = local_provider(state_dir=state_dir, name=kept.provider)
    removed = fresh.cleanup_leaked([kept.provider_data["external_id"]])
    assert sorted(removed) == sorted(n.provider_data["external_id"] for n in leaked)
    left = namespaces()
    for node, ref in zip(leaked, leaked_refs, strict=True):
        assert node.provider_data["namespace"] not in left
        assert not ref.alive()
        assert not (fresh.root / node.provider_data["external_id"]).exists()
    # The known node was adopted: still running, counted, deletable.
    assert ssh_run(kept, ssh_keypair, "true").returncode == 0
    assert fresh.nodes() == [kept.provider_data["external_id"]]
    fresh.delete_node(kept)
    assert kept.provider_data["namespace"] not in namespaces()


def test_cleanup_of_a_half_made_node(local_provider):
    """A crash between writing node.json and finishing the node: the
    namespace exists but no sandbox; cleanup still removes it."""
    provider = local_provider()
    node = provider.create_node("debian")
    token = node.provider_data["external_id"]
    ref = node_pid(provider, node)
    ref.kill()
    (provider.root / token / "node.json").unlink()
    fresh = local_provider(state_dir=provider.root.parent.parent, name=provider.name)
    assert fresh.cleanup_leaked([]) == [token]
    assert node.provider_data["namespace"] not in namespaces()
    assert not (provider.root / token).exists()


def test_create_and_delete_times_are_reported(local_provider):
    """Not a timing assertion: prints the figures for the launcher's doc."""
    provider = local_provider(max_servers=5)
    creates, deletes = [], []
    for _ in range(5):
        start = time.monotonic()
        node = provider.create_node("debian")
        creates.append(time.monotonic() - start)
        start = time.monotonic()
        provider.delete_node(node)
        deletes.append(time.monotonic() - start)
    creates.sort()
    deletes.sort()
    print(f"local node create median {creates[2]:.3f}s, delete median {deletes[2]:.3f}s")
    assert provider.nodes() == []


def test_job_cannot_reach_services_of_the_host(local_provider, ssh_keypair):
    """A service listening on every host address (0.0.0.0) is out of reach:
    no connection may start from a node."""
    import socket

    provider = local_provider()
    node = provider.create_node("debian")
    listener = socket.socket()
    try:
        listener.bind(("0.0.0.0", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        host_ip = node.provider_data["host_ip"]
        script = f"""
            timeout 3 bash -c 'echo > /dev/tcp/{host_ip}/{port}' && echo reached-host
            timeout 3 bash -c 'echo > /dev/tcp/{node.interface_ip}/22' && echo own-loopback-ok
            exit 0
        """
        result = ssh_run(node, ssh_keypair, script)
        assert result.returncode == 0, result.stderr
        assert "reached-host" not in result.stdout
        assert "own-loopback-ok" in result.stdout  # the node's own loopback still works
        listener.settimeout(0.5)
        with pytest.raises(TimeoutError):
            listener.accept()
    finally:
        listener.close()


def test_cleanup_removes_a_known_node_whose_sandbox_died(local_provider):
    """After a reboot (or anything killing the sandbox) a known node is
    useless: cleanup removes it too and reports it."""
    provider = local_provider()
    alive = provider.create_node("debian")
    dead = provider.create_node("debian")
    assert kill_and_wait([node_pid(provider, dead)], dead.provider_data["namespace"])
    fresh = local_provider(state_dir=provider.root.parent.parent, name=provider.name)
    known = [alive.provider_data["external_id"], dead.provider_data["external_id"]]
    assert fresh.cleanup_leaked(known) == [dead.provider_data["external_id"]]
    assert dead.provider_data["namespace"] not in namespaces()
    assert fresh.nodes() == [alive.provider_data["external_id"]]
