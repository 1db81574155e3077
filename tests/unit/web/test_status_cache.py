"""The status cache's incremental build (``lockgate.web.status_cache``): an
answer made of kept item templates with the clock's values filled in is,
at any moment, what building it all afresh then would give; templates are
made again only for what changed."""

from __future__ import annotations

import asyncio
import copy
import json
from dataclasses import dataclass, field
from typing import Any

import pytest
from lockgate.model.builds import BuildResult
from lockgate.model.change import Account, Change
from lockgate.model.jobs import FrozenJob
from lockgate.model.queue import (
    ChangeQueue,
    ItemState,
    JobState,
    JobStatus,
    PipelineState,
    QueueItem,
    item_status_json,
    status_json,
)
from lockgate.model.tenant_state import TenantLayoutState
from lockgate.web import status_cache
from lockgate.web.status_cache import (
    StatusCache,
    _Markers,
    apply_estimates,
    apply_item_estimates,
    make_template,
    render,
)

T0 = 1_700_000_000.0


def _job(name: str, **state: Any) -> JobState:
    return JobState(name=name, job=FrozenJob(name=name), **state)


def _jobs() -> list[JobState]:
    """One job in each state the clock treats differently."""
    return [
        _job("waiting"),
        _job("waiting-deps", dependencies=["running"]),
        _job(
            "running",
            status=JobStatus.BUILD_REQUESTED,
            attempt=1,
            build_uuid="b1",
            start_time=T0 - 60.25,
        ),
        _job(
            "running-no-estimate",
            status=JobStatus.BUILD_REQUESTED,
            attempt=1,
            build_uuid="b2",
            start_time=T0 - 5.5,
        ),
        _job(
            "done",
            status=JobStatus.COMPLETED,
            attempt=1,
            build_uuid="b3",
            start_time=T0 - 100,
            end_time=T0 - 20,
            result=BuildResult.SUCCESS,
        ),
        _job("skipped", status=JobStatus.COMPLETED, result=BuildResult.SKIPPED),
        _job(
            "result-but-no-end",
            status=JobStatus.BUILD_REQUESTED,
            attempt=1,
            build_uuid="b4",
            start_time=T0 - 7,
            result=BuildResult.FAILURE,
        ),
    ]


def _item(uuid: str, jobs: list[JobState], **fields: Any) -> QueueItem:
    return QueueItem(
        uuid=uuid,
        tenant="t",
        pipeline="gate",
        queue="q",
        event_id="ev-" + uuid,
        event_type="patchset-created",
        connection="gerrit",
        project="demo/app",
        ref="refs/changes/45/12345/2",
        branch="main",
        newrev="1" * 40,
        state=ItemState.ACTIVE,
        buildset_uuid="bs-" + uuid,
        jobs=jobs,
        **fields,
    )


ESTIMATES = {
    ("waiting", "demo/app", "main"): 120.0,
    ("waiting-deps", "demo/app", "main"): 30.0,
    ("running", "demo/app", "main"): 90.0,
    ("done", "demo/app", "main"): 75.5,
    ("result-but-no-end", "demo/app", "main"): 10.0,
}


def _reference(item: QueueItem, behind: list[str], estimates: dict, now: float) -> dict:
    """The entry as building it all afresh at ``now`` gives it."""
    shown = item_status_json(item, now)
    shown["items_behind"] = behind
    apply_item_estimates(shown, estimates)
    return shown


ITEMS = {
    "every state": _jobs(),
    # Every job has a remaining time: the item's moves with its running jobs'.
    "all estimated": [j for j in _jobs() if j.name in ("waiting", "running", "done")],
    "running only": [j for j in _jobs() if j.name == "running"],
    "done only": [j for j in _jobs() if j.name == "done"],
    "no jobs": [],
}


@pytest.mark.parametrize("case", sorted(ITEMS))
@pytest.mark.parametrize("estimates", [ESTIMATES, {}], ids=["estimates", "none"])
def test_a_template_renders_what_a_fresh_build_gives(case: str, estimates: dict) -> None:
    item = _item("i1", ITEMS[case], item_ahead="i0")
    template = make_template(item, ["i2"], estimates, _Markers())
    for now in (T0, T0 + 0.001, T0 + 7.3, T0 + 45, T0 + 10_000):
        assert json.loads(render(template, now)) == _reference(item, ["i2"], estimates, now)


