"""Executor zones: which build requests an executor takes (Zuul's rule).

A build request lives in the folder of one zone
(``lockgate.zk.paths.build_requests``): the zone of its nodes, or
``DEFAULT_ZONE`` when it is unzoned (``lockgate.scheduler.manager.zones``
chooses).  Which of those folders an executor takes requests from is the
rule below, written once because two processes need it: the executor
(``lockgate.executor.server``) to know where to look, and the scheduler
(``lockgate.scheduler.processor``) to know, from the executors'
registrations, which zones some executor serves now.

Zuul's rule (``[executor] zone`` and ``allow_unzoned``): an executor without
a zone takes only unzoned builds; one with a zone takes only that zone's
builds, and also the unzoned ones when ``allow_unzoned`` is true.
"""

from __future__ import annotations

#: The zone of unzoned builds, and of executors without ``zone``.
DEFAULT_ZONE = "default"


def served_zones(zone: str | None, allow_unzoned: bool = False) -> tuple[str, ...]:
    """The zones whose build requests an executor of ``zone`` (None, empty
    or ``DEFAULT_ZONE``: unzoned) takes, its own zone first."""
    if not zone or zone == DEFAULT_ZONE:
        return (DEFAULT_ZONE,)
    if allow_unzoned:
        return (zone, DEFAULT_ZONE)
    return (zone,)
