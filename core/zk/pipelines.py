"""Pipeline state in ZooKeeper: one record per pipeline, one per queue item.

Who calls it: the scheduler holding a tenant's lock loads a pipeline
(``PipelineStore.load``), decides, and saves what changed
(``save_items``, ``save_state``, ``delete_items``); the web reads every
pipeline of a tenant for ``/api/tenant/{t}/status`` (``read_pipelines``,
then ``lockgate.model.queue.status_json``).

Layout (``lockgate.zk.paths``):

- ``pipeline_state(t, p)``: a ``PipelineState`` record (queues, item order,
  the events already turned into items);
- ``pipeline_item(t, p, uuid)``: a ``QueueItem`` record each (frozen jobs,
  job states, repository state).

Writes are conditional on the version last read (records.py): a scheduler
whose view is stale — it lost its lock and a peer wrote since — gets
``RecordConflict`` and must reload instead of overwriting.  The order of
writes keeps readers consistent enough: an item record is written before
the pipeline record lists it, and deleted after the pipeline record stops
listing it, so a reader never finds a listed item missing for long (and
skips it if it does).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kazoo.exceptions import NoNodeError
from kazoo.protocol.states import ZnodeStat
from lockgate.model.queue import PipelineState, QueueItem
from lockgate.zk import paths
from lockgate.zk.client import ZKClient
from lockgate.zk.errors import RecordConflict, translate_kazoo_errors
from lockgate.zk.records import RecordStore
from lockgate.zk.views import ChildRead, FolderView

SCHEMA = 1


@dataclass
class LoadedPipeline:
    """A pipeline as read, with the record versions writes are conditional on."""

    state: PipelineState
    items: dict[str, QueueItem]
    state_version: int | None = None  # None: the record does not exist yet
    item_versions: dict[str, int] = field(default_factory=dict)
    # Item records the state does not list (see ``PipelineStore.load``).
    orphans: set[str] = field(default_factory=set)
    # The creation zxid of each item record as stat'ed at load (with
    # ``item_versions``, what an ``ItemCache`` entry is keyed on); missing for
    # records created by this pass or changed while being read.
    item_czxids: dict[str, int] = field(default_factory=dict)


@dataclass
class _CachedItem:
    czxid: int
    version: int
    item: QueueItem


def _stat_key(_name: str, stat: ZnodeStat) -> tuple[int, int]:
    return (stat.czxid, stat.version)


class ItemCache:
    """Decoded item records kept by the scheduler between its passes.

    Why: a dependent queue's items carry the changes ahead of them, so the
    bytes of a pipeline grow with the square of its length; decoding every
    item each pass cost seconds for a few hundred items while a pass changes
    one or two.  ``PipelineStore.load(..., cache=)`` decodes only the item
    records whose creation zxid or version moved.  It learns those from a
    view of the pipeline's item folder that ZooKeeper watches keep
    (``lockgate.zk.views``, STAT): after the view's barrier, only the
    records written since the last pass are stat'ed again, and the folder
    is listed again only when an item came or went.

    Safety: ``load`` *takes* the entries it hands out, and ``remember`` puts
    back only what a pass that completed holds, so a pass that failed half
    way (a lost lock, a write conflict) leaves nothing behind that differs
    from ZooKeeper.  This relies on the managers' contract that an item they
    change is in ``Decision.changed`` (checked by the simulated world's
    ``save`` in every scenario test).  A peer scheduler's write moves the
    version, which invalidates the entry.
    """

    def __init__(self) -> None:
        self._pipelines: dict[tuple[str, str], dict[str, _CachedItem]] = {}
        self._views: dict[tuple[str, str], FolderView[tuple[int, int]]] = {}

    def take(self, tenant: str, pipeline: str) -> dict[str, _CachedItem]:
        return self._pipelines.pop((tenant, pipeline), {})

    def put(self, tenant: str, pipeline: str, entries: dict[str, _CachedItem]) -> None:
        self._pipelines[(tenant, pipeline)] = entries

    def item_stats(
        self, client: ZKClient, tenant: str, pipeline: str
    ) -> dict[str, tuple[int, int]]:
        """Every item record of the pipeline as it is now: uuid ->
        (creation zxid, version), from the pipeline's view."""
        view = self._views.get((tenant, pipeline))
        if view is None:
            folder = paths.pipeline_items(tenant, pipeline)
            view = FolderView(client, folder, ChildRead.STAT, _stat_key)
            self._views[(tenant, pipeline)] = view
        return {paths.unsegment(name): key for name, key in view.refresh().items()}

    def forget(self, tenant: str | None = None) -> None:
        """Drop every entry (of one tenant, if given)."""
        if tenant is None:
            self._pipelines.clear()
        else:
            for key in [k for k in self._pipelines if k[0] == tenant]:
                del self._pipelines[key]

    def __len__(self) -> int:
        return sum(len(entries) for entries in self._pipelines.values())


