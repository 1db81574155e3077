"""Folders of ZooKeeper nodes mirrored in memory by watches, for a reader
that looks at every node of a folder again and again (the scheduler, each
pass, at thousands of node and build requests).

Who calls it: the stores of this package hand out views of their folders
(``lockgate.zk.requests``: ``record_view``, ``lock_view``); their reader
calls :func:`sync_watches` and then :meth:`FolderView.refresh` whenever it
wants the folder as it is now.  Nothing outside ``lockgate.zk`` sees kazoo.

Why: reading (or only stat'ing) N nodes costs N requests, about 0.1-0.3 ms
of Python each in kazoo, however few changed.  A view reads a node once and
then again only after ZooKeeper said it changed.

How:

- a child watch on the folder marks the listing stale (a child came or
  went); a watch on each child, set by the read that fetched it, marks that
  child stale.  Watch callbacks run on kazoo's thread and only mark (under
  a mutex): every read happens in ``refresh``, on the caller's thread.
- :func:`sync_watches` is the barrier that makes a refresh as fresh as a
  direct read made at that moment: ZooKeeper sends a watch event before the
  answer to any later request of the same session (``sync`` first, so a
  follower server has caught up), and kazoo hands events to its callback
  thread in order, so once a marker queued behind them has run, every
  change made before the barrier has marked its node.  The scheduler's own
  writes are changes like any other: a build request it just submitted is
  in the next refresh.
- a lost connection drops every watch (kazoo tells each watcher with a
  ``NONE`` event); so does a new session or a new kazoo client.  The next
  refresh then lists and reads everything again (re-setting the watches),
  as a first refresh does.  A refresh that fails part way leaves its work
  marked, never a view that claims to be current.
- memory follows the folder: a child that is gone leaves the view.

Not for kazoo's threads: ``sync_watches`` waits for kazoo's callback
thread, so calling it from a watch callback would wait for itself.
"""

from __future__ import annotations

import enum
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from kazoo.exceptions import NoNodeError
from kazoo.protocol.states import Callback, EventType, WatchedEvent
from lockgate.zk.client import ZKClient
from lockgate.zk.errors import ZKConnectionError, ZKError, translate_kazoo_errors

log = logging.getLogger("lockgate.zk.views")

V = TypeVar("V")

#: Requests in flight at once while reading many children.
BATCH = 500


class ChildRead(enum.Enum):
    """What a view reads of each child (and so which watch it sets)."""

    DATA = "data"  # get: (bytes, stat); fires when the data changes or it goes
    # exists: the stat alone (for a reader that keeps the data itself); fires
    # as DATA does.  A child deleted between the listing and its stat leaves
    # a watch for its creation (ZooKeeper sets one on a missing node) until
    # the connection drops: rare, and only with names that come and go.
    STAT = "stat"
    CHILDREN = "children"  # get_children: names; fires when they change or it goes


@dataclass
class _Entry(Generic[V]):
    key: tuple[int, int]  # (czxid, version) of the data read; (0, 0) for CHILDREN
    value: V | None  # None: present but nothing to show (e.g. a tombstone)


@translate_kazoo_errors
def sync_watches(client: ZKClient, path: str = "/") -> None:
    """Wait until every change ZooKeeper made before now has reached this
    client's watch callbacks; then a :meth:`FolderView.refresh` with
    ``synced=True`` shows all of them.  One round trip and one hand-over to
    kazoo's callback thread (about a millisecond)."""
    kz = client.kazoo
    client.retry(kz.sync, path)
    done = threading.Event()
    kz.handler.dispatch_callback(Callback("watch", done.set, ()))
    if not done.wait(client.retry_deadline):
        raise ZKError(
            f"ZooKeeper watch events not delivered within {client.retry_deadline}s "
            "(sync_watches called from kazoo's callback thread?)"
        )


