"""The scheduler process: ``lockgate scheduler`` (``main``), or ``Scheduler``
for ``lockgate up`` and tests.

What it runs:

- its ZooKeeper session and component registration;
- the event sources of the connections of the service config and of the
  connectionless drivers (``lockgate.drivers.registry.event_producers``:
  each git poller, Gerrit stream, GitHub webhook reader, and the timer),
  all made alike from ``EventSourceHooks``, each under an event-source
  lock, so that of several schedulers exactly one emits each producer's
  events (a peer takes over when that one dies);
- the tenants of ``[scheduler] tenant_config`` (``tenants.TenantRegistry``),
  read again on SIGHUP (``request_reconfigure``: the handler only sets a
  flag and wakes the loop; the next pass re-reads the file and reloads each
  tenant under its lock);
- the main loop: an asyncio loop that waits for a wake-up — a ZooKeeper
  watch on a tenant's trigger, management or result queue, or a periodic tick that
  catches what sends no event (an executor that died) — and then runs a
  pass over every tenant (``processor.TenantProcessor``) in a worker
  thread.  kazoo's threads meet the loop in exactly one place, ``_poke``.

Several schedulers may run at once: each pass takes the tenant's lock, so a
tenant is processed by one at a time, and all state lives in ZooKeeper.  A
scheduler watches the registrations of its peers and of the executors: one
that ends (its session expired: a crash) wakes the loop, whose next pass
takes the tenants and event sources the peer held, and finds the builds the
executor lost -- within the session timeout, not at the next tick.

Stopping (SIGTERM, SIGINT; ``lockgate.lifecycle``): ``request_stop`` makes
ZooKeeper calls fail fast instead of waiting for a lost connection and ends
the pass under way at the next tenant; ``stop`` stops the event sources
(at most ``SOURCE_STOP_TIMEOUT`` seconds, all at once) and unregisters.  A
pass cut short is safe: every decision is applied in a crash-safe order.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from lockgate.config.site import provider_labels
from lockgate.db import Database, DatabaseError
from lockgate.drivers.base import Connection, EventProducer, EventSourceHooks, PipelineTrigger
from lockgate.drivers.registry import event_producers, make_connections
from lockgate.git import GitError, RepoCache
from lockgate.keys.generator import KeyGenerator
from lockgate.keys.keystore import keystore_from_config
from lockgate.lifecycle import Shutdown
from lockgate.metrics import Metrics
from lockgate.metrics.readers import event_queues
from lockgate.model.events import TriggerEvent
from lockgate.scheduler.matching import project_branches_in
from lockgate.scheduler.processor import TenantProcessor
from lockgate.scheduler.reporting import Reporter
from lockgate.scheduler.repos import RepoResolver
from lockgate.scheduler.tenants import Tenant, TenantConfigError, TenantLoader, TenantRegistry
from lockgate.service_config import ServiceConfig, ServiceConfigError
from lockgate.zk import paths
from lockgate.zk.client import ZKClient, client_from_config
from lockgate.zk.components import Component, register, watch_components
from lockgate.zk.errors import ZKError
from lockgate.zk.event_state import EventStateWatch
from lockgate.zk.locks import SessionAwareLock
from lockgate.zk.queues import management_queue, result_queue, trigger_queue
from lockgate.zk.state import JsonState

log = logging.getLogger("lockgate.scheduler")

TICK = 5.0  # seconds between passes when nothing wakes the loop
SOURCE_STOP_TIMEOUT = 3.0  # seconds the event sources get to stop, together
PASS_STOP_WAIT = 3.0  # seconds a stop waits for the pass under way
# Components whose end frees work a scheduler takes over (``_poke`` on a change).
PEER_KINDS = ("scheduler", "executor")


def _git_dedup_key(event: TriggerEvent) -> str:
    # A poller restarted after a crash may emit the last event again (with a
    # new id): the same ref move is the same event.
    return "\0".join(
        [event.connection, event.project, event.ref or "", event.oldrev or "", event.newrev or ""]
    )


class EventSourceRunner:
    """One connection's event source, run only while this scheduler holds
    its event-source lock."""

    def __init__(self, client: ZKClient, name: str, make: Callable[[], Any]) -> None:
        self.client = client
        self.name = name
        self.make = make
        self.lock: SessionAwareLock | None = None
        self.source: Any = None

    def check(self) -> None:
        """Start the source if the lock is free; stop it if the lock was lost."""
        if self.lock is not None and self.lock.lost:
            log.warning("event source %s: lock lost; stopping it", self.name)
            self.stop()
        if self.lock is None:
            lock = SessionAwareLock(self.client, paths.event_source_lock(self.name))
            if not lock.acquire(blocking=False):
                return
            self.lock = lock
            try:
                self.source = self.make()
                if self.source is not None:
                    self.source.start()
                log.info("event source %s started", self.name)
            except Exception:
                log.exception("event source %s could not start", self.name)
                self.stop()

    def refresh(self) -> None:
        for method in ("refresh", "poll_now"):
            if self.source is not None and hasattr(self.source, method):
                getattr(self.source, method)()
                return

    def stop(self, timeout: float | None = None) -> None:
        if self.source is not None:
            try:
                if timeout is None:
                    self.source.stop()
                else:
                    self.source.stop(timeout=timeout)
            except Exception:
                log.exception("event source %s did not stop cleanly", self.name)
            self.source = None
        if self.lock is not None:
            self.lock.release()
            self.lock = None


class Scheduler:
    def __init__(
        self,
        config: ServiceConfig,
        *,
        client: ZKClient | None = None,
        database: Database | None = None,
        tick: float = TICK,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        section = config.require_section("scheduler")
        self.tenant_config = section.require("tenant_config")
        self.state_dir = Path(section.get_path("state_dir") or "/var/lib/lockgate")
        self.hostname = section.get("hostname") or socket.gethostname()
        self.tick = tick
        self.clock = clock
        self.connections: dict[str, Connection] = make_connections(config)
        self._own_client = client is None
        self.client = client or client_from_config(config.require_section("zookeeper").values)
        self._own_db = database is None
        self.database = database
        self.component: Component | None = None
        self.registry: TenantRegistry | None = None
        self.processor: TenantProcessor | None = None
        self.sources: list[EventSourceRunner] = []
        self._watched: set[str] = set()
        self._stops: list[Callable[[], None]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._poked = threading.Event()
        self._reconfigure = threading.Event()
        self._stopping = threading.Event()
        self.passes = 0  # completed passes over every tenant (tests watch it)
        self.key_generator: KeyGenerator | None = None
        # /metrics and [statsd] (lockgate.metrics); queues read at scrape time.
        self.metrics = Metrics.for_component(config, "scheduler", self.hostname)

    # --- start and stop -----------------------------------------------------------------

    def start(self) -> None:
        """Connect, load every tenant, start the event sources.  Raises
        ``ZKError``, ``DatabaseError`` or ``TenantConfigError`` (one line each)."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        if not self.client.connected:
            self.client.connect()
        self.metrics.start(self.client)
        if self.database is None:
            self.database = Database.from_config(self.config)
        self.database.upgrade()
        cache = RepoCache(self.state_dir / "git")
        self.registry = TenantRegistry(
            self.tenant_config,
            TenantLoader(self.connections, cache, labels=provider_labels(self.config)),
            self.client,
        )
        self.processor = TenantProcessor(
            self.client,
            self.registry,
            RepoResolver(self.connections, cache),
            Reporter(self.database, self.connections),
            clock=self.clock,
            on_reconfigured=self._reconfigured,
            metrics=self.metrics,
            # An admin resuming events wakes the loop: what waited is processed now.
            event_states=EventStateWatch(self.client, on_change=lambda _tenant: self._poke()),
        )
        self._stops.append(self.processor.event_states.close)
        self.metrics.add_gauges(event_queues(self.client, self.registry.names, self.clock))
        self.registry.load_all()
        for name in self.registry.names():
            self._watch(name)
        self.component = register(
            self.client, "scheduler", {"state": "running"}, hostname=self.hostname
        )
        # A peer or an executor gone (its session ended): its tenant and
        # event-source locks, or its builds' locks, are free now -- take over
        # at once, not at the next tick.
        for kind in PEER_KINDS:
            self._stops.append(watch_components(self.client, kind, lambda _: self._poke()))
        self._make_sources()
        # Last: keys are made behind everything a start does.
        self._start_key_generator()
        self.metrics.ready()
        log.info(
            "scheduler %s started: tenants %s",
            self.hostname,
            ", ".join(self.registry.names()) or "(none)",
        )

    def stop(self) -> None:
        if self.key_generator is not None:
            self.key_generator.stop()
        # Every source at once: each may wait on its own server (a Gerrit's
        # SSH stream, a git ls-remote), and they are daemon threads anyway.
        stoppers = [
            threading.Thread(
                target=source.stop, kwargs={"timeout": SOURCE_STOP_TIMEOUT}, daemon=True
            )
            for source in self.sources
        ]
        for thread in stoppers:
            thread.start()
        deadline = time.monotonic() + SOURCE_STOP_TIMEOUT + 0.5
        for thread in stoppers:
            thread.join(max(0.0, deadline - time.monotonic()))
        for stop_watch in self._stops:
            stop_watch()
        self._stops.clear()
        if self.component is not None:
            try:
                self.component.unregister()
            except ZKError:
                pass
            self.component = None
        if self._own_client:
            self.client.disconnect()
        if self._own_db and self.database is not None:
            self.database.close()
        self.metrics.stop()
        log.info("scheduler %s stopped", self.hostname)

    def request_stop(self) -> None:
        """The process is stopping (a signal, from another thread): end the
        pass under way at the next tenant; ZooKeeper calls fail fast."""
        self._stopping.set()
        if self._own_client:
            self.client.begin_shutdown()

    # --- waking -------------------------------------------------------------------------

    def _poke(self) -> None:
        """Wake the main loop (called from kazoo's threads and event sources)."""
        self._poked.set()
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None and not loop.is_closed():
            loop.call_soon_threadsafe(wake.set)

    def request_reconfigure(self) -> None:
        """Re-read the tenant config at the next pass (SIGHUP).  Safe from a
        signal handler: it only sets a flag and wakes the loop."""
        self._reconfigure.set()
        self._poke()

    def _watch(self, tenant: str) -> None:
        if tenant in self._watched:
            return
        self._watched.add(tenant)
        self._stops.append(trigger_queue(self.client, tenant).watch(self._poke))
        self._stops.append(result_queue(self.client, tenant).watch(self._poke))
        self._stops.append(management_queue(self.client, tenant).watch(self._poke))

    def _start_key_generator(self) -> None:
        """Project keys are made in the background (``lockgate.keys.generator``):
        tenants load and run jobs without waiting for them."""
        keystore = keystore_from_config(self.config, self.client)
        if keystore is None:
            return
        self.key_generator = KeyGenerator(keystore)
        self.key_generator.start()
        assert self.registry is not None
        for name in self.registry.names():
            tenant = self.registry.get(name)
            if tenant is not None:
                self._want_keys(tenant)

    def _want_keys(self, tenant: Tenant) -> None:
        if self.key_generator is not None:
            self.key_generator.want((p.connection, p.name) for p in tenant.spec.projects)

    def _reconfigured(self, tenant: Tenant) -> None:
        self._want_keys(tenant)
        self._watch(tenant.name)
        for source in self.sources:
            source.refresh()

    # --- event sources ------------------------------------------------------------------

    def _tenants_of(self, connection: str, project: str) -> list[str]:
        assert self.registry is not None
        out = []
        for name in self.registry.names():
            tenant = self.registry.get(name)
            if tenant is None:
                continue
            for p in tenant.spec.projects:
                if p.connection == connection and p.name == project:
                    out.append(name)
                    break
        return out

    def _projects_of(self, connection: str) -> set[str]:
        assert self.registry is not None
        out: set[str] = set()
        for name in self.registry.names():
            tenant = self.registry.get(name)
            if tenant is not None:
                out.update(p.name for p in tenant.spec.projects if p.connection == connection)
        return out

    def _branch_head(self, tenant_name: str, project: str, branch: str) -> str | None:
        """The sha a tenant project's branch points at now (``git ls-remote``
        on its connection's URL; ``EventSourceHooks.branch_head``: the
        timer's ``dereference``).  None, logged, if it cannot be resolved:
        the event then names the branch, as without ``dereference``."""
        assert self.registry is not None and self.processor is not None
        tenant = self.registry.get(tenant_name)
        found = [p for p in tenant.spec.projects if p.name == project] if tenant else []
        if not found:
            return None
        try:
            heads = self.processor.resolver.project_repo(found[0].connection, project).heads
        except GitError as e:
            log.warning("cannot resolve %s %s in tenant %s: %s", project, branch, tenant_name, e)
            return None
        return heads.get(branch)

    def _triggers_of(self, name: str) -> Iterator[PipelineTrigger]:
        """Every pipeline whose trigger names ``name``, in every tenant."""
        assert self.registry is not None
        for tenant_name in self.registry.names():
            tenant = self.registry.get(tenant_name)
            if tenant is None:
                continue
            for pipeline, per_conn in tenant.filters.items():
                filters = tuple(per_conn.get(name, ()))
                if filters:
                    yield PipelineTrigger(
                        tenant_name,
                        pipeline,
                        filters,
                        tuple(project_branches_in(tenant.layout, pipeline)),
                    )

    def _make_sources(self) -> None:
        for name, producer in event_producers(self.connections).items():
            self.sources.append(
                EventSourceRunner(
                    self.client, name, functools.partial(self._event_source, producer)
                )
            )
        for source in self.sources:
            source.check()

    def _event_source(self, producer: EventProducer) -> Any:
        name = producer.name

        def sink(event: TriggerEvent) -> None:
            for tenant in self._tenants_of(name, event.project):
                trigger_queue(self.client, tenant).put(
                    event.to_dict(), dedup_key=event.dedup_key or _git_dedup_key(event)
                )
            self._poke()

        def tenant_sink(tenant: str, event: TriggerEvent) -> None:
            trigger_queue(self.client, tenant).put(
                event.to_dict(), dedup_key=event.dedup_key or event.event_id
            )
            self._poke()

        def state_get(key: str) -> dict[str, Any] | None:
            return JsonState(self.client, paths.event_source_state(name, key)).load()

        def state_set(key: str, data: dict[str, Any]) -> None:
            JsonState(self.client, paths.event_source_state(name, key)).modify(lambda _: data)

        hooks = EventSourceHooks(
            sink=sink,
            projects=lambda: self._projects_of(name),
            state_get=state_get,
            state_set=state_set,
            zk=self.client,
            triggers=lambda: self._triggers_of(name),
            tenant_sink=tenant_sink,
            branch_head=self._branch_head,
        )
        return producer.event_source(hooks)

    # --- the loop -----------------------------------------------------------------------

    def process_all(self) -> bool:
        """One pass over every tenant (blocking; runs in a worker thread)."""
        assert self.registry is not None and self.processor is not None
        if self._reconfigure.is_set():
            self._reconfigure.clear()
            log.info("re-reading the tenant config %s (SIGHUP)", self.tenant_config)
            try:
                self.registry.reconfigure()
            except Exception:
                log.exception("re-reading the tenant config failed; the tenants keep running")
        for source in self.sources:
            try:
                source.check()
            except ZKError as e:
                log.warning("event source %s: %s", source.name, e)
        worked = False
        for name in self.registry.names():
            if self._stopping.is_set():
                break
            try:
                worked |= self.processor.process(name)
            except Exception:
                log.exception("tenant %s: pass failed; retrying at the next one", name)
        self.passes += 1
        return worked

    async def run(self, stop: asyncio.Event) -> None:
        """Pass over the tenants whenever woken, until ``stop`` is set."""
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._wake.set()
        while not stop.is_set():
            stopper = asyncio.ensure_future(stop.wait())
            waker = asyncio.ensure_future(self._wake.wait())
            await asyncio.wait(
                {stopper, waker}, timeout=self.tick, return_when=asyncio.FIRST_COMPLETED
            )
            stopper.cancel()
            waker.cancel()
            if stop.is_set():
                break
            self._wake.clear()
            self._poked.clear()
            worked = await self._pass(stop)
            if worked:
                self._wake.set()  # more may be waiting (events beyond one pass's batch)

    async def _pass(self, stop: asyncio.Event) -> bool:
        """One ``process_all`` on a daemon thread.  Told to stop, wait for it
        at most ``PASS_STOP_WAIT`` seconds, then leave it: a pass cut short is
        a crash the next pass (here or on a peer) recovers from, and a daemon
        thread cannot keep the process from exiting."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[bool] = loop.create_future()

        def deliver(result: bool | None, error: BaseException | None) -> None:
            if done.done():
                return
            if error is not None:
                done.set_exception(error)
            else:
                done.set_result(bool(result))

        def target() -> None:
            result, error = None, None
            try:
                result = self.process_all()
            except BaseException as e:  # noqa: BLE001 - handed to the loop
                error = e
            try:
                loop.call_soon_threadsafe(deliver, result, error)
            except RuntimeError:
                pass  # the loop is gone: the scheduler stopped without this pass

        threading.Thread(target=target, name="scheduler-pass", daemon=True).start()
        stopper: asyncio.Future[Any] = asyncio.ensure_future(stop.wait())
        waiting: set[asyncio.Future[Any]] = {done, stopper}
        await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        stopper.cancel()
        if not done.done():
            await asyncio.wait({done}, timeout=PASS_STOP_WAIT)
        if not done.done():
            log.warning("stopping with a pass still running; the next pass takes over")
            done.cancel()
            return False
        return done.result()

    def run_in_thread(self) -> Callable[[], None]:
        """Run the loop in a thread of its own (``lockgate up``, tests);
        returns a function that stops it and waits."""
        ready = threading.Event()
        holder: dict[str, Any] = {}

        def target() -> None:
            async def main() -> None:
                holder["loop"] = asyncio.get_running_loop()
                holder["stop"] = asyncio.Event()
                ready.set()
                await self.run(holder["stop"])

            asyncio.run(main())

        thread = threading.Thread(target=target, name="scheduler", daemon=True)
        thread.start()
        ready.wait(10)

        def stop() -> None:
            holder["loop"].call_soon_threadsafe(holder["stop"].set)
            thread.join(60)

        return stop


def main(config: ServiceConfig | str) -> int:
    """Run a scheduler until SIGINT/SIGTERM (SIGHUP: re-read the tenant
    config); the exit status for ``lockgate scheduler``."""
    try:
        if not isinstance(config, ServiceConfig):
            config = ServiceConfig.load(config)
        scheduler = Scheduler(config)
    except (ServiceConfigError, ZKError) as e:
        print(f"lockgate scheduler: {e}", file=sys.stderr)
        return 2 if isinstance(e, ServiceConfigError) else 1
    # SIGTERM/SIGINT: a stop within the deadline, a second one at once.  A
    # signal during start-up (loading tenants may take a while) makes its
    # ZooKeeper calls give up, then the scheduler stops.
    shutdown = Shutdown("scheduler", log)
    shutdown.install()
    shutdown.on_request(scheduler.request_stop)
    # SIGHUP: re-read the tenant config at the next pass (the handler only
    # sets a flag and wakes the loop).
    previous_hup = signal.signal(signal.SIGHUP, lambda *_: scheduler.request_reconfigure())
    try:
        try:
            scheduler.start()
        except (TenantConfigError, ZKError, DatabaseError, OSError) as e:
            scheduler.stop()
            if shutdown.asked:  # told to stop while starting
                shutdown.finished(0)
                return 0
            print(f"lockgate scheduler: {e}", file=sys.stderr)
            return 1

        async def run() -> None:
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()

            def wake_to_stop() -> None:
                loop.call_soon_threadsafe(stop.set)

            shutdown.on_request(wake_to_stop)
            await scheduler.run(stop)

        try:
            asyncio.run(run())
        finally:
            scheduler.stop()
        shutdown.finished(0)
        return 0
    finally:
        shutdown.restore()
        signal.signal(signal.SIGHUP, previous_hup)


__all__ = ["Scheduler", "main"]