def test_the_item_remaining_time_moves_with_its_running_jobs() -> None:
    item = _item("i1", ITEMS["all estimated"])
    template = make_template(item, [], ESTIMATES, _Markers())
    early = json.loads(render(template, T0))
    late = json.loads(render(template, T0 + 100))
    assert early["remaining_time"] == 120_000  # the waiting job's, the longest
    running = [j for j in early["jobs"] if j["name"] == "running"][0]
    assert running["remaining_time"] == 90_000 - 60_250
    assert late["jobs"][1]["elapsed_time"] == early["jobs"][1]["elapsed_time"] + 100_000
    assert late["jobs"][1]["remaining_time"] == 0


def test_text_that_looks_like_a_marker_is_only_text() -> None:
    """User text (here an owner's name) cannot pass for a marker: they carry
    a random nonce."""
    owner_name = "\x000\x00"
    change = Change("gerrit", "demo/app", "main", 12345, 2, "1" * 40, owner=Account(owner_name))
    item = _item("i1", _jobs(), change=change)
    template = make_template(item, [], ESTIMATES, _Markers())
    assert json.loads(render(template, T0))["owner"]["name"] == owner_name


# --- the whole answer, through a StatusCache on a cluster that is a stand-in -----------


@dataclass
class _Snapshot:
    fingerprint: tuple[Any, ...]
    pipelines: dict[str, tuple[PipelineState, dict[str, QueueItem]]]


@dataclass
class _Cluster:
    """What the status cache asks of ``ClusterView``, from memory."""

    pipelines: dict[str, tuple[PipelineState, dict[str, QueueItem]]] = field(default_factory=dict)
    generation: int = 0
    lengths: dict[str, int] = field(default_factory=lambda: {"trigger": 2})

    def put(self, pipeline: str, items: list[QueueItem], *, queue: str | None = None) -> None:
        state = PipelineState(tenant="t", pipeline=pipeline)
        if queue is None:
            state.queues = [ChangeQueue(name=f"q-{i.uuid}", items=[i.uuid]) for i in items]
        else:
            state.queues = [ChangeQueue(name=queue, items=[i.uuid for i in items])]
        self.pipelines[pipeline] = (state, {i.uuid: i for i in items})
        self.generation += 1

    async def pipeline_snapshot(self, tenant: str) -> _Snapshot:
        return _Snapshot((self.generation,), dict(self.pipelines))

    async def event_queue_lengths(self, tenant: str) -> dict[str, int]:
        return dict(self.lengths)


class _Durations:
    def __init__(self, estimates: dict) -> None:
        self.estimates = estimates
        self.asked = 0

    def get_durations(self, tenant: str, keys: list, builds: int) -> dict:
        self.asked += 1
        return {k: [self.estimates[k]] for k in keys if k in self.estimates}


LAYOUT = TenantLayoutState(
    tenant="t",
    projects=["demo/app"],
    pipelines=["check", "gate"],
    pipeline_info={"gate": {"description": "Gating", "manager": "dependent", "triggers": []}},
)


def _expected(cluster: _Cluster, estimates: dict, now: float) -> dict:
    data = status_json(
        LAYOUT,
        copy.deepcopy(cluster.pipelines),
        event_queue_lengths=cluster.lengths,
        now=now,
        version="v",
    )
    data["connection_event_queues"] = {}
    apply_estimates(data, estimates)
    return data


def _items(prefix: str, count: int, pipeline: str | None = None) -> list[QueueItem]:
    out = []
    for n in range(count):
        # (A "%" in the text: the templates are filled in with "%d".)
        owner = Account(f"Ann {n}% %d")
        change = Change("gerrit", "demo/app", "main", 100 + n, 1, "1" * 40, owner=owner)
        item = _item(f"{prefix}{n}", _jobs(), change=change)
        item.pipeline = pipeline or prefix
        out.append(item)
    return out


