"""The gate's speculative queue: changes tested on the ones ahead, merged in
order; a failure ahead restarts what was built on it (NNFI).  Pure: the
simulated world."""

from __future__ import annotations

from lockgate.model.queue import ItemState

from tests.unit.scheduler.gate_world import (
    SUCCESS,
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
from tests.unit.scheduler.world import sha


def test_one_change_runs_its_jobs_merges_is_reported_twice_and_grows_the_window():
    w = world()
    approve(w, change(1))
    w.run_scheduler("gate")
    (queue,) = w.load("gate")[0].queues
    assert (queue.name, queue.window, queue.dynamic) == ("integrated", 20, False)
    run(w)
    assert merged(w) == [1]
    assert actions_for(w, 1) == ["start", "success"]
    success = [r for r in w.review_reports if r[1] == "success"][0]
    assert success[3] == SUCCESS and success[2].startswith("Build succeeded (gate pipeline).")
    assert not gate(w)
    assert w.load("gate")[0].queues[0].window == 21
    assert sorted(b.job.name for b in builds_of(w, 1)) == ["integration", "unit"]


def test_three_changes_are_tested_speculatively_and_merge_in_order():
    w = world()
    for n, project in ((1, "org/a"), (2, "org/b"), (3, "org/a")):
        approve(w, change(n, project))
    w.run_scheduler("gate")
    assert numbers(gate(w)) == [1, 2, 3]
    # Only the head asks the mergers until its state is known.
    assert [[s.number for s in m.steps] for m in w.merges.values()] == [[1]]
    w.run_merger()
    w.run_scheduler("gate")
    w.run_merger()
    w.run_scheduler("gate")
    steps = [[s.number for s in m.steps] for m in w.merge_log]
    assert steps == [[1], [1, 2], [1, 2, 3]]
    # The whole queue tests the base the head's merge started from.
    assert w.merge_log[0].repo_state is None
    assert w.merge_log[1].repo_state == {"org/a": {"master": sha(1)}}
    assert w.merge_log[2].repo_state["org/a"] == {"master": sha(1)}
    run(w)
    assert merged(w) == [1, 2, 3]
    assert [contents(b) for b in builds_of(w, 3)] == [[1, 2, 3], [1, 2, 3]]
    assert {str(contents(b)) for b in builds_of(w, 2)} == {"[1, 2]"}
    assert len(w.build_log) == 6  # nothing restarted
    assert w.load("gate")[0].queues[0].window == 23


def test_the_head_fails_the_others_restart_without_it_and_merge():
    w = world(build_result=failing((1, "unit")), hold=holding(1, 2, 3))
    for n in (1, 2, 3):
        approve(w, change(n))
    run(w, 6)
    assert all(len(builds_of(w, n)) == 2 for n in (1, 2, 3))
    w.hold = holding(2, 3)  # the head finishes first
    run(w, 2)
    w.hold = lambda req: False
    run(w, 25)
    assert merged(w) == [2, 3]
    assert actions_for(w, 1)[-1] == "failure"
    failure = [r for r in w.review_reports if r[1] == "failure"][0]
    assert failure[3] == {"gerrit": {"Verified": -2}}
    assert "- unit" in failure[2] and "FAILURE" in failure[2]
    # 2 and 3 were first built on 1, then again without it.
    assert [contents(b) for b in builds_of(w, 2)][-1] == [2]
    assert [contents(b) for b in builds_of(w, 3)][-1] == [2, 3]
    assert any(contents(b) == [1, 2, 3] for b in builds_of(w, 3))
    assert "CANCELED" in {row.get("result") for row in w.sql_builds.values()}
    # The window shrank (exponential, by 2) then grew twice.
    assert w.load("gate")[0].queues[0].window == 12


def test_the_middle_one_fails_the_third_restarts_on_the_first():
    w = world(build_result=failing((2, "integration")), hold=holding(1))
    for n in (1, 2, 3):
        approve(w, change(n))
    run(w, 8)
    assert merged(w) == []
    w.hold = lambda req: False
    run(w, 25)
    assert merged(w) == [1, 3]
    assert actions_for(w, 2)[-1] == "failure"
    assert actions_for(w, 1) == ["start", "success"]
    # The first was never restarted; the third's last builds had 1 and 3.
    assert len(builds_of(w, 1)) == 2
    assert [contents(b) for b in builds_of(w, 3)][-2:] == [[1, 3], [1, 3]]
    assert "Build failed (gate pipeline)." in messages_for(w, 2)[-1]


def test_a_failing_item_is_reported_only_at_the_head():
    """Zuul's rule: an item failing behind a running head may be failing
    because of the head; it waits, and restarts if the head fails."""
    w = world(build_result=failing((2, "unit")))
    approve(w, change(1))
    approve(w, change(2))
    # The head's builds are held: only 2's complete.
    w.run_scheduler("gate")
    for _ in range(6):
        w.run_merger()
        w.run_launcher()
        w.run_scheduler("gate")
    head_builds = {b.uuid for b in builds_of(w, 1)}
    w.run_executor(finish=False)  # both start
    for uuid, req in w.builds.items():
        if uuid not in head_builds:
            req.state, req.result = req.state.__class__.COMPLETED, "FAILURE"
            w.build_locks.discard(uuid)
    w.run_scheduler("gate")
    items = gate(w)
    assert numbers(items) == [1, 2]
    assert items[1].state is ItemState.ACTIVE and "failure" not in actions_for(w, 2)
    run(w)
    assert merged(w) == [1]
    assert actions_for(w, 2)[-1] == "failure"


def test_changes_of_unshared_projects_run_side_by_side():
    w = world()
    approve(w, change(1, "org/a"))
    approve(w, change(2, "org/c"))
    approve(w, change(3, "org/b"))
    w.run_scheduler("gate")
    queues = {q.name: q.items for q in w.load("gate")[0].queues}
    assert set(queues) == {"integrated", "org/c"}
    run(w)
    assert sorted(merged(w)) == [1, 2, 3]
    assert [contents(b) for b in builds_of(w, 2)] == [[2]]
    assert {str(contents(b)) for b in builds_of(w, 3)} == {"[1, 3]"}
    # A project's own queue goes away with its last item.
    assert [q.name for q in w.load("gate")[0].queues] == ["integrated"]
