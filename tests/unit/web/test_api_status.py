"""The status answer: estimated and remaining times from earlier builds,
status/change/{id}, and an answer built once per change of state."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from lockgate.db import Database, RefInfo
from lockgate.model.change import Change
from lockgate.model.jobs import FrozenJob
from lockgate.model.queue import ChangeQueue, ItemState, JobState, JobStatus, QueueItem
from lockgate.model.tenant_state import TenantLayoutState
from lockgate.web.cluster import ClusterView
from lockgate.web.status_cache import StatusCache
from lockgate.web.zkstate import ZKClusterState
from lockgate.zk.client import ZKClient
from lockgate.zk.pipelines import PipelineStore

from tests.fixtures.web import WebHarness


def _item(uuid: str, started: float | None, change: Change | None = None) -> QueueItem:
    return QueueItem(
        uuid=uuid,
        tenant="t",
        pipeline="check",
        queue=uuid,
        event_id="ev-" + uuid,
        event_type="patchset-created",
        connection="gerrit",
        project="demo/app",
        ref="refs/changes/45/12345/2",
        branch="main",
        newrev="1" * 40,
        state=ItemState.ACTIVE,
        buildset_uuid="bs-" + uuid,
        change=change,
        jobs=[
            JobState(
                name="unit",
                job=FrozenJob(name="unit"),
                status=JobStatus.BUILD_REQUESTED,
                build_uuid="b-" + uuid,
                attempt=1,
                start_time=started,
            ),
            JobState(name="lint", job=FrozenJob(name="lint")),
        ],
    )


def _enqueue(zk: ZKClient, *items: QueueItem) -> None:
    store = PipelineStore(zk, "t")
    loaded = store.load("check")
    for item in items:
        loaded.items[item.uuid] = item
        loaded.state.queues.append(ChangeQueue(name=item.uuid, items=[item.uuid]))
    store.save_items(loaded, {i.uuid for i in items})
    store.save_state(loaded)


def _history(db: Database) -> None:
    ref = RefInfo(project="demo/app", ref="refs/heads/main", branch="main", newrev="2" * 40)
    for n, seconds in enumerate((100, 200, 300)):
        db.create_buildset(f"old{n}", "t", "check", [ref])
        db.create_build(f"old-unit-{n}", f"old{n}", "unit", start_time=1000)
        db.update_build(f"old-unit-{n}", result="SUCCESS", end_time=1000 + seconds)
    db.create_build("old-unit-fail", "old0", "unit", start_time=1000)
    db.update_build("old-unit-fail", result="FAILURE", end_time=9000)  # not counted


def test_estimated_and_remaining_times_come_from_earlier_builds(
    web: WebHarness, sqlite_db: Database, zk_client: ZKClient, publish: Callable[..., object]
) -> None:
    publish("t", projects=["demo/app"], pipelines=["check"])
    _history(sqlite_db)
    _enqueue(zk_client, _item("i1", time.time() - 50))
    status = web.get_json("/api/tenant/t/status")
    [[item]] = status["pipelines"][0]["change_queues"][0]["heads"]
    unit, lint = item["jobs"]
    assert unit["estimated_time"] == 200.0  # the mean of 100, 200, 300 s
    assert 100_000 <= unit["remaining_time"] <= 150_000  # about 200 s - 50 s, in ms
    assert lint["estimated_time"] is None and lint["remaining_time"] is None
    assert item["remaining_time"] is None  # lint has no estimate: unknown


def test_status_change_filters_items_by_ref_id(
    web: WebHarness, zk_client: ZKClient, publish: Callable[..., object]
) -> None:
    publish("t", projects=["demo/app"], pipelines=["check"])
    change = Change("gerrit", "demo/app", "main", 12345, 2, "1" * 40)
    _enqueue(zk_client, _item("i1", None, change), _item("i2", None))
    [found] = web.get_json("/api/tenant/t/status/change/12345,2")
    assert found["id"] == "i1"
    assert web.get_json("/api/tenant/t/status/change/999,1") == []


def test_answer_is_built_once_per_change_of_state(
    zk_client: ZKClient, sqlite_db: Database, publish: Callable[..., TenantLayoutState]
) -> None:
    state = publish("t", projects=["demo/app"], pipelines=["check"])
    _enqueue(zk_client, _item("i1", None))
    cluster = ClusterView(ZKClusterState(zk_client), ttl=1000.0)

    async def scenario() -> list[int]:
        cache = StatusCache(cluster, sqlite_db, "v", ttl=1000.0)
        counts = []
        first = await cache.get(state)
        for _ in range(50):
            assert (await cache.get(state)).body is first.body
        counts.append(cache.builds)
        # Nothing changed: a check reads stats only, builds nothing.
        await _check(cache, state)
        counts.append(cache.builds)
        # One item more: the next check rebuilds; requests meanwhile get the old bytes.
        _enqueue(zk_client, _item("i2", None))
        cluster._cache.clear()
        await _check(cache, state)
        counts.append(cache.builds)
        answer = await cache.get(state)
        heads = answer.data["pipelines"][0]["change_queues"]
        assert [q["heads"][0][0]["id"] for q in heads] == ["i1", "i2"]
        cache.close()
        return counts

    try:
        assert asyncio.run(scenario()) == [1, 1, 2]
    finally:
        cluster.close()


async def _check(cache: StatusCache, state: TenantLayoutState) -> None:
    """Let the kept answer age past the ttl and wait for the check it starts."""
    entry = cache._tenants[state.tenant]
    entry.checked = 0.0
    await cache.get(state)
    assert entry.refreshing is not None
    await entry.refreshing


def test_status_is_served_gzipped_to_clients_that_take_it(
    web: WebHarness, zk_client: ZKClient, publish: Callable[..., object]
) -> None:
    import gzip
    import json
    import urllib.request

    publish("t", projects=["demo/app"], pipelines=["check"])
    _enqueue(zk_client, _item("i1", None))
    plain = web.get("/api/tenant/t/status")
    assert "Content-Encoding" not in plain.headers
    request = urllib.request.Request(
        web.url + "/api/tenant/t/status", headers={"Accept-Encoding": "gzip"}
    )
    with urllib.request.urlopen(request, timeout=30) as reply:
        assert reply.headers["Content-Encoding"] == "gzip"
        assert reply.headers["Vary"] == "Accept-Encoding"
        body = gzip.decompress(reply.read())
    assert json.loads(body)["pipelines"][0]["name"] == "check"


def test_every_path_of_the_index_is_served(web: WebHarness) -> None:
    """Each path ``/api`` lists is a route (none is a 404 for want of one)."""
    import re

    for name, path in web.get_json("/api").items():
        concrete = re.sub(r"\{[^}]*\}", "x", path)
        reply = web.get(concrete)
        if name == "console_stream":
            continue  # a websocket: a plain GET is refused by design
        body = (
            reply.json()
            if reply.headers.get("Content-Type", "").startswith("application/json")
            else {}
        )
        assert not (
            reply.status == 404 and str(body.get("description", "")).startswith("no such path")
        ), f"{name}: {path} has no route"
