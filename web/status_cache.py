"""The tenant status answer, built once per change of state and served as bytes.

``/api/tenant/{t}/status`` is what every open dashboard polls.  Building it
means reading every queue item from ZooKeeper and encoding thousands of
jobs; doing that per request does not scale to a hundred clients.  So per
tenant this keeps the encoded answer and a fingerprint of what it was built
from (the pipeline reader's generation, the event queue lengths, the layout
uuid):

- a request within ``ttl`` of the last check gets the kept bytes;
- after that, the first request starts one check in the background and
  still gets the kept bytes (never waits for ZooKeeper); the check reads
  only what changed (``lockgate.zk.pipeline_reader``, kept current by
  watches) and rebuilds the answer only if the fingerprint moved — or,
  while builds run, so their elapsed and remaining times stay current
  (every ``CLOCK_REFRESH`` s);
- only the very first request of a tenant waits for a build.

A rebuild is cheap, and it is done on the event loop in slices of at most
``SLICE`` seconds with a yield between (a thread doing pure Python would
hold the GIL the loop needs to answer the other requests meanwhile):

- each item's entry is encoded once per change of its record (of the items
  behind it, of its jobs' estimates) into a *template*: its JSON text cut
  where the clock's values go (a running job's ``elapsed_time`` and
  ``remaining_time``, the item's ``remaining_time``);
- the rest of the answer (pipelines, queues, event queue lengths) is
  encoded once per change of state, cut where the items go — each
  pipeline's text kept while the reader hands back the same pipeline;
- a build fills the clock's values into the templates and joins the bytes:
  a few milliseconds for 1,000 items; gzip (which lets go of the GIL) runs
  in a thread.

The web server also has the cache keep the garbage collector's full
collections short (``settle_garbage``): at 1,000 items they were the p99
of a hundred clients.  ``bench/web_status`` measures all this
(``doc/benchmarks.md``).

``estimated_time`` of a job is the mean duration of its last successful
builds of the same project and branch (SQL, ``Database.get_durations``,
refreshed every ``ESTIMATE_TTL`` seconds); ``remaining_time`` follows from
it and the elapsed time, and an item's is its slowest job's.

Who calls it: ``lockgate.web.api_status`` (and ``api_tenants`` for counts).
"""

from __future__ import annotations

import array
import asyncio
import email.utils
import enum
import functools
import gc
import gzip
import json
import logging
import re
import secrets
import time
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from lockgate.db import Database
from lockgate.model.queue import (
    QueueItem,
    item_status_json,
    pipeline_status_json,
    status_json,
)
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
# Work on the loop between two yields to it, in seconds.
SLICE = 0.002
# Seconds between two full garbage collections of our choosing (``settle_garbage``).
SETTLE_EVERY = 600.0
_settled = [0.0]  # when the process last settled (monotonic)

DurationKey = tuple[str, str, str | None]


class ClockKind(enum.Enum):
    """What a value that moves with the clock is."""

    ELAPSED = "elapsed"  # a running job's elapsed ms
    REMAINING = "remaining"  # a running job's remaining ms (from its estimate)
    ITEM_REMAINING = "item-remaining"  # an item's: the largest of its jobs'


class Clock(NamedTuple):
    """Where a value that moves with the clock goes in a template, and what
    it follows from."""

    kind: ClockKind
    start: float = 0.0  # the job's start (epoch seconds)
    estimate: int = 0  # the job's estimated ms
    others: tuple[int, ...] = ()  # an item's jobs' remaining ms that do not move
    moving: tuple[tuple[float, int], ...] = ()  # (start, estimate ms) of those that do


