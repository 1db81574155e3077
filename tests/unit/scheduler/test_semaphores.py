"""Semaphores (issue 7, scenario 19): a job naming a semaphore of max 1
runs for one change at a time; the others wait, and the status says for
what.  Pure: the simulated world, including a scheduler killed anywhere."""

from __future__ import annotations

import random

import pytest
from lockgate.model.events import TriggerEvent
from lockgate.model.queue import item_status_json
from lockgate.scheduler.changes import dequeues_for

from tests.unit.scheduler.gate_world import (
    approve,
    builds_of,
    change,
    gate,
    holding,
    layout,
    merged,
    run,
    run_with_crashes,
)
from tests.unit.scheduler.world import SimWorld, sha

SEMAPHORE = """
- semaphore:
    name: db
    max: {max}
- job:
    name: migrate
    semaphore: db
- job:
    name: migrate-late
    semaphores:
      - name: db
        resources-first: true
- project:
    name: org/c
    gate:
      jobs: [unit, {job}]
"""


def sem_world(max_: int = 1, job: str = "migrate", **kw) -> SimWorld:
    projects = SEMAPHORE.format(max=max_, job=job)
    heads = {p: {"master": sha(n)} for n, p in enumerate(("org/a", "org/b", "org/c"), 1)}
    return SimWorld(layout(projects=projects), heads=heads, **kw)


def _job_status(w: SimWorld, number: int, job: str) -> dict:
    for item in gate(w):
        if item.change is not None and item.change.number == number:
            status = item_status_json(item, now=w.now)
            return next(j for j in status["jobs"] if j["name"] == job)
    raise AssertionError(f"change {number} is not in the gate")


def test_a_semaphore_of_one_runs_the_jobs_of_two_changes_one_after_the_other():
    w = sem_world(hold=holding(1))
    approve(w, change(1, "org/c"))
    approve(w, change(2, "org/c"))
    run(w, 6)
    # Change 1's migrate holds the slot; change 2's waits, and says so,
    # while its other job runs.
    assert [b.job.name for b in builds_of(w, 1)] == ["unit", "migrate"]
    assert [b.job.name for b in builds_of(w, 2)] == ["unit"]
    assert _job_status(w, 2, "migrate")["waiting_status"] == "semaphore db"
    assert w.semaphores["db"] == [f"gate/{gate(w)[0].uuid}/migrate"]
    w.hold = lambda req: False
    run(w, 20)
    assert merged(w) == [1, 2]
    first, second = builds_of(w, 1)[-1], builds_of(w, 2)[-1]
    assert (first.job.name, second.job.name) == ("migrate", "migrate")
    assert w.semaphore_peak["db"] == 1
    assert w.semaphores["db"] == []  # every slot given back


def test_a_semaphore_of_two_lets_both_run():
    w = sem_world(max_=2, hold=holding(1, 2))
    approve(w, change(1, "org/c"))
    approve(w, change(2, "org/c"))
    run(w, 6)
    assert sorted(b.job.name for b in builds_of(w, 2)) == ["migrate", "unit"]
    assert len(w.semaphores["db"]) == 2


def test_resources_first_takes_nodes_before_the_semaphore():
    w = sem_world(job="migrate-late", hold=holding(1))
    approve(w, change(1, "org/c"))
    approve(w, change(2, "org/c"))
    run(w, 6)
    late = [r for r in w.node_requests.values() if r.job_name == "migrate-late"]
    assert len(late) == 2  # both got nodes ...
    assert [b.job.name for b in builds_of(w, 2)] == ["unit"]  # ... one builds
    assert _job_status(w, 2, "migrate-late")["waiting_status"] == "semaphore db"
    w.hold = lambda req: False
    run(w, 20)
    assert merged(w) == [1, 2]
    assert w.semaphore_peak["db"] == 1


def test_a_slot_nobody_needs_is_freed_and_a_lost_one_taken_again():
    w = sem_world(hold=holding(1))
    approve(w, change(1, "org/c"))
    run(w, 6)
    holder = f"gate/{gate(w)[0].uuid}/migrate"
    # A scheduler that died after saving but before its acquire: the slot
    # is missing; one that died before its release left a stale holder.
    w.semaphores["db"] = ["gate/gone-item/migrate"]
    w.run_scheduler("gate")
    assert w.semaphores["db"] == [holder]
    # Holders of other pipelines are theirs to manage.
    w.semaphores["db"].append("check/other/migrate")
    w.run_scheduler("gate")
    assert w.semaphores["db"] == [holder, "check/other/migrate"]


def test_a_dequeued_change_gives_its_slot_back():
    w = sem_world(hold=holding(1))
    approve(w, change(1, "org/c"))
    approve(w, change(2, "org/c"))
    run(w, 6)
    ev = TriggerEvent(
        type="change-abandoned",
        connection="gerrit",
        project="org/c",
        branch="master",
        change_number=1,
        patchset=1,
    )
    w.dequeues.extend(dequeues_for(ev))
    run(w, 10)
    assert [b.job.name for b in builds_of(w, 2)][-1] == "migrate"
    assert merged(w) == [2]


def _run_with_crashes(seed: int) -> SimWorld:
    rng = random.Random(seed)
    w = sem_world()
    w.hold = lambda req: rng.random() < 0.4
    for n in (1, 2, 3):
        approve(w, change(n, "org/c"))
    return run_with_crashes(w, rng)


@pytest.mark.parametrize("seed", range(12))
def test_semaphores_killed_anywhere_end_the_same(seed):
    w = _run_with_crashes(seed)
    assert w.crashes >= 2
    assert merged(w) == [1, 2, 3]
    assert w.semaphore_peak["db"] == 1
    assert w.semaphores.get("db", []) == []
    assert all(n == 1 for n in w.executed.values())
