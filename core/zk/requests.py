"""Node requests, build requests and nodes: records that one process submits
and another claims by locking.

Who calls it:

- :class:`NodeRequestStore` -- the scheduler submits ``NodeRequest``s and
  deletes them when done; launchers ``list``, ``lock`` one (non-blocking: if
  another launcher has it, move on), provision, ``update`` it.
- :class:`BuildRequestStore` (one per executor zone) -- the scheduler submits
  ``BuildRequest``s; executors ``lock`` one to claim it, ``update`` state and
  result.  :func:`build_request_zones` / :func:`build_zone_view` name the
  zones that have build requests, for a reader of every zone (the
  scheduler).  The lock is ephemeral: when an executor dies its lock vanishes, so
  the scheduler sees a RUNNING request that ``is_locked`` no longer and
  re-submits it (a retry).
- :class:`NodeStore` -- launchers ``create`` ``Node`` records and delete them;
  executors ``lock`` the nodes of a build while using them.

Every record is stored with records.py (versioned, compressed, sharded when
large).  ``get`` returns ``Versioned(record, version)``; ``update(record,
version)`` raises :class:`RecordConflict` if someone wrote in between.  The
record's ``id`` (or ``uuid``) is the last segment of its path: a sequence
number assigned by ZooKeeper for node requests and nodes, the scheduler's uuid
for build requests.

Lock nodes live in a sibling tree (``paths.node_request_lock`` ...) so that
listing requests never shows locks; ``delete`` removes the lock's parent too.

The scheduler, which looks at every request each pass, reads them from
views that ZooKeeper watches keep (``record_view``, ``lock_view``; see
``lockgate.zk.views``) instead of listing them.
"""

from __future__ import annotations

import builtins
import logging
import time
import uuid as uuidlib
from collections.abc import Callable, Iterable
from typing import Any, Generic, TypeVar

from kazoo.exceptions import (
    ConnectionLoss,
    NoNodeError,
    OperationTimeoutError,
    SessionExpiredError,
)
from kazoo.recipe.watchers import ChildrenWatch, DataWatch
from lockgate.model.builds import BuildRequest, BuildState
from lockgate.model.nodes import Node, NodeRequest, NodeRequestState, NodeState
from lockgate.zk import paths
from lockgate.zk.client import ZKClient
from lockgate.zk.errors import (
    LockTimeout,
    RecordNotFound,
    ZKConnectionError,
    translate_kazoo_errors,
)
from lockgate.zk.locks import SessionAwareLock, is_locked, remove_lock_path
from lockgate.zk.records import (
    MAX_NODE_BYTES,
    RecordStore,
    Serializable,
    Versioned,
    encode_inline,
    pipelined,
)
from lockgate.zk.views import ChildRead, FolderView

log = logging.getLogger("lockgate.zk.requests")

T = TypeVar("T", bound=Serializable)

SCHEMA = 1


