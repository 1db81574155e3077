"""The connection to ZooKeeper that every Lockgate process holds.

Who calls it: each process (scheduler, executor, launcher, web, ``lockgate
up``) makes one :class:`ZKClient`, connects it at start and hands it to the
stores in this package (queues, requests, locks, components, state).  Nothing
outside ``lockgate.zk`` touches kazoo; :attr:`ZKClient.kazoo` is for this
package only.

Why a wrapper: a ZooKeeper server can restart or a network can drop.  kazoo
reconnects by itself, and if the *session* survived nothing is lost.  If the
session expired, every ephemeral node (component registrations, locks) is gone
and every lock holder must drop its work.  This class turns kazoo's state
changes into three promises:

- ``on_session_lost`` callbacks run when the session is lost (locks are gone);
- ephemeral nodes registered with :meth:`ZKClient.keep_ephemeral` are created
  again in the new session;
- ``on_reconnect`` callbacks run once the connection is back (after the
  ephemerals are restored, when the session was new).

Callbacks run on a worker thread of this client (never on kazoo's connection
thread, where ZooKeeper calls would deadlock); keep them short and hand work to
the process's own loop.

Stopping: a process told to stop calls :meth:`ZKClient.begin_shutdown`.  From
then on nothing waits for ZooKeeper to come back: an operation made while
disconnected, or one kazoo is retrying, fails at once with
:class:`ZKConnectionError`, so a component stops in seconds even with
ZooKeeper down (its ephemeral nodes and locks go with its session).  A
request kazoo already queued while disconnected would wait for the
connection however long; so once stopping, a lost connection closes the
kazoo session at once, which fails every queued request.
:meth:`ZKClient.disconnect` is bounded too.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from kazoo.client import KazooClient, KazooState
from kazoo.exceptions import (
    ConnectionLoss,
    NodeExistsError,
    NoNodeError,
    SessionExpiredError,
)
from kazoo.handlers.threading import KazooTimeoutError
from kazoo.retry import InterruptedError as RetryInterrupted
from kazoo.retry import KazooRetry
from lockgate.zk.errors import ZKConnectionError, translate_kazoo_errors

log = logging.getLogger("lockgate.zk.client")


class _StoppingWatchNoise(logging.Filter):
    """kazoo's watch recipes (``ChildrenWatch``, ``DataWatch``) read again
    when a watch fires; one that fires while this process stops finds the
    command retry interrupted (``begin_shutdown``) and kazoo logs that as an
    ERROR with a traceback from its worker thread.  Nothing is wrong — the
    process asked to stop — so that record goes to debug as one line."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, RetryInterrupted):
            log.debug("a ZooKeeper watch ended as the process stopped (%s)", record.getMessage())
            return False
        return True


logging.getLogger("kazoo.handlers.threading").addFilter(_StoppingWatchNoise())

Callback = Callable[[], None]
T = TypeVar("T")

#: How long ``disconnect`` waits for kazoo to close the session cleanly.
DISCONNECT_TIMEOUT = 5.0


@dataclass
class _Ephemeral:
    path: str
    data: Callable[[], bytes]


