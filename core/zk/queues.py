"""Sequential event queues: a tenant's trigger, management and result queues.

Who calls it: drivers and web ``put`` trigger and management events;
executors and launchers ``put`` result events; the scheduler holding the
tenant's lock reads them in order with ``list``/``peek``, processes each and
``ack``s it.  ``watch`` wakes a consumer when something arrives, so nobody
polls.

Layout under the queue's path (see ``paths.queue_entries``/``queue_dedup``):

- ``entries/<token>-<seq>``: one persistent sequential node per event, its data
  a record envelope (records.py: JSON, zlib-compressed when large).  ``seq``
  gives the order; ``token`` is a random per-put tag that lets a put that lost
  its connection mid-request find out whether it happened, so a retry never
  enqueues twice and never loses the event;
- ``dedup/<key>``: optional markers of keys already accepted (e.g. a webhook
  delivery id seen by two web replicas); pruned after ``DEDUP_TTL`` seconds.

An entry stays until it is acked: a consumer that dies before ``ack`` leaves
it for the next one (at-least-once delivery; consumers are idempotent).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from kazoo.exceptions import (
    ConnectionLoss,
    NodeExistsError,
    NoNodeError,
    OperationTimeoutError,
    SessionExpiredError,
)
from kazoo.recipe.watchers import ChildrenWatch
from lockgate.zk import paths
from lockgate.zk.client import ZKClient
from lockgate.zk.errors import RecordTooLarge, ZKConnectionError, translate_kazoo_errors
from lockgate.zk.records import MAX_NODE_BYTES, decode_envelope, encode_inline

log = logging.getLogger("lockgate.zk.queues")

SCHEMA = 1
DEDUP_TTL = 3600.0
_SEQ_DIGITS = 10
_RETRYABLE = (ConnectionLoss, OperationTimeoutError, SessionExpiredError)


def _seq(name: str) -> int:
    return int(name[-_SEQ_DIGITS:])


@translate_kazoo_errors
class EventQueue:
    """A FIFO of JSON dicts at ``path`` (e.g. ``paths.trigger_queue(tenant)``).

    Entry ids are strings that sort in queue order only through ``list``; treat
    them as opaque.  Thread-safe; several producers and consumers may share a
    queue, but only the holder of the tenant's lock should consume.
    """

    def __init__(self, client: ZKClient, path: str, *, retry_deadline: float | None = None) -> None:
        self.client = client
        self.path = path
        self.entries = paths.queue_entries(path)
        self.dedup = paths.queue_dedup(path)
        self.retry_deadline = (
            retry_deadline if retry_deadline is not None else client.retry_deadline
        )
        self._last_prune = 0.0
        self._prune_lock = threading.Lock()
        self._ensured = False
        #: How many puts were interrupted by a lost connection and retried
        #: (for logs and tests; each retried put still enqueued exactly once).
        self.interrupted = 0

    def _ensure(self) -> None:
        if not self._ensured:
            kz = self.client.kazoo
            self.client.retry(kz.ensure_path, self.entries)
            self.client.retry(kz.ensure_path, self.dedup)
            self._ensured = True

    # --- producing -----------------------------------------------------------------------

    def put(self, event: dict[str, Any], *, dedup_key: str | None = None) -> str | None:
        """Append ``event``; return its entry id.

        With ``dedup_key``, an event whose key was accepted in the last
        ``DEDUP_TTL`` seconds is dropped and None returned.  A connection lost
        mid-put is retried until ``retry_deadline`` without duplicating the
        entry; if ZooKeeper stays away, :class:`ZKConnectionError` is raised
        (the event was then *not* enqueued... unless the server applied it,
        which the next ``list`` shows: callers needing certainty use a key).
        """
        raw = encode_inline(event, SCHEMA)
        if len(raw) > MAX_NODE_BYTES:
            raise RecordTooLarge(
                f"event for queue {self.path} is {len(raw)} bytes compressed; "
                f"queue entries must stay under {MAX_NODE_BYTES}: store the bulk in a record "
                "and put its path in the event"
            )
        self._ensure()
        token = uuid.uuid4().hex
        deadline = time.monotonic() + self.retry_deadline
        attempted = False
        while True:
            if not self.client.wait_connected(max(0.0, deadline - time.monotonic())):
                raise ZKConnectionError(
                    f"could not put event on {self.path}: ZooKeeper at "
                    f"{self.client.hosts} unavailable for {self.retry_deadline}s"
                )
            try:
                if attempted:
                    found = self._find_token(token)
                    if found is not None:
                        return found
                    if dedup_key is not None:
                        owner = self._dedup_owner(dedup_key)
                        if owner is not None and owner != token:
                            return None
                attempted = True
                return self._put_once(raw, token, dedup_key)
            except _RETRYABLE as exc:
                self.interrupted += 1
                log.info("put on %s interrupted (%s); retrying", self.path, type(exc).__name__)
                if time.monotonic() > deadline:
                    raise ZKConnectionError(
                        f"could not put event on {self.path}: ZooKeeper at "
                        f"{self.client.hosts} unreachable for {self.retry_deadline}s"
                    ) from exc
                self.client.wait_connected(1.0)

    def _put_once(self, raw: bytes, token: str, dedup_key: str | None) -> str | None:
        kz = self.client.kazoo
        prefix = f"{self.entries}/{token}-"
        if dedup_key is None:
            created = kz.create(prefix, raw, sequence=True)
            return created.rsplit("/", 1)[1]
        tx = kz.transaction()
        tx.create(paths.queue_dedup_marker(self.path, dedup_key), token.encode())
        tx.create(prefix, raw, sequence=True)
        results = tx.commit()
        if isinstance(results[0], NodeExistsError):
            return None
        for result in results:
            if isinstance(result, Exception):
                raise result
        self._maybe_prune()
        return str(results[1]).rsplit("/", 1)[1]

    def _find_token(self, token: str) -> str | None:
        kz = self.client.kazoo
        for name in kz.get_children(self.entries):
            if name.startswith(token + "-"):
                return name
        return None

    def _dedup_owner(self, key: str) -> str | None:
        kz = self.client.kazoo
        try:
            data, _ = kz.get(paths.queue_dedup_marker(self.path, key))
        except NoNodeError:
            return None
        return data.decode()

    # --- consuming --------------------------------------------------------------------

    def ids(self) -> list[str]:
        """Entry ids in queue order."""
        kz = self.client.kazoo
        try:
            names = self.client.retry(kz.get_children, self.entries)
        except NoNodeError:
            return []
        return sorted(names, key=_seq)

    def list(self, limit: int | None = None) -> list[tuple[str, dict[str, Any]]]:
        """``(id, event)`` pairs in queue order (at most ``limit``)."""
        ids = self.ids()
        if limit is not None:
            ids = ids[:limit]
        kz = self.client.kazoo
        # Pipelined: every read is sent before the first answer is awaited.
        pending = [kz.get_async(f"{self.entries}/{entry_id}") for entry_id in ids]
        out: list[tuple[str, dict[str, Any]]] = []
        for entry_id, result in zip(ids, pending, strict=True):
            try:
                raw, _ = result.get()
            except NoNodeError:
                continue  # acked by someone meanwhile
            except _RETRYABLE:
                try:
                    raw, _ = self.client.retry(kz.get, f"{self.entries}/{entry_id}")
                except NoNodeError:
                    continue
            try:
                out.append((entry_id, decode_envelope(raw).get("data") or {}))
            except Exception:
                log.exception("unreadable entry %s in %s: skipped", entry_id, self.path)
        return out

    def peek(self) -> tuple[str, dict[str, Any]] | None:
        """The oldest entry, or None if the queue is empty."""
        first = self.list(limit=1)
        return first[0] if first else None

    def __len__(self) -> int:
        return len(self.ids())

    def ack(self, entry_id: str) -> bool:
        """Remove a processed entry; False if it was already gone."""
        kz = self.client.kazoo
        try:
            self.client.retry(kz.delete, f"{self.entries}/{entry_id}")
        except NoNodeError:
            return False
        finally:
            self._maybe_prune()
        return True

    # --- waking consumers ------------------------------------------------------

    def watch(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Call ``callback()`` now and whenever entries are added or removed,
        also after a reconnection (anything may have arrived meanwhile).

        It runs on a kazoo thread: keep it short (set an event, or
        ``loop.call_soon_threadsafe``).  Returns a function that stops the watch.
        """
        self._ensure()
        stopped = threading.Event()

        def on_children(_children: list[str]) -> bool | None:
            if stopped.is_set():
                return False
            try:
                callback()
            except Exception:
                log.exception("queue watch callback for %s failed", self.path)
            return None

        ChildrenWatch(self.client.kazoo, self.entries, on_children)
        return stopped.set

    # --- dedup markers ------------------------------------------------------------------

    # When this process last pruned each queue path: shared by every object
    # of a path, because callers make a queue object per put (the web per
    # webhook, the scheduler per trigger event) and a pruning that reads every
    # marker at each put made puts quadratic in the markers of the last hour.
    _pruned_at: dict[str, float] = {}
    _pruned_lock = threading.Lock()

    def _maybe_prune(self) -> None:
        now = time.time()
        with EventQueue._pruned_lock:
            if now - EventQueue._pruned_at.get(self.path, 0.0) < 60.0:
                return
            EventQueue._pruned_at[self.path] = now
        if not self._prune_lock.acquire(blocking=False):
            return
        try:
            self._last_prune = now
            self.prune_dedup(DEDUP_TTL)
        except Exception:
            log.exception("pruning dedup markers of %s failed", self.path)
        finally:
            self._prune_lock.release()

    def prune_dedup(self, older_than: float = DEDUP_TTL) -> int:
        """Delete dedup markers older than ``older_than`` seconds; return how many."""
        kz = self.client.kazoo
        cutoff_ms = (time.time() - older_than) * 1000
        pruned = 0
        try:
            keys = self.client.retry(kz.get_children, self.dedup)
        except NoNodeError:
            return 0
        for key in keys:
            marker = f"{self.dedup}/{key}"
            try:
                stat = self.client.retry(kz.exists, marker)
                if stat is not None and stat.ctime < cutoff_ms:
                    self.client.retry(kz.delete, marker)
                    pruned += 1
            except NoNodeError:
                pass
        return pruned


def trigger_queue(client: ZKClient, tenant: str) -> EventQueue:
    """The tenant's trigger-event queue (``TriggerEvent.to_dict()`` entries)."""
    return EventQueue(client, paths.trigger_queue(tenant))


def management_queue(client: ZKClient, tenant: str) -> EventQueue:
    """The tenant's management-event queue (enqueue, dequeue, promote, reconfigure)."""
    return EventQueue(client, paths.management_queue(tenant))


def result_queue(client: ZKClient, tenant: str) -> EventQueue:
    """The tenant's result-event queue (``ResultEvent.to_dict()`` entries)."""
    return EventQueue(client, paths.result_queue(tenant))
