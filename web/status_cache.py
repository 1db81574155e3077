"""The tenant status answer, built once per change of state and served as bytes.

``/api/tenant/{t}/status`` is what every open dashboard polls.  Building it
means reading every queue item from ZooKeeper and encoding thousands of
jobs; doing that per request does not scale to a hundred clients.  So per
tenant this keeps the encoded answer and a fingerprint of what it was built
from (every pipeline and item record's zxid and version, the event queue
lengths, the layout uuid):

- a request within ``ttl`` of the last check gets the kept bytes;
- after that, the first request starts one check in the background and
  still gets the kept bytes (never waits for ZooKeeper); the check reads
  only what changed (``lockgate.zk.pipeline_reader``) and rebuilds the
  answer only if the fingerprint moved — or, while builds run, so their
  elapsed and remaining times stay current (every ``CLOCK_REFRESH`` s);
- the answer is encoded once, plain and gzipped;
- only the very first request of a tenant waits for a build.

``estimated_time`` of a job is the mean duration of its last successful
builds of the same project and branch (SQL, ``Database.get_durations``,
refreshed every ``ESTIMATE_TTL`` seconds); ``remaining_time`` follows from
it and the elapsed time, and an item's is its slowest job's.

Who calls it: ``lockgate.web.api_status``.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from lockgate.db import Database
from lockgate.model.queue import status_json
from lockgate.model.tenant_state import TenantLayoutState
from lockgate.web.cluster import ClusterView

log = logging.getLogger("lockgate.web.status")

ESTIMATE_TTL = 60.0
ESTIMATE_BUILDS = 10
# While builds run and nothing else changes, the answer is rebuilt this
# often to keep their elapsed and remaining times current (the dashboard
# polls every few seconds).
CLOCK_REFRESH = 5.0
# The answer is kept gzipped too (most clients accept it: a tenth the bytes).
GZIP_LEVEL = 5

DurationKey = tuple[str, str, str | None]


@dataclass
class StatusAnswer:
    body: bytes
    data: dict[str, Any]
    built_at: float  # epoch seconds
    fingerprint: tuple[Any, ...] = ()
    running: bool = False  # some build runs: its times change with the clock
    gzipped: bytes = b""


@dataclass
class _Tenant:
    answer: StatusAnswer | None = None
    checked: float = 0.0  # monotonic time of the last check
    refreshing: asyncio.Task[None] | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    estimates: dict[DurationKey, float] = field(default_factory=dict)
    estimated_keys: frozenset[DurationKey] = frozenset()
    estimated_at: float = 0.0


def _key(job: dict[str, Any], item: dict[str, Any]) -> DurationKey:
    """(job, project, branch) of a job of a status item: what its estimate is of."""
    ref = item["refs"][0] if item.get("refs") else {}
    return (str(job["name"]), str(ref.get("project") or item.get("project")), ref.get("branch"))


def _duration_keys(data: dict[str, Any]) -> set[DurationKey]:
    return {_key(job, item) for item in _items(data) for job in item.get("jobs", ())}


def _items(data: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        item
        for pipeline in data.get("pipelines", ())
        for queue in pipeline.get("change_queues", ())
        for head in queue.get("heads", ())
        for item in head
    ]


def apply_estimates(data: dict[str, Any], estimates: dict[DurationKey, float]) -> bool:
    """Fill ``estimated_time``/``remaining_time`` (ms) in ``data``; returns
    whether some build is running (then the answer ages with the clock)."""
    running = False
    for item in _items(data):
        remaining: list[int] = []
        for job in item.get("jobs", ()):
            seconds = estimates.get(_key(job, item))
            if seconds is not None:
                job["estimated_time"] = round(seconds, 1)
            if job.get("start_time") is not None and job.get("result") is None:
                running = True
                if seconds is not None and job.get("elapsed_time") is not None:
                    job["remaining_time"] = max(0, int(seconds * 1000) - job["elapsed_time"])
            if job.get("remaining_time") is not None:
                remaining.append(job["remaining_time"])
            elif job.get("result") is None and seconds is not None:
                remaining.append(int(seconds * 1000))  # not started: all of it
        if item.get("jobs") and remaining and len(remaining) == len(item["jobs"]):
            item["remaining_time"] = max(remaining)
    return running


class StatusCache:
    def __init__(
        self, cluster: ClusterView, db: Database | None, version: str, ttl: float = 1.0
    ) -> None:
        self.cluster = cluster
        self.db = db
        self.version = version
        self.ttl = ttl
        self._tenants: dict[str, _Tenant] = {}
        self.builds = 0  # answers built (for tests and the benchmark)

    async def get(self, state: TenantLayoutState) -> StatusAnswer:
        entry = self._tenants.setdefault(state.tenant, _Tenant())
        if self.ttl <= 0:  # no caching (tests): every answer is current
            async with entry.lock:
                await self._refresh(entry, state)
            assert entry.answer is not None
            return entry.answer
        answer = entry.answer
        if answer is not None:
            fresh = time.monotonic() - entry.checked < self.ttl
            if not fresh and (entry.refreshing is None or entry.refreshing.done()):
                entry.refreshing = asyncio.create_task(self._refresh_logged(entry, state))
            return answer
        async with entry.lock:
            if entry.answer is None:
                await self._refresh(entry, state)
        assert entry.answer is not None
        return entry.answer

    async def _refresh_logged(self, entry: _Tenant, state: TenantLayoutState) -> None:
        try:
            async with entry.lock:
                await self._refresh(entry, state)
        except Exception as e:  # noqa: BLE001 - the kept answer is served meanwhile
            log.warning("tenant %s: status not refreshed: %s", state.tenant, e)

    async def _refresh(self, entry: _Tenant, state: TenantLayoutState) -> None:
        snapshot = await self.cluster.pipeline_snapshot(state.tenant)
        lengths = await self.cluster.event_queue_lengths(state.tenant)
        fingerprint = (state.uuid, snapshot.fingerprint, tuple(sorted(lengths.items())))
        old = entry.answer
        entry.checked = time.monotonic()
        if old is not None and old.fingerprint == fingerprint:
            if not old.running or time.time() - old.built_at < CLOCK_REFRESH:
                return
        loop = asyncio.get_running_loop()
        data = await loop.run_in_executor(
            None,
            lambda: status_json(
                state, snapshot.pipelines, event_queue_lengths=lengths, version=self.version
            ),
        )
        data["connection_event_queues"] = {}
        await self._estimates(entry, state.tenant, data)
        running = apply_estimates(data, entry.estimates)
        body = await loop.run_in_executor(None, lambda: json.dumps(data).encode())
        gzipped = await loop.run_in_executor(None, gzip.compress, body, GZIP_LEVEL)
        entry.answer = StatusAnswer(body, data, time.time(), fingerprint, running, gzipped)
        entry.checked = time.monotonic()
        self.builds += 1

    async def _estimates(self, entry: _Tenant, tenant: str, data: dict[str, Any]) -> None:
        if self.db is None:
            return
        keys = frozenset(_duration_keys(data))
        stale = time.monotonic() - entry.estimated_at > ESTIMATE_TTL
        if not keys or (keys <= entry.estimated_keys and not stale):
            return
        wanted = sorted(keys, key=lambda k: (k[0], k[1], k[2] or ""))
        loop = asyncio.get_running_loop()
        try:
            found = await loop.run_in_executor(
                None, self.db.get_durations, tenant, wanted, ESTIMATE_BUILDS
            )
        except Exception as e:  # noqa: BLE001 - estimates are a nicety; the status is not
            log.warning("tenant %s: no build time estimates: %s", tenant, e)
            return
        entry.estimates = {k: sum(v) / len(v) for k, v in found.items() if v}
        entry.estimated_keys = keys
        entry.estimated_at = time.monotonic()

    def close(self) -> None:
        for entry in self._tenants.values():
            if entry.refreshing is not None:
                entry.refreshing.cancel()