@dataclass
class StatusAnswer:
    body: bytes
    built_at: float  # epoch seconds
    fingerprint: tuple[Any, ...] = ()
    running: bool = False  # some build runs: its times change with the clock
    gzipped: bytes = b""
    queued: int = 0  # items shown
    # Each item's ref id (``12345,2``), and where its entry starts and ends
    # in ``body`` (an array: nothing for the garbage collector to look at).
    ref_ids: list[str] = field(default_factory=list)
    offsets: array.array[int] = field(default_factory=lambda: array.array("q"))

    @functools.cached_property
    def last_modified(self) -> str:
        """``built_at`` as an HTTP date (made once, not per request)."""
        return email.utils.formatdate(self.built_at, usegmt=True)

    @functools.cached_property
    def data(self) -> dict[str, Any]:
        """The answer decoded (for callers that look inside; requests get ``body``)."""
        return json.loads(self.body)

    def items_of(self, ref_id: str) -> list[dict[str, Any]]:
        """The entries of the items one of whose refs is ``ref_id``, decoded."""
        offsets = self.offsets
        return [
            json.loads(self.body[offsets[2 * n] : offsets[2 * n + 1]])
            for n, found in enumerate(self.ref_ids)
            if found == ref_id
        ]


@dataclass
class _Template:
    """An item's entry as JSON text, cut where the clock's values go."""

    item: QueueItem  # the record it was made from (the reader hands the same object)
    behind: list[str]
    keys: tuple[DurationKey, ...]  # of its jobs
    estimates: tuple[float | None, ...]  # of its jobs, when it was made
    estimated: int  # the estimates generation it was checked against
    clocks: list[Clock]
    # The entry's bytes with ``%d`` where the clocks' values go (``%``
    # doubled elsewhere); without clocks, the entry's bytes as they are.
    text: bytes
    ref_id: str  # what ``status/change/{id}`` finds it by


@dataclass
class _PipelineText:
    """A pipeline's entry without its items: the text between them."""

    source: Any  # the reader's (state, items) it was made from: kept while the same
    layout: str  # the layout uuid it was made with (descriptions, triggers)
    parts: list[bytes]
    order: list[tuple[QueueItem, list[str]]]  # (item, items behind it) in text order
    keys: frozenset[DurationKey]  # its jobs' estimate keys


@dataclass
class _Layout:
    """The answer without its items: the text between them, in order."""

    fingerprint: tuple[Any, ...]
    parts: list[bytes]  # one more than ``order``
    order: list[tuple[QueueItem, list[str]]]  # (item, items behind it)
    keys: frozenset[DurationKey]


@dataclass
class _Tenant:
    answer: StatusAnswer | None = None
    checked: float = 0.0  # monotonic time of the last check
    refreshing: asyncio.Task[None] | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    layout: _Layout | None = None
    pipelines: dict[str, _PipelineText] = field(default_factory=dict)
    templates: dict[str, _Template] = field(default_factory=dict)  # by item uuid
    estimates: dict[DurationKey, float] = field(default_factory=dict)
    estimated_keys: frozenset[DurationKey] = frozenset()
    estimated_at: float = 0.0
    estimated: int = 0  # generation of ``estimates``


def _key(job: dict[str, Any], item: dict[str, Any]) -> DurationKey:
    """(job, project, branch) of a job of a status item: what its estimate is of."""
    ref = item["refs"][0] if item.get("refs") else {}
    return (str(job["name"]), str(ref.get("project") or item.get("project")), ref.get("branch"))


def _item_keys(item: QueueItem) -> tuple[DurationKey, ...]:
    """The estimate keys of an item's jobs (as ``_key`` finds them in its entry)."""
    return tuple((js.name, str(item.project), item.branch) for js in item.jobs)


def _items(data: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        item
        for pipeline in data.get("pipelines", ())
        for queue in pipeline.get("change_queues", ())
        for head in queue.get("heads", ())
        for item in head
    ]


def apply_item_estimates(item: dict[str, Any], estimates: dict[DurationKey, float]) -> bool:
    """Fill ``estimated_time``/``remaining_time`` (ms) in one status entry;
    returns whether one of its builds is running (then it ages with the clock)."""
    running = False
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


