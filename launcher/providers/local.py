"""The ``local`` provider: a one-machine cloud of isolated nodes.

Who calls it: the launcher server, through the ``Provider`` protocol.  Each
node is a network namespace (``netns``) with its own /30 on a veth pair, and
inside it a bubblewrap sandbox (``sandbox``) whose sshd the executor logs in
to as root with its key.  Nodes take a few tens of milliseconds to make.

Config (``[provider NAME]``, see ``doc/launcher.md``)::

    driver = local
    labels = debian            # labels its nodes answer to
    authorized_keys = PATH     # the executor's public key (required)
    max_servers = 10           # nodes at once
    network = 10.201.0.0/16    # pool of /30s for node addresses
    boot_timeout = 10          # seconds to wait for a node's sshd

State: one directory per node under ``[launcher] state_dir``
``/local/NAME/TOKEN/`` with ``node.json`` (what was made, written *before*
anything is made), the node's root filesystem and its sshd files.  Every
kernel object's name derives from TOKEN (namespace ``lockgate-NAME-TOKEN``,
veths ``lgTOKENh``/``lgTOKENn``), so ``cleanup_leaked`` can remove all of a
node from its directory alone, and never touches anything it did not list
there itself.  One launcher per state directory and provider name; several
launchers on one machine with a provider of the same name share its
``max_servers`` (``Sharing.MACHINE``), and one adopts the nodes of another
that died, deleting each from its directory (``provider_data["root"]``).
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import re
import secrets
import shutil
import subprocess
import threading
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any

from lockgate.launcher.providers import netns, sandbox
from lockgate.launcher.providers.base import (
    CapacityError,
    Fit,
    LaunchError,
    ProviderError,
    Sharing,
)
from lockgate.launcher.providers.options import (
    COMMON_KEYS,
    executor_zone_of,
    labels_of,
    positive_int,
    provider_name,
)
from lockgate.launcher.providers.procs import ProcessRef, kill_and_wait, netns_pids
from lockgate.model.nodes import Node, NodeState
from lockgate.service_config import Section

log = logging.getLogger("lockgate.launcher.local")

KEYS = COMMON_KEYS | {"authorized_keys", "network", "boot_timeout"}
DEFAULT_NETWORK = "10.201.0.0/16"
PYTHON = "/usr/bin/python3"
REQUIRED_TOOLS = {
    "bwrap": "bubblewrap",
    "/usr/sbin/sshd": "openssh-server",
    "ssh-keygen": "openssh-client",
    "nsenter": "util-linux",
    "ip": "iproute2",
    "nft": "nftables",
}
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$")
_TOKEN = re.compile(r"^[0-9a-f]{8}$")


class LocalProvider:
    """Nodes in network namespaces and bubblewrap sandboxes on this machine."""

    # Launchers of one machine share its ``max_servers`` (the same name).
    sharing = Sharing.MACHINE

    def __init__(self, section: Section, state_dir: str | os.PathLike[str]) -> None:
        section.known(KEYS)
        self.name = provider_name(section)
        if not _NAME.match(self.name):
            raise section.error(
                "driver", f"local provider name {self.name!r} must be 1-40 of A-Z a-z 0-9 _ . -"
            )
        self.labels = frozenset(labels_of(section))
        self.max_servers = positive_int(section, "max_servers", 10)
        self.executor_zone = executor_zone_of(section)
        self.authorized_keys = section.get_path("authorized_keys") or ""
        if not self.authorized_keys:
            raise section.error("authorized_keys", "missing required key")
        if not os.path.isfile(self.authorized_keys):
            raise section.error(
                "authorized_keys",
                f"{self.authorized_keys}: no such file (the executor's public key)",
            )
        raw_network = section.get("network", DEFAULT_NETWORK) or DEFAULT_NETWORK
        try:
            self.network = ipaddress.IPv4Network(raw_network)
        except ValueError as e:
            raise section.error("network", f"not an IPv4 network: {e}") from None
        if self.network.prefixlen > 30:
            raise section.error("network", f"{self.network} is smaller than a /30")
        boot = section.get_float("boot_timeout", 10.0)
        assert boot is not None
        if boot <= 0:
            raise section.error("boot_timeout", "must be positive")
        self.boot_timeout = boot
        self._check_tools()
        self.root = Path(state_dir) / "local" / self.name
        self._lock = threading.Lock()
        self._nodes: set[str] = set()  # external ids of our live nodes
        # Nodes of this machine other launchers hold (``set_foreign``), and
        # where the directories of nodes adopted from a dead one are.
        self._foreign: set[str] = set()
        self._roots: dict[str, Path] = {}
        self._processes: dict[str, subprocess.Popen[bytes]] = {}

    @staticmethod
    def _check_tools() -> None:
        if os.geteuid() != 0:
            raise ProviderError(
                "local provider needs root (it makes network namespaces and veth pairs)"
            )
        for tool, package in REQUIRED_TOOLS.items():
            if not shutil.which(tool):
                raise ProviderError(f"local provider needs {tool} (Debian package {package})")
        if not os.access(PYTHON, os.X_OK):
            raise ProviderError(f"local provider needs {PYTHON}: Ansible runs it on the nodes")

    # --- naming -----------------------------------------------------------------------

    def _namespace(self, token: str) -> str:
        return f"lockgate-{self.name}-{token}"

    @staticmethod
    def _interfaces(token: str) -> tuple[str, str]:
        return f"lg{token}h", f"lg{token}n"

    def _dir(self, token: str) -> Path:
        return self._roots.get(token, self.root) / token

    def _new_token(self) -> str:
        while True:
            token = secrets.token_hex(4)
            host_if, _ = self._interfaces(token)
            if not self._dir(token).exists() and not netns.link_exists(host_if):
                return token

    # --- Provider ---------------------------------------------------------------------

    def fits(self, labels: Sequence[str]) -> Fit:
        if not set(labels) <= self.labels or len(labels) > self.max_servers:
            return Fit.NEVER
        with self._lock:
            free = self.max_servers - len(self._nodes | self._foreign)
        return Fit.NOW if len(labels) <= free else Fit.LATER

    def create_node(self, label: str) -> Node:
        if label not in self.labels:
            raise LaunchError(f"provider {self.name} has no label {label!r}")
        with self._lock:
            if len(self._nodes | self._foreign) >= self.max_servers:
                raise CapacityError(f"provider {self.name} is at max_servers={self.max_servers}")
            token = self._new_token()
            self._nodes.add(token)
        try:
            return self._build(token, label)
        except BaseException as e:
            try:
                self._destroy(token)
            except ProviderError as cleanup_error:
                log.error("could not remove failed node %s: %s", token, cleanup_error)
            if isinstance(e, Exception) and not isinstance(e, (LaunchError, CapacityError)):
                raise LaunchError(f"node {self.name}-{token}: {e}") from e
            raise

    def _build(self, token: str, label: str) -> Node:
        node_dir = self._dir(token)
        node_dir.mkdir(parents=True, mode=0o700)
        hostname = f"{self.name}-{token}"
        namespace = self._namespace(token)
        host_if, node_if = self._interfaces(token)
        state: dict[str, Any] = {"external_id": token, "label": label, "namespace": namespace}
        self._write_state(token, state)  # before making anything: cleanup finds it
        network = netns.create(namespace, host_if, node_if, self.network)
        state["network"] = network.to_dict()
        self._write_state(token, state)
        spec = sandbox.SandboxSpec(
            node_dir=node_dir,
            hostname=hostname,
            namespace=namespace,
            address=network.node_ip,
            authorized_keys=self.authorized_keys,
        )
        host_key = sandbox.prepare(spec)
        process = sandbox.start(spec)
        self._processes[token] = process
        ref = ProcessRef.of(process.pid)
        if ref is not None:
            state["process"] = {"pid": ref.pid, "start_time": ref.start_time}
            self._write_state(token, state)
        sandbox.wait_ready(spec, process, self.boot_timeout)
        log.info("node %s ready at %s (label %s)", hostname, network.node_ip, label)
        return Node(
            label=label,
            provider=self.name,
            state=NodeState.READY,
            interface_ip=network.node_ip,
            connection_port=22,
            username="root",
            host_keys=[host_key],
            python_path=PYTHON,
            provider_data={
                "external_id": token,
                "hostname": hostname,
                "namespace": namespace,
                "host_interface": host_if,
                "host_ip": network.host_ip,
                # Where the node's directory is: another launcher of this
                # machine that adopts the node deletes it from there.
                "root": str(self.root),
            },
        )

    def delete_node(self, node: Node) -> None:
        token = str(node.provider_data.get("external_id", ""))
        if not _TOKEN.match(token):
            raise ProviderError(f"node {node.id or '?'} has no local external id: {token!r}")
        root = node.provider_data.get("root")
        if root and Path(str(root)) != self.root:
            self._roots[token] = Path(str(root))  # adopted: its directory is elsewhere
        if not self._dir(token).exists():
            # Its directory goes last, so the node is already fully gone --
            # or was never ours: either way there is nothing of ours to touch.
            with self._lock:
                self._nodes.discard(token)
                self._roots.pop(token, None)
            return
        self._destroy(token)

    def set_foreign(self, external_ids: Collection[str]) -> None:
        with self._lock:
            self._foreign = set(external_ids)

    def adopt(self, node: Node) -> bool:
        """A node of a launcher of this machine that died: deleted from its
        own directory (``provider_data["root"]``) when its time comes."""
        token = str(node.provider_data.get("external_id", ""))
        root = Path(str(node.provider_data.get("root") or self.root))
        if not _TOKEN.match(token) or not (root / token).is_dir():
            return False  # another machine's node, or already gone
        with self._lock:
            if root != self.root:
                self._roots[token] = root
            self._nodes.add(token)
            self._foreign.discard(token)
        return True

    def cleanup_leaked(
        self, known_external_ids: Collection[str], held_elsewhere: Collection[str] = ()
    ) -> list[str]:
        known = set(known_external_ids)
        elsewhere = set(held_elsewhere)
        removed: list[str] = []
        if not self.root.is_dir():
            return removed
        for entry in sorted(self.root.iterdir()):
            token = entry.name
            if not _TOKEN.match(token) or not entry.is_dir() or token in elsewhere:
                continue
            if token in known and self._sandbox_alive(token):
                with self._lock:
                    self._nodes.add(token)
                continue
            why = "dead (its sandbox is gone)" if token in known else "leaked"
            log.info("removing %s node %s of provider %s", why, token, self.name)
            self._destroy(token)
            removed.append(token)
        return removed

    def _sandbox_alive(self, token: str) -> bool:
        """Whether anything still runs in the node's namespace (nothing does
        after a reboot, or once something killed the sandbox): a known node
        without its sshd is useless."""
        namespace = self._namespace(token)
        return netns.exists(namespace) and bool(netns_pids(namespace))

    def close(self) -> None:
        for process in self._processes.values():
            process.poll()

    # --- node directory ---------------------------------------------------------------

    def nodes(self) -> list[str]:
        """External ids of the nodes this provider object holds."""
        with self._lock:
            return sorted(self._nodes)

    def _write_state(self, token: str, state: dict[str, Any]) -> None:
        path = self._dir(token) / "node.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2))
        os.replace(tmp, path)

    def _read_state(self, token: str) -> dict[str, Any]:
        try:
            return json.loads((self._dir(token) / "node.json").read_text())
        except (OSError, ValueError):
            return {}

    def _destroy(self, token: str) -> None:
        """Stop the node's processes, delete its veth and namespace, remove
        its directory.  Works from the token alone, whatever was made."""
        state = self._read_state(token)
        refs: list[ProcessRef] = []
        proc = state.get("process")
        if isinstance(proc, dict):
            refs.append(ProcessRef(int(proc["pid"]), int(proc["start_time"])))
        namespace = self._namespace(token)
        host_if, _ = self._interfaces(token)
        if not kill_and_wait(refs, namespace if netns.exists(namespace) else None):
            raise ProviderError(f"processes of node {token} in {namespace} did not die")
        popen = self._processes.pop(token, None)
        if popen is not None:
            popen.wait(timeout=5)
        netns.remove(namespace, host_if)
        shutil.rmtree(self._dir(token), ignore_errors=True)
        if self._dir(token).exists():
            raise ProviderError(f"could not remove {self._dir(token)}")
        with self._lock:
            self._nodes.discard(token)
            self._roots.pop(token, None)
        log.info("node %s of provider %s deleted", token, self.name)
