"""The executor process: claims build requests of its zones from ZooKeeper and runs them,
and (``lockgate.executor.merger``, unless ``[executor] merge_jobs = false``)
serves merge requests.

Its zones (``ExecutorSettings.zones``, ``lockgate.model.zones``): its
``[executor] zone``, or the unzoned queue ("default") when it has none; a
zoned executor with ``allow_unzoned`` takes the unzoned requests too, the
oldest request of either first.  It registers its ``zone`` and whether it
takes unzoned builds (``allow_unzoned``, as Zuul's component does), which
the scheduler reads to know which zones some executor serves.

``lockgate executor`` calls ``main(config)``; ``lockgate up`` and tests make
an ``Executor(config)`` and call ``start()`` / ``stop()``.

Concurrency: builds are blocking work (git, ansible-playbook subprocesses),
so the executor uses threads and nothing else: one dispatcher thread that
claims requests, and one thread per running build (``BuildWorker``), at
most ``[executor] max_builds`` at once.  ZooKeeper watches (kazoo's
threads) only set an Event that wakes the dispatcher; the dispatcher also
rescans every ``RESCAN_INTERVAL`` seconds, which catches requests whose data
changed without a new child (a re-submitted request).

Claiming: a request is REQUESTED and not locked; the dispatcher takes its
lock without blocking (another executor may win), re-reads it, and hands it
to a worker with the store of the request's zone.  The lock is ephemeral:
if this process dies, the scheduler sees a RUNNING request without a lock
and re-submits it.

Live consoles: a ``ConsoleStreamServer`` (``lockgate.executor.console_stream``)
serves each running build's ``job-output.txt``; its address is registered in
ZooKeeper per build (``lockgate.zk.streams``) for the web's console-stream.

Stopping (``stop()``, SIGTERM, SIGINT): no new claims, running playbooks are
stopped, their requests released without a result (the scheduler sees them
lost and retries them on another executor), nodes set USED, the
registration removed -- within ``STOP_TIMEOUT`` even with ZooKeeper away
(``request_stop`` makes every ZooKeeper call fail fast instead of waiting).
Past the process's stop deadline (``lockgate.lifecycle``) the playbooks'
process groups are killed on the way out (``process.kill_all``).
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from collections.abc import Callable

from lockgate.drivers.registry import make_connections
from lockgate.executor.build import BuildWorker
from lockgate.executor.console_stream import ConsoleStreamServer, ConsoleStreamSettings
from lockgate.executor.merger import MergeServer, fetch_env_of
from lockgate.executor.process import kill_all
from lockgate.executor.runner import JobRunner
from lockgate.executor.settings import ExecutorSettings, ensure_dirs
from lockgate.git.merge_runner import MergeRunner
from lockgate.keys.keystore import keystore_from_config
from lockgate.lifecycle import serve
from lockgate.metrics import Metrics
from lockgate.metrics.catalog import (
    BUILD_DURATION,
    BUILDS_FINISHED,
    BUILDS_STARTED,
    MAX_BUILDS,
    RUNNING_BUILDS,
)
from lockgate.model.builds import BuildState
from lockgate.model.zones import DEFAULT_ZONE
from lockgate.service_config import ServiceConfig
from lockgate.zk import (
    BuildRequestStore,
    Component,
    NodeStore,
    ZKClient,
    ZKError,
    register,
)
from lockgate.zk.client import client_from_config
from lockgate.zk.streams import StreamLocation, register_stream, unregister_stream

log = logging.getLogger("lockgate.executor")

RESCAN_INTERVAL = 5.0
# Seconds ``stop`` may take: builds aborted and handed back, merges finished.
STOP_TIMEOUT = 6.0
# A ``stop()`` not asked for by a signal (tests, a caller embedding the
# executor) may take longer: builds get the time to hand back cleanly.
UNHURRIED_STOP_TIMEOUT = 60.0


class Executor:
    def __init__(self, config: ServiceConfig, *, client: ZKClient | None = None):
        self.config = config
        self.settings = ExecutorSettings.from_config(config)
        self._own_client = client is None
        self.client = client
        # Connections tell the runner where to fetch playbook projects that
        # are not among a build's repositories (the base job's config project).
        sources = {name: conn.source() for name, conn in make_connections(config).items()}
        self.runner = JobRunner(self.settings, sources=sources)
        # The merge half (``lockgate.executor.merger``): on unless
        # ``merge_jobs = false``; it shares the runner's mirrors.
        section = config.section("executor")
        self.merge_jobs = section.get_bool("merge_jobs", True)
        self.max_merges = section.get_int("max_merges", 2) or 0
        if self.max_merges < 1:
            raise section.error("max_merges", "must be at least 1")
        self._fetch_env = fetch_env_of(sources)
        # Live consoles of the builds running here (lockgate.executor.console_stream).
        self.console_settings = ConsoleStreamSettings.from_section(section)
        self.console = ConsoleStreamServer(self.settings.log_root, self.console_settings)
        self.merger: MergeServer | None = None
        self.component: Component | None = None
        self.workers: dict[str, BuildWorker] = {}
        self._threads: dict[str, threading.Thread] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._stop_timeout = UNHURRIED_STOP_TIMEOUT  # STOP_TIMEOUT once a signal asks
        self._dispatcher: threading.Thread | None = None
        self._stop_watches: list[Callable[[], None]] = []
        # The build requests of each zone this executor takes (``start``).
        self.build_stores: dict[str, BuildRequestStore] = {}
        #: Completed looks for work (tests wait on it to know a scan happened).
        self.scans = 0
        self.metrics = Metrics.for_component(config, "executor", self.settings.hostname)
        self.metrics.add_gauges(
            lambda: [
                (RUNNING_BUILDS, {}, float(len(self.workers))),
                (MAX_BUILDS, {}, float(self.settings.max_builds)),
            ]
        )

    # ------------------------------------------------------------------

    def start(self) -> None:
        ensure_dirs(self.settings)
        self._remove_leftover_builds()
        if self.client is None:
            self.client = client_from_config(self.config.require_section("zookeeper").values)
        if not self.client.connected:
            self.client.connect()
        self.metrics.start(self.client)
        self.build_stores = {
            zone: BuildRequestStore(self.client, zone) for zone in self.settings.zones
        }
        self.runner.keys = keystore_from_config(self.config, self.client)
        self.nodes = NodeStore(self.client)
        self.console.start()
        self.component = register(
            self.client,
            "executor",
            {
                "state": "running",
                "accepting": True,
                "zone": self.settings.zone,
                # Zuul's component attribute: true for an unzoned executor too.
                "allow_unzoned": DEFAULT_ZONE in self.settings.zones,
                "max_builds": self.settings.max_builds,
                "builds": 0,
                "console_stream": f"{self._console_host}:{self.console.port}",
            },
            hostname=self.settings.hostname,
        )
        self._stop_watches = [
            store.watch(lambda _ids: self._wake.set()) for store in self.build_stores.values()
        ]
        self._dispatcher = threading.Thread(
            target=self._dispatch_loop, name="executor-dispatch", daemon=True
        )
        self._dispatcher.start()
        if self.merge_jobs:
            runner = MergeRunner(
                self.runner.cache, self.settings.state_dir / "merger", fetch_env=self._fetch_env
            )
            self.merger = MergeServer(
                self.client,
                runner,
                self.component.name,
                max_merges=self.max_merges,
                metrics=self.metrics,
            )
            self.merger.start()
        self.metrics.ready()
        log.info(
            "executor %s started (zone %s, max_builds %s)",
            self.component.name,
            self.settings.zone
            if len(self.settings.zones) == 1
            else f"{self.settings.zone}, and unzoned builds",
            self.settings.max_builds,
        )

    def _remove_leftover_builds(self) -> None:
        """Build directories of a previous run of this executor (killed, so it
        could not remove them): nothing runs yet, so none is in use.  Kept
        with ``keep_jobdir``, which is for looking at them."""
        if self.settings.keep_jobdir:
            return
        for path in self.settings.builds_root.iterdir():
            log.info("removing leftover build directory %s", path)
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)

    def request_stop(self) -> None:
        """The process is stopping (a signal): no ZooKeeper call of ours
        waits for a lost connection any more.  ``stop`` does the rest."""
        if self._own_client and self.client is not None:
            self.client.begin_shutdown()
        self._stop_timeout = STOP_TIMEOUT
        self._wake.set()

    def stop(self) -> None:
        """Stop claiming, abort running builds (no result: they are retried
        elsewhere), unregister; within ``STOP_TIMEOUT`` seconds after
        ``request_stop`` (a signal), ``UNHURRIED_STOP_TIMEOUT`` otherwise."""
        if self._stopping.is_set():
            return
        deadline = time.monotonic() + self._stop_timeout
        self._stopping.set()
        self._wake.set()
        for stop_watch in self._stop_watches:
            stop_watch()
        if self.component is not None:
            try:
                self.component.update_state(state="stopping", accepting=False)
            except ZKError:
                pass
        # The dispatcher first, so that no build is claimed after the aborts.
        if self._dispatcher:
            self._dispatcher.join(max(0.0, deadline - time.monotonic()))
        with self._lock:
            workers = list(self.workers.values())
            threads = list(self._threads.values())
        for worker in workers:
            worker.abort("executor stopping", shutdown=True)
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        if self.merger is not None:
            self.merger.stop(max(0.5, deadline - time.monotonic()))
        self.console.stop()
        if self.component is not None:
            try:
                self.component.unregister()
            except ZKError:
                pass
        if self._own_client and self.client is not None:
            self.client.disconnect()
        self.metrics.stop()
        log.info("executor stopped")

    def cancel(self, uuid: str) -> bool:
        """Abort a build running here (the result is ABORTED); False if not running here."""
        with self._lock:
            worker = self.workers.get(uuid)
        if worker is None:
            return False
        worker.abort("canceled")
        return True

    @property
    def running(self) -> list[str]:
        with self._lock:
            return list(self.workers)

    # ------------------------------------------------------------------

    def _dispatch_loop(self) -> None:
        while not self._stopping.is_set():
            self._wake.wait(RESCAN_INTERVAL)
            self._wake.clear()
            if self._stopping.is_set():
                break
            try:
                self._claim_available()
                self.scans += 1
            except ZKError as e:
                log.warning("could not look for build requests: %s", e)
            except Exception:
                log.exception("dispatcher error")

    def _claim_available(self) -> None:
        # Every zone's waiting requests, the oldest first, whichever its zone.
        waiting = sorted(
            (versioned.record.created, store.zone, versioned.record.uuid)
            for store in self.build_stores.values()
            for versioned in store.by_state(BuildState.REQUESTED)
        )
        for _created, zone, uuid in waiting:
            if self._stopping.is_set():
                return
            with self._lock:
                if len(self.workers) >= self.settings.max_builds:
                    return
                if uuid in self.workers:
                    continue
            self._try_claim(self.build_stores[zone], uuid)

    def _try_claim(self, store: BuildRequestStore, uuid: str) -> None:
        holder: list[BuildWorker] = []

        def lost() -> None:
            if holder:
                holder[0].lock_lost()

        lock = store.lock(uuid, on_lost=lost)
        if lock is None:
            return  # another executor has it
        try:
            fresh = store.get(uuid)
        except ZKError:
            lock.release()
            raise
        if fresh is None or fresh.record.state is not BuildState.REQUESTED:
            lock.release()
            return
        assert self.component is not None and self.client is not None
        worker = BuildWorker(
            self.client,
            store,
            self.nodes,
            self.runner,
            self.component.name,
            self.settings.log_url_for,
            fresh,
            lock,
        )
        holder.append(worker)
        thread = threading.Thread(
            target=self._run_worker, args=(worker,), name=f"build-{uuid[:8]}", daemon=True
        )
        with self._lock:
            self.workers[uuid] = worker
            self._threads[uuid] = thread
            count = len(self.workers)
        self._report_load(count)
        thread.start()

    def _run_worker(self, worker: BuildWorker) -> None:
        self._console_started(worker)
        request = worker.request
        self.metrics.inc(BUILDS_STARTED, tenant=request.tenant, pipeline=request.pipeline)
        started = time.monotonic()
        try:
            worker.run()
            self._count_finished(worker, time.monotonic() - started)
        finally:
            self._console_ended(worker)
            with self._lock:
                self.workers.pop(worker.uuid, None)
                self._threads.pop(worker.uuid, None)
                count = len(self.workers)
            self._report_load(count)
            self._wake.set()  # capacity freed: look for more work

    def _count_finished(self, worker: BuildWorker, seconds: float) -> None:
        """A build with a result (not one handed back at a stop)."""
        request = worker.request
        if request.result and not worker.shutdown:
            tenant, pipeline, result = request.tenant, request.pipeline, request.result
            self.metrics.inc(BUILDS_FINISHED, tenant=tenant, pipeline=pipeline, result=result)
            self.metrics.observe(
                BUILD_DURATION, seconds, tenant=tenant, pipeline=pipeline, result=result
            )

    @property
    def _console_host(self) -> str:
        return self.console_settings.advertised_host(self.settings.hostname)

    def _console_started(self, worker: BuildWorker) -> None:
        """Serve the build's console and tell the web where (never fails the build)."""
        self.console.build_started(worker.uuid)
        assert self.client is not None and self.component is not None
        location = StreamLocation(
            uuid=worker.uuid,
            tenant=worker.request.tenant,
            host=self._console_host,
            port=self.console.port,
            executor=self.component.name,
        )
        try:
            register_stream(self.client, location)
        except ZKError as e:
            worker.log.warning("cannot register the console stream: %s", e)

    def _console_ended(self, worker: BuildWorker) -> None:
        result = worker.request.result
        if result and not worker.shutdown:
            message = f"build ended: {result}"
        else:
            message = "build stopped on this executor without a result; it will run again"
        self.console.build_ended(worker.uuid, message)
        assert self.client is not None
        try:
            unregister_stream(self.client, worker.uuid)
        except ZKError as e:
            worker.log.warning("cannot remove the console stream registration: %s", e)

    def _report_load(self, count: int) -> None:
        if self.component is None or self._stopping.is_set():
            return
        try:
            self.component.update_state(builds=count)
        except ZKError as e:
            log.warning("could not update the component registry: %s", e)


def main(config: ServiceConfig) -> int:
    """Run an executor until SIGTERM or SIGINT; the exit status for ``lockgate executor``."""
    return serve("executor", lambda: Executor(config), log, force=kill_all)