@translate_kazoo_errors
class FolderView(Generic[V]):
    """The children of ``folder``, each read once and again only when it
    changed, converted by ``convert(name, answer)`` (answer: ``(bytes,
    stat)`` for DATA, the stat for STAT, the child's own children for
    CHILDREN; None from ``convert``: leave it out).  ``convert`` runs in
    ``refresh`` (it may read ZooKeeper; an exception from it fails the
    refresh, which is then tried again in full).  For DATA and STAT, a
    child read again with the same creation zxid and version keeps its
    converted value."""

    def __init__(
        self,
        client: ZKClient,
        folder: str,
        read: ChildRead,
        convert: Callable[[str, Any], V | None],
    ) -> None:
        self.client = client
        self.folder = folder
        self.read = read
        self.convert = convert
        self._mutex = threading.Lock()  # guards what watch callbacks touch
        self._refreshing = threading.Lock()  # one refresh at a time
        self._dirty: set[str] = set()
        self._relist = True
        self._resync = True
        self._entries: dict[str, _Entry[V]] = {}
        # What ``refresh`` returns, sorted by name; kept between refreshes
        # (at thousands of children, sorting anew each time shows in a pass).
        self._shown: dict[str, V] | None = None
        self._session: tuple[int, int] | None = None  # (id of the kazoo client, session id)
        self._closed = False
        self.reads = 0  # children read so far (tests and benchmarks look)

    # --- watch callbacks (kazoo's thread: mark only) ------------------------------------

    def _on_folder(self, event: WatchedEvent) -> None:
        with self._mutex:
            if event.type == EventType.NONE:
                self._resync = True
            else:
                self._relist = True

    def _on_child(self, event: WatchedEvent) -> None:
        with self._mutex:
            if event.type == EventType.NONE or not event.path:
                self._resync = True
            else:
                self._dirty.add(event.path.rsplit("/", 1)[1])

    # --- reading ------------------------------------------------------------------------

    def refresh(self, *, synced: bool = False) -> dict[str, V]:
        """The folder as it is now: child name -> converted value, sorted by
        name.  Reads only the children that changed since the last refresh
        (everything the first time and after a lost connection).  Without
        ``synced``, calls :func:`sync_watches` first; pass ``synced=True``
        after calling it yourself (one barrier for several views).  The
        values are shared with the view: treat them as read-only."""
        if self._closed:
            raise ZKError(f"view of {self.folder} is closed")
        with self._refreshing:
            if not synced:
                sync_watches(self.client, self.folder)
            deadline = time.monotonic() + self.client.retry_deadline
            while True:
                try:
                    self._update()
                    break
                except ZKConnectionError:
                    raise
                except _ConnectionTrouble as trouble:
                    with self._mutex:
                        self._resync = True
                    if time.monotonic() > deadline or not self.client.wait_connected(
                        max(0.0, deadline - time.monotonic())
                    ):
                        raise ZKConnectionError(
                            f"cannot read {self.folder}: ZooKeeper at {self.client.hosts} "
                            f"kept failing ({trouble})"
                        ) from trouble
                    log.info(
                        "reading %s interrupted (%s); reading it all again", self.folder, trouble
                    )
                except BaseException:
                    with self._mutex:
                        self._resync = True
                    raise
            if self._shown is None:
                self._shown = {
                    name: entry.value
                    for name, entry in sorted(self._entries.items())
                    if entry.value is not None
                }
            return dict(self._shown)

    def _update(self) -> None:
        if not self.client.wait_connected(self.client.retry_deadline):
            raise ZKConnectionError(
                f"cannot read {self.folder}: ZooKeeper at {self.client.hosts} unavailable"
            )
        kz = self.client.kazoo
        session = (id(kz), kz.client_id[0] if kz.client_id else 0)
        with self._mutex:
            if session != self._session:
                self._resync = True
            resync, relist, dirty = self._resync, self._relist, self._dirty
            self._resync, self._relist, self._dirty = False, False, set()
        try:
            self._session = session
            if resync or relist:
                names = self._list()
                for name in set(self._entries) - names:
                    self._drop(name)
                todo = names if resync else (names - set(self._entries)) | dirty
            else:
                todo = dirty
            self._read(sorted(todo))
        except BaseException:
            # Put the work back: the next refresh does it (at least) again.
            with self._mutex:
                self._resync |= resync
                self._relist |= relist
                self._dirty |= dirty
            raise

    def _list(self) -> set[str]:
        """The folder's children, with a child watch (or, while the folder
        does not exist, a watch for its creation)."""
        kz = self.client.kazoo
        while True:
            try:
                listed = self._send(kz.get_children_async, self.folder, self._on_folder)
                return set(self._answer(listed))
            except NoNodeError:
                found = self._send(kz.exists_async, self.folder, self._on_folder)
                if self._answer(found) is None:
                    return set()
                # Created in between: list it.

    def _read(self, names: list[str]) -> None:
        kz = self.client.kazoo
        call: Callable[..., Any] = {
            ChildRead.DATA: kz.get_async,
            ChildRead.STAT: kz.exists_async,
            ChildRead.CHILDREN: kz.get_children_async,
        }[self.read]
        for start in range(0, len(names), BATCH):
            batch = names[start : start + BATCH]
            pending = [self._send(call, f"{self.folder}/{name}", self._on_child) for name in batch]
            for name, result in zip(batch, pending, strict=True):
                try:
                    answer = self._answer(result)
                except NoNodeError:
                    answer = None
                if answer is None:  # gone (``exists`` says None)
                    self._drop(name)
                    continue
                self.reads += 1
                self._store(name, answer)

    def _send(
        self, call: Callable[..., Any], path: str, watch: Callable[[WatchedEvent], None]
    ) -> Any:
        """Send one request (kazoo's ``*_async``) with a watch."""
        try:
            return call(path, watch=watch)
        except Exception as exc:  # noqa: BLE001 - e.g. the connection closed meanwhile
            if _is_trouble(exc):
                raise _ConnectionTrouble(type(exc).__name__) from exc
            raise

    def _store(self, name: str, answer: Any) -> None:
        if self.read is not ChildRead.CHILDREN:
            stat = answer[1] if self.read is ChildRead.DATA else answer
            key = (stat.czxid, stat.version)
            old = self._entries.get(name)
            if old is not None and old.key == key:
                return
        else:
            key = (0, 0)
        value = self.convert(name, answer)
        self._entries[name] = _Entry(key, value)
        if self._shown is None:
            return
        if value is None:
            self._shown.pop(name, None)
        elif name in self._shown:
            self._shown[name] = value  # in its place
        else:
            self._shown = None  # a newcomer: sorted in at the next refresh

    def _drop(self, name: str) -> None:
        self._entries.pop(name, None)
        if self._shown is not None:
            self._shown.pop(name, None)

    def _answer(self, result: Any) -> Any:
        """A request's answer; kazoo's connection troubles as
        ``_ConnectionTrouble`` (the refresh starts again once connected)."""
        try:
            return result.get(timeout=self.client.retry_deadline)
        except NoNodeError:
            raise
        except ZKError:
            raise
        except Exception as exc:  # noqa: BLE001 - ConnectionLoss, SessionExpired, timeouts...
            if _is_trouble(exc):
                raise _ConnectionTrouble(type(exc).__name__) from exc
            raise

    # --- the end ------------------------------------------------------------------------

    def close(self) -> None:
        """Forget everything; watches still set fire once into nothing."""
        self._closed = True
        with self._mutex:
            self._dirty.clear()
        self._entries.clear()
        self._shown = None

    def __len__(self) -> int:
        return len(self._entries)


class _ConnectionTrouble(Exception):
    """A read failed because of the connection: read everything again."""


def _is_trouble(exc: BaseException) -> bool:
    from kazoo.exceptions import ConnectionLoss, OperationTimeoutError, SessionExpiredError
    from kazoo.handlers.threading import KazooTimeoutError

    return isinstance(
        exc, (ConnectionLoss, OperationTimeoutError, SessionExpiredError, KazooTimeoutError)
    )
