"""The executor's merge half: claims merge requests and serves them.

``Executor`` (``lockgate.executor.server``) starts a ``MergeServer`` beside
its build dispatcher unless ``[executor] merge_jobs = false``; ``lockgate
merger`` (``lockgate.executor.merger_main``) runs one alone.  The git work is
``lockgate.git.merge_runner.MergeRunner``; this module is only the
ZooKeeper side of it, following the contract in ``lockgate.model.merges``.

Concurrency: one dispatcher thread claims requests and hands them to a pool
of ``max_merges`` threads; the runner serialises requests that touch the
same project (one work repository each), so requests over different
projects merge in parallel.  ZooKeeper watches only set an Event that wakes
the dispatcher; it also rescans every ``RESCAN_INTERVAL`` seconds.

Claiming: a request that is REQUESTED, or RUNNING with nobody holding its
lock (its merger died), is locked without blocking (another merger may win),
re-read, set RUNNING and served.  For a RUNNING request another merger
holds, the dispatcher watches the lock and looks again the moment it goes.

Serving: the result is stored, the request set COMPLETED, and a
``merge-completed`` ``ResultEvent`` (``result``: merged, conflict or error)
put on the tenant's result queue; then the lock is released.  If the lock
is lost while merging (session expired), the result is dropped: another
merger serves the request again.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor

from lockgate.drivers.registry import make_connections
from lockgate.git.merge_runner import MergeRunner
from lockgate.logs import get_logger
from lockgate.metrics import Metrics
from lockgate.metrics.catalog import MERGE_DURATION, MERGES_FINISHED, RUNNING_MERGES
from lockgate.model.events import ResultEvent, ResultKind
from lockgate.model.merges import MergeRequest, MergeResult, MergeState
from lockgate.service_config import ServiceConfig
from lockgate.zk import RecordConflict, SessionAwareLock, Versioned, ZKClient, ZKError, result_queue
from lockgate.zk.merges import MergeRequestStore

log = get_logger("lockgate.executor.merger")

RESCAN_INTERVAL = 5.0
STOP_TIMEOUT = 60.0


class MergeServer:
    """Serves merge requests with ``runner``; ``worker_name`` is recorded in
    each request it serves (the component's name)."""

    def __init__(
        self,
        client: ZKClient,
        runner: MergeRunner,
        worker_name: str,
        *,
        max_merges: int = 2,
        rescan_interval: float = RESCAN_INTERVAL,
        metrics: Metrics | None = None,
    ):
        if max_merges < 1:
            raise ValueError("max_merges must be at least 1")
        self.client = client
        self.runner = runner
        self.worker_name = worker_name
        self.max_merges = max_merges
        self.rescan_interval = rescan_interval
        self.store = MergeRequestStore(client)
        self._active: set[str] = set()
        self._watched: set[str] = set()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._pool: ThreadPoolExecutor | None = None
        self._dispatcher: threading.Thread | None = None
        self._stop_watch: Callable[[], None] | None = None
        #: Requests this server completed (for tests and the benchmark).
        self.served = 0
        # The component's metrics (the executor's, or lockgate merger's).
        self.metrics = metrics or Metrics("merger")
        self.metrics.add_gauges(lambda: [(RUNNING_MERGES, {}, float(len(self._active)))])

    def start(self) -> None:
        self._pool = ThreadPoolExecutor(self.max_merges, thread_name_prefix="merge")
        self._stop_watch = self.store.watch(lambda _ids: self._wake.set())
        self._dispatcher = threading.Thread(
            target=self._dispatch_loop, name="merge-dispatch", daemon=True
        )
        self._dispatcher.start()
        log.info("serving merge requests (%s at once)", self.max_merges)

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Stop claiming; merges under way finish (they are short) and are
        stored, for at most ``timeout`` seconds: one still running then is
        left to its claim, which goes with the session (a peer takes it)."""
        if self._stopping.is_set():
            return
        deadline = time.monotonic() + timeout
        self._stopping.set()
        self._wake.set()
        if self._stop_watch:
            self._stop_watch()
        if self._dispatcher:
            self._dispatcher.join(max(0.0, deadline - time.monotonic()))
        if self._pool:
            self._pool.shutdown(wait=False, cancel_futures=True)
            while self.active and time.monotonic() < deadline:
                time.sleep(0.05)
            if self.active:
                log.warning("stopping with merges still running: %s", ", ".join(self.active))

    @property
    def active(self) -> list[str]:
        with self._lock:
            return sorted(self._active)

    # ------------------------------------------------------------------

    def _dispatch_loop(self) -> None:
        self._wake.set()
        while not self._stopping.is_set():
            self._wake.wait(self.rescan_interval)
            self._wake.clear()
            if self._stopping.is_set():
                break
            try:
                self._claim_available()
            except ZKError as e:
                log.warning("could not look for merge requests: %s", e)
            except Exception:
                log.exception("merge dispatcher error")

    def _claim_available(self) -> None:
        for versioned in self.store.by_state(MergeState.REQUESTED, MergeState.RUNNING):
            if self._stopping.is_set():
                return
            uuid = versioned.record.uuid
            with self._lock:
                if len(self._active) >= self.max_merges:
                    return
                if uuid in self._active:
                    continue
            if versioned.record.state is MergeState.RUNNING and self.store.is_locked(uuid):
                self._watch_claim(uuid)
                continue
            self._try_claim(uuid)

    def _watch_claim(self, uuid: str) -> None:
        """Wake up when another merger's claim on ``uuid`` goes (it died)."""
        with self._lock:
            if uuid in self._watched:
                return
            self._watched.add(uuid)

        def gone() -> None:
            with self._lock:
                self._watched.discard(uuid)
            self._wake.set()

        self.store.watch_lock(uuid, gone)

    def _try_claim(self, uuid: str) -> None:
        lost = threading.Event()
        lock = self.store.lock(uuid, on_lost=lost.set)
        if lock is None:
            return  # another merger has it
        try:
            fresh = self.store.get(uuid)
        except ZKError:
            lock.release()
            raise
        if fresh is None or fresh.record.state is MergeState.COMPLETED:
            lock.release()
            return
        with self._lock:
            self._active.add(uuid)
        assert self._pool is not None
        self._pool.submit(self._serve, fresh, lock)

    def _serve(self, claimed: Versioned[MergeRequest], lock: SessionAwareLock) -> None:
        request = claimed.record
        rlog = get_logger("lockgate.executor.merger", request.event_id, merge=request.uuid)
        try:
            version = self._save(
                claimed,
                lock,
                state=MergeState.RUNNING,
                worker=self.worker_name,
                start_time=time.time(),
            )
            if request.worker and request.worker != self.worker_name:
                rlog.info("taking over from %s (its claim is gone)", request.worker)
            started = time.monotonic()
            try:
                result = self.runner.run(request)
            except Exception as e:  # a bug, not a git problem: still an answer
                rlog.exception("merge failed unexpectedly")
                result = MergeResult(ok=False, error=f"merger error: {e}")
            if lock.lost:
                rlog.warning("lost the merge request's lock; another merger will serve it")
                return
            self._save(
                Versioned(request, version),
                lock,
                state=MergeState.COMPLETED,
                result=result,
                end_time=time.time(),
            )
            event = ResultEvent(
                kind=ResultKind.MERGE_COMPLETED,
                tenant=request.tenant,
                pipeline=request.pipeline,
                buildset_uuid="",
                request_id=request.uuid,
                result=result.status,
                event_id=request.event_id,
            )
            result_queue(self.client, request.tenant).put(event.to_dict())
            self.served += 1
            seconds = time.monotonic() - started
            self.metrics.inc(MERGES_FINISHED, result=result.status.value)
            self.metrics.observe(MERGE_DURATION, seconds, result=result.status.value)
            rlog.info(
                "merge %s in %.0f ms (%d step(s))%s",
                result.status.value,
                seconds * 1000,
                len(request.steps),
                f": {result.conflict or result.error}" if not result.ok else "",
            )
        except ZKError as e:
            # The record or our claim is gone: nothing to answer, or a peer will.
            rlog.warning("could not record the merge: %s", e)
        except Exception:
            rlog.exception("merge server error")
        finally:
            lock.release()
            with self._lock:
                self._active.discard(request.uuid)
            self._wake.set()

    def _save(
        self, current: Versioned[MergeRequest], lock: SessionAwareLock, **changes: object
    ) -> int:
        """Write ``changes`` onto the request, re-reading it if the scheduler
        wrote in between; returns the new version."""
        request, version = current
        for _ in range(20):
            lock.check()
            for key, value in changes.items():
                setattr(request, key, value)
            try:
                return self.store.update(request, version)
            except RecordConflict:
                fresh = self.store.get(request.uuid)
                if fresh is None:
                    raise
                for key in ("steps", "repos", "repo_state", "config_files"):
                    setattr(request, key, getattr(fresh.record, key))
                version = fresh.version
        raise RecordConflict(request.uuid, "kept changing while the merger wrote it")


def fetch_env_of(sources: Mapping[str, object]) -> Callable[[str], Mapping[str, str] | None]:
    """``fetch_env(connection)`` for ``MergeRunner``: the extra git environment
    a connection's source gives (``git_env()``: a Gerrit connection's SSH
    key), or None for sources that need none (local paths, git://)."""

    def fetch_env(connection: str) -> Mapping[str, str] | None:
        env = getattr(sources.get(connection), "git_env", None)
        return env() if callable(env) else None

    return fetch_env


def sources_of(config: ServiceConfig) -> dict[str, object]:
    """Every ``[connection NAME]``'s source, by NAME."""
    return {name: conn.source() for name, conn in make_connections(config).items()}
