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
from lockgate.model.queue import PipelineState, QueueItem
from lockgate.zk import paths
from lockgate.zk.client import ZKClient
from lockgate.zk.errors import RecordConflict, translate_kazoo_errors
from lockgate.zk.records import RecordStore

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

    def load(self, pipeline: str) -> LoadedPipeline:
        """The pipeline's state and every item it lists (an empty state if none).

        Item records the state does not list were left by a scheduler that
        died between writing an item and listing it (its event was not
        acknowledged: it is processed again and writes the item again), or
        between unlisting an item and deleting it: their uuids are in
        ``orphans``, for the caller to delete unless it writes them again.
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
        wanted: dict[str, str] = {}
        for uuid in self._item_ids(pipeline):
            if uuid in listed:
                wanted[uuid] = paths.pipeline_item(self.tenant, pipeline, uuid)
            else:
                out.orphans.add(uuid)
        # All item records at once (pipelined): one round trip, not one each.
        found = self.records.load_many(wanted.values())
        for uuid, path in wanted.items():
            item_loaded = found[path]
            if item_loaded is None:
                continue
            out.items[uuid] = QueueItem.from_dict(item_loaded.data)
            out.item_versions[uuid] = item_loaded.version
        return out

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