def apply_estimates(data: dict[str, Any], estimates: dict[DurationKey, float]) -> bool:
    """``apply_item_estimates`` over every item of a whole answer."""
    running = False
    for item in _items(data):
        running |= apply_item_estimates(item, estimates)
    return running


def clock_value(clock: Clock, now: float) -> int:
    """A clock's value at ``now`` (epoch seconds), as ``item_status_json`` and
    ``apply_item_estimates`` would compute it then."""
    if clock.kind is ClockKind.ELAPSED:
        return int((now - clock.start) * 1000)
    if clock.kind is ClockKind.REMAINING:
        return max(0, clock.estimate - int((now - clock.start) * 1000))
    moved = [max(0, est - int((now - start) * 1000)) for start, est in clock.moving]
    return max(clock.others + tuple(moved))


class _Markers:
    """Strings put where a value goes before encoding, found again after.
    They hold NUL characters and a random nonce: no text a user wrote
    (a commit message, a queue name) can pass for one."""

    def __init__(self) -> None:
        self.nonce = secrets.token_hex(8)
        self._found = re.compile(r'"\\u0000' + self.nonce + r':(\d+)\\u0000"')

    def marker(self, n: int) -> str:
        return f"\x00{self.nonce}:{n}\x00"

    def cut(self, text: str, count: int, what: str) -> tuple[list[bytes], list[int]]:
        """``text`` (JSON: ASCII) cut at its ``count`` markers: the parts
        between, as bytes, and the markers' numbers in the order they come."""
        pieces = self._found.split(text)
        found = [int(n) for n in pieces[1::2]]
        if sorted(found) != list(range(count)):
            raise ValueError(f"{what}: the encoded text does not hold its {count} markers")
        return [p.encode("ascii") for p in pieces[0::2]], found


def make_template(
    item: QueueItem,
    behind: list[str],
    estimates: dict[DurationKey, float],
    markers: _Markers,
    estimated: int = 0,
) -> _Template:
    """The item's entry encoded, cut where the clock's values go."""
    shown = item_status_json(item, time.time())
    shown["items_behind"] = behind
    apply_item_estimates(shown, estimates)
    keys = _item_keys(item)
    seconds = tuple(estimates.get(k) for k in keys)
    clocks: list[Clock] = []
    static: list[int] = []  # remaining ms of jobs whose remaining does not move
    moving: list[tuple[float, int]] = []
    complete = True  # every job has a remaining time (so the item has one)
    for job, est in zip(shown["jobs"], seconds, strict=True):
        start = job["start_time"]
        if start is not None and job["end_time"] is None:
            job["elapsed_time"] = markers.marker(len(clocks))
            clocks.append(Clock(ClockKind.ELAPSED, start))
            if est is not None and job["result"] is None:
                job["remaining_time"] = markers.marker(len(clocks))
                clocks.append(Clock(ClockKind.REMAINING, start, int(est * 1000)))
                moving.append((start, int(est * 1000)))
                continue
        if job["remaining_time"] is not None:
            static.append(job["remaining_time"])
        elif job["result"] is None and est is not None:
            static.append(int(est * 1000))
        else:
            complete = False
    if moving and complete:
        # ``apply_item_estimates`` made it the largest of its jobs': it moves too.
        shown["remaining_time"] = markers.marker(len(clocks))
        clocks.append(Clock(ClockKind.ITEM_REMAINING, others=tuple(static), moving=tuple(moving)))
    parts, found = markers.cut(json.dumps(shown), len(clocks), f"item {item.uuid}")
    clocks = [clocks[n] for n in found]  # in the order of the text
    text = b"%d".join(p.replace(b"%", b"%%") for p in parts) if clocks else parts[0]
    return _Template(item, behind, keys, seconds, estimated, clocks, text, item.change_id)


def render(template: _Template, now: float) -> bytes:
    """The item's entry with the clock's values at ``now``."""
    if not template.clocks:
        return template.text
    return template.text % tuple([clock_value(clock, now) for clock in template.clocks])


