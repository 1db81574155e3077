"""The Ansible inventory of a build: its nodes, groups and per-host variables.

The runner calls ``build_inventory`` once per build, after the nodes are
known (the server resolves ``request.node_ids`` to ``Node`` records), and
writes the result with ``write_inventory``.  Host keys recorded by the
launcher go to a ``known_hosts`` file; SSH authentication uses a per-build
ssh-agent holding the executor's key, so no key path appears here (the
inventory is readable by the job's own playbooks).

A job with an empty nodeset gets ``localhost`` (``ansible_connection:
local``), which runs inside the executor's sandbox.

Variables follow Zuul's precedence: what parent jobs returned
(``parent_data``) below the job's ``vars``, then ``group-vars``, then
``host-vars`` (``extra-vars`` are passed on the command line, above all).
``debug_inventory`` is the copy published with the logs
(``zuul-info/inventory.yaml``, what ``zuul-client build-info
--show-inventory`` shows): the same hosts and groups, with the ``zuul``
variables and extra-vars folded in, and never a secret (secrets live only
in each playbook's own variables file).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from lockgate.model.jobs import FrozenJob
from lockgate.model.nodes import Node


class InventoryError(Exception):
    """The job's nodes do not match its nodeset; ``str()`` says how."""


@dataclass
class Inventory:
    data: dict[str, Any]
    known_hosts: list[str] = field(default_factory=list)
    # True when some host is reached over the network (the sandbox must share it).
    remote: bool = False


def _known_hosts_lines(node: Node) -> list[str]:
    host = (
        node.interface_ip
        if node.connection_port == 22
        else f"[{node.interface_ip}]:{node.connection_port}"
    )
    lines = []
    for key in node.host_keys:
        key = key.strip()
        if not key:
            continue
        parts = key.split()
        # Keys are "type base64 [comment]"; a line already naming a host is kept as is.
        if parts[0].startswith(("ssh-", "ecdsa-", "sk-")):
            lines.append(f"{host} {parts[0]} {parts[1]}" if len(parts) > 1 else "")
        else:
            lines.append(key)
    return [ln for ln in lines if ln]


def _host_vars(node: Node, known_hosts_file: Path) -> dict[str, Any]:
    hv: dict[str, Any] = {
        "ansible_connection": node.connection_type or "ssh",
        "ansible_host": node.interface_ip,
        "ansible_port": node.connection_port,
        "ansible_user": node.username,
        "ansible_python_interpreter": node.python_path or "/usr/bin/python3",
        "ansible_remote_tmp": "~/.ansible/tmp",
        "nodepool": {
            "label": node.label,
            "provider": node.provider,
            "interface_ip": node.interface_ip,
            "external_id": node.id,
            "host_keys": list(node.host_keys),
        },
    }
    if hv["ansible_connection"] == "ssh":
        checking = "yes" if node.host_keys else "no"
        hv["ansible_ssh_common_args"] = (
            f"-o UserKnownHostsFile={known_hosts_file} -o StrictHostKeyChecking={checking}"
        )
    return hv


# Names a parent job's returned data may not set in a child (Zuul drops them too).
_NOT_FROM_PARENTS = ("zuul", "nodepool", "unsafe_vars")


def deep_update(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``update`` merged in (nested mappings key by key); both left unchanged."""
    out = dict(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_update(out[key], value)
        else:
            out[key] = value
    return out


def job_variables(job: FrozenJob, parent_data: dict[str, Any] | None = None) -> dict[str, Any]:
    """The job's ``vars`` over what its parent jobs returned."""
    parents = {k: v for k, v in (parent_data or {}).items() if k not in _NOT_FROM_PARENTS}
    return deep_update(parents, job.vars) if parents else dict(job.vars)


def build_inventory(
    job: FrozenJob,
    nodes: list[Node],
    *,
    local_python: str,
    known_hosts_file: Path,
    local_tmp: Path,
    parent_data: dict[str, Any] | None = None,
) -> Inventory:
    """Map the job's nodeset onto provisioned nodes, in nodeset order.

    ``nodes[i]`` is the node provisioned for ``job.nodes[i]``; every name of
    that entry becomes a host with that node's address.
    """
    if len(nodes) != len(job.nodes):
        raise InventoryError(
            f"job {job.name} needs {len(job.nodes)} node(s), the build request has {len(nodes)}"
        )
    hosts: dict[str, dict[str, Any]] = {}
    known: list[str] = []
    remote = False
    for spec, node in zip(job.nodes, nodes, strict=True):
        if node.connection_type not in ("local",):
            if not node.interface_ip:
                raise InventoryError(f"node {node.id} ({spec.label}) has no address")
            remote = True
        known.extend(_known_hosts_lines(node))
        for name in spec.name:
            hv = _host_vars(node, known_hosts_file)
            if node.connection_type == "local":
                hv["ansible_python_interpreter"] = local_python
                hv["ansible_remote_tmp"] = str(local_tmp)
            hv.update(job.host_vars.get(name, {}))
            hosts[name] = hv
    if not job.nodes:
        hosts["localhost"] = {
            "ansible_connection": "local",
            "ansible_python_interpreter": local_python,
            "ansible_remote_tmp": str(local_tmp),
        }
        hosts["localhost"].update(job.host_vars.get("localhost", {}))
    children: dict[str, Any] = {}
    for group in job.groups:
        gname = group.get("name")
        if not gname:
            raise InventoryError(f"job {job.name}: a group without a name")
        members = group.get("nodes") or []
        if isinstance(members, str):
            members = [members]
        missing = [m for m in members if m not in hosts]
        if missing:
            raise InventoryError(
                f"job {job.name}: group {gname} names unknown node(s) " + ", ".join(missing)
            )
        entry: dict[str, Any] = {"hosts": {m: None for m in members}}
        if job.group_vars.get(gname):
            entry["vars"] = dict(job.group_vars[gname])
        children[gname] = entry
    all_group: dict[str, Any] = {
        "hosts": hosts,
        # The implicit localhost (delegate_to: localhost in jobs with nodes)
        # takes the interpreter from here; each node overrides it above.
        # Its temp dir must be in the build tree: the sandbox's root is read-only.
        "vars": {
            "ansible_python_interpreter": local_python,
            "ansible_remote_tmp": str(local_tmp),
            **job_variables(job, parent_data),
        },
    }
    if children:
        all_group["children"] = children
    return Inventory(data={"all": all_group}, known_hosts=known, remote=remote)


def write_inventory(inventory: Inventory, inventory_file: Path, known_hosts_file: Path) -> None:
    inventory_file.write_text(
        yaml.safe_dump(inventory.data, default_flow_style=False, sort_keys=False)
    )
    known_hosts_file.write_text("".join(line + "\n" for line in inventory.known_hosts))


def debug_inventory(
    inventory: Inventory, zuul_vars: dict[str, Any], extra_vars: dict[str, Any]
) -> dict[str, Any]:
    """The inventory as published with the logs: ``zuul`` and extra-vars folded
    into the ``all`` group's variables (no secret is ever part of either)."""
    data = yaml.safe_load(yaml.safe_dump(inventory.data))
    all_vars = data["all"].setdefault("vars", {})
    all_vars.update(extra_vars)
    all_vars["zuul"] = zuul_vars
    return data
