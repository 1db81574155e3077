"""Admin actions as the decision core gets them (``scheduler.management``):
what each management event becomes, why one is refused, and that one
processed twice (a scheduler killed before acknowledging it) acts once."""

from __future__ import annotations

from typing import Any

import pytest
from lockgate.config.tenant import parse_tenant_config
from lockgate.model.change import Change, ChangeKey
from lockgate.model.management import ManagementEvent, ManagementKind
from lockgate.model.tenant_state import TenantLayoutState
from lockgate.scheduler.management import (
    ENQUEUE_EVENT,
    ManagementBatch,
    ManagementError,
    ManagementHandler,
)
from lockgate.scheduler.tenants import Tenant

from tests.unit.scheduler.world import MAIN_YAML, SimWorld, make_layout, sha


class GerritLike:
    numbers_per_project = False

    def __init__(self, changes: dict[int, Change]) -> None:
        self.changes = changes

    def get_change(
        self, number: int, patchset: Any = None, *, project: str | None = None
    ) -> Change:
        return self.changes[number]


class GitHubLike:
    numbers_per_project = True

    def get_change(
        self, number: int, patchset: Any = None, *, project: str | None = None
    ) -> Change:
        raise AssertionError("not asked in these tests")


class Registry:
    """The part of ``ChangeRegistry`` the handler uses."""

    def __init__(self, sources: dict[str, Any]) -> None:
        self.sources = sources

    def source(self, connection: str) -> Any:
        return self.sources.get(connection)

    def get(
        self, connection: str, number: int, patchset: Any = None, *, project: str = ""
    ) -> Change:
        return self.sources[connection].get_change(number, patchset)

    def resolve_dependencies(self, change: Change) -> Any:
        class Graph:
            errors: list[str] = []
            cycles: list[Any] = []

            def merge_order(self) -> list[Change]:
                return [change]

        return Graph()


def tenant() -> Tenant:
    spec = parse_tenant_config(MAIN_YAML).tenants["demo"]
    return Tenant("demo", spec, make_layout(), TenantLayoutState(tenant="demo"))


def event(kind: ManagementKind, **kw: Any) -> ManagementEvent:
    fields: dict[str, Any] = {
        "tenant": "demo",
        "pipeline": "post",
        "project": "org/app",
        "event_id": "mgmt-1",
    }
    fields.update(kw)
    return ManagementEvent(kind=kind, requested_by="ops", **fields)


def take(handler: ManagementHandler, *events: ManagementEvent) -> ManagementBatch:
    batch = ManagementBatch()
    for e in events:
        handler.add(tenant(), e, batch)
    return batch


def test_enqueue_ref_becomes_an_item_once_however_often_it_is_processed():
    handler = ManagementHandler(None, Registry({}))  # type: ignore[arg-type]
    e = event(ManagementKind.ENQUEUE_REF, ref="master", oldrev=sha(0), newrev=sha(1))
    [pev] = take(handler, e).events["post"]
    assert pev.event.type == ENQUEUE_EVENT and pev.event.event_id == "mgmt-1"
    assert (pev.target.ref, pev.target.branch, pev.target.newrev) == (
        "refs/heads/master",
        "master",
        sha(1),
    )
    assert pev.event.extra["requested_by"] == "ops"
    world = SimWorld(make_layout(), heads={"org/app": {"master": sha(1)}})
    world.pending["post"] = [pev]
    world.run_scheduler()
    first = len(world.build_log)
    assert first > 0
    # Processed again (not acknowledged before a crash): nothing new.
    world.pending["post"] = list(take(handler, e).events["post"])
    world.run_scheduler()
    assert len(world.build_log) == first


def test_dequeue_of_a_ref_removes_its_item_and_cancels_its_builds():
    handler = ManagementHandler(None, Registry({}))  # type: ignore[arg-type]
    world = SimWorld(make_layout(), heads={"org/app": {"master": sha(1)}}, hold=lambda req: True)
    world.pending["post"] = list(
        take(
            handler, event(ManagementKind.ENQUEUE_REF, ref="refs/heads/master", newrev=sha(1))
        ).events["post"]
    )
    world.run_scheduler()
    world.run_launcher()
    world.run_scheduler()
    assert world.build_log
    batch = take(handler, event(ManagementKind.DEQUEUE, ref="refs/heads/master", event_id="mgmt-2"))
    [dequeue] = batch.dequeues
    assert (dequeue.ref, dequeue.project, dequeue.pipelines) == (
        "refs/heads/master",
        "org/app",
        ("post",),
    )
    assert "ops" in dequeue.reason
    world.dequeues.extend(batch.dequeues)
    world.run_scheduler()
    assert [result for _, result in world.reports] == ["DEQUEUED"]
    assert all(b.cancel_requested for b in world.builds.values() if b.result is None)


def test_enqueue_and_dequeue_of_a_change_and_promote_keys():
    change = Change(
        connection="git",
        project="org/app",
        branch="master",
        number=12,
        patchset=3,
        commit=sha(12),
        ref="refs/changes/12/12/3",
    )
    handler = ManagementHandler(None, Registry({"git": GerritLike({12: change})}))  # type: ignore[arg-type]
    [pev] = take(handler, event(ManagementKind.ENQUEUE, change="12,3")).events["post"]
    assert pev.change is change and pev.event.change_number == 12
    assert (pev.target.ref, pev.target.newrev) == ("refs/changes/12/12/3", sha(12))
    [dequeue] = take(handler, event(ManagementKind.DEQUEUE, change="12,3")).dequeues
    assert (dequeue.key, dequeue.patchset) == (ChangeKey("git", 12), 3)
    [promote] = take(handler, event(ManagementKind.PROMOTE, changes=["12,3", "7,1"])).promotes[
        "post"
    ]
    assert promote.changes == (ChangeKey("git", 12), ChangeKey("git", 7))
    # A review system numbering per repository: one key per project of the connection.
    per_repo = ManagementHandler(None, Registry({"git": GitHubLike()}))  # type: ignore[arg-type]
    [promote] = take(per_repo, event(ManagementKind.PROMOTE, changes=["5,abc"])).promotes["post"]
    assert ChangeKey("git", 5, "org/app") in promote.changes
    assert all(k.project for k in promote.changes)


@pytest.mark.parametrize(
    ("e", "words"),
    [
        (event(ManagementKind.ENQUEUE_REF, pipeline="gate", ref="master"), "no pipeline 'gate'"),
        (
            event(ManagementKind.ENQUEUE_REF, project="org/nope", ref="master"),
            "no project 'org/nope'",
        ),
        (
            event(ManagementKind.ENQUEUE_REF, project="org/other", ref="master"),
            "no jobs in pipeline post",
        ),
        (event(ManagementKind.ENQUEUE_REF, tenant="other", ref="master"), "for tenant other"),
        (event(ManagementKind.ENQUEUE, change="12,1"), "has no changes"),
        (event(ManagementKind.PROMOTE, changes=["x"]), "'<number>,<patchset>'"),
    ],
)
def test_what_cannot_be_done_says_why(e, words):
    handler = ManagementHandler(None, Registry({}))  # type: ignore[arg-type]
    with pytest.raises(ManagementError) as caught:
        take(handler, e)
    assert words in str(caught.value)
