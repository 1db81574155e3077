"""One claimed build's life in ZooKeeper: RUNNING, nodes, run, result, events.

``Executor`` (``lockgate.executor.server``) creates a ``BuildWorker`` for each
build request it locked and calls ``run`` in a thread of its own.  The
worker follows the contract in ``lockgate.model.builds``:

1. set the request RUNNING (worker, start_time, log_url) and put
   ``build-started`` on the tenant's result queue;
2. lock every node of the request (``NodeStore``) and set it IN_USE; a node
   that is missing, unusable or cannot be locked makes the build
   NODE_FAILURE;
3. run the job (``JobRunner``) while watching ``cancel_requested``; a job
   that returns ``zuul.pause`` is recorded ``paused`` with its returned data
   and ``build-paused`` is put, and the worker waits for the scheduler's
   ``resume_requested`` (its child jobs are done) or a cancel, then clears
   ``paused`` and lets the job go on;
4. set the nodes USED and release them (HOLD instead, when the build
   failed and an autohold request matches it: ``lockgate.zk.holds``);
5. write result, error_detail, end_time and the returned data (a
   ``zuul.log_url`` replaces the log URL), set COMPLETED, put
   ``build-completed``, release the request's lock.

When the executor stops (``abort(shutdown=True)``) or loses its ZooKeeper
session (the lock is gone), the worker stops the playbooks and writes *no*
result: the request stays RUNNING and unlocked, which the scheduler reads as
"executor died" and re-submits, exactly as if the process had been killed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from lockgate.executor.process import Abort
from lockgate.executor.result_data import BuildReturn
from lockgate.executor.runner import BuildOutcome, JobRunner
from lockgate.logs import get_logger
from lockgate.model.builds import BuildRequest, BuildResult, BuildState
from lockgate.model.events import ResultEvent, ResultKind
from lockgate.model.holds import HOLD_RESULTS
from lockgate.model.nodes import Node, NodeState
from lockgate.zk import (
    BuildRequestStore,
    NodeStore,
    RecordConflict,
    SessionAwareLock,
    Versioned,
    ZKClient,
    ZKError,
    result_queue,
)
from lockgate.zk.holds import hold_build_nodes

NODE_LOCK_TIMEOUT = 30.0
# Seconds a playbook gets between SIGTERM and SIGKILL when the executor stops.
SHUTDOWN_GRACE = 2.0
USABLE_NODE_STATES = (NodeState.READY, NodeState.IN_USE)


class NodeFailure(Exception):
    """A node of the build cannot be used; ``str()`` says which and why."""


class BuildWorker:
    def __init__(
        self,
        client: ZKClient,
        builds: BuildRequestStore,
        nodes: NodeStore,
        runner: JobRunner,
        worker_name: str,
        log_url: Callable[[str], str | None],
        claimed: Versioned[BuildRequest],
        lock: SessionAwareLock,
    ):
        self.client = client
        self.builds = builds
        self.nodes = nodes
        self.runner = runner
        self.worker_name = worker_name
        self.log_url = log_url
        self.request = claimed.record
        self.version = claimed.version
        self.lock = lock
        self.abort_flag = Abort()
        self.shutdown = False
        # Set by a resume request or an abort: what a paused build waits for.
        self._wake = threading.Event()
        self._resume = False
        self.log = get_logger(
            "lockgate.executor.build",
            event_id=self.request.event_id,
            build=self.request.uuid,
            job=self.request.job.name,
        )

    @property
    def uuid(self) -> str:
        return self.request.uuid

    def abort(self, reason: str, *, shutdown: bool = False) -> None:
        """Stop the build (from any thread).  ``shutdown``: leave no result."""
        if shutdown:
            self.shutdown = True
        self.abort_flag.set(reason, grace=SHUTDOWN_GRACE if shutdown else None)
        self._wake.set()

    def lock_lost(self) -> None:
        self.log.warning("lost the build request's lock (ZooKeeper session); dropping the build")
        self.abort("lock on the build request lost", shutdown=True)

    # ------------------------------------------------------------------

    def run(self) -> None:
        try:
            self._run()
        except Exception:
            self.log.exception("build failed unexpectedly")
            self._finish(BuildOutcome(BuildResult.ERROR, "executor error (see its log)"))
        finally:
            self.lock.release()

    def _run(self) -> None:
        request = self.request
        if request.cancel_requested:
            self._finish(BuildOutcome(BuildResult.CANCELED, "canceled before it started"))
            return
        self._save(
            state=BuildState.RUNNING,
            worker=self.worker_name,
            start_time=time.time(),
            log_url=self.log_url(request.uuid),
        )
        self._event(ResultKind.BUILD_STARTED)
        self.log.info("build started (attempt %s)", request.attempt)
        stop_watch = self.builds.watch_record(request.uuid, self._on_record)
        held: list[SessionAwareLock] = []
        nodes: list[Versioned[Node]] = []
        try:
            try:
                nodes, held = self._lock_nodes()
            except NodeFailure as e:
                outcome = BuildOutcome(BuildResult.NODE_FAILURE, str(e))
            else:
                outcome = self.runner.run(
                    request, [n.record for n in nodes], self.abort_flag, pause=self._pause
                )
                self._autohold(outcome, nodes)
        finally:
            stop_watch()
            self._release_nodes(nodes, held)
        if self.shutdown or self.lock.lost:
            self.log.info(
                "build stopped without a result (%s); the scheduler will re-submit it",
                self.abort_flag.reason or "shutdown",
            )
            return
        self._finish(outcome)

    def _on_record(self, versioned: Versioned[BuildRequest] | None) -> None:
        if versioned is None:
            self.abort("build request deleted")
        elif versioned.record.cancel_requested:
            self.abort("canceled")
        elif versioned.record.resume_requested:
            self._resume = True
            self._wake.set()

    def _pause(self, returned: BuildReturn) -> None:
        """The job paused: record it with what it returned, wait until resumed or aborted."""
        self._save(
            paused=True,
            result_data=returned.data,
            secret_result_data=returned.secret_data,
            warnings=returned.warnings,
        )
        self._event(ResultKind.BUILD_PAUSED)
        self.log.info("build paused; waiting for its child jobs")
        while not self._resume and not self.abort_flag.is_set():
            self._wake.wait(5.0)
            self._wake.clear()
        if self.abort_flag.is_set():
            return
        self._save(paused=False, resume_requested=False)
        self.log.info("build resumed")

    # ------------------------------------------------------------------

    def _save(self, **changes: object) -> None:
        """Apply ``changes`` to the request, re-reading it when someone else
        (the scheduler setting ``cancel_requested``) wrote in between."""
        for _ in range(20):
            self.lock.check()
            for key, value in changes.items():
                setattr(self.request, key, value)
            try:
                self.version = self.builds.update(self.request, self.version)
                return
            except RecordConflict:
                fresh = self.builds.get(self.uuid)
                if fresh is None:
                    raise
                self.request, self.version = fresh.record, fresh.version
        raise RecordConflict(self.uuid, "kept changing while the executor wrote it")

    def _event(self, kind: ResultKind, result: BuildResult | None = None) -> None:
        request = self.request
        event = ResultEvent(
            kind=kind,
            tenant=request.tenant,
            pipeline=request.pipeline,
            buildset_uuid=request.buildset_uuid,
            request_id=request.uuid,
            result=result,
            event_id=request.event_id,
        )
        result_queue(self.client, request.tenant).put(event.to_dict())

    def _finish(self, outcome: BuildOutcome) -> None:
        result = outcome.result
        self.log.info(
            "build completed: %s%s",
            result,
            f" ({outcome.error_detail})" if outcome.error_detail else "",
        )
        try:
            returned = outcome.returned
            extra: dict[str, object] = {}
            if returned.log_url:
                extra["log_url"] = returned.log_url
            self._save(
                state=BuildState.COMPLETED,
                result=result,
                error_detail=outcome.error_detail,
                end_time=time.time(),
                paused=False,
                result_data=returned.data,
                secret_result_data=returned.secret_data,
                warnings=returned.warnings,
                **extra,
            )
            self._event(ResultKind.BUILD_COMPLETED, result)
        except ZKError as e:
            # The lock or the record is gone: the scheduler will re-submit.
            self.log.warning("could not record the result %s: %s", result, e)

    # ------------------------------------------------------------------

    def _lock_nodes(self) -> tuple[list[Versioned[Node]], list[SessionAwareLock]]:
        locked: list[Versioned[Node]] = []
        held: list[SessionAwareLock] = []
        try:
            for node_id in self.request.node_ids:
                lock = self.nodes.lock(node_id, blocking=True, timeout=NODE_LOCK_TIMEOUT)
                if lock is None:
                    raise NodeFailure(f"node {node_id} is locked by someone else")
                held.append(lock)
                found = self.nodes.get(node_id)
                if found is None:
                    raise NodeFailure(f"node {node_id} no longer exists")
                node = found.record
                if node.state is NodeState.HOLD:
                    # An admin held it after it was handed to this build.
                    why = f" ({node.comment})" if node.comment else ""
                    raise NodeFailure(f"node {node_id} is held{why}: not used for this build")
                if node.state not in USABLE_NODE_STATES:
                    raise NodeFailure(f"node {node_id} is {node.state.value}, not ready")
                node.state = NodeState.IN_USE
                version = self.nodes.update(node, found.version)
                locked.append(Versioned(node, version))
        except NodeFailure:
            self._release_nodes(locked, held)
            raise
        except ZKError as e:
            self._release_nodes(locked, held)
            raise NodeFailure(f"cannot lock the build's nodes: {e}") from None
        return locked, held

    def _autohold(self, outcome: BuildOutcome, nodes: list[Versioned[Node]]) -> None:
        """Keep a failing build's nodes if an autohold request matches it
        (``lockgate.zk.holds``): they become HOLD, and stay with the launcher
        instead of being given back."""
        if self.shutdown or self.lock.lost or outcome.result not in HOLD_RESULTS:
            return
        request = self.request
        hold_build_nodes(
            self.client,
            tenant=request.tenant,
            projects=[request.project.project, request.project.canonical_name],
            job=request.job.name,
            ref=request.project.ref,
            result=outcome.result,
            build=request.uuid,
            nodes=[n.record for n in nodes],
            log_=self.log,
        )

    def _release_nodes(self, nodes: list[Versioned[Node]], held: list[SessionAwareLock]) -> None:
        for versioned in nodes:
            node = versioned.record
            try:
                fresh = self.nodes.get(node.id)
                if fresh is not None and fresh.record.state is not NodeState.HOLD:
                    fresh.record.state = NodeState.USED
                    self.nodes.update(fresh.record, fresh.version)
            except ZKError as e:
                self.log.warning("could not set node %s USED: %s", node.id, e)
        for lock in held:
            lock.release()
