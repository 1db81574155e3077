"""Needed changes and dependency cycles in the gate.  Pure: the simulated
world."""

from __future__ import annotations

from lockgate.model.change import ChangeKey
from lockgate.scheduler.manager.snapshot import ChangeDequeue

from tests.unit.scheduler.gate_world import (
    actions_for,
    approve,
    builds_of,
    change,
    contents,
    failing,
    gate,
    holding,
    merged,
    messages_for,
    numbers,
    run,
    world,
)


def test_a_change_whose_needed_changes_are_not_approved_is_not_enqueued():
    w = world()
    a, b, c = change(1), change(2), change(3)
    unmet = ((a.key, "no Workflow +1"), (b.key, "no Workflow +1"))
    approve(w, c, needs=(a, b), unmet=unmet)
    w.run_scheduler("gate")
    assert not gate(w) and not w.merges
    assert any("needs change 1,1, which cannot be enqueued: no Workflow +1" in x for x in w.logs)
    # Approved later: A, then B (with A), then C again (with both).
    approve(w, a)
    approve(w, b, needs=(a,))
    approve(w, c, needs=(a, b))  # a new comment: a new event
    w.run_scheduler("gate")
    assert numbers(gate(w)) == [1, 2, 3]
    run(w, 20)
    assert merged(w) == [1, 2, 3]


def test_needed_changes_are_enqueued_ahead_and_each_merges():
    w = world()
    a, b, c = change(1), change(2, "org/b"), change(3)
    approve(w, c, needs=(a, b))
    w.run_scheduler("gate")
    items = gate(w)
    assert numbers(items) == [1, 2, 3]
    assert items[2].needs == [items[0].uuid, items[1].uuid]
    run(w, 20)
    assert merged(w) == [1, 2, 3]
    assert contents(builds_of(w, 3)[-1]) == [1, 2, 3]
    assert actions_for(w, 2) == ["start", "success"]


def test_a_needed_change_already_queued_is_not_enqueued_twice():
    w = world()
    a, b = change(1), change(2)
    approve(w, a)
    w.run_scheduler("gate")
    approve(w, b, needs=(a,))
    w.run_scheduler("gate")
    items = gate(w)
    assert numbers(items) == [1, 2] and items[1].needs == [items[0].uuid]


def test_when_a_needed_change_fails_the_changes_needing_it_leave():
    w = world(build_result=failing((1, "unit")), hold=holding(2, 3))
    a, b, c = change(1), change(2), change(3)
    approve(w, c, needs=(a, b))
    run(w, 20)
    assert merged(w) == []
    assert actions_for(w, 1)[-1] == "failure"
    for n in (2, 3):
        assert actions_for(w, n)[-1] == "failure"
        assert "depends on a change that failed to merge" in messages_for(w, n)[-1]
    assert not gate(w)
    # The builds on A that were running when it failed were canceled.
    canceled = [r for r in w.sql_builds.values() if r.get("result") == "CANCELED"]
    assert canceled and {b.job.name for b in builds_of(w, 2)} == {"unit", "integration"}
    assert len(w.build_log) == len(canceled) + 2


def test_a_needed_change_in_another_queue_keeps_the_change_out():
    w = world()
    approve(w, change(3, "org/c"), needs=(change(1, "org/a"),))
    w.run_scheduler("gate")
    assert not gate(w)
    assert any("does not share a change queue" in x for x in w.logs)


def test_an_abandoned_needed_change_takes_the_changes_needing_it_along():
    w = world(hold=holding(1, 2))
    a, b = change(1), change(2)
    approve(w, b, needs=(a,))
    run(w, 6)
    w.dequeues.append(ChangeDequeue(ChangeKey("gerrit", 1), "change 1 was abandoned"))
    w.run_scheduler("gate")
    assert not gate(w)
    assert "dequeued" in messages_for(w, 2)[-1] and actions_for(w, 2)[-1] == "failure"
    assert merged(w) == []


def test_a_cycle_is_one_item_its_identical_jobs_run_once_and_both_merge():
    w = world()
    a, b = change(1, "org/a"), change(2, "org/b")
    approve(w, b, needs=(a,), cycles=((a.key, b.key),))
    w.run_scheduler("gate")
    (item,) = gate(w)
    assert [c.number for c in item.changes] == [1, 2]
    run(w)
    assert merged(w) == [1, 2]
    assert sorted(b.job.name for b in w.build_log) == ["integration", "unit"]
    (merge,) = w.merge_log
    assert [s.number for s in merge.steps] == [1, 2]


def test_a_cycle_with_a_failing_job_merges_nothing():
    w = world(build_result=failing((2, "unit")))
    a, b = change(1, "org/a"), change(2, "org/b")
    approve(w, b, needs=(a,), cycles=((a.key, b.key),))
    run(w)
    assert merged(w) == [] and not gate(w)
    assert actions_for(w, 2)[-1] == "failure"


def test_a_cycle_whose_changes_do_not_share_a_queue_is_reported():
    w = world()
    a, c = change(1, "org/a"), change(2, "org/c")
    approve(w, c, needs=(a,), cycles=((a.key, c.key),))
    w.run_scheduler("gate")
    assert not gate(w)
    (report,) = [r for r in w.review_reports if r[1] == "failure"]
    assert "must share a change queue" in report[2]
