"""Reading a tenant's pipelines over and over, decoding only what changed.

Who calls it: the web's status cache (``lockgate.web.status_cache``, through
``lockgate.web.zkstate``), about once a second while someone asks for a
tenant's status.  ``PipelineReader.read()`` returns a ``PipelineSnapshot``:
the pipelines as ``lockgate.zk.pipelines.read_pipelines`` gives them, and a
``fingerprint`` that changes exactly when a record does — so the web
rebuilds its answer once per change of state, and a quiet tenant costs
almost nothing.

How: ZooKeeper watches (``lockgate.zk.views``, STAT) keep the (creation
zxid, version) of the pipeline records and of every item record in memory;
a read is one barrier (``sync_watches``, one round trip) and then the
records whose key moved are read and decoded — a quiet tenant of 1,000
items costs a millisecond, not a thousand stats.  A pipeline none of whose
records moved is handed back as the same objects as last time (the same
``PipelineState``, the same dict of the same ``QueueItem``s): a caller may
keep work derived from an item for as long as it gets the same object.
Everything handed out is shared (equal frozen jobs of different items are
one object): read-only.
"""

from __future__ import annotations

import itertools
import json
import threading
import weakref
from dataclasses import dataclass
from typing import Any

from kazoo.protocol.states import ZnodeStat
from lockgate.model.jobs import FrozenJob
from lockgate.model.queue import PipelineState, QueueItem
from lockgate.zk import paths
from lockgate.zk.client import ZKClient
from lockgate.zk.errors import translate_kazoo_errors
from lockgate.zk.pipelines import SCHEMA
from lockgate.zk.records import RecordStore
from lockgate.zk.views import ChildRead, FolderView, sync_watches

Key = tuple[int, int]  # (czxid, version) of a record
# A record written between its stat and its read: read again next time.
_UNKNOWN = -1

_readers = itertools.count(1)


@dataclass(frozen=True)
class PipelineSnapshot:
    fingerprint: tuple[Any, ...]
    pipelines: dict[str, tuple[PipelineState, dict[str, QueueItem]]]


def _stat_key(_name: str, stat: ZnodeStat) -> Key:
    return (stat.czxid, stat.version)


@dataclass
class _Pipeline:
    """What a reader keeps of one pipeline between reads."""

    items_view: FolderView[Key]
    state_key: Key | None = None
    state: PipelineState | None = None
    item_keys: dict[str, Key] | None = None  # item folder child -> key, as last read
    # uuid -> (key read, item; None for a record that was not there to read)
    items: dict[str, tuple[Key, QueueItem | None]] | None = None
    shown: tuple[PipelineState, dict[str, QueueItem]] | None = None


