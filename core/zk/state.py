"""Persistent JSON objects: the scheduler's pipeline state and the like.

Who calls it: the scheduler keeps each pipeline's queues and items in a
:class:`JsonState` at ``paths.pipeline_state(tenant, pipeline)`` (and the
tenant layout identity at ``paths.tenant_layout``); other processes (web's
status API) only read.  Built on records.py, so large states are compressed
and sharded, and a write that lost a race raises :class:`RecordConflict` or
is re-applied by :meth:`JsonState.modify`: never silently dropped.
"""

from __future__ import annotations

import copy
import random
import time
from collections.abc import Callable
from typing import Any

from lockgate.zk import paths
from lockgate.zk.client import ZKClient
from lockgate.zk.errors import RecordConflict, ZKError, translate_kazoo_errors
from lockgate.zk.records import Loaded, RecordStore


@translate_kazoo_errors
class JsonState:
    """One JSON object at ``path``, read and written explicitly.

    ``load()`` keeps the version it read; ``save(data)`` writes only if nobody
    wrote since that load.  ``schema`` is the object's schema version.
    """

    def __init__(self, client: ZKClient, path: str, *, schema: int = 1) -> None:
        self.path = path
        self._store = RecordStore(client, schema=schema)
        self.version: int | None = None

    def load(self) -> dict[str, Any] | None:
        """The object (None if never saved); remembers its version."""
        loaded: Loaded | None = self._store.load(self.path)
        if loaded is None:
            self.version = None
            return None
        self.version = loaded.version
        return loaded.data

    def save(self, data: dict[str, Any]) -> int:
        """Write ``data``: conditional on the last ``load`` (or creating it
        if ``load`` found nothing).  :class:`RecordConflict` if someone else
        wrote meanwhile: load again and re-apply.  Returns the new version."""
        if self.version is None:
            self.version = self._store.create(self.path, data)
        else:
            self.version = self._store.save(self.path, data, version=self.version)
        return self.version

    def modify(
        self,
        change: Callable[[dict[str, Any]], dict[str, Any] | None],
        *,
        default: dict[str, Any] | None = None,
        timeout: float = 60.0,
    ) -> dict[str, Any]:
        """Load, apply ``change`` (returns the new object, or edits it in place
        and returns None), save; on a conflict, do it all again after a short
        random back-off (so racing writers spread out instead of colliding
        forever).  Returns what was saved.  ``change`` may run several times:
        keep it free of side effects.  Gives up with :class:`ZKError` only if
        conflicts go on for ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        conflicts = 0
        while True:
            current = self.load()
            base = copy.deepcopy(current if current is not None else (default or {}))
            result = change(base)
            new = base if result is None else result
            try:
                self.save(new)
                return new
            except RecordConflict:
                conflicts += 1
                if time.monotonic() > deadline:
                    raise ZKError(
                        f"{self.path}: gave up after {conflicts} conflicting writes in {timeout}s"
                    ) from None
                time.sleep(random.uniform(0, min(0.2, 0.005 * 2 ** min(conflicts, 6))))

    def delete(self) -> bool:
        """Delete the object (unconditionally); False if absent."""
        self.version = None
        return self._store.delete(self.path)


def pipeline_state(client: ZKClient, tenant: str, pipeline: str) -> JsonState:
    """The speculative state (queues and items) of one pipeline."""
    return JsonState(client, paths.pipeline_state(tenant, pipeline))


def tenant_layout(client: ZKClient, tenant: str) -> JsonState:
    """The identity of a tenant's current layout (uuid, config hashes)."""
    return JsonState(client, paths.tenant_layout(tenant))
