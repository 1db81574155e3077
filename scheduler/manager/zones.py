"""Which executor zone a build goes to: Zuul's rule, without I/O.

Who calls it: ``jobs.py``, when a job's node request is fulfilled and its
build is about to be requested.  The zone names the folder the build
request is put in (``lockgate.zk.paths.build_requests``), and so which
executors may take it (``lockgate.model.zones.served_zones``): an executor
takes the requests of its own ``[executor] zone`` ("default" when it has
none), and a zoned one with ``allow_unzoned`` the unzoned ones too.

Zuul's rule (``executor-zone``): the build runs in the zone of its nodes --
the ``executor-zone`` attribute of the first node, which the launcher
copies onto the request as ``NodeRequest.executor_zone`` -- if some
executor serves that zone; otherwise (no zone, or a zone no executor
registered for) it is unzoned, and Zuul logs a warning for the latter.
Lockgate also says when no registered executor takes unzoned builds (none
without a zone, none zoned with ``allow_unzoned``): such a build waits
until one registers.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from lockgate.model.zones import DEFAULT_ZONE


@dataclass(frozen=True)
class ZoneChoice:
    zone: str
    # Why the nodes' zone was not taken (None: it was, or there was none).
    fallback: str | None = None
    # Why the build may wait: no registered executor serves ``zone`` (only
    # ever the unzoned queue: a nodes' zone is chosen only when served).
    unserved: str | None = None


def build_zone(node_zone: str | None, served: Collection[str] | None) -> ZoneChoice:
    """The zone for a build on nodes of ``node_zone``.  ``served``: the
    zones of the executors registered now (``served_zones`` of each); None
    when not known (a simulation): the nodes' zone is trusted."""
    if not node_zone or node_zone == DEFAULT_ZONE:
        return _unzoned(served)
    if served is None or node_zone in served:
        return ZoneChoice(node_zone)
    return _unzoned(
        served,
        fallback=f"its nodes are in executor zone {node_zone!r}, which no executor "
        "serves; the build goes to the unzoned executors",
    )


def _unzoned(served: Collection[str] | None, fallback: str | None = None) -> ZoneChoice:
    unserved = None
    if served is not None and DEFAULT_ZONE not in served:
        unserved = (
            "no executor takes unzoned builds now (one without [executor] zone, or a "
            "zoned one with allow_unzoned = true); the build waits until one registers"
        )
    return ZoneChoice(DEFAULT_ZONE, fallback=fallback, unserved=unserved)
