"""Reading a tenant's pipelines over and over, decoding only what changed.

Who calls it: the web's status cache (``lockgate.web.status_cache``), about
once a second while someone asks for a tenant's status.  ``PipelineReader.
read()`` lists each pipeline's items, stats the pipeline records and every
item record in one pipelined batch, and reads and decodes only the records
whose (creation zxid, version) moved since its last read.  It returns a
``PipelineSnapshot``: the pipelines as ``lockgate.zk.pipelines.
read_pipelines`` gives them, and a ``fingerprint`` that changes exactly
when a record does — so the web rebuilds its answer once per change of
state, and a quiet tenant costs one round of stats.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from kazoo.exceptions import NoNodeError
from lockgate.model.queue import PipelineState, QueueItem
from lockgate.zk import paths
from lockgate.zk.client import ZKClient
from lockgate.zk.errors import translate_kazoo_errors
from lockgate.zk.pipelines import SCHEMA
from lockgate.zk.records import RecordStore, pipelined

Key = tuple[int, int]  # (czxid, version) of a record


@dataclass(frozen=True)
class PipelineSnapshot:
    fingerprint: tuple[Any, ...]
    pipelines: dict[str, tuple[PipelineState, dict[str, QueueItem]]]


@translate_kazoo_errors
class PipelineReader:
    def __init__(self, client: ZKClient, tenant: str) -> None:
        self.client = client
        self.tenant = tenant
        self.records = RecordStore(client, schema=SCHEMA)
        # record path -> (its key when read, what it decoded to)
        self._cache: dict[str, tuple[Key, Any]] = {}
        self.decoded = 0  # records decoded so far (for tests and benchmarks)
        # Held by a caller that reads from several threads (one read at a time).
        self.lock = threading.Lock()

    def _children(self, path: str) -> list[str]:
        try:
            found = self.client.retry(self.client.kazoo.get_children, path)
        except NoNodeError:
            return []
        return sorted(paths.unsegment(c) for c in found)

    def read(self) -> PipelineSnapshot:
        names = self._children(paths.pipelines(self.tenant))
        item_ids = pipelined(
            self.client,
            "get_children_async",
            [paths.pipeline_items(self.tenant, n) for n in names],
        )
        wanted: dict[str, str] = {}  # record path -> "state" or the item uuid
        for name in names:
            wanted[paths.pipeline_state(self.tenant, name)] = "state"
            children = item_ids.get(paths.pipeline_items(self.tenant, name))
            if isinstance(children, BaseException):
                children = self._children(paths.pipeline_items(self.tenant, name))
            for child in children or ():
                uuid = paths.unsegment(child)
                wanted[paths.pipeline_item(self.tenant, name, uuid)] = uuid
        stats = pipelined(self.client, "exists_async", wanted)
        keys: dict[str, Key] = {}
        stale = []
        for path in wanted:
            stat = stats.get(path)
            if stat is None or isinstance(stat, BaseException):
                stale.append(path)  # gone, or read it the careful way
                continue
            keys[path] = (stat.czxid, stat.version)
            cached = self._cache.get(path)
            if cached is None or cached[0] != keys[path]:
                stale.append(path)
        for path, loaded in self.records.load_many(stale).items():
            if loaded is None:
                self._cache.pop(path, None)
                keys.pop(path, None)
                continue
            self.decoded += 1
            data = loaded.data
            value: Any
            if wanted[path] == "state":
                value = PipelineState.from_dict(data) if data else None
            else:
                value = QueueItem.from_dict(data)
            # A record written between the stat and the read: keep it under
            # an unknown key, so it is read again next time.
            key = keys.get(path, (-1, -1))
            if key[1] != loaded.version:
                key = (-1, loaded.version)
                keys[path] = key
            self._cache[path] = (key, value)
        for path in set(self._cache) - set(wanted):
            del self._cache[path]
        pipelines: dict[str, tuple[PipelineState, dict[str, QueueItem]]] = {}
        for name in names:
            cached = self._cache.get(paths.pipeline_state(self.tenant, name))
            state = cached[1] if cached is not None and cached[1] is not None else None
            if state is None:
                state = PipelineState(tenant=self.tenant, pipeline=name)
            listed = set(state.item_uuids())
            items = {}
            for uuid in listed:
                hit = self._cache.get(paths.pipeline_item(self.tenant, name, uuid))
                if hit is not None:
                    items[uuid] = hit[1]
            pipelines[name] = (state, items)
        fingerprint = tuple(sorted(keys.items()))
        return PipelineSnapshot(fingerprint, pipelines)
