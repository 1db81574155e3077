"""Semaphores: how many builds of a job (or jobs sharing a semaphore) may run
at once in a tenant, as in Zuul's ``semaphore`` configuration object.

Who calls it: the scheduler, before it requests nodes for a job that names a
semaphore (``acquire``), and when the build ends or is cancelled
(``release``); web shows ``holders``.  The record at
``paths.semaphore(tenant, name)`` is ``{"holders": [...]}``, changed with
read-modify-write and retry (state.py), so two schedulers never both take the
last slot.  Holders are strings the scheduler chooses (e.g. ``<buildset
uuid>-<job>``); acquiring twice with the same holder is harmless.
"""

from __future__ import annotations

from typing import Any

from kazoo.exceptions import NoNodeError
from lockgate.zk import paths
from lockgate.zk.client import ZKClient
from lockgate.zk.errors import translate_kazoo_errors
from lockgate.zk.records import RecordStore
from lockgate.zk.state import JsonState


class SemaphoreSlots:
    """One tenant semaphore's slots in ZooKeeper: at most ``max`` holders at a
    time (the semaphore as configured is ``lockgate.config.model.Semaphore``)."""

    def __init__(self, client: ZKClient, tenant: str, name: str, max: int = 1) -> None:
        if max < 1:
            raise ValueError(f"semaphore {name}: max must be at least 1, not {max}")
        self.name = name
        self.max = max
        self._state = JsonState(client, paths.semaphore(tenant, name))

    def acquire(self, holder: str) -> bool:
        """Take a slot for ``holder``; False if all ``max`` slots are taken."""
        taken = False

        def take(data: dict[str, Any]) -> None:
            nonlocal taken
            holders = data.setdefault("holders", [])
            taken = holder in holders or len(holders) < self.max
            if taken and holder not in holders:
                holders.append(holder)

        self._state.modify(take, default={"holders": []})
        return taken

    def release(self, holder: str) -> bool:
        """Free ``holder``'s slot; False if it held none."""
        released = False

        def drop(data: dict[str, Any]) -> None:
            nonlocal released
            holders = data.setdefault("holders", [])
            released = holder in holders
            if released:
                holders.remove(holder)

        self._state.modify(drop, default={"holders": []})
        return released

    def holders(self) -> list[str]:
        data = self._state.load()
        return list(data.get("holders", [])) if data else []


@translate_kazoo_errors
def read_holders(client: ZKClient, tenant: str) -> dict[str, list[str]]:
    """Every semaphore of ``tenant`` that has a record, with its holders
    (one listing and one pipelined read: the scheduler calls this each round,
    the web for ``/api/tenant/{t}/semaphores``)."""
    folder = paths.semaphores(tenant)
    try:
        names = client.retry(client.kazoo.get_children, folder)
    except NoNodeError:
        return {}
    store = RecordStore(client)
    by_path = {paths.semaphore(tenant, paths.unsegment(n)): paths.unsegment(n) for n in names}
    out: dict[str, list[str]] = {}
    for path, loaded in store.load_many(by_path).items():
        if loaded is not None:
            out[by_path[path]] = [str(h) for h in loaded.data.get("holders", [])]
    return out