@translate_kazoo_errors
class _LockableStore(Generic[T]):
    """Records of one type in one folder, each claimable with a lock."""

    cls: Any  # the model dataclass, with from_dict/to_dict
    id_field = "id"

    def __init__(self, client: ZKClient) -> None:
        self.client = client
        self.records = RecordStore(client, schema=SCHEMA)
        self._record_view: FolderView[Versioned[T]] | None = None
        self._lock_view: FolderView[bool] | None = None

    # Paths, given by subclasses.
    def _folder(self) -> str:
        raise NotImplementedError

    def _path(self, record_id: str) -> str:
        raise NotImplementedError

    def _lock_path(self, record_id: str) -> str:
        raise NotImplementedError

    def _lock_folder(self) -> str:
        """The folder holding every record's lock folder (``lock_view``)."""
        raise NotImplementedError

    # --- records ----------------------------------------------------------------------

    def _decode(self, record_id: str, data: dict[str, Any]) -> T:
        # The path is authoritative for the id (sequential ids are only
        # known after the create).
        return self.cls.from_dict({**data, self.id_field: record_id})

    def _encode(self, record: T) -> dict[str, Any]:
        return record.to_dict()

    def get(self, record_id: str) -> Versioned[T] | None:
        """The record with its version, or None if it does not exist."""
        loaded = self.records.load(self._path(record_id))
        if loaded is None:
            return None
        return Versioned(self._decode(record_id, loaded.data), loaded.version)

    def update(self, record: T, version: int | None) -> int:
        """Write ``record`` back if unchanged since ``version`` was read
        (:class:`RecordConflict` otherwise, also if it was deleted);
        ``version=None`` overwrites unconditionally.  Returns the new version."""
        record_id = getattr(record, self.id_field)
        path = self._path(record_id)
        if version is None and not self.records.exists(path):
            raise RecordNotFound(path)
        return self.records.save(path, self._encode(record), version=version)

    def delete(self, record_id: str, *, version: int | None = None) -> bool:
        """Delete the record and its lock folder; False if it was not there."""
        deleted = self.records.delete(self._path(record_id), version=version)
        remove_lock_path(self.client, self._lock_path(record_id))
        return deleted

    def ids(self) -> list[str]:
        """Ids of all records, sorted (submission order for sequential ids)."""
        kz = self.client.kazoo
        try:
            return sorted(self.client.retry(kz.get_children, self._folder()))
        except NoNodeError:
            return []

    def list(self) -> list[Versioned[T]]:
        """Every record (skipping ones deleted while listing), in ``ids`` order."""
        ids = self.ids()
        loaded = self.records.load_many(self._path(record_id) for record_id in ids)
        out = []
        for record_id in ids:
            found = loaded[self._path(record_id)]
            if found is not None:
                out.append(Versioned(self._decode(record_id, found.data), found.version))
        return out

    # --- views kept by watches (the scheduler's pass) ----------------------------------

    def record_view(self) -> FolderView[Versioned[T]]:
        """Every record of this store, kept in memory by ZooKeeper watches
        (``lockgate.zk.views``): ``refresh()`` gives record id -> Versioned,
        having read only the records written since the last refresh.  For a
        reader that looks at all of them often (the scheduler, each pass).
        One per store, made on first use.  The records are shared with the
        view: treat them as read-only (copy before changing one)."""
        if self._record_view is None:
            self._record_view = FolderView(
                self.client, self._folder(), ChildRead.DATA, self._from_answer
            )
        return self._record_view

    def lock_view(self) -> FolderView[bool]:
        """Which records' locks are held, kept by watches as ``record_view``:
        ``refresh()`` gives record id -> True for each lock someone holds or
        waits for (``is_locked`` of every record, without a request each)."""
        if self._lock_view is None:
            self._lock_view = FolderView(
                self.client, self._lock_folder(), ChildRead.CHILDREN, _held
            )
        return self._lock_view

    def _from_answer(self, record_id: str, answer: tuple[bytes, Any]) -> Versioned[T] | None:
        """A record from the bytes a view read (None: a deletion's tombstone),
        decoded as every other read decodes it (``RecordStore.from_answer``)."""
        raw, stat = answer
        loaded = self.records.from_answer(self._path(record_id), raw, stat.version)
        if loaded is None:
            return None
        return Versioned(self._decode(record_id, loaded.data), loaded.version)

    # --- claims ---------------------------------------------------------------------

    def lock(
        self,
        record_id: str,
        *,
        blocking: bool = False,
        timeout: float | None = None,
        on_lost: Callable[[], None] | None = None,
    ) -> SessionAwareLock | None:
        """Claim the record: a held :class:`SessionAwareLock`, or None if
        someone else holds it (non-blocking) or ``timeout`` ran out.  Release
        it when done; if its ``lost`` turns True, drop the work."""
        lock = SessionAwareLock(self.client, self._lock_path(record_id), on_lost=on_lost)
        try:
            if lock.acquire(blocking=blocking, timeout=timeout):
                return lock
        except LockTimeout:
            return None
        return None

    def is_locked(self, record_id: str) -> bool:
        """Whether some live process holds (or waits for) the record's lock."""
        return is_locked(self.client, self._lock_path(record_id))

    def locked(self, record_ids: Iterable[str]) -> dict[str, bool]:
        """``is_locked`` of many records, pipelined (one round trip for all
        instead of one each): record id -> whether its lock is held."""
        ids = list(record_ids)
        lock_paths = {record_id: self._lock_path(record_id) for record_id in ids}
        found = pipelined(self.client, "get_children_async", lock_paths.values())
        out: dict[str, bool] = {}
        for record_id, path in lock_paths.items():
            children = found[path]
            if isinstance(children, NoNodeError):
                out[record_id] = False
            elif isinstance(children, BaseException):
                out[record_id] = self.is_locked(record_id)  # the retrying path
            else:
                out[record_id] = any(paths.LOCK_CHILD_MARK in child for child in children)
        return out

    # --- watching --------------------------------------------------------------------

    def watch(self, callback: Callable[[builtins.list[str]], None]) -> Callable[[], None]:
        """Call ``callback(ids)`` now and whenever a record is added or removed
        (and after reconnecting).  Runs on a kazoo thread: keep it short.
        Returns a function that stops the watch."""
        kz = self.client.kazoo
        self.client.retry(kz.ensure_path, self._folder())
        stopped = [False]

        def on_children(children: builtins.list[str]) -> bool | None:
            if stopped[0]:
                return False
            try:
                callback(sorted(children))
            except Exception:
                log.exception("watch callback on %s failed", self._folder())
            return None

        ChildrenWatch(kz, self._folder(), on_children)

        def stop() -> None:
            stopped[0] = True

        return stop

    def watch_record(
        self, record_id: str, callback: Callable[[Versioned[T] | None], None]
    ) -> Callable[[], None]:
        """Call ``callback(Versioned | None)`` now and whenever the record
        changes (None once deleted, and the watch then ends)."""
        stopped = [False]
        path = self._path(record_id)

        def on_data(_data: bytes | None, stat: Any) -> bool | None:
            if stopped[0]:
                return False
            try:
                callback(self.get(record_id) if stat is not None else None)
            except Exception:
                log.exception("watch callback on %s failed", path)
            return False if stat is None else None

        DataWatch(self.client.kazoo, path, on_data)

        def stop() -> None:
            stopped[0] = True

        return stop

    # --- creating ----------------------------------------------------------------

    def _create_sequential(self, data: dict[str, Any]) -> str:
        """Create a record with a ZooKeeper-assigned sequential id.

        Safe to retry after a connection loss: the record carries a random
        ``_creation_token`` (ignored by ``from_dict``), so a retry first looks
        for a record with its token -- the lost request may have happened --
        and never creates a second one.
        """
        kz = self.client.kazoo
        self.client.retry(kz.ensure_path, self._folder())
        token = uuidlib.uuid4().hex
        data = {**data, "_creation_token": token}
        raw = encode_inline(data, SCHEMA)
        large = len(raw) > MAX_NODE_BYTES
        if large:
            # Reserve the id with a small placeholder, then save the full
            # (sharded) record onto it.
            raw = encode_inline({"_creation_token": token}, SCHEMA)
        deadline = time.monotonic() + self.client.retry_deadline
        attempts = 0
        record_id: str | None = None
        while record_id is None:
            attempts += 1
            if not self.client.wait_connected(max(0.0, deadline - time.monotonic())):
                raise ZKConnectionError(
                    f"could not create a record in {self._folder()}: ZooKeeper "
                    f"at {self.client.hosts} unavailable for {self.client.retry_deadline}s"
                )
            try:
                if attempts > 1:
                    record_id = self._find_by_token(token)
                    if record_id is not None:
                        break
                created = kz.create(f"{self._folder()}/", raw, sequence=True)
                record_id = created.rsplit("/", 1)[1]
            except (ConnectionLoss, OperationTimeoutError, SessionExpiredError) as exc:
                if time.monotonic() > deadline:
                    raise ZKConnectionError(
                        f"could not create a record in {self._folder()}: ZooKeeper "
                        f"at {self.client.hosts} kept failing ({type(exc).__name__})"
                    ) from exc
                log.info("create in %s interrupted; retrying", self._folder())
        if large:
            self.records.save(self._path(record_id), data)
        return record_id

    def _find_by_token(self, token: str) -> str | None:
        kz = self.client.kazoo
        for record_id in sorted(kz.get_children(self._folder()), reverse=True):
            try:
                loaded = self.records.load(self._path(record_id))
            except Exception:
                continue
            if loaded is not None and loaded.data.get("_creation_token") == token:
                return record_id
        return None


