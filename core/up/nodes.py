"""Remove the local nodes of ``lockgate up``'s launchers when ``up`` stops.

A launcher's graceful stop leaves the nodes builds run on (another launcher,
or its own next start, takes them over), which is right for a launcher one
of several.  ``up`` owns the whole system on this machine: when it stops,
nothing will take those nodes over until the next ``up``, and their network
namespaces and sshd would stay on the machine meanwhile.  So after its
components have stopped, ``up`` removes every node directory of each copy's
local providers (``LocalProvider.cleanup_leaked`` with nothing known:
namespace, veth, processes, directory).

Who calls it: ``lockgate.up.main.System.stop`` and the end-to-end fixture
(which also kills launchers without a restart).
"""

from __future__ import annotations

import logging
from pathlib import Path

from lockgate.launcher.providers.local import LocalProvider
from lockgate.service_config import ServiceConfig
from lockgate.up.replicas import replica_config_path

log = logging.getLogger("lockgate.up")


def remove_local_nodes(config_file: Path, replicas: int) -> list[str]:
    """Destroy every node of the local providers of copies 1..``replicas``
    (only after their launchers stopped); returns the removed nodes' ids."""
    removed: list[str] = []
    for k in range(1, replicas + 1):
        path = replica_config_path(config_file, k)
        if not path.exists():
            continue
        config = ServiceConfig.load(path)
        state_dir = config.section("launcher").get_path("state_dir")
        if state_dir is None or not (Path(state_dir) / "local").is_dir():
            continue  # no local node was ever made there
        for section in config.named("provider").values():
            if section.get("driver") != "local":
                continue
            try:
                removed += LocalProvider(section, str(state_dir)).cleanup_leaked(set())
            except Exception as e:  # noqa: BLE001 - one provider must not keep the rest
                log.warning("local nodes of provider %s not removed: %s", section.name, e)
    return removed
