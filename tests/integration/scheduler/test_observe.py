"""What a scheduler pass observes of its build requests (``TenantProcessor.
observe``, read from views kept by ZooKeeper watches): a build whose
executor died is lost; a build that completed is never taken for lost, even
when the view of the records lags behind the view of the locks."""

from __future__ import annotations

from lockgate.model.builds import BuildState
from lockgate.scheduler.processor import DEFAULT_ZONE, TenantProcessor
from lockgate.scheduler.reporting import Reporter
from lockgate.scheduler.repos import RepoResolver
from lockgate.scheduler.tenants import TenantRegistry
from lockgate.zk.requests import BuildRequestStore

from tests.fixtures.waiting import wait_for
from tests.fixtures.zk import expire_session
from tests.unit.zk.test_requests import build_request


def processor(client) -> TenantProcessor:  # noqa: ANN001
    registry = TenantRegistry("(test)", loader=None, client=None)  # type: ignore[arg-type]
    return TenantProcessor(client, registry, RepoResolver({}, None), Reporter(None))  # type: ignore[arg-type]


def start(executor: BuildRequestStore, uuid: str):  # noqa: ANN201
    claim = executor.lock(uuid)
    assert claim is not None
    got = executor.get(uuid)
    got.record.state = BuildState.RUNNING
    got.record.worker = "executor-1"
    executor.update(got.record, got.version)
    return claim


class LaggingStore(BuildRequestStore):
    """A store whose record view shows what it showed once (as a view whose
    watch events have not arrived yet would), while its lock view is current."""

    frozen: dict | None = None

    def record_view(self):  # noqa: ANN201
        live = super().record_view()
        store = self

        class Frozen:
            def refresh(self, *, synced: bool = False) -> dict:
                if store.frozen is None:
                    store.frozen = dict(live.refresh(synced=synced))
                return store.frozen

        return Frozen()  # type: ignore[return-value]


def test_a_build_whose_executor_died_is_lost(zk_server, zk_client, zk_connect):
    p = processor(zk_client)
    request = build_request()
    BuildRequestStore(zk_client).submit(request)
    executor_client = zk_connect(session_timeout=2.0)
    start(BuildRequestStore(executor_client), request.uuid)
    _, builds = p.observe("t", "check")
    seen = builds[request.uuid]
    assert seen.request.state is BuildState.RUNNING and seen.locked and not seen.lost

    expire_session(zk_server, executor_client)
    wait_for(lambda: not BuildRequestStore(zk_client).is_locked(request.uuid), 10, "lock gone")
    _, builds = p.observe("t", "check")
    seen = builds[request.uuid]
    assert seen.request.state is BuildState.RUNNING and seen.lost and not seen.locked


def test_a_completed_build_is_never_lost_though_the_view_lags(zk_client, zk_connect):
    p = processor(zk_client)
    lagging = LaggingStore(zk_client)
    p._build_stores[DEFAULT_ZONE] = lagging
    request = build_request()
    lagging.submit(request)
    executor = BuildRequestStore(zk_connect())
    claim = start(executor, request.uuid)
    _, builds = p.observe("t", "check")  # the record view freezes here: RUNNING
    assert builds[request.uuid].request.state is BuildState.RUNNING

    # The executor finishes: COMPLETED first, then it lets go of the lock.
    got = executor.get(request.uuid)
    got.record.state = BuildState.COMPLETED
    got.record.result = "SUCCESS"
    executor.update(got.record, got.version)
    claim.release()

    _, builds = p.observe("t", "check")
    seen = builds[request.uuid]
    assert lagging.frozen[request.uuid].record.state is BuildState.RUNNING  # it did lag
    assert seen.request.state is BuildState.COMPLETED and seen.request.result == "SUCCESS"
    assert not seen.lost and not seen.locked


def test_only_the_pipeline_s_own_requests(zk_client):
    p = processor(zk_client)
    mine, other = build_request(), build_request()
    other.pipeline = "gate"
    store = BuildRequestStore(zk_client)
    store.submit(mine)
    store.submit(other)
    _, builds = p.observe("t", "check")
    assert set(builds) == {mine.uuid}
    assert not builds[mine.uuid].locked and not builds[mine.uuid].lost


def test_build_requests_of_every_zone_are_observed(zk_client):
    """A job on zoned nodes has its build request in its zone's folder; a
    pass must see it (and a zone that appears after the first pass), or it
    would submit the request again and again and never see its result."""
    p = processor(zk_client)
    unzoned = build_request()
    BuildRequestStore(zk_client).submit(unzoned)
    _, builds = p.observe("t", "check")
    assert set(builds) == {unzoned.uuid}

    zoned = build_request("east")
    east = BuildRequestStore(zk_client, "east")
    east.submit(zoned)
    _, builds = p.observe("t", "check")
    assert set(builds) == {unzoned.uuid, zoned.uuid}
    assert builds[zoned.uuid].request.zone == "east"

    claim = start(east, zoned.uuid)  # an executor of zone east takes it
    _, builds = p.observe("t", "check")
    seen = builds[zoned.uuid]
    assert seen.request.state is BuildState.RUNNING and seen.locked and not seen.lost
    claim.release()  # ... and dies: the build is lost, in its zone too
    _, builds = p.observe("t", "check")
    assert builds[zoned.uuid].lost