def settle_garbage() -> None:
    """One full collection now, and what the process then holds out of the
    garbage collector's sight until the next.

    Why: a full collection stops every thread for as long as it takes to
    look at every object the process keeps — the imported modules, and the
    pipeline reader's decoded items: 100-700 ms at 1,000 items on a busy
    2-core machine (where looking at an object that was not touched for a
    while costs microseconds), while a hundred clients wait.  Left to
    itself, Python makes one whenever a quarter as many objects as it keeps
    have lived long; under a hundred clients' requests, every few seconds.
    Frozen objects (``gc.freeze``) are not looked at, and are still freed
    when nothing refers to them (decoded items when they change); the
    collector's own full collections then look only at what came since.
    Frozen garbage in cycles would never be freed: so each settling thaws
    everything and collects it first — one full collection when we choose
    (after a tenant's first answer, then every ``SETTLE_EVERY`` s), not
    several when Python does.  Where the web server turns it on
    (``StatusCache.settle_garbage``)."""
    started = time.perf_counter()
    gc.unfreeze()
    gc.collect()
    gc.freeze()
    _settled[0] = time.monotonic()
    log.info(
        "%d objects out of the garbage collector's sight (%.0f ms)",
        gc.get_freeze_count(),
        (time.perf_counter() - started) * 1000,
    )