class ZKClient:
    """One ZooKeeper session for one process.

    ``hosts`` is kazoo's/ZooKeeper's ``host:port[,host:port...]`` string.
    ``tls_ca``/``tls_cert``/``tls_key`` are PEM files (as in ``zuul.conf``'s
    ``[zookeeper] tls_ca``, ``tls_cert``, ``tls_key``); give all three for TLS.
    ``chroot`` prefixes every path (tests use a unique one each); it is created
    on connect if missing.  ``retry_deadline`` bounds how long an operation
    retries while disconnected before raising :class:`ZKConnectionError`
    (default: the larger of 30 s and three session timeouts).
    """

    def __init__(
        self,
        hosts: str,
        *,
        tls_ca: str | None = None,
        tls_cert: str | None = None,
        tls_key: str | None = None,
        session_timeout: float = 10.0,
        chroot: str | None = None,
        retry_deadline: float | None = None,
    ) -> None:
        if any((tls_ca, tls_cert, tls_key)) and not all((tls_ca, tls_cert, tls_key)):
            raise ZKConnectionError("ZooKeeper TLS needs all three of tls_ca, tls_cert and tls_key")
        if chroot is not None and (not chroot.startswith("/") or chroot == "/"):
            raise ZKConnectionError(f"ZooKeeper chroot must start with '/': {chroot!r}")
        self.hosts = hosts
        self.chroot = chroot.rstrip("/") if chroot else None
        self.session_timeout = session_timeout
        self.retry_deadline = (
            retry_deadline if retry_deadline is not None else max(30.0, 3 * session_timeout)
        )
        self._tls = (tls_ca, tls_cert, tls_key) if tls_ca else None
        self._lock = threading.RLock()
        self._session_lost_cbs: list[Callback] = []
        self._reconnect_cbs: list[Callback] = []
        self._ephemerals: dict[str, _Ephemeral] = {}
        self._lost_since_connect = False
        self._state = KazooState.LOST
        self._connected_event = threading.Event()
        self._shutting_down = threading.Event()
        self._abandoning: threading.Thread | None = None
        self._closing = False
        self._kazoo: KazooClient | None = None

    # --- connection --------------------------------------------------------------

    def connect(self, timeout: float = 10.0) -> None:
        """Connect (bounded wait); raise :class:`ZKConnectionError` naming the hosts
        if ZooKeeper cannot be reached within ``timeout`` seconds."""
        kwargs: dict = {}
        if self._tls:
            ca, cert, key = self._tls
            kwargs.update(use_ssl=True, ca=ca, certfile=cert, keyfile=key, verify_certs=True)
        hosts = self.hosts + (self.chroot or "")
        kz = KazooClient(
            hosts=hosts,
            timeout=self.session_timeout,
            connection_retry=KazooRetry(
                max_tries=-1, delay=0.1, backoff=2, max_delay=1.0, ignore_expire=False
            ),
            command_retry=KazooRetry(
                max_tries=-1,
                delay=0.1,
                backoff=2,
                max_delay=1.0,
                deadline=self.retry_deadline,
                interrupt=self._shutting_down.is_set,
            ),
            **kwargs,
        )
        kz.add_listener(self._on_state)
        self._closing = False
        try:
            with warnings.catch_warnings():
                # kazoo warns when the chroot is missing; we create it below.
                warnings.filterwarnings("ignore", message="No chroot path exists")
                kz.start(timeout=timeout)
        except KazooTimeoutError as exc:
            kz.stop()
            kz.close()
            raise ZKConnectionError(
                f"cannot reach ZooKeeper at {self.hosts}: no connection within {timeout}s"
                f"{' (TLS)' if self._tls else ''}"
            ) from exc
        except Exception as exc:  # bad certificate file, bad host string, ...
            try:
                kz.stop()
                kz.close()
            except Exception:
                pass
            raise ZKConnectionError(f"cannot reach ZooKeeper at {self.hosts}: {exc}") from exc
        self._kazoo = kz
        self._state = KazooState.CONNECTED
        self._connected_event.set()
        if self.chroot:
            self._ensure_chroot()

    def _ensure_chroot(self) -> None:
        kz = self.kazoo
        saved = kz.chroot
        kz.chroot = ""
        try:
            kz.ensure_path(saved)
        finally:
            kz.chroot = saved

    def begin_shutdown(self) -> None:
        """This process is stopping: from now on no operation waits for a
        lost connection to come back; it raises :class:`ZKConnectionError`."""
        self._shutting_down.set()
        if not self._connected_event.is_set():
            self._abandon_session()

    def _abandon_session(self) -> None:
        """Stopping without a connection: close kazoo's session now (on a
        thread of its own: kazoo's stop joins its connection thread), so that
        requests it queued fail instead of waiting for ZooKeeper."""
        with self._lock:
            kz = self._kazoo
            if kz is None or self._abandoning is not None:
                return

            def stop() -> None:
                try:
                    kz.stop()
                except Exception as e:  # noqa: BLE001 - closing regardless
                    log.debug("closing the ZooKeeper session early: %s", e)

            self._abandoning = threading.Thread(target=stop, name="zk-abandon", daemon=True)
        log.info("stopping with ZooKeeper at %s away: closing the session now", self.hosts)
        self._abandoning.start()

    @property
    def shutting_down(self) -> bool:
        return self._shutting_down.is_set()

    def disconnect(self, timeout: float = DISCONNECT_TIMEOUT) -> None:
        """Close the session: ephemeral nodes and locks are released at once.

        With ZooKeeper unreachable kazoo may take a session timeout to give
        up; after ``timeout`` seconds this returns anyway (the server expires
        the session by itself)."""
        self._closing = True
        kz, self._kazoo = self._kazoo, None
        self._connected_event.clear()
        if kz is None:
            return

        def close() -> None:
            try:
                kz.stop()
            except Exception as e:  # noqa: BLE001 - closing regardless
                log.debug("closing the ZooKeeper session: %s", e)
            finally:
                try:
                    kz.close()
                except Exception:  # noqa: BLE001
                    pass

        deadline = time.monotonic() + timeout
        if self._abandoning is not None:
            self._abandoning.join(timeout)
        closer = threading.Thread(target=close, name="zk-disconnect", daemon=True)
        closer.start()
        closer.join(max(0.1, deadline - time.monotonic()))
        if closer.is_alive():
            log.warning("ZooKeeper at %s did not close the session within %ss", self.hosts, timeout)

    def __enter__(self) -> ZKClient:
        if self._kazoo is None:
            self.connect()
        return self

    def __exit__(self, *exc: object) -> None:
        self.disconnect()

    @property
    def kazoo(self) -> KazooClient:
        """The kazoo client (for ``lockgate.zk`` modules only)."""
        if self._kazoo is None:
            raise ZKConnectionError(f"not connected to ZooKeeper at {self.hosts}")
        return self._kazoo

    @property
    def connected(self) -> bool:
        return self._kazoo is not None and self._kazoo.connected

    @property
    def session_id(self) -> int | None:
        """The current session's id (changes when a session expires)."""
        if self._kazoo is None or self._kazoo.client_id is None:
            return None
        return self._kazoo.client_id[0]

    def retry(self, func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """(For ``lockgate.zk`` modules: kazoo's exceptions pass through.)
        Run one idempotent kazoo call, retried across brief disconnections.

        kazoo queues a request made while disconnected until the connection is
        back, however long that takes; this waits at most ``retry_deadline``
        for the connection first, then raises :class:`ZKConnectionError`, so a
        caller (a web request, a loop iteration) is never stuck for good.
        After :meth:`begin_shutdown` it does not wait at all."""
        what = getattr(func, "__name__", "call")
        where = f" {args[0]}" if args and isinstance(args[0], str) else ""
        if not self._wait_usable(self.retry_deadline):
            reason = (
                "stopping"
                if self._shutting_down.is_set()
                else f"unavailable for {self.retry_deadline}s"
            )
            raise ZKConnectionError(f"cannot {what}{where}: ZooKeeper at {self.hosts} {reason}")
        try:
            return self.kazoo.retry(func, *args, **kwargs)
        except RetryInterrupted:
            raise ZKConnectionError(
                f"cannot {what}{where}: ZooKeeper at {self.hosts} unreachable while stopping"
            ) from None

    def _wait_usable(self, timeout: float) -> bool:
        """Wait for the connection, at most ``timeout`` s; never once stopping."""
        deadline = time.monotonic() + timeout
        while not self._connected_event.is_set():
            remaining = deadline - time.monotonic()
            if self._shutting_down.is_set() or remaining <= 0:
                return False
            self._connected_event.wait(min(0.2, remaining))
        return True

    def wait_connected(self, timeout: float | None = None) -> bool:
        """Block until connected (or ``timeout``, or a shutdown); True if connected."""
        if timeout is None:
            while not self._wait_usable(3600.0):
                if self._shutting_down.is_set():
                    return False
            return True
        return self._wait_usable(timeout)

    # --- callbacks ---------------------------------------------------------------

    def on_session_lost(self, callback: Callback) -> None:
        """Run ``callback()`` whenever the session expires: every lock and
        ephemeral node of this process is gone; drop work for a peer."""
        with self._lock:
            self._session_lost_cbs.append(callback)

    def on_reconnect(self, callback: Callback) -> None:
        """Run ``callback()`` whenever the connection is back after a
        suspension or a session loss (ephemerals already restored)."""
        with self._lock:
            self._reconnect_cbs.append(callback)

    def remove_callback(self, callback: Callback) -> None:
        with self._lock:
            for cbs in (self._session_lost_cbs, self._reconnect_cbs):
                while callback in cbs:
                    cbs.remove(callback)

    # --- ephemerals kept across sessions ---------------------------------------

    @translate_kazoo_errors
    def keep_ephemeral(self, path: str, data: Callable[[], bytes]) -> None:
        """Create the ephemeral node ``path`` (parents made) now and again
        after every session loss, with the bytes ``data()`` returns then."""
        with self._lock:
            self._ephemerals[path] = _Ephemeral(path, data)
        self._create_ephemeral(self._ephemerals[path])

    @translate_kazoo_errors
    def forget_ephemeral(self, path: str, *, delete: bool = True) -> None:
        """Stop keeping ``path``; delete it unless ``delete`` is False."""
        with self._lock:
            self._ephemerals.pop(path, None)
        if delete and self._kazoo is not None:
            try:
                self.retry(self.kazoo.delete, path)
            except NoNodeError:
                pass

    def _create_ephemeral(self, eph: _Ephemeral) -> None:
        kz = self.kazoo
        try:
            self.retry(kz.create, eph.path, eph.data(), ephemeral=True, makepath=True)
        except NodeExistsError:
            # Ours from a retried create in this session, or a stale one from
            # an expired session not yet reaped: replace it if not ours.
            data, stat = self.retry(kz.get, eph.path)
            if stat.ephemeralOwner != (kz.client_id or (0,))[0]:
                try:
                    self.retry(kz.delete, eph.path)
                except NoNodeError:
                    pass
                self.retry(kz.create, eph.path, eph.data(), ephemeral=True, makepath=True)

    # --- state machine ---------------------------------------------------------------

    def _on_state(self, state: KazooState) -> None:
        """kazoo's listener: runs on its connection thread, so only records
        the change and hands work to another thread."""
        previous, self._state = self._state, state
        if self._closing:
            return
        if state == KazooState.CONNECTED:
            self._connected_event.set()
            if previous != KazooState.CONNECTED and self._kazoo is not None:
                lost = self._lost_since_connect
                self._lost_since_connect = False
                self._kazoo.handler.spawn(self._after_reconnect, lost)
        else:
            self._connected_event.clear()
            if self._shutting_down.is_set():
                self._abandon_session()
            if state == KazooState.LOST:
                log.warning("ZooKeeper session at %s lost", self.hosts)
                self._lost_since_connect = True
                if self._kazoo is not None:
                    self._kazoo.handler.spawn(self._run, list(self._session_lost_cbs))
            else:
                log.warning("ZooKeeper connection to %s suspended", self.hosts)

    def _after_reconnect(self, new_session: bool) -> None:
        if new_session:
            log.info("new ZooKeeper session at %s: restoring ephemeral nodes", self.hosts)
            with self._lock:
                ephemerals = list(self._ephemerals.values())
            for eph in ephemerals:
                self._restore(eph)
        else:
            log.info("ZooKeeper connection to %s resumed", self.hosts)
        self._run(list(self._reconnect_cbs))

    def _restore(self, eph: _Ephemeral) -> None:
        deadline = time.monotonic() + max(30.0, 3 * self.session_timeout)
        while (
            not self._closing and not self._shutting_down.is_set() and time.monotonic() < deadline
        ):
            try:
                self._create_ephemeral(eph)
                return
            except (ConnectionLoss, SessionExpiredError):
                self._connected_event.wait(1.0)
            except Exception:
                log.exception("could not restore ephemeral node %s", eph.path)
                return

    def _run(self, callbacks: list[Callback]) -> None:
        for cb in callbacks:
            try:
                cb()
            except Exception:
                log.exception("ZooKeeper state callback %r failed", cb)


def client_from_config(section: Mapping[str, str]) -> ZKClient:
    """A ZKClient from the ``[zookeeper]`` section of ``lockgate.conf`` (the
    keys of ``zuul.conf``: ``hosts``, ``tls_ca``, ``tls_cert``, ``tls_key``,
    ``session_timeout``; plus ``chroot``).  Not yet connected.

    The one factory every component uses (scheduler, executor, merger,
    launcher, web, ``lockgate keys``), so a section is read and checked the
    same way everywhere: ``~`` in the TLS paths is the user's home."""
    hosts = section.get("hosts")
    if not hosts:
        raise ZKConnectionError("[zookeeper] hosts is required (e.g. hosts=127.0.0.1:2281)")
    raw_timeout = section.get("session_timeout", "10")
    try:
        session_timeout = float(raw_timeout)
    except ValueError:
        session_timeout = 0.0
    if not session_timeout > 0:
        raise ZKConnectionError(
            f"[zookeeper] session_timeout must be a positive number of seconds, not {raw_timeout!r}"
        )
    return ZKClient(
        hosts,
        tls_ca=_path(section.get("tls_ca")),
        tls_cert=_path(section.get("tls_cert")),
        tls_key=_path(section.get("tls_key")),
        session_timeout=session_timeout,
        chroot=section.get("chroot") or None,
    )


def _path(value: str | None) -> str | None:
    return os.path.expanduser(value) if value else None