def _held(_record_id: str, contenders: list[str]) -> bool | None:
    """A lock folder's children as ``lock_view`` shows them: True while
    someone holds or waits for the lock, else left out."""
    return True if any(paths.LOCK_CHILD_MARK in child for child in contenders) else None


# The public seam for other lock-claimed stores of this package (merges.py).
LockableStore = _LockableStore


@translate_kazoo_errors
class NodeRequestStore(_LockableStore[NodeRequest]):
    """Node requests at ``paths.node_requests()``; ids are ZooKeeper sequence
    numbers, so ``ids()``/``list()`` give submission order."""

    cls = NodeRequest

    def _folder(self) -> str:
        return paths.node_requests()

    def _path(self, record_id: str) -> str:
        return paths.node_request(record_id)

    def _lock_path(self, record_id: str) -> str:
        return paths.node_request_lock(record_id)

    def _lock_folder(self) -> str:
        return paths.node_request_locks()

    def submit(self, request: NodeRequest) -> str:
        """Store a new request; set and return its id."""
        request.id = self._create_sequential(self._encode(request))
        return request.id

    def pending(self) -> list[Versioned[NodeRequest]]:
        """Requests still REQUESTED, oldest first (what launchers look at)."""
        return [v for v in self.list() if v.record.state == NodeRequestState.REQUESTED]