class StatusCache:
    def __init__(
        self, cluster: ClusterView, db: Database | None, version: str, ttl: float = 1.0
    ) -> None:
        self.cluster = cluster
        self.db = db
        self.version = version
        self.ttl = ttl
        self._tenants: dict[str, _Tenant] = {}
        self._markers = _Markers()
        # After a tenant's first answer, ``settle_garbage`` (the web server
        # turns it on: it is the process's business, not a test's).
        self.settle_garbage = False
        self.builds = 0  # answers built (for tests and the benchmark)
        self.templates_made = 0  # item entries encoded (for tests and the benchmark)

    async def get(self, state: TenantLayoutState) -> StatusAnswer:
        entry = self._tenants.get(state.tenant)
        if entry is None:
            entry = self._tenants[state.tenant] = _Tenant()
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
        layout = entry.layout
        if layout is None or layout.fingerprint != fingerprint:
            layout = self._layout(entry, state, snapshot.pipelines, lengths, fingerprint)
            entry.layout = layout
        await self._estimates(entry, state.tenant, layout.keys)
        templates = await self._templates(entry, layout)
        answer = await self._build(layout, templates, fingerprint)
        first = entry.answer is None
        entry.answer = answer
        entry.checked = time.monotonic()
        self.builds += 1
        if self.settle_garbage and (first or time.monotonic() - _settled[0] > SETTLE_EVERY):
            settle_garbage()

    def _layout(
        self,
        entry: _Tenant,
        state: TenantLayoutState,
        pipelines: dict[str, Any],
        lengths: dict[str, int],
        fingerprint: tuple[Any, ...],
    ) -> _Layout:
        """The answer's text around its items: the top (queue lengths, the
        pipelines in the layout's order) made anew, each pipeline's text kept
        while the reader hands back the same pipeline (only the pipelines
        that changed are encoded again)."""
        # Every pipeline, without queues: status_json decides their order.
        top = status_json(
            state,
            {name: (None, {}) for name in pipelines},
            event_queue_lengths=lengths,
            version=self.version,
        )
        top["connection_event_queues"] = {}
        names = [entry_["name"] for entry_ in top["pipelines"]]
        top["pipelines"] = [self._markers.marker(n) for n in range(len(names))]
        top_parts, found = self._markers.cut(json.dumps(top), len(names), f"tenant {state.tenant}")
        info = state.pipeline_info
        kept, made = entry.pipelines, {}
        parts = [top_parts[0]]
        order: list[tuple[QueueItem, list[str]]] = []
        keys: set[DurationKey] = set()
        for i, n in enumerate(found):
            name = names[n]
            source = pipelines.get(name)
            text = kept.get(name)
            if text is None or text.source is not source or text.layout != state.uuid:
                text = self._pipeline_text(name, source, info.get(name), state.uuid)
            made[name] = text
            parts[-1] += text.parts[0]
            order.extend(text.order)
            parts.extend(text.parts[1:])
            parts[-1] += top_parts[i + 1]
            keys |= text.keys
        entry.pipelines = made
        return _Layout(fingerprint, parts, order, frozenset(keys))

    def _pipeline_text(
        self, name: str, source: Any, info: dict[str, Any] | None, layout: str
    ) -> _PipelineText:
        order: list[tuple[QueueItem, list[str]]] = []

        def place(item: QueueItem, behind: list[str]) -> str:
            order.append((item, behind))
            return self._markers.marker(len(order) - 1)

        state, items = source if source is not None else (None, {})
        shown = pipeline_status_json(name, state, items, info=info, item_json=place)
        parts, found = self._markers.cut(json.dumps(shown), len(order), f"pipeline {name}")
        order = [order[n] for n in found]  # in the order of the text
        keys = frozenset(k for item, _ in order for k in _item_keys(item))
        return _PipelineText(source, layout, parts, order, keys)

    async def _templates(self, entry: _Tenant, layout: _Layout) -> list[_Template]:
        """The templates of the layout's items, in order: kept ones where the
        item, the items behind it and its estimates are as they were; new
        ones made in slices between yields to the loop."""
        kept: dict[str, _Template] = entry.templates
        made: dict[str, _Template] = {}
        out = []
        deadline = time.perf_counter() + SLICE
        for item, behind in layout.order:
            template = kept.get(item.uuid)
            if template is not None and (template.item is not item or template.behind != behind):
                template = None
            if template is not None and template.estimated != entry.estimated:
                if template.estimates == tuple(entry.estimates.get(k) for k in template.keys):
                    template.estimated = entry.estimated
                else:
                    template = None
            if template is None:
                template = make_template(
                    item, behind, entry.estimates, self._markers, entry.estimated
                )
                self.templates_made += 1
            made[item.uuid] = template
            out.append(template)
            if time.perf_counter() > deadline:
                await asyncio.sleep(0)
                deadline = time.perf_counter() + SLICE
        entry.templates = made
        return out

    async def _build(
        self, layout: _Layout, templates: list[_Template], fingerprint: tuple[Any, ...]
    ) -> StatusAnswer:
        now = time.time()
        pieces = [layout.parts[0]]
        offsets = array.array("q")
        offset = len(pieces[0])
        running = False
        deadline = time.perf_counter() + SLICE
        for template, part in zip(templates, layout.parts[1:], strict=True):
            text = render(template, now)
            running = running or bool(template.clocks)
            offsets.append(offset)
            offsets.append(offset + len(text))
            pieces.append(text)
            pieces.append(part)
            offset += len(text) + len(part)
            if time.perf_counter() > deadline:
                await asyncio.sleep(0)
                deadline = time.perf_counter() + SLICE
        body = b"".join(pieces)
        loop = asyncio.get_running_loop()
        gzipped = await loop.run_in_executor(None, gzip.compress, body, GZIP_LEVEL)
        ref_ids = [template.ref_id for template in templates]
        return StatusAnswer(
            body, now, fingerprint, running, gzipped, len(templates), ref_ids, offsets
        )

    async def _estimates(self, entry: _Tenant, tenant: str, keys: frozenset[DurationKey]) -> None:
        if self.db is None:
            return
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
        estimates = {k: sum(v) / len(v) for k, v in found.items() if v}
        if estimates != entry.estimates:
            entry.estimates = estimates
            entry.estimated += 1
        entry.estimated_keys = keys
        entry.estimated_at = time.monotonic()

    def close(self) -> None:
        for entry in self._tenants.values():
            if entry.refreshing is not None:
                entry.refreshing.cancel()