@translate_kazoo_errors
class PipelineStore:
    """A tenant's pipeline records; like every store in ``lockgate.zk``, it waits
    at most the client's ``retry_deadline`` for ZooKeeper and raises only
    ``ZKError``s (``ZKConnectionError`` when ZooKeeper is unavailable)."""

    def __init__(self, client: ZKClient, tenant: str) -> None:
        self.client = client
        self.tenant = tenant
        self.records = RecordStore(client, schema=SCHEMA)

    # --- reading ------------------------------------------------------------------------

    def pipeline_names(self) -> list[str]:
        """Pipelines of the tenant that have a state record."""
        return self._children(paths.pipelines(self.tenant))

    def load(self, pipeline: str, *, cache: ItemCache | None = None) -> LoadedPipeline:
        """The pipeline's state and every item it lists (an empty state if none).

        Item records the state does not list were left by a scheduler that
        died between writing an item and listing it (its event was not
        acknowledged: it is processed again and writes the item again), or
        between unlisting an item and deleting it: their uuids are in
        ``orphans``, for the caller to delete unless it writes them again.

        With ``cache`` (the scheduler's), items unchanged since a completed
        pass are not read again; hand the result back with ``remember``.
        """
        loaded = self.records.load(paths.pipeline_state(self.tenant, pipeline))
        if loaded is None or not loaded.data:
            # No record, or only the parent node an item's creation made.
            state = PipelineState(tenant=self.tenant, pipeline=pipeline)
            version = None if loaded is None else loaded.version
        else:
            state = PipelineState.from_dict(loaded.data)
            version = loaded.version
        out = LoadedPipeline(state=state, items={}, state_version=version)
        listed = set(state.item_uuids())
        wanted: list[str] = []
        stats = None if cache is None else cache.item_stats(self.client, self.tenant, pipeline)
        for uuid in self._item_ids(pipeline) if stats is None else sorted(stats):
            if uuid in listed:
                wanted.append(uuid)
            else:
                out.orphans.add(uuid)
        if cache is not None and stats is not None:
            wanted = self._from_cache(out, wanted, cache.take(self.tenant, pipeline), stats)
        # All item records at once (pipelined): one round trip, not one each.
        item_paths = {uuid: paths.pipeline_item(self.tenant, pipeline, uuid) for uuid in wanted}
        found = self.records.load_many(item_paths.values())
        for uuid, path in item_paths.items():
            item_loaded = found[path]
            if item_loaded is None:
                continue
            out.items[uuid] = QueueItem.from_dict(item_loaded.data)
            if out.item_versions.get(uuid) != item_loaded.version:
                # Written between the stat and the read: not cacheable.
                out.item_czxids.pop(uuid, None)
            out.item_versions[uuid] = item_loaded.version
        return out

    def _from_cache(
        self,
        out: LoadedPipeline,
        wanted: list[str],
        cached: dict[str, _CachedItem],
        stats: dict[str, tuple[int, int]],
    ) -> list[str]:
        """Fill ``out`` with the cached items whose records did not move
        (``stats``: uuid -> creation zxid and version, as they are now);
        return the uuids still to read (their czxid and version noted for
        ``remember``)."""
        stale: list[str] = []
        for uuid in wanted:
            key = stats.get(uuid)
            if key is None:
                continue  # deleted since listed: as ``load_many`` would say
            entry = cached.get(uuid)
            if entry is not None and (entry.czxid, entry.version) == key:
                out.items[uuid] = entry.item
                out.item_versions[uuid] = entry.version
                out.item_czxids[uuid] = entry.czxid
                continue
            out.item_czxids[uuid], out.item_versions[uuid] = key
            stale.append(uuid)
        return stale

    def remember(self, loaded: LoadedPipeline, cache: ItemCache) -> None:
        """Keep the items of a completed pass for the next ``load``."""
        entries: dict[str, _CachedItem] = {}
        for uuid, item in loaded.items.items():
            czxid = loaded.item_czxids.get(uuid)
            version = loaded.item_versions.get(uuid)
            if czxid is not None and version is not None:
                entries[uuid] = _CachedItem(czxid, version, item)
        cache.put(self.tenant, loaded.state.pipeline, entries)

    def _item_ids(self, pipeline: str) -> list[str]:
        return self._children(paths.pipeline_items(self.tenant, pipeline))

    def _children(self, path: str) -> list[str]:
        """The names under ``path``, decoded and sorted (none if it does not exist)."""
        try:
            children = self.client.retry(self.client.kazoo.get_children, path)
        except NoNodeError:
            return []
        return sorted(paths.unsegment(c) for c in children)

    # --- writing ------------------------------------------------------------------------

    def save_items(self, loaded: LoadedPipeline, uuids: set[str]) -> None:
        """Write the items ``uuids`` (conditional on the versions read)."""
        pipeline = loaded.state.pipeline
        for uuid in sorted(uuids):
            item = loaded.items[uuid]
            path = paths.pipeline_item(self.tenant, pipeline, uuid)
            version = loaded.item_versions.get(uuid)
            if version is None:
                loaded.item_czxids.pop(uuid, None)  # unknown until stat'ed again
                try:
                    loaded.item_versions[uuid] = self.records.create(path, item.to_dict())
                except RecordConflict:
                    # Written by an earlier life of this decision (a crash
                    # before the pipeline record listed it): overwrite it.
                    loaded.item_versions[uuid] = self.records.save(path, item.to_dict())
            else:
                loaded.item_versions[uuid] = self.records.save(
                    path, item.to_dict(), version=version
                )

    def save_state(self, loaded: LoadedPipeline) -> None:
        """Write the pipeline record (conditional on the version read)."""
        path = paths.pipeline_state(self.tenant, loaded.state.pipeline)
        data = loaded.state.to_dict()
        if loaded.state_version is None:
            try:
                loaded.state_version = self.records.create(path, data)
                return
            except RecordConflict:
                # The node exists without data: made as the parent of the
                # first item record.  Fill it, unless someone else did.
                current = self.records.load(path)
                if current is None or current.data:
                    raise
                loaded.state_version = current.version
        loaded.state_version = self.records.save(path, data, version=loaded.state_version)

    def delete_items(self, loaded: LoadedPipeline, uuids: set[str]) -> None:
        pipeline = loaded.state.pipeline
        for uuid in sorted(uuids):
            loaded.orphans.discard(uuid)
            self.records.delete(paths.pipeline_item(self.tenant, pipeline, uuid))
            loaded.items.pop(uuid, None)
            loaded.item_versions.pop(uuid, None)
            loaded.item_czxids.pop(uuid, None)

    def delete_pipeline(self, pipeline: str) -> None:
        """Remove a pipeline's state and items (it left the layout, emptied)."""
        self.records.delete(paths.pipeline_state(self.tenant, pipeline))


def read_pipelines(
    client: ZKClient, tenant: str
) -> dict[str, tuple[PipelineState, dict[str, QueueItem]]]:
    """Every pipeline of ``tenant`` with its state and listed items (for the
    status API: ``lockgate.model.queue.status_json(layout, read_pipelines(...))``)."""
    store = PipelineStore(client, tenant)
    out: dict[str, tuple[PipelineState, dict[str, QueueItem]]] = {}
    for name in store.pipeline_names():
        loaded = store.load(name)
        out[name] = (loaded.state, loaded.items)
    return out
