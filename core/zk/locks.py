"""Locks in ZooKeeper that tell their holder when they are lost.

Who calls it: the scheduler (tenant and pipeline locks around event
processing), executors and launchers (through requests.py, to claim a build
or node request, and to hold a node while in use), and anything that must run
in one process only (``named_lock``).

A lock is an ephemeral sequential node under the lock's path (kazoo's lock
recipe): the holder's process dying or its session expiring frees the lock for
the next contender.  That is the point -- and also the danger: a holder whose
session expired keeps running but no longer holds anything, and a peer may
already be doing the same work.  :class:`SessionAwareLock` therefore watches
the session and sets :attr:`SessionAwareLock.lost` (and calls ``on_lost``);
holders check it before writing results (``check()`` raises
:class:`LockLost`) and drop the work for the peer.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from kazoo.exceptions import LockTimeout as KazooLockTimeout
from kazoo.exceptions import NoNodeError
from kazoo.recipe.lock import Lock
from lockgate.zk import paths
from lockgate.zk.client import ZKClient
from lockgate.zk.errors import LockLost, LockTimeout, ZKConnectionError, translate_kazoo_errors

log = logging.getLogger("lockgate.zk.locks")


def default_identifier() -> str:
    """Who holds a lock, as shown by ``contenders``: host and pid."""
    import os

    return f"{socket.gethostname()}:{os.getpid()}"


@translate_kazoo_errors
class SessionAwareLock:
    """A ZooKeeper lock at ``path`` that knows when it was lost.

    Not re-entrant.  One instance per claim: after ``release`` (or loss) make
    a new one to lock again.  ``timeout`` is used by ``with lock:``
    (:class:`LockTimeout` when it runs out; None waits forever).
    """

    def __init__(
        self,
        client: ZKClient,
        path: str,
        *,
        identifier: str | None = None,
        on_lost: Callable[[], None] | None = None,
        timeout: float | None = None,
    ) -> None:
        self.client = client
        self.path = path
        self.timeout = timeout
        self.identifier = identifier or default_identifier()
        self._on_lost = on_lost
        self._lock = Lock(client.kazoo, path, identifier=self.identifier)
        self._lost = threading.Event()
        self._held = False

    def acquire(self, *, blocking: bool = True, timeout: float | None = None) -> bool:
        """Take the lock.  Non-blocking: True/False at once.  Blocking with
        ``timeout``: :class:`LockTimeout` when it runs out.

        ZooKeeper away: kazoo would queue the lock's requests until it is back,
        however long; this waits at most the client's ``retry_deadline`` (not
        at all once the process is stopping), then raises
        :class:`ZKConnectionError`."""
        if not self.client.wait_connected(self.client.retry_deadline):
            raise ZKConnectionError(
                f"cannot lock {self.path}: ZooKeeper at {self.client.hosts} away"
            )
        try:
            got = self._lock.acquire(blocking=blocking, timeout=timeout)
        except KazooLockTimeout as exc:
            raise LockTimeout(self.path, timeout) from exc
        if not got:
            if blocking:
                raise LockTimeout(self.path, timeout)
            return False
        self._held = True
        self._lost.clear()
        self.client.on_session_lost(self._session_lost)
        return True

    def _session_lost(self) -> None:
        if not self._held:
            return
        log.warning("lock %s lost with the ZooKeeper session", self.path)
        self.client.remove_callback(self._session_lost)
        self._held = False
        self._lost.set()
        if self._on_lost is not None:
            try:
                self._on_lost()
            except Exception:
                log.exception("on_lost callback of lock %s failed", self.path)

    @property
    def lost(self) -> bool:
        """True once the session holding this lock expired."""
        return self._lost.is_set()

    @property
    def held(self) -> bool:
        """True while acquired, not released, and the session not lost."""
        return self._held and not self._lost.is_set()

    def check(self) -> None:
        """Raise :class:`LockLost` if the lock was lost: call before acting
        on the claim (writing a result, merging, reporting)."""
        if self._lost.is_set():
            raise LockLost(f"lock {self.path} was lost with the ZooKeeper session")

    def fence(self) -> None:
        """Raise :class:`LockLost` unless the lock is held *and* its session is
        connected right now: call before an effect outside ZooKeeper that a
        peer must never repeat (a report to a review system, a merge).

        ``check`` alone trusts a session until the client hears it expired;
        a holder cut off from ZooKeeper (paused, partitioned) may already
        have been replaced by a peer that took the lock.  A client notices
        the silence (two thirds of the session timeout) before the server
        expires the session, so refusing while disconnected closes that
        window; the work is done again by whoever holds the lock next."""
        self.check()
        if not self._held:
            raise LockLost(f"lock {self.path} is not held")
        if not self.client.connected:
            raise LockLost(
                f"lock {self.path}: not connected to ZooKeeper, a peer may hold it by now"
            )

    def release(self) -> None:
        """Release (idempotent; harmless after loss)."""
        self.client.remove_callback(self._session_lost)
        if self._held:
            self._held = False
            if self.client.shutting_down and not self.client.connected:
                # kazoo would queue the delete until ZooKeeper is back; the
                # process is stopping and the node goes with its session.
                log.info("lock %s left to the session (ZooKeeper away at stop)", self.path)
                return
            try:
                self._lock.release()
            except NoNodeError:
                pass
            except Exception:
                # Connection gone: the ephemeral node vanishes with the session.
                log.warning("could not release lock %s cleanly", self.path, exc_info=True)

    def contenders(self) -> list[str]:
        """Identifiers of the holder and waiters, holder first."""
        return list(self._lock.contenders())

    def __enter__(self) -> SessionAwareLock:
        if not self._held:
            self.acquire(timeout=self.timeout)
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


@translate_kazoo_errors
def is_locked(client: ZKClient, path: str) -> bool:
    """Whether anyone holds (or waits for) the lock at ``path`` now.

    Because lock nodes are ephemeral, False after a claim means the claimer
    released it or died."""
    kz = client.kazoo
    try:
        children = client.retry(kz.get_children, path)
    except NoNodeError:
        return False
    return any(paths.LOCK_CHILD_MARK in child for child in children)


@translate_kazoo_errors
def remove_lock_path(client: ZKClient, path: str) -> None:
    """Delete a lock's (persistent) parent node if nobody holds it, e.g.
    after the record it guards was deleted."""
    kz = client.kazoo
    try:
        client.retry(kz.delete, path)
    except Exception:
        pass  # missing, or held (not empty): fine either way


@contextmanager
def locked(
    client: ZKClient,
    path: str,
    *,
    timeout: float | None = None,
    on_lost: Callable[[], None] | None = None,
) -> Iterator[SessionAwareLock]:
    """``with locked(client, path, timeout=5) as lock:`` -- hold the lock at
    ``path`` for the block (:class:`LockTimeout` if not acquired in time)."""
    lock = SessionAwareLock(client, path, on_lost=on_lost, timeout=timeout)
    lock.acquire(timeout=timeout)
    try:
        yield lock
    finally:
        lock.release()


def tenant_lock(client: ZKClient, tenant: str, *, timeout: float | None = None) -> SessionAwareLock:
    """The (unacquired) lock a scheduler holds while processing a tenant's
    events: ``with tenant_lock(client, "t", timeout=10) as lock: ...``."""
    return SessionAwareLock(client, paths.tenant_lock(tenant), timeout=timeout)


def pipeline_lock(
    client: ZKClient, tenant: str, pipeline: str, *, timeout: float | None = None
) -> SessionAwareLock:
    """The (unacquired) lock on one pipeline of a tenant."""
    return SessionAwareLock(client, paths.pipeline_lock(tenant, pipeline), timeout=timeout)
