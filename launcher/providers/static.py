"""The ``static`` provider: hosts that already exist, reachable over SSH.

Who calls it: the launcher server, through the ``Provider`` protocol.  Each
host serves one build at a time; "deleting" its node only gives the host back
(nothing on it is touched, as with Nodepool's static driver).

Config (``[provider NAME]``, see ``doc/launcher.md``)::

    driver = static
    labels = debian              # default labels for hosts that give none
    nodes =
        build1.example.org labels=debian,big port=22 username=root
        10.0.0.7 labels=debian host_key_file=/etc/lockgate/build2.pub
    connect_timeout = 5          # seconds for ssh-keyscan

One host per line (or separated by ``;``): the host name or address, then
``key=value`` options: ``labels`` (comma-separated), ``port`` (22),
``username`` (root), ``python_path`` (/usr/bin/python3), ``host_key_file`` (a
file of ``TYPE KEY`` lines; without it the host keys are read with
``ssh-keyscan`` each time the host is handed out, which also checks that it
answers), ``name`` (default ``HOST`` or ``HOST:PORT``; the node's external id).

Several launchers may list the same hosts under the same provider name
(``Sharing.SITE``): the server tells each which hosts the others hold
(``set_foreign``), so a host serves one build at a time whichever launcher
hands it out, and one adopts the hosts of another that died.
"""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

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
from lockgate.model.nodes import Node, NodeState
from lockgate.service_config import Section

KEYS = COMMON_KEYS | {"nodes", "connect_timeout"}
HOST_KEYS = {"labels", "port", "username", "python_path", "host_key_file", "name"}


@dataclass(frozen=True)
class StaticHost:
    """One line of ``nodes``."""

    host: str
    labels: frozenset[str]
    name: str
    port: int = 22
    username: str = "root"
    python_path: str = "/usr/bin/python3"
    host_key_file: str | None = None
    options: dict[str, str] = field(default_factory=dict, compare=False)


def parse_hosts(section: Section, default_labels: list[str] | None) -> list[StaticHost]:
    """The ``nodes`` key as hosts; errors name the file, section, key and host."""
    raw = section.require("nodes")
    entries = [e.strip() for line in raw.splitlines() for e in line.split(";") if e.strip()]
    hosts: list[StaticHost] = []
    names: set[str] = set()
    for entry in entries:
        host, *options = entry.split()
        values: dict[str, str] = {}
        for option in options:
            key, sep, value = option.partition("=")
            if not sep or not value:
                raise section.error("nodes", f"{host}: expected key=value, got {option!r}")
            if key not in HOST_KEYS:
                raise section.error(
                    "nodes",
                    f"{host}: unknown option {key!r} (one of: {', '.join(sorted(HOST_KEYS))})",
                )
            values[key] = value
        if "labels" in values:
            labels = labels_of(section, "nodes", raw=values["labels"])
        elif default_labels:
            labels = default_labels
        else:
            raise section.error("nodes", f"{host}: no labels (give labels=... or a labels key)")
        try:
            port = int(values.get("port", "22"))
        except ValueError:
            raise section.error("nodes", f"{host}: port must be a number") from None
        if not 0 < port < 65536:
            raise section.error("nodes", f"{host}: port {port} out of range")
        name = values.get("name") or (host if port == 22 else f"{host}:{port}")
        if name in names:
            raise section.error("nodes", f"{name}: listed twice")
        names.add(name)
        key_file = values.get("host_key_file")
        if key_file and not os.path.isfile(os.path.expanduser(key_file)):
            raise section.error("nodes", f"{host}: host_key_file {key_file}: no such file")
        hosts.append(
            StaticHost(
                host=host,
                labels=frozenset(labels),
                name=name,
                port=port,
                username=values.get("username", "root"),
                python_path=values.get("python_path", "/usr/bin/python3"),
                host_key_file=os.path.expanduser(key_file) if key_file else None,
                options=values,
            )
        )
    if not hosts:
        raise section.error("nodes", "lists no host")
    return hosts


