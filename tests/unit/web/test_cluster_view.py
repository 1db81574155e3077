"""``ClusterView``'s kept reads: callers that want a value while it is being
read share that read (a hundred clients at the moment a value expires cost
one ZooKeeper read, not a hundred queued for the pool)."""

from __future__ import annotations

import asyncio
import threading

import pytest
from lockgate.model.tenant_state import TenantLayoutState
from lockgate.web.cluster import ClusterUnavailable, ClusterView


class _State:
    """The one read the tests make, counted; it waits until let go."""

    def __init__(self) -> None:
        self.reads = 0
        self.go = threading.Event()
        self.fail = False

    def tenant_layout(self, tenant: str) -> TenantLayoutState:
        self.reads += 1
        if not self.go.wait(30):
            raise AssertionError("never let go")
        if self.fail:
            raise ClusterUnavailable("ZooKeeper away")
        return TenantLayoutState(tenant=tenant, projects=[], pipelines=[])


def test_callers_meanwhile_share_one_read() -> None:
    state = _State()
    view = ClusterView(state, ttl=60.0)  # type: ignore[arg-type]

    async def scenario() -> list[TenantLayoutState | None]:
        waiting = [asyncio.ensure_future(view.tenant_layout("t")) for _ in range(50)]
        await asyncio.sleep(0)
        await asyncio.get_running_loop().run_in_executor(None, state.go.set)
        found = await asyncio.gather(*waiting)
        found.append(await view.tenant_layout("t"))  # kept
        return found

    try:
        found = asyncio.run(scenario())
    finally:
        view.close()
    assert state.reads == 1
    assert {f.tenant for f in found if f is not None} == {"t"} and len(found) == 51


def test_a_failed_read_fails_every_caller_and_is_not_kept() -> None:
    state = _State()
    state.fail = True
    state.go.set()
    view = ClusterView(state, ttl=60.0)  # type: ignore[arg-type]

    async def scenario() -> list[BaseException | TenantLayoutState | None]:
        return await asyncio.gather(
            *(view.tenant_layout("t") for _ in range(5)), return_exceptions=True
        )

    try:
        results = asyncio.run(scenario())
        assert all(getattr(r, "status", None) == 503 for r in results), results
        state.fail = False
        assert asyncio.run(view.tenant_layout("t")) is not None
    finally:
        view.close()
    assert state.reads == 2


def test_a_caller_that_goes_away_leaves_the_read_to_the_others() -> None:
    state = _State()
    view = ClusterView(state, ttl=60.0)  # type: ignore[arg-type]

    async def scenario() -> TenantLayoutState | None:
        leaving = asyncio.ensure_future(view.tenant_layout("t"))
        staying = asyncio.ensure_future(view.tenant_layout("t"))
        await asyncio.sleep(0)
        leaving.cancel()
        with pytest.raises(asyncio.CancelledError):
            await leaving
        await asyncio.get_running_loop().run_in_executor(None, state.go.set)
        return await staying

    try:
        assert asyncio.run(scenario()) is not None
    finally:
        view.close()
    assert state.reads == 1
