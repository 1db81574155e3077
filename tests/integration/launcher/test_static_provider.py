"""The static provider against a host made by hand: a plain sshd in a network
namespace of the test's own (not a local-provider node)."""

from __future__ import annotations

import ipaddress
import os
import secrets
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from lockgate.launcher.providers import CapacityError, Fit, LaunchError, StaticProvider
from lockgate.launcher.providers import netns as netns_mod
from lockgate.launcher.providers.procs import netns_pids
from lockgate.service_config import Section

from tests.fixtures.launcher import ssh_run
from tests.fixtures.waiting import wait_for


@dataclass
class Host:
    address: str
    port: int
    host_key: str  # "ssh-ed25519 AAAA..."
    process: subprocess.Popen[bytes]


def _listening(address: str, port: int) -> bool:
    import socket

    try:
        with socket.create_connection((address, port), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.fixture
def static_host(tmp_path: Path, ssh_keypair) -> Iterator[Host]:  # type: ignore[no-untyped-def]
    token = secrets.token_hex(4)
    namespace, host_if, node_if = f"lgtest-{token}", f"lt{token}h", f"lt{token}n"
    net = netns_mod.create(namespace, host_if, node_if, ipaddress.IPv4Network("10.203.0.0/16"))
    process = None
    try:
        key = tmp_path / "host_key"
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
        os.makedirs("/run/sshd", exist_ok=True)
        config = tmp_path / "sshd_config"
        config.write_text(
            f"ListenAddress {net.node_ip}\nPort 2022\nHostKey {key}\n"
            f"PidFile {tmp_path}/sshd.pid\nAuthorizedKeysFile {ssh_keypair.public}\n"
            "UsePAM no\nPasswordAuthentication no\nStrictModes no\n"
        )
        process = subprocess.Popen(
            ["ip", "netns", "exec", namespace, "/usr/sbin/sshd", "-D", "-e", "-f", str(config)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        wait_for(lambda: _listening(net.node_ip, 2022), 10, "the hand-made sshd")
        public = " ".join(key.with_suffix(".pub").read_text().split()[:2])
        yield Host(net.node_ip, 2022, public, process)
    finally:
        if process is not None:
            process.kill()
            process.wait()
        for pid in netns_pids(namespace):
            os.kill(pid, signal.SIGKILL)
        wait_for(lambda: not netns_pids(namespace), 10, "the namespace to empty")
        netns_mod.remove(namespace, host_if)


def section(**values: str) -> Section:
    return Section("/etc/lockgate/lockgate.conf", "provider hosts", {"driver": "static", **values})


def test_hands_out_the_host_once_and_takes_it_back(static_host, ssh_keypair):
    provider = StaticProvider(
        section(nodes=f"{static_host.address} labels=debian port={static_host.port}")
    )
    assert provider.fits(["debian"]) is Fit.NOW
    node = provider.create_node("debian")
    assert node.interface_ip == static_host.address
    assert node.connection_port == static_host.port
    assert static_host.host_key in node.host_keys  # read with ssh-keyscan
    assert node.provider_data["external_id"] == f"{static_host.address}:{static_host.port}"
    result = ssh_run(node, ssh_keypair, "echo on-the-static-host")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "on-the-static-host\n"
    # One build at a time.
    assert provider.fits(["debian"]) is Fit.LATER
    with pytest.raises(CapacityError):
        provider.create_node("debian")
    provider.delete_node(node)
    # Given back, not deleted: the host still serves, and is free again.
    assert static_host.process.poll() is None
    assert provider.fits(["debian"]) is Fit.NOW
    again = provider.create_node("debian")
    assert ssh_run(again, ssh_keypair, "true").returncode == 0


def test_restart_keeps_hosts_of_known_nodes_in_use(static_host):
    line = f"{static_host.address} labels=debian port={static_host.port} name=builder"
    provider = StaticProvider(section(nodes=line))
    node = provider.create_node("debian")
    restarted = StaticProvider(section(nodes=line))
    assert restarted.cleanup_leaked([node.provider_data["external_id"]]) == []
    assert restarted.in_use() == ["builder"]
    assert restarted.fits(["debian"]) is Fit.LATER
    assert restarted.cleanup_leaked([]) == []
    assert restarted.fits(["debian"]) is Fit.NOW


def test_host_key_file_is_used_instead_of_a_scan(static_host, tmp_path):
    keys = tmp_path / "known.pub"
    keys.write_text(static_host.host_key + " comment\n")
    provider = StaticProvider(
        section(nodes=f"{static_host.address} port={static_host.port} host_key_file={keys}",
                labels="debian")
    )  # fmt: skip
    assert provider.create_node("debian").host_keys == [static_host.host_key]


def test_unreachable_host_fails_to_launch_and_stays_free(static_host):
    provider = StaticProvider(
        section(nodes=f"{static_host.address} labels=debian port=2999", connect_timeout="2")
    )
    with pytest.raises(LaunchError, match="no SSH host key"):
        provider.create_node("debian")
    assert provider.in_use() == []


def test_two_launchers_never_hand_out_one_host_twice(static_host, zk_connect, tmp_path):
    """The same static provider in two launchers' configs (two machines, or
    two copies on one): one host serves one build at a time, whichever
    launcher hands it out; a launcher that dies leaves its host to a peer."""
    from lockgate.launcher.server import Launcher
    from lockgate.model.nodes import NodeRequest, NodeRequestState, NodeState
    from lockgate.service_config import ServiceConfig
    from lockgate.zk import NodeRequestStore, NodeStore

    def launcher(name: str) -> Launcher:
        config = ServiceConfig.parse(
            f"[launcher]\nstate_dir = {tmp_path / name}\nhostname = {name}\n\n"
            "[provider hosts]\ndriver = static\n"
            f"nodes = {static_host.address} labels=debian port={static_host.port}\n",
            f"/test/{name}.conf",
        )
        made = Launcher(config, client=zk_connect())
        made.start()
        return made

    client = zk_connect()
    requests, nodes = NodeRequestStore(client), NodeStore(client)

    def submit() -> str:
        request = NodeRequest(["debian"], "demo", "check", secrets.token_hex(8), "job", "e")
        return requests.submit(request)

    def state(request_id: str) -> NodeRequestState:
        return requests.get(request_id).record.state

    first, second = launcher("one"), launcher("two")
    try:
        ids = [submit(), submit()]
        wait_for(lambda: NodeRequestState.FULFILLED in map(state, ids), 30, "one fulfilled")
        first.run_once()
        second.run_once()
        assert sorted(map(state, ids)) == sorted(
            [NodeRequestState.FULFILLED, NodeRequestState.REQUESTED]
        )
        (node,) = [v.record for v in nodes.list()]
        # The launcher that handed the host out dies; the other adopts it,
        # and hands it out again only once the build on it is done.
        holder, peer = (first, second) if node.provider_data["launcher"] == first.identity else (
            second, first)  # fmt: skip
        lock = nodes.lock(node.id)
        holder.stop()  # the host in use stays handed out
        wait_for(
            lambda: nodes.get(node.id).record.provider_data["launcher"] == peer.identity,
            30,
            "the peer to adopt the host",
        )
        peer.run_once()
        waiting = next(i for i in ids if state(i) is NodeRequestState.REQUESTED)
        current = nodes.get(node.id)
        current.record.state = NodeState.USED
        nodes.update(current.record, current.version)
        lock.release()
        assert wait_for(lambda: state(waiting) is NodeRequestState.FULFILLED, 30, "the host again")
        (again,) = [v.record for v in nodes.list()]
        assert again.id != node.id and again.provider_data["launcher"] == peer.identity
    finally:
        for each in (first, second):
            if each._thread is not None and each._thread.is_alive():
                each.stop()
