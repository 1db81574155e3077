"""The serial and supercedent managers.  Pure: the simulated world, branch
updates as events.

serial: one item at a time per queue (projects sharing a ``queue`` share
it), a failure affects nobody else.  supercedent: per project-branch, only
the running item and the newest waiting one are kept."""

from __future__ import annotations

from lockgate.model.queue import QueueItem
from lockgate.scheduler.manager import manager_for

from tests.unit.scheduler.world import SimWorld, make_layout, ref_updated, sha

MAIN = """
- tenant:
    name: demo
    source:
      git:
        config-projects: [config]
        untrusted-projects: [org/app, org/lib, org/other]
"""

CONFIG = """
- pipeline:
    name: deploy
    manager: serial
    post-review: true
    trigger:
      git:
        - event: ref-updated
          ref: ^refs/heads/.*$
- pipeline:
    name: publish
    manager: supercedent
    post-review: true
    trigger:
      git:
        - event: ref-updated
          ref: ^refs/heads/.*$
- queue:
    name: deployments
- nodeset:
    name: single
    nodes:
      - name: node
        label: ubuntu
- job:
    name: base
    parent: null
    nodeset: single
    run: playbooks/base.yaml
- job:
    name: deploy
- job:
    name: docs
- project:
    name: org/app
    queue: deployments
    deploy:
      jobs: [deploy]
    publish:
      jobs: [docs]
- project:
    name: org/lib
    queue: deployments
    deploy:
      jobs: [deploy]
- project:
    name: org/other
    deploy:
      jobs: [deploy]
"""


def world(**kw) -> SimWorld:
    layout = make_layout(
        {
            "config": {"master": {"zuul.yaml": CONFIG}},
            "org/app": {"master": {}, "stable": {}},
        },
        main=MAIN,
    )
    return SimWorld(layout, **kw)


def push(w: SimWorld, pipeline: str, n: int, project: str = "org/app", branch: str = "master"):
    event = ref_updated(project, sha(n), branch=branch, n=n)
    w.add_event(event, pipeline)
    return event


def revs(items: list[QueueItem]) -> list[int]:
    return [int(i.newrev or "0", 16) for i in items]


def built(w: SimWorld) -> list[int]:
    """The new revision of every build requested, in order."""
    return [int(b.zuul_vars["newrev"], 16) for b in w.build_log]


def test_the_managers_are_registered():
    layout = world().layout
    assert manager_for(layout.pipelines["deploy"]).name == "serial"
    assert manager_for(layout.pipelines["publish"]).name == "supercedent"


def test_serial_runs_one_item_at_a_time_in_order():
    w = world(hold=lambda req: True)
    for n in (1, 2, 3):
        push(w, "deploy", n)
    for _ in range(4):
        w.step("deploy")
    assert revs(w.queue("deploy")) == [1, 2, 3]
    assert built(w) == [1]  # only the head runs
    w.hold = lambda req: False
    for _ in range(12):
        w.step("deploy")
    assert built(w) == [1, 2, 3]
    assert not w.queue("deploy")
    assert [r for _, r in w.reports] == ["SUCCESS"] * 3
    # Never two at once: each build started after the one before ended.
    builds = list(w.build_log)
    for before, after in zip(builds, builds[1:], strict=False):
        assert w.sql_builds[after.uuid]["start_time"] >= w.sql_builds[before.uuid]["end_time"]


def test_serial_projects_sharing_a_queue_wait_for_each_other_others_do_not():
    w = world(hold=lambda req: True)
    push(w, "deploy", 1, "org/app")
    push(w, "deploy", 2, "org/lib")
    push(w, "deploy", 3, "org/other")
    for _ in range(4):
        w.step("deploy")
    queues = {q.name: q.items for q in w.load("deploy")[0].queues}
    assert set(queues) == {"deployments", "org/other"}
    assert len(queues["deployments"]) == 2
    assert sorted(built(w)) == [1, 3]  # org/lib waits behind org/app
    w.hold = lambda req: False
    for _ in range(10):
        w.step("deploy")
    assert sorted(built(w)) == [1, 2, 3] and not w.queue("deploy")


def test_a_serial_failure_does_not_touch_the_next_item():
    w = world(
        build_result=lambda req: "FAILURE" if req.zuul_vars["newrev"] == sha(1) else "SUCCESS"
    )
    push(w, "deploy", 1)
    push(w, "deploy", 2)
    for _ in range(12):
        w.step("deploy")
    assert [r for _, r in w.reports] == ["FAILURE", "SUCCESS"]
    assert built(w) == [1, 2]  # no restart, no rebuild


def test_supercedent_keeps_only_the_running_and_the_newest_item():
    w = world(hold=lambda req: True)
    push(w, "publish", 1)
    for _ in range(4):
        w.step("publish")
    assert built(w) == [1]
    for n in (2, 3):
        push(w, "publish", n)
        w.step("publish")
        assert revs(w.queue("publish")) == [1, n]
    push(w, "publish", 4)
    w.step("publish")
    assert revs(w.queue("publish")) == [1, 4]
    superseded = [b for b in w.sql_buildsets.values() if b.get("result") == "DEQUEUED"]
    assert len(superseded) == 2
    assert all("Superseded by a newer item" in b["message"] for b in superseded)
    w.hold = lambda req: False
    for _ in range(10):
        w.step("publish")
    assert built(w) == [1, 4] and not w.queue("publish")
    assert sorted(r for _, r in w.reports) == ["DEQUEUED", "DEQUEUED", "SUCCESS", "SUCCESS"]


def test_supercedent_groups_by_branch():
    w = world(hold=lambda req: True)
    push(w, "publish", 1, branch="master")
    push(w, "publish", 2, branch="stable")
    push(w, "publish", 3, branch="master")
    for _ in range(4):
        w.step("publish")
    queues = {q.name: len(q.items) for q in w.load("publish")[0].queues}
    assert queues == {"org/app@master": 2, "org/app@stable": 1}
    assert sorted(built(w)) == [1, 2]


def test_the_same_revision_twice_is_one_item():
    w = world(hold=lambda req: True)
    push(w, "publish", 1)
    w.step("publish")
    push(w, "publish", 1)
    w.step("publish")
    assert revs(w.queue("publish")) == [1]