@translate_kazoo_errors
class NodeStore(_LockableStore[Node]):
    """Node records at ``paths.nodes()``; ids are ZooKeeper sequence numbers."""

    cls = Node

    def _folder(self) -> str:
        return paths.nodes()

    def _path(self, record_id: str) -> str:
        return paths.node(record_id)

    def _lock_path(self, record_id: str) -> str:
        return paths.node_lock(record_id)

    def _lock_folder(self) -> str:
        return paths.node_locks()

    def create(self, node: Node) -> str:
        """Store a new node; set and return its id."""
        node.id = self._create_sequential(self._encode(node))
        return node.id

    def by_state(self, *states: NodeState) -> list[Versioned[Node]]:
        return [v for v in self.list() if v.record.state in states]


@translate_kazoo_errors
class BuildRequestStore(_LockableStore[BuildRequest]):
    """Build requests of one executor zone at ``paths.build_requests(zone)``,
    keyed by the uuid the scheduler gives each build."""

    cls = BuildRequest
    id_field = "uuid"

    def __init__(self, client: ZKClient, zone: str = "default") -> None:
        super().__init__(client)
        self.zone = zone

    def _folder(self) -> str:
        return paths.build_requests(self.zone)

    def _path(self, record_id: str) -> str:
        return paths.build_request(self.zone, record_id)

    def _lock_path(self, record_id: str) -> str:
        return paths.build_request_lock(self.zone, record_id)

    def _lock_folder(self) -> str:
        return paths.build_request_locks(self.zone)

    def submit(self, request: BuildRequest) -> str:
        """Store a new build request under its uuid (:class:`RecordConflict`
        if that uuid exists).  Its ``zone`` must be this store's zone."""
        if request.zone != self.zone:
            raise ValueError(
                f"build request {request.uuid} is for zone {request.zone!r}, not {self.zone!r}"
            )
        self.records.create(self._path(request.uuid), self._encode(request))
        return request.uuid

    def by_state(self, *states: BuildState) -> list[Versioned[BuildRequest]]:
        """Requests in any of ``states`` (all if none given), oldest first."""
        found = [v for v in self.list() if not states or v.record.state in states]
        return sorted(found, key=lambda v: v.record.created)

    def orphaned(self) -> list[Versioned[BuildRequest]]:
        """RUNNING requests nobody holds a lock on: their executor died."""
        return [v for v in self.by_state(BuildState.RUNNING) if not self.is_locked(v.record.uuid)]


@translate_kazoo_errors
def build_request_zones(client: ZKClient) -> list[str]:
    """The executor zones that have (or had) a build request folder, sorted."""
    try:
        children = client.retry(client.kazoo.get_children, paths.build_request_zones())
    except NoNodeError:
        return []
    return sorted(paths.unsegment(child) for child in children)


def build_zone_view(client: ZKClient) -> FolderView[str]:
    """The zones of :func:`build_request_zones`, kept by a watch on their
    parent (``lockgate.zk.views``): ``refresh()`` gives folder name -> zone
    and reads again only when a zone's folder comes or goes.  For the
    scheduler, which reads every zone's requests each pass: a job whose
    nodes are in an executor zone has its build request in that zone."""
    return FolderView(
        client,
        paths.build_request_zones(),
        ChildRead.STAT,
        lambda name, _stat: paths.unsegment(name),
    )
