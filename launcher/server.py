"""The launcher process (``lockgate launcher``): node requests in, nodes out.

Who calls it: the command line (``main``), ``lockgate up`` and tests
(``Launcher(config).start()`` ... ``stop()``).  It talks to the rest of the
system only through ZooKeeper:

- it registers as a ``launcher`` component;
- it watches node requests (``NodeRequestStore``).  For each REQUESTED one it
  asks ``planning.plan_request`` which provider can give every label; if one
  can now, it locks the request (the lock is the claim: two launchers never
  both fulfil one), re-reads it, makes one node per label, records them
  (``NodeStore``, READY, ``allocated_to`` the request) and sets the request
  FULFILLED -- or FAILED with a reason if no provider ever can, or a launch
  keeps failing.  Either way it puts a ``nodes-provisioned`` ``ResultEvent``
  on the tenant's result queue.  If the providers are only busy, the request
  waits for a later pass;
- it deletes its nodes that are USED, FAILED, or whose request is gone, once
  it can lock them (an executor holds the lock while it uses a node); a
  node an autohold keeps (HOLD) stays, reachable as it was, until its hold
  request is deleted or its hold expires (``planning.deletion_reason``);
- at start it removes what a crashed launcher left behind
  (``Provider.cleanup_leaked``) and announces again the final state of
  requests it may have finished just before a crash.

A node belongs to the launcher that made it: ``provider_data["launcher"]`` is
``HOSTNAME:STATE_DIR``, so several launchers (on several machines, or one
machine with several state directories) never delete each other's nodes.

Everything runs on one thread (the loop); ZooKeeper watches only wake it.

Stopping (SIGTERM, SIGINT; ``lockgate.lifecycle``): ``request_stop`` makes
ZooKeeper calls fail fast instead of waiting for a lost connection, then
``stop`` ends the loop, deletes in one last pass the nodes the usual rules
say are done (used, failed, their request gone; none an executor holds) for
at most ``STOP_TIMEOUT`` seconds, and unregisters.  Every other node stays:
one a build runs on, one handed to a request and not yet used, one an
autohold keeps.  A peer launcher adopts them once this one's registration is
gone, or this launcher's next start (same identity) takes them up again;
deleting them would fail builds that are running, for a mere restart.  So
does Zuul's launcher, whose stop deletes nothing.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from lockgate.launcher.planning import Action, deletion_reason, plan_request
from lockgate.launcher.providers import load_providers
from lockgate.launcher.providers.base import (
    CapacityError,
    Fit,
    LaunchError,
    Provider,
    ProviderError,
    Sharing,
)
from lockgate.lifecycle import serve
from lockgate.logs import EventLogger, get_logger
from lockgate.metrics import Metrics
from lockgate.metrics.catalog import NODE_REQUESTS, NODE_REQUESTS_FINISHED, NODE_WAIT
from lockgate.model.events import ResultEvent, ResultKind
from lockgate.model.nodes import Node, NodeRequest, NodeRequestState, NodeState
from lockgate.service_config import ServiceConfig, ServiceConfigError
from lockgate.zk import (
    Component,
    HoldRequestStore,
    LockLost,
    LockTimeout,
    NodeRequestStore,
    NodeStore,
    RecordConflict,
    RecordNotFound,
    SessionAwareLock,
    Versioned,
    ZKClient,
    ZKError,
    client_from_config,
    list_components,
    paths,
    register,
    result_queue,
)

log = logging.getLogger("lockgate.launcher")

LAUNCH_ATTEMPTS = 3
POLL_INTERVAL = 1.0  # a safety net: watches wake the loop at once
RETRY_DELETE_AFTER = 5.0
# Seconds a graceful stop may take (the loop's end, the last deletion pass).
STOP_TIMEOUT = 6.0
# Seconds to wait for a provider another launcher is making nodes of.
SHARED_LOCK_TIMEOUT = 30.0
# A ``stop()`` not asked for by a signal (tests, a bench) finishes its last
# deletion pass, however long that takes.
UNHURRIED_STOP_TIMEOUT = 600.0


class Launcher:
    """One launcher: its providers, its ZooKeeper session, its loop thread.

    ``client`` may be given (tests, ``lockgate up``); otherwise one is made
    from ``[zookeeper]`` and owned (connected at ``start``, closed at
    ``stop``).  Construction validates every ``[provider NAME]`` section
    (``ServiceConfigError``/``ProviderError``) and touches nothing.
    """

    def __init__(self, config: ServiceConfig, client: ZKClient | None = None) -> None:
        self.config = config
        section = config.section("launcher")
        self.hostname = section.get("hostname") or socket.gethostname()
        self.state_dir = os.path.abspath(
            section.get_path("state_dir") or "/var/lib/lockgate/launcher"
        )
        self.identity = f"{self.hostname}:{self.state_dir}"
        self.providers: list[Provider] = load_providers(config)
        if not self.providers:
            raise ServiceConfigError(
                f"{config.path}: [launcher]: no [provider NAME] section: "
                "the launcher would have no nodes to give"
            )
        self._by_name = {p.name: p for p in self.providers}
        self._own_client = client is None
        if client is None:
            config.require_section("zookeeper")
        self.client = (
            client if client is not None else client_from_config(config.section("zookeeper").values)
        )
        self.requests: NodeRequestStore | None = None
        self.nodes: NodeStore | None = None
        self.holds: HoldRequestStore | None = None
        self.component: Component | None = None
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._stop_timeout = UNHURRIED_STOP_TIMEOUT  # STOP_TIMEOUT once a signal asks
        self._thread: threading.Thread | None = None
        self._unwatch: list[Callable[[], None]] = []
        self._watched: dict[str, Callable[[], None]] = {}  # node id -> stop watching
        self._delete_failed_at: dict[str, float] = {}
        # Wakes the loop when the earliest hold known runs out.
        self._hold_timer: threading.Timer | None = None
        self._hold_timer_at = 0.0
        #: Counters for the component state, logs and tests.
        self.stats = {"fulfilled": 0, "failed": 0, "deleted": 0, "leaked": 0}
        self.metrics = Metrics.for_component(config, "launcher", self.hostname)

    # --- life cycle ----------------------------------------------------------------------

    def start(self) -> None:
        """Connect, clean up after a crash, register, and start the loop."""
        Path(self.state_dir).mkdir(parents=True, exist_ok=True)
        if self._own_client:
            self.client.connect()
        self.metrics.start(self.client)
        self.requests = NodeRequestStore(self.client)
        self.nodes = NodeStore(self.client)
        self.holds = HoldRequestStore(self.client)
        self.component = register(
            self.client,
            "launcher",
            {
                "state": "initializing",
                "providers": sorted(self._by_name),
                # What the web's /api/tenant/{t}/labels lists.
                "labels": sorted({label for p in self.providers for label in p.labels}),
                # Whose nodes are whose: a peer adopts those of a launcher gone.
                "identity": self.identity,
            },
            hostname=self.hostname,
        )
        self._cleanup_leaks()
        self._announce_finished_requests()
        self._unwatch.append(self.requests.watch(lambda _ids: self._wake.set()))
        self._unwatch.append(self.nodes.watch(lambda _ids: self._wake.set()))
        self._unwatch.append(self.holds.watch(lambda _ids: self._wake.set()))
        self.client.on_reconnect(self._wake.set)
        self.component.update_state(state="running")
        self._thread = threading.Thread(target=self._run, name="launcher", daemon=True)
        self._thread.start()
        self.metrics.ready()
        log.info(
            "launcher %s running with providers %s",
            self.identity,
            ", ".join(f"{p.name} ({', '.join(sorted(p.labels))})" for p in self.providers),
        )

    def request_stop(self) -> None:
        """The process is stopping: no ZooKeeper call waits for a lost connection."""
        if self._own_client:
            self.client.begin_shutdown()
        self._stop_timeout = STOP_TIMEOUT
        self._stopping.set()
        self._wake.set()

    def stop(self) -> None:
        """Stop the loop, delete what is done, unregister and disconnect;
        within ``STOP_TIMEOUT`` seconds after ``request_stop`` (a signal).

        Nodes in use, handed to a request, or held stay (see the module
        docstring): a stop is not the end of the builds on them."""
        deadline = time.monotonic() + self._stop_timeout
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=max(0.0, deadline - time.monotonic()))
        looping = self._thread is not None and self._thread.is_alive()
        if self.nodes is not None and self.requests is not None and not looping:
            try:
                self._delete_done_nodes(deadline)
            except ZKError as e:
                log.warning("last deletion pass at stop cut short (the next start does it): %s", e)
        if self._hold_timer is not None:
            self._hold_timer.cancel()
        for unwatch in [*self._unwatch, *self._watched.values()]:
            unwatch()
        self._unwatch.clear()
        self._watched.clear()
        self.client.remove_callback(self._wake.set)
        for provider in self.providers:
            provider.close()
        if self.component is not None:
            try:
                self.component.unregister()
            except ZKError:
                pass
        if self._own_client:
            self.client.disconnect()
        self.metrics.stop()
        log.info("launcher %s stopped", self.identity)

    def wake(self) -> None:
        """Make the loop look at ZooKeeper now (tests, after a state change)."""
        self._wake.set()

    # --- the loop ------------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._wake.wait(POLL_INTERVAL)
            self._wake.clear()
            if self._stopping.is_set():
                break
            try:
                self.run_once()
            except ZKError as e:
                log.warning("ZooKeeper trouble, retrying: %s", e)
                self._stopping.wait(1.0)
            except Exception:
                log.exception("launcher loop failed; retrying")
                self._stopping.wait(1.0)

    def run_once(self) -> None:
        """One pass: fulfil what can be fulfilled, delete what should go."""
        assert self.requests is not None
        requests = self.requests.list()  # what ``pending()`` reads, states counted
        counts = Counter(v.record.state for v in requests)
        for state in NodeRequestState:
            self.metrics.set(NODE_REQUESTS, counts[state], state=state.value)
        self._share(self.nodes.list() if self.nodes is not None else [])
        for versioned in requests:
            if self._stopping.is_set():
                return
            if versioned.record.state is NodeRequestState.REQUESTED:
                self._consider(versioned.record)
        self._delete_done_nodes()

    # --- providers several launchers share ---------------------------------------------

    def _scope(self, provider: Provider) -> str:
        """The name under which launchers share ``provider``'s capacity."""
        if provider.sharing is Sharing.MACHINE:
            return f"{provider.name}@{self.hostname}"
        return provider.name

    def _share(self, nodes: list[Versioned[Node]]) -> None:
        """Tell each provider which of its nodes other launchers hold, and
        adopt those of a launcher that is gone (its registration ended with
        its session), so that they are deleted in time and their capacity
        comes back."""
        live = self._live_launchers()
        for provider in self.providers:
            scope = self._scope(provider)
            foreign: list[str] = []
            for versioned in nodes:
                node = versioned.record
                if node.provider != provider.name or node.provider_data.get("scope") != scope:
                    continue
                owner = node.provider_data.get("launcher")
                if owner == self.identity:
                    continue
                if live is not None and owner not in live and self._adopt(provider, versioned):
                    continue
                foreign.append(str(node.provider_data.get("external_id", "")))
            provider.set_foreign(foreign)

    def _live_launchers(self) -> set[str] | None:
        """The identities of the launchers running now; None if one of them
        does not say its own (then nothing is adopted)."""
        try:
            found = list_components(self.client, "launcher")
        except ZKError as e:
            log.warning("cannot list the launchers (nothing adopted): %s", e)
            return None
        live = {self.identity}
        for component in found:
            identity = component.state.get("identity")
            if not identity:
                return None
            live.add(str(identity))
        return live

    def _adopt(self, provider: Provider, versioned: Versioned[Node]) -> bool:
        """Make a dead launcher's node ours: the record first (a versioned
        write: of two survivors one wins), then the provider."""
        assert self.nodes is not None
        node = versioned.record
        previous = node.provider_data.get("launcher")
        node.provider_data["launcher"] = self.identity
        try:
            version = self.nodes.update(node, versioned.version)
        except (RecordConflict, RecordNotFound):
            return False  # another launcher adopted it, or it went
        if not provider.adopt(node):
            log.warning("node %s of %s (gone) cannot be taken over here", node.id, previous)
            node.provider_data["launcher"] = previous
            try:
                self.nodes.update(node, version)
            except (RecordConflict, RecordNotFound):
                pass
            return False
        log.info("node %s adopted from launcher %s (gone)", node.id, previous)
        self._watch_node(node.id)
        return True

    # --- requests ------------------------------------------------------------------------

    def _consider(self, request: NodeRequest) -> None:
        assert self.requests is not None
        if plan_request(request.labels, self.providers).action is Action.WAIT:
            return  # cheap pre-check: do not even lock
        lock = self.requests.lock(request.id)
        if lock is None:
            return  # another launcher is on it
        try:
            current = self.requests.get(request.id)
            if current is None or current.record.state is not NodeRequestState.REQUESTED:
                return
            self._handle(current, lock)
        finally:
            lock.release()

    def _handle(self, versioned: Versioned[NodeRequest], lock: SessionAwareLock) -> None:
        request = versioned.record
        rlog = get_logger("lockgate.launcher", request.event_id, request=request.id)
        plan = plan_request(request.labels, self.providers)
        if plan.action is Action.WAIT:
            return
        if plan.action is Action.FAIL:
            rlog.info("cannot fulfil %s: %s", request.labels, plan.reason)
            self._finish(versioned, lock, [], None, plan.reason)
            return
        made: list[Node] = []
        provider = plan.provider
        # Launchers sharing the provider make nodes one at a time, each
        # counting the others' nodes as they are now.
        shared = (
            SessionAwareLock(self.client, paths.provider_lock(self._scope(provider)))
            if provider is not None
            else None
        )
        try:
            if shared is not None:
                shared.acquire(timeout=SHARED_LOCK_TIMEOUT)
                self._share(self.nodes.list() if self.nodes is not None else [])
                if provider is not None and provider.fits(request.labels) is not Fit.NOW:
                    return  # the room went to another launcher: wait
            for label in request.labels:
                assert provider is not None
                node = self._launch(provider, label, request, rlog)
                made.append(node)
        except LockTimeout:
            rlog.info("a launcher sharing the provider is busy making nodes; request waits")
            return
        except CapacityError as e:
            rlog.info("provider busy, request waits: %s", e)
            self._discard(made)
            return
        except LaunchError as e:
            rlog.warning("launch failed: %s", e)
            self._discard(made)
            self._finish(versioned, lock, [], None, f"node launch failed: {e}")
            return
        except BaseException:
            self._discard(made)
            raise
        finally:
            if shared is not None:
                shared.release()
        self._finish(versioned, lock, made, provider.name if provider else None, None)

    def _launch(
        self, provider: Provider, label: str, request: NodeRequest, rlog: EventLogger
    ) -> Node:
        """One READY node, recorded in ZooKeeper and allocated to ``request``."""
        assert self.nodes is not None
        last: LaunchError | None = None
        for attempt in range(1, LAUNCH_ATTEMPTS + 1):
            start = time.monotonic()
            try:
                node = provider.create_node(label)
            except LaunchError as e:
                last = e
                rlog.warning(
                    "launch attempt %d/%d for %s failed: %s", attempt, LAUNCH_ATTEMPTS, label, e
                )
                continue
            node.allocated_to = request.id
            node.provider_data["launcher"] = self.identity
            node.provider_data["scope"] = self._scope(provider)
            try:
                self.nodes.create(node)
            except BaseException:
                provider.delete_node(node)
                raise
            rlog.info(
                "node %s (%s, %s) ready at %s in %.2fs",
                node.id,
                label,
                provider.name,
                node.interface_ip,
                time.monotonic() - start,
            )
            return node
        assert last is not None
        raise last

    def _finish(
        self,
        versioned: Versioned[NodeRequest],
        lock: SessionAwareLock,
        nodes: list[Node],
        provider: str | None,
        failure: str | None,
    ) -> None:
        """Write the request's final state (under our lock) and tell the scheduler."""
        assert self.requests is not None
        request = versioned.record
        request.state = NodeRequestState.FAILED if failure else NodeRequestState.FULFILLED
        request.failure_reason = failure
        request.node_ids = [n.id for n in nodes]
        request.provider = provider
        # Zuul's ``executor-zone`` node attribute, for the scheduler to route the build.
        request.executor_zone = self._by_name[provider].executor_zone if provider else None
        try:
            lock.check()
            self.requests.update(request, versioned.version)
        except (LockLost, RecordConflict, RecordNotFound) as e:
            log.info(
                "request %s changed or went away while fulfilling (%s); giving back its nodes",
                request.id,
                e,
            )
            self._discard(nodes)
            return
        for node in nodes:
            self._watch_node(node.id)
        self.stats["failed" if failure else "fulfilled"] += 1
        result = request.state.value
        self.metrics.inc(NODE_REQUESTS_FINISHED, result=result)
        self.metrics.observe(NODE_WAIT, max(0.0, time.time() - request.created), result=result)
        self._announce(request)

    def _announce(self, request: NodeRequest) -> None:
        event = ResultEvent(
            kind=ResultKind.NODES_PROVISIONED,
            tenant=request.tenant,
            pipeline=request.pipeline,
            buildset_uuid=request.buildset_uuid,
            request_id=request.id,
            result=request.state,
            event_id=request.event_id,
        )
        # The key makes a re-announcement after a restart harmless.
        result_queue(self.client, request.tenant).put(
            event.to_dict(), dedup_key=f"nodes-provisioned-{request.id}-{request.created}"
        )

    def _announce_finished_requests(self) -> None:
        """A crash between writing a request's final state and putting its
        event would leave the scheduler waiting: announce final requests of
        our providers again (the dedup key drops what was already sent)."""
        assert self.requests is not None
        for versioned in self.requests.list():
            request = versioned.record
            if request.state is not NodeRequestState.REQUESTED and (
                request.provider in self._by_name or request.provider is None
            ):
                self._announce(request)

    # --- nodes ---------------------------------------------------------------------------

    def _ours(self, node: Node) -> bool:
        return (
            node.provider_data.get("launcher") == self.identity and node.provider in self._by_name
        )

    def _watch_node(self, node_id: str) -> None:
        """Wake the loop when one of our nodes changes (e.g. becomes USED)."""
        assert self.nodes is not None
        if node_id in self._watched:
            return

        def changed(versioned: Versioned[Node] | None) -> None:
            if versioned is None:  # deleted: kazoo ends the watch itself
                self._watched.pop(node_id, None)
            self._wake.set()

        self._watched[node_id] = self.nodes.watch_record(node_id, changed)

    def _hold_ids(self) -> set[str] | None:
        """Ids of the autohold requests (None if they cannot be read: keep
        held nodes rather than delete them by mistake)."""
        assert self.holds is not None
        try:
            return set(self.holds.ids())
        except ZKError as e:
            log.warning("cannot list autohold requests (held nodes kept): %s", e)
            return None

    def _delete_done_nodes(self, deadline: float | None = None) -> None:
        """Delete the nodes ``deletion_reason`` says are done; until
        ``deadline`` (monotonic) if given (the last pass at stop)."""
        assert self.nodes is not None and self.requests is not None
        request_ids = set(self.requests.ids())
        hold_ids = self._hold_ids()
        now = time.time()
        for versioned in self.nodes.list():
            if deadline is not None and time.monotonic() > deadline:
                log.warning("out of time at stop: the next start deletes the nodes left")
                return
            node = versioned.record
            if not self._ours(node):
                continue
            self._watch_node(node.id)
            reason = deletion_reason(node, request_ids, hold_ids, now)
            if reason is None and node.state is NodeState.HOLD:
                self._hold_deadline(node)
            if reason is None:
                continue
            failed_at = self._delete_failed_at.get(node.id)
            if failed_at is not None and time.monotonic() - failed_at < RETRY_DELETE_AFTER:
                continue
            self._delete(node.id, reason, request_ids, hold_ids)

    def _hold_deadline(self, node: Node) -> None:
        """Wake the loop when a held node's hold runs out (nothing else would)."""
        expires = node.hold_expires_at()
        if expires is None:
            return
        delay = max(0.0, expires - time.time())
        if self._hold_timer is not None and self._hold_timer_at <= expires:
            if self._hold_timer.is_alive():
                return
        timer = threading.Timer(delay + 0.05, self._wake.set)
        timer.daemon = True
        timer.start()
        self._hold_timer, self._hold_timer_at = timer, expires

    def _delete(
        self,
        node_id: str,
        reason: str,
        request_ids: set[str] | None,
        hold_ids: set[str] | None = None,
    ) -> bool:
        """Lock, mark DELETING, remove from the provider, remove the record.
        With ``request_ids`` the reason is checked again under the lock;
        without, the node goes regardless (nodes made for nothing)."""
        assert self.nodes is not None
        lock = self.nodes.lock(node_id)
        if lock is None:
            return False  # an executor is using it: later
        try:
            current = self.nodes.get(node_id)
            if current is None:
                return True
            node = current.record
            if (
                request_ids is not None
                and deletion_reason(node, request_ids, hold_ids, time.time()) is None
            ):
                return False
            node.state = NodeState.DELETING
            try:
                version = self.nodes.update(node, current.version)
            except (RecordConflict, RecordNotFound):
                return False  # changed under us: next pass decides again
            try:
                self._by_name[node.provider].delete_node(node)
            except ProviderError as e:
                log.error("could not delete node %s (%s): %s", node_id, node.provider, e)
                self._delete_failed_at[node_id] = time.monotonic()
                return False
            self.nodes.delete(node_id, version=version)
            self._delete_failed_at.pop(node_id, None)
            self.stats["deleted"] += 1
            log.info("node %s deleted (%s)", node_id, reason)
            return True
        finally:
            lock.release()

    def _discard(self, nodes: list[Node]) -> None:
        """Give back nodes made for a request we could not finish."""
        for node in nodes:
            try:
                if node.id:
                    self._delete(node.id, "not needed", None)
                else:
                    self._by_name[node.provider].delete_node(node)
            except (ProviderError, ZKError) as e:
                log.error("could not give back node %s: %s", node.id or "?", e)

    def _cleanup_leaks(self) -> None:
        """Remove what a crashed run left: provider objects no record names
        (a node another launcher adopted meanwhile is its, not a leak)."""
        assert self.nodes is not None
        known: dict[str, set[str]] = {name: set() for name in self._by_name}
        elsewhere: dict[str, set[str]] = {name: set() for name in self._by_name}
        for versioned in self.nodes.list():
            node = versioned.record
            external = node.provider_data.get("external_id")
            if not external or node.provider not in self._by_name:
                continue
            if self._ours(node):
                known[node.provider].add(str(external))
            else:
                elsewhere[node.provider].add(str(external))
        for provider in self.providers:
            removed = provider.cleanup_leaked(known[provider.name], elsewhere[provider.name])
            dead = set(removed) & known[provider.name]
            leaked = [r for r in removed if r not in dead]
            if leaked:
                log.info(
                    "provider %s: removed %d leaked node(s): %s",
                    provider.name,
                    len(leaked),
                    ", ".join(leaked),
                )
            self.stats["leaked"] += len(leaked)
            if dead:
                self._mark_failed(provider.name, dead)

    def _mark_failed(self, provider: str, external_ids: set[str]) -> None:
        """Records of nodes the provider found dead become FAILED (the loop
        then deletes them), so nobody is handed a node that is not there."""
        assert self.nodes is not None
        for versioned in self.nodes.list():
            node = versioned.record
            if (
                self._ours(node)
                and node.provider == provider
                and node.provider_data.get("external_id") in external_ids
            ):
                node.state = NodeState.FAILED
                try:
                    self.nodes.update(node, versioned.version)
                    log.warning(
                        "node %s of provider %s was dead at start: FAILED", node.id, provider
                    )
                except (RecordConflict, RecordNotFound):
                    pass


def main(config: ServiceConfig) -> int:
    """Run a launcher until SIGINT/SIGTERM; the exit status for ``lockgate launcher``."""
    return serve("launcher", lambda: Launcher(config), log, fatal=(ZKError, ProviderError, OSError))