@translate_kazoo_errors
class PipelineReader:
    def __init__(self, client: ZKClient, tenant: str) -> None:
        self.client = client
        self.tenant = tenant
        self.records = RecordStore(client, schema=SCHEMA)
        self._folder = paths.pipelines(tenant)
        self._states: FolderView[Key] = FolderView(client, self._folder, ChildRead.STAT, _stat_key)
        self._pipelines: dict[str, _Pipeline] = {}  # by path segment
        self._names: dict[str, str] = {}  # path segment -> name (unquoting shows at 1,000)
        self._token = next(_readers)
        self._generation = 0
        self._snapshot: PipelineSnapshot | None = None
        # Frozen jobs by their JSON: one object for equal jobs of many items
        # (gone with the last item that has it).
        self._frozen: weakref.WeakValueDictionary[str, FrozenJob] = weakref.WeakValueDictionary()
        self.decoded = 0  # records decoded so far (for tests and benchmarks)
        # Held by a caller that reads from several threads (one read at a time).
        self.lock = threading.Lock()

    def _name(self, segment: str) -> str:
        name = self._names.get(segment)
        if name is None:
            name = self._names[segment] = paths.unsegment(segment)
        return name

    def read(self) -> PipelineSnapshot:
        sync_watches(self.client, self._folder)
        states = self._states.refresh(synced=True)
        for segment in set(self._pipelines) - set(states):
            self._pipelines.pop(segment).items_view.close()
        changed = self._snapshot is None or len(states) != len(self._snapshot.pipelines)
        stale: dict[str, tuple[str, str | None]] = {}  # record path -> (segment, child or None)
        listings: dict[str, dict[str, Key]] = {}
        for segment, key in states.items():
            entry = self._pipelines.get(segment)
            if entry is None:
                name = self._name(segment)
                view = FolderView(
                    self.client,
                    paths.pipeline_items(self.tenant, name),
                    ChildRead.STAT,
                    _stat_key,
                )
                entry = self._pipelines[segment] = _Pipeline(view)
            listed = entry.items_view.refresh(synced=True)
            listings[segment] = listed
            if key != entry.state_key:
                stale[paths.pipeline_state(self.tenant, self._name(segment))] = (segment, None)
            if listed == entry.item_keys and entry.shown is not None:
                continue
            known = entry.items or {}
            for child, item_key in listed.items():
                uuid = self._name(child)
                hit = known.get(uuid)
                if hit is None or hit[0] != item_key:
                    path = paths.pipeline_item(self.tenant, self._name(segment), uuid)
                    stale[path] = (segment, child)
        touched = self._load(stale, states, listings)
        for segment in states:
            entry = self._pipelines[segment]
            listed = listings[segment]
            if segment not in touched and listed == entry.item_keys and entry.shown is not None:
                continue
            changed = True
            entry.item_keys = listed
            # Items whose records left the folder leave the reader too.
            present = {self._name(child) for child in listed}
            entry.items = {u: v for u, v in (entry.items or {}).items() if u in present}
            state = entry.state or PipelineState(tenant=self.tenant, pipeline=self._name(segment))
            items = {}
            for uuid in state.item_uuids():
                hit = entry.items.get(uuid)
                if hit is not None and hit[1] is not None:
                    items[uuid] = hit[1]
            entry.shown = (state, items)
        if changed or self._snapshot is None:
            self._generation += 1
            pipelines = {self._name(segment): self._pipelines[segment].shown for segment in states}
            self._snapshot = PipelineSnapshot(
                (self._token, self._generation),
                pipelines,  # type: ignore[arg-type]
            )
        return self._snapshot

    def _load(
        self,
        stale: dict[str, tuple[str, str | None]],
        states: dict[str, Key],
        listings: dict[str, dict[str, Key]],
    ) -> set[str]:
        """Read and decode the records in ``stale``; returns the pipelines
        (segments) something of which was read."""
        touched: set[str] = set()
        if not stale:
            return touched
        for path, loaded in self.records.load_many(stale).items():
            segment, child = stale[path]
            entry = self._pipelines[segment]
            touched.add(segment)
            if child is None:
                key = states[segment]
                if loaded is None or not loaded.data:
                    # No record, or only the parent node an item's creation made.
                    entry.state = None
                else:
                    self.decoded += 1
                    entry.state = PipelineState.from_dict(loaded.data)
                if loaded is not None and loaded.version != key[1]:
                    key = (_UNKNOWN, loaded.version)
                entry.state_key = key
                continue
            uuid = self._name(child)
            items = entry.items if entry.items is not None else {}
            entry.items = items
            key = listings[segment].get(child, (_UNKNOWN, _UNKNOWN))
            if loaded is None:
                # Gone since the view saw it (it drops out with the next
                # listing), or a tombstone: not read again until it moves.
                items[uuid] = (key, None)
                continue
            self.decoded += 1
            if key[1] != loaded.version:
                key = (_UNKNOWN, loaded.version)
            items[uuid] = (key, self._item(loaded.data))
        return touched

    def _item(self, data: dict[str, Any]) -> QueueItem:
        """The item of a record, its frozen jobs shared with the other items
        that have the same (one object each, read-only).

        Why: a frozen job is some twenty lists; at 1,000 items of 5 jobs they
        are most of the objects the web process keeps, and a full collection
        of Python's garbage collector stops every thread for as long as it
        takes to look at each (half a second at 1,000 items on a busy
        machine).  Items of one project mostly run the same jobs."""
        jobs = data.get("jobs")
        for job in jobs if isinstance(jobs, list) else ():
            frozen = job.get("job") if isinstance(job, dict) else None
            if not isinstance(frozen, dict):
                continue
            key = json.dumps(frozen, sort_keys=True)
            shared = self._frozen.get(key)
            if shared is None:
                shared = FrozenJob.from_dict(frozen)
                self._frozen[key] = shared
            job["job"] = shared
        return QueueItem.from_dict(data)

    def close(self) -> None:
        """Stop following the tenant (its watches fire once into nothing)."""
        self._states.close()
        for entry in self._pipelines.values():
            entry.items_view.close()
        self._pipelines.clear()