class StaticProvider:
    """Hands out listed hosts, one build at a time each; never deletes them."""

    # Every launcher with a static provider of this name hands out the same
    # hosts: none is handed out twice at once.
    sharing = Sharing.SITE

    def __init__(self, section: Section, state_dir: str | os.PathLike[str] = "") -> None:
        section.known(KEYS)
        self.name = provider_name(section)
        default_labels = labels_of(section) if section.get("labels") else None
        self.hosts = parse_hosts(section, default_labels)
        self.labels = frozenset().union(*(h.labels for h in self.hosts))
        self.max_servers = min(
            positive_int(section, "max_servers", len(self.hosts)), len(self.hosts)
        )
        self.executor_zone = executor_zone_of(section)
        timeout = section.get_float("connect_timeout", 5.0)
        assert timeout is not None
        if timeout <= 0:
            raise section.error("connect_timeout", "must be positive")
        self.connect_timeout = timeout
        self._lock = threading.Lock()
        self._in_use: set[str] = set()
        self._foreign: set[str] = set()  # hosts other launchers hand out now

    # --- capacity ---------------------------------------------------------------------

    def fits(self, labels: Sequence[str]) -> Fit:
        if len(labels) > self.max_servers or _assign(labels, self.hosts) is None:
            return Fit.NEVER
        with self._lock:
            taken = self._in_use | self._foreign
            free = [h for h in self.hosts if h.name not in taken]
            room = self.max_servers - len(taken)
        if len(labels) <= room and _assign(labels, free) is not None:
            return Fit.NOW
        return Fit.LATER

    # --- Provider ---------------------------------------------------------------------

    def create_node(self, label: str) -> Node:
        if label not in self.labels:
            raise LaunchError(f"provider {self.name} has no label {label!r}")
        with self._lock:
            taken = self._in_use | self._foreign
            if len(taken) >= self.max_servers:
                raise CapacityError(f"provider {self.name} is at max_servers={self.max_servers}")
            free = [h for h in self.hosts if h.name not in taken and label in h.labels]
            if not free:
                raise CapacityError(f"provider {self.name}: every host with {label!r} is in use")
            # The least versatile host first keeps the others for labels only they have.
            host = min(free, key=lambda h: len(h.labels))
            self._in_use.add(host.name)
        try:
            host_keys = self._host_keys(host)
        except BaseException:
            with self._lock:
                self._in_use.discard(host.name)
            raise
        return Node(
            label=label,
            provider=self.name,
            state=NodeState.READY,
            interface_ip=host.host,
            connection_port=host.port,
            username=host.username,
            host_keys=host_keys,
            python_path=host.python_path,
            provider_data={"external_id": host.name, "host": host.host},
        )

    def _host_keys(self, host: StaticHost) -> list[str]:
        if host.host_key_file:
            with open(host.host_key_file) as f:
                lines = [line.split() for line in f if line.strip() and not line.startswith("#")]
            return [" ".join(parts[:2]) for parts in lines if len(parts) >= 2]
        timeout = max(1, round(self.connect_timeout))
        try:
            result = subprocess.run(
                ["ssh-keyscan", "-T", str(timeout), "-p", str(host.port), host.host],
                capture_output=True,
                text=True,
                timeout=self.connect_timeout + 5,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise LaunchError(f"static host {host.name}: ssh-keyscan timed out") from None
        keys = [
            " ".join(line.split()[1:3])
            for line in result.stdout.splitlines()
            if line.strip() and not line.startswith("#") and len(line.split()) >= 3
        ]
        if not keys:
            raise LaunchError(
                f"static host {host.name}: no SSH host key from {host.host}:{host.port} "
                f"({result.stderr.strip().splitlines()[-1] if result.stderr.strip() else 'no answer'})"
            )
        return keys

    def delete_node(self, node: Node) -> None:
        name = str(node.provider_data.get("external_id", ""))
        if not any(h.name == name for h in self.hosts):
            raise ProviderError(f"node {node.id or '?'}: {name!r} is not a host of {self.name}")
        with self._lock:
            self._in_use.discard(name)

    def set_foreign(self, external_ids: Collection[str]) -> None:
        with self._lock:
            self._foreign = set(external_ids)

    def adopt(self, node: Node) -> bool:
        """A host another launcher handed out before it died: given back by
        this one once its build is done."""
        name = str(node.provider_data.get("external_id", ""))
        if not any(h.name == name for h in self.hosts):
            return False
        with self._lock:
            self._in_use.add(name)
            self._foreign.discard(name)
        return True

    def cleanup_leaked(
        self, known_external_ids: Collection[str], held_elsewhere: Collection[str] = ()
    ) -> list[str]:
        """Hosts of known nodes stay in use; all others are free again.
        Nothing is removed from a static host, so the list is always empty."""
        ours = {h.name for h in self.hosts}
        with self._lock:
            self._in_use = set(known_external_ids) & ours
        return []

    def close(self) -> None:
        pass

    def in_use(self) -> list[str]:
        with self._lock:
            return sorted(self._in_use)


def _assign(labels: Sequence[str], hosts: Sequence[StaticHost]) -> list[StaticHost] | None:
    """Distinct hosts, one per label, or None (a small backtracking match)."""
    chosen: list[StaticHost] = []

    def place(i: int) -> bool:
        if i == len(labels):
            return True
        for host in hosts:
            if labels[i] in host.labels and host not in chosen:
                chosen.append(host)
                if place(i + 1):
                    return True
                chosen.pop()
        return False

    return list(chosen) if place(0) else None


__all__ = ["StaticHost", "StaticProvider", "parse_hosts"]