def test_the_answer_is_what_a_fresh_build_gives_and_only_changes_are_encoded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(status_cache, "SLICE", 0.0)  # yield after every item
    cluster = _Cluster()
    gate = _items("gate", 5)
    for n in range(1, 5):
        gate[n].item_ahead = gate[n - 1].uuid
    cluster.put("gate", gate, queue="integrated")
    cluster.put("check", _items("check", 3))
    db = _Durations(ESTIMATES)

    async def scenario() -> None:
        cache = StatusCache(cluster, db, "v", ttl=1000.0)  # type: ignore[arg-type]
        answer = await cache.get(LAYOUT)
        assert json.loads(answer.body) == _expected(cluster, ESTIMATES, answer.built_at)
        assert answer.data == json.loads(answer.body)
        assert answer.queued == 8 and answer.running
        assert cache.templates_made == 8
        # One item changes: its template alone is made again, and the text of
        # its pipeline alone.
        gate_text = cache._tenants["t"].pipelines["gate"]
        changed = copy.deepcopy(cluster.pipelines["check"][1]["check1"])
        changed.jobs[0].status = JobStatus.NODES_REQUESTED
        cluster.put(
            "check", [cluster.pipelines["check"][1]["check0"], changed] + _items("new", 1, "check")
        )
        await _check(cache)
        answer = cache._tenants["t"].answer
        assert answer is not None
        assert json.loads(answer.body) == _expected(cluster, ESTIMATES, answer.built_at)
        assert cache.templates_made == 10  # check1 and the new one
        assert cache._tenants["t"].pipelines["gate"] is gate_text
        # Nothing changes but the clock: the same templates, new times.
        builds = cache.builds
        await _check(cache)
        assert cache.builds == builds  # within CLOCK_REFRESH: nothing to do
        cache._tenants["t"].answer.built_at -= status_cache.CLOCK_REFRESH  # type: ignore[union-attr]
        await _check(cache)
        answer = cache._tenants["t"].answer
        assert answer is not None and cache.builds == builds + 1
        assert cache.templates_made == 10
        assert json.loads(answer.body) == _expected(cluster, ESTIMATES, answer.built_at)
        # The estimates change: the templates of the jobs they are of.
        db.estimates = {**ESTIMATES, ("running", "demo/app", "main"): 91.0}
        cache._tenants["t"].estimated_at -= status_cache.ESTIMATE_TTL + 1
        cluster.generation += 1
        await _check(cache)
        answer = cache._tenants["t"].answer
        assert answer is not None
        assert json.loads(answer.body) == _expected(cluster, db.estimates, answer.built_at)
        assert cache.templates_made == 10 + 8
        cache.close()

    asyncio.run(scenario())


def test_items_of_a_ref_are_cut_out_of_the_answer() -> None:
    cluster = _Cluster()
    cluster.put("gate", _items("gate", 3))
    cluster.put("check", _items("check", 2))

    async def scenario() -> None:
        cache = StatusCache(cluster, None, "v", ttl=1000.0)  # type: ignore[arg-type]
        answer = await cache.get(LAYOUT)
        found = answer.items_of("101,1")
        assert sorted(i["id"] for i in found) == ["check1", "gate1"]
        whole = [
            i
            for p in answer.data["pipelines"]
            for q in p["change_queues"]
            for h in q["heads"]
            for i in h
            if i["refs"][0]["id"] == "101,1"
        ]
        assert sorted(found, key=lambda i: i["id"]) == sorted(whole, key=lambda i: i["id"])
        assert answer.items_of("999,1") == []
        cache.close()

    asyncio.run(scenario())


async def _check(cache: StatusCache) -> None:
    """Let the kept answer age past the ttl and wait for the check it starts."""
    entry = cache._tenants["t"]
    entry.checked = 0.0
    await cache.get(LAYOUT)
    assert entry.refreshing is not None
    await entry.refreshing


def test_an_empty_tenant() -> None:
    async def scenario() -> dict:
        cache = StatusCache(_Cluster(), None, "v", ttl=0)  # type: ignore[arg-type]
        answer = await cache.get(LAYOUT)
        assert answer.queued == 0 and not answer.running
        return json.loads(answer.body)

    data = asyncio.run(scenario())
    assert [p["name"] for p in data["pipelines"]] == ["check", "gate"]
    assert data["trigger_event_queue"] == {"length": 2}


def test_the_web_server_settles_the_garbage_after_a_first_answer() -> None:
    import gc

    cluster = _Cluster()
    cluster.put("gate", _items("gate", 2))

    async def scenario() -> int:
        cache = StatusCache(cluster, None, "v", ttl=1000.0)  # type: ignore[arg-type]
        cache.settle_garbage = True
        await cache.get(LAYOUT)
        return gc.get_freeze_count()

    try:
        assert asyncio.run(scenario()) > 0
    finally:
        gc.unfreeze()
