"""Which executor zone a build goes to: Zuul's rule, without I/O.

Who calls it: ``jobs.py``, when a job's node request is fulfilled and its
build is about to be requested.  The zone names the folder the build
request is put in (``lockgate.zk.paths.build_requests``), and so which
executors may take it: an executor takes only requests of its own
``[executor] zone`` ("default" when it has none).

Zuul's rule (``executor-zone``): the build runs in the zone of its nodes --
the ``executor-zone`` attribute of the first node, which the launcher
copies onto the request as ``NodeRequest.executor_zone`` -- if some
executor serves that zone; otherwise (no zone, or a zone no executor
registered for) it is unzoned, and Zuul logs a warning for the latter.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

#: The zone of unzoned builds and of executors without ``zone``.
DEFAULT_ZONE = "default"


@dataclass(frozen=True)
class ZoneChoice:
    zone: str
    # Why the nodes' zone was not taken (None: it was, or there was none).
    fallback: str | None = None


def build_zone(node_zone: str | None, served: Collection[str] | None) -> ZoneChoice:
    """The zone for a build on nodes of ``node_zone``.  ``served``: the
    zones of the executors registered now; None when not known (a
    simulation): the nodes' zone is trusted."""
    if not node_zone or node_zone == DEFAULT_ZONE:
        return ZoneChoice(DEFAULT_ZONE)
    if served is None or node_zone in served:
        return ZoneChoice(node_zone)
    return ZoneChoice(
        DEFAULT_ZONE,
        fallback=f"its nodes are in executor zone {node_zone!r}, which no executor "
        "serves; the build goes to the unzoned executors",
    )
