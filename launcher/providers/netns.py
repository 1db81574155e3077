"""Network namespaces for local nodes: one namespace and one veth pair each.

Who calls it: the local provider.  A node gets a namespace of its own and a
veth pair whose host end and node end share a private /30 that exists only on
that veth.  The node has no default route, and the host never forwards what
arrives on the node's veth (``forwarding=0`` on that interface), so a node
reaches the host's end of its own veth and nothing else -- not another node.
A firewall inside the node's namespace (nftables) lets no connection start
from the node at all: the host connects to the node, never the other way, so
services the host offers on every address stay out of a job's reach.

Addresses come from a pool (``network`` in the provider section, default
``10.201.0.0/16``).  Picking a free /30 and putting it on a veth happens under
one machine-wide file lock, and a /30 that overlaps any address or route the
host already has is skipped, so several providers (and several launchers) on
one machine never hand out the same subnet.
"""

from __future__ import annotations

import fcntl
import ipaddress
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from lockgate.launcher.providers.base import ProviderError

ALLOCATION_LOCK = "/run/lock/lockgate-local-network.lock"
NODE_RULESET = """\
table inet lockgate_node {
    chain output {
        type filter hook output priority 0; policy drop;
        oif "lo" accept
        ct state established,related accept
    }
}
"""
# Route types that ``ip route`` prints before the destination.
_ROUTE_TYPES = {
    "local",
    "broadcast",
    "unicast",
    "anycast",
    "multicast",
    "unreachable",
    "blackhole",
    "prohibit",
    "throw",
    "nat",
}


@dataclass(frozen=True)
class NodeNetwork:
    """One node's namespace, veth names and addresses (all ours to delete)."""

    namespace: str
    host_if: str
    node_if: str
    host_ip: str
    node_ip: str
    prefix: int = 30

    def to_dict(self) -> dict[str, str | int]:
        return dict(self.__dict__)

    @classmethod
    def from_dict(cls, data: dict[str, str | int]) -> NodeNetwork:
        return cls(**data)  # type: ignore[arg-type]


def run_ip(args: list[str], stdin: str | None = None) -> str:
    """Run ``ip ARGS``; a failure becomes a ``ProviderError`` with ip's message."""
    result = subprocess.run(["ip", *args], input=stdin, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip().replace("\n", "; ")
        raise ProviderError(f"ip {' '.join(args)}: {detail}")
    return result.stdout


def _used_networks() -> list[ipaddress.IPv4Network]:
    """Every IPv4 network the host has an address in or a route to."""
    used: list[ipaddress.IPv4Network] = []
    for line in run_ip(["-4", "-o", "addr", "show"]).splitlines():
        parts = line.split()
        if "inet" in parts:
            iface = ipaddress.IPv4Interface(parts[parts.index("inet") + 1])
            used.append(iface.network)
    for line in run_ip(["-4", "route", "show", "table", "all"]).splitlines():
        parts = line.split()
        if not parts:
            continue
        dest = parts[1] if parts[0] in _ROUTE_TYPES else parts[0]
        if dest == "default":
            continue
        try:
            used.append(ipaddress.IPv4Network(dest, strict=False))
        except ValueError:
            continue
    return used


def _free_subnet(pool: ipaddress.IPv4Network) -> ipaddress.IPv4Network:
    used = _used_networks()
    for subnet in pool.subnets(new_prefix=30):
        if not any(subnet.overlaps(u) for u in used if u.prefixlen > 0):
            return subnet
    raise ProviderError(f"no free /30 left in {pool}")


@contextmanager
def _allocation_lock() -> Iterator[None]:
    os.makedirs(os.path.dirname(ALLOCATION_LOCK), exist_ok=True)
    with open(ALLOCATION_LOCK, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def create(namespace: str, host_if: str, node_if: str, pool: ipaddress.IPv4Network) -> NodeNetwork:
    """Make the namespace and the veth pair with a free /30 from ``pool``.

    On failure everything made so far is removed again before raising.
    """
    run_ip(["netns", "add", namespace])
    try:
        with _allocation_lock():
            subnet = _free_subnet(pool)
            host_ip, node_ip = (str(a) for a in list(subnet.hosts())[:2])
            run_ip(
                ["-batch", "-"],
                stdin=(
                    f"link add {host_if} type veth peer name {node_if} netns {namespace}\n"
                    f"addr add {host_ip}/30 dev {host_if}\n"
                ),
            )
        _write_sysctl(f"/proc/sys/net/ipv4/conf/{host_if}/forwarding", "0")
        _write_sysctl(f"/proc/sys/net/ipv6/conf/{host_if}/disable_ipv6", "1")
        run_ip(["link", "set", host_if, "up"])
        run_ip(
            ["-n", namespace, "-batch", "-"],
            stdin=f"addr add {node_ip}/30 dev {node_if}\nlink set {node_if} up\nlink set lo up\n",
        )
        _firewall(namespace)
    except BaseException:
        remove(namespace, host_if)
        raise
    return NodeNetwork(namespace, host_if, node_if, host_ip, node_ip)


def _firewall(namespace: str) -> None:
    """Inside the node's namespace: no connection may start from the node
    except on its own loopback; replies to connections made to it pass.

    This is what keeps a job away from services the host offers on all its
    addresses.  The node cannot change it (its sandbox has no
    ``CAP_NET_ADMIN``), and it goes away with the namespace.
    """
    result = subprocess.run(
        ["nsenter", f"--net=/run/netns/{namespace}", "nft", "-f", "-"],
        input=NODE_RULESET,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise ProviderError(f"nft in {namespace}: {result.stderr.strip()}")


def _write_sysctl(path: str, value: str) -> None:
    try:
        with open(path, "w") as f:
            f.write(value)
    except OSError as e:
        if path.endswith("forwarding"):
            # Isolation depends on it: refuse to hand out the node.
            raise ProviderError(f"cannot write {path}: {e.strerror}") from None


def exists(namespace: str) -> bool:
    return os.path.exists(f"/run/netns/{namespace}")


def link_exists(name: str) -> bool:
    return os.path.exists(f"/sys/class/net/{name}")


def remove(namespace: str, host_if: str) -> None:
    """Delete the veth pair and the namespace, whichever still exist.

    The namespace must hold no process any more (kill them first), or the
    kernel keeps it alive after ``ip netns del``.
    """
    if link_exists(host_if):
        try:
            run_ip(["link", "del", host_if])
        except ProviderError:
            if link_exists(host_if):
                raise
    if exists(namespace):
        run_ip(["netns", "del", namespace])
