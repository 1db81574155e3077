"""Leaving the head of the gate: what merges, what is reported failing, and
what a refused submit does.  Pure: the simulated world."""

from __future__ import annotations

from lockgate.model.merges import MergeResult

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
    run,
    world,
)


def test_a_refused_submit_is_reported_and_the_items_behind_restart():
    w = world(hold=holding(2))
    w.submit_rule = lambda c: "needs Code-Review +2 from a core reviewer" if c.number == 1 else None
    for n in (1, 2):
        approve(w, change(n))
    run(w, 10)
    w.hold = lambda req: False
    run(w, 20)
    assert merged(w) == [2]
    assert actions_for(w, 1) == ["start", "success", "merge-conflict"]
    text = messages_for(w, 1)[-1]
    assert "could not be merged" in text and "core reviewer" in text
    # 2 was tested on 1, then again alone.
    assert [contents(b) for b in builds_of(w, 2)] == [[1, 2], [1, 2], [2], [2]]
    assert ("MERGE_FAILURE" in {r for _, r in w.reports}) and not gate(w)


def test_a_failing_non_voting_job_does_not_stop_the_merge():
    w = world(build_result=failing((1, "advisory")))
    approve(w, change(1, "org/nv"))
    run(w)
    assert merged(w) == [1]
    (advisory,) = [b for b in builds_of(w, 1) if b.job.name == "advisory"]
    assert advisory.zuul_vars["voting"] is False
    assert "advisory" in messages_for(w, 1)[-1] and "(non-voting)" in messages_for(w, 1)[-1]


def test_a_project_with_only_noop_merges_without_builds():
    w = world()
    approve(w, change(1, "org/noop"))
    run(w)
    assert merged(w) == [1] and not w.build_log and not w.node_requests


def test_a_job_with_a_file_matcher_runs_only_for_changes_touching_its_files():
    def merge(req):
        result = world().default_merge(req)
        result.step_files = [
            ["doc/index.rst"] if s.number == 2 else ["src/x.py"] for s in req.steps
        ]
        return result

    w = world(merge_result=merge)
    approve(w, change(1, "org/docs"))
    approve(w, change(2, "org/docs"))
    approve(w, change(3, "org/docs"))
    run(w, 20)
    assert merged(w) == [1, 2, 3]
    assert sorted(b.job.name for b in builds_of(w, 2)) == ["docs-build", "unit"]
    # 3 is tested on 2 (which touches doc/), but its own change does not.
    assert [b.job.name for b in builds_of(w, 3)] == ["unit"]
    assert [b.job.name for b in builds_of(w, 1)] == ["unit"]


def test_a_node_failure_does_not_merge():
    w = world(node_result=lambda req: req.job_name != "integration")
    approve(w, change(1))
    run(w)
    assert merged(w) == []
    assert actions_for(w, 1)[-1] == "failure"
    assert "NODE_FAILURE" in messages_for(w, 1)[-1]


def test_fail_fast_cancels_the_other_builds_and_reports():
    w = world(build_result=failing((1, "unit")))
    w.hold = lambda req: req.job.name == "integration"
    approve(w, change(1, "org/ff"))
    run(w, 10)
    assert actions_for(w, 1)[-1] == "failure"
    rows = {row["job"]: row.get("result") for row in w.sql_builds.values()}
    assert rows == {"unit": "FAILURE", "integration": "CANCELED"}
    assert not gate(w)


def test_without_fail_fast_the_item_waits_for_its_other_builds():
    w = world(build_result=failing((1, "unit")))
    w.hold = lambda req: req.job.name == "integration"
    approve(w, change(1))
    run(w, 10)
    assert "failure" not in actions_for(w, 1) and len(gate(w)) == 1


def test_a_merge_conflict_with_an_item_ahead_is_reported_at_the_head():
    def merge(req):
        if [s.number for s in req.steps] == [1, 2]:
            return MergeResult(ok=False, conflict="2,1 does not merge onto 1,1: a.txt")
        return world().default_merge(req)

    w = world(merge_result=merge)
    for n in (1, 2, 3):
        approve(w, change(n))
    run(w, 20)
    assert merged(w) == [1, 3]
    assert actions_for(w, 2) == ["merge-conflict"]
    assert "a.txt" in messages_for(w, 2)[-1]
    assert not builds_of(w, 2)
    # 3 was tested on 1 only.
    assert {str(contents(b)) for b in builds_of(w, 3)} == {"[1, 3]"}


def test_disable_after_consecutive_failures_uses_the_disabled_reporters():
    w = world(
        "    disable-after-consecutive-failures: 2",
        build_result=failing((1, "unit"), (2, "unit"), (3, "unit"), (5, "unit")),
    )
    for n in (1, 2, 3):
        approve(w, change(n))
        run(w, 12)
    reporters = [r[3] for r in w.review_reports if r[1] == "failure"]
    assert reporters[:2] == [{"gerrit": {"Verified": -2}}] * 2
    assert reporters[2] == {"gerrit": {"Verified": 0}}  # disabled
    assert w.load("gate")[0].disabled


def test_a_success_resets_the_consecutive_failures():
    rule = failing((1, "unit"), (3, "unit"), (4, "unit"))
    w = world("    disable-after-consecutive-failures: 2", build_result=rule)
    for n in (1, 2, 3):
        approve(w, change(n))
        run(w, 12)
    state = w.load("gate")[0]
    assert (state.consecutive_failures, state.disabled) == (1, False)
    assert merged(w) == [2]
