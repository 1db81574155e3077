"""``supercedes``: a change entering the gate leaves check (issue 7).  Pure:
the simulated world runs both pipelines; the loop's ``supersede_dequeues``
turns the gate's pipeline event into the dequeue check gets."""

from __future__ import annotations

from dataclasses import replace

from lockgate.scheduler.changes import supersede_dequeues

from tests.unit.scheduler.gate_world import (
    approve,
    change,
    failing,
    gate,
    holding,
    layout,
    merged,
    run,
)
from tests.unit.scheduler.world import SimWorld

EXTRA = """\
    supercedes: [check]
- pipeline:
    name: check
    manager: independent
    trigger:
      gerrit:
        - event: patchset-created
    success:
      gerrit:
        Verified: 1
    failure:
      gerrit:
        Verified: -1
    dequeue:
      gerrit: {}
"""

PROJECTS = """
- project:
    name: org/a
    check:
      jobs: [unit]
"""


def world(**kw) -> SimWorld:
    return SimWorld(layout(EXTRA, PROJECTS), **kw)


def check_builds(w: SimWorld, number: int) -> list:
    return [
        b for b in w.build_log if b.pipeline == "check" and int(b.zuul_vars["change"]) == number
    ]


def approve_superseding(w: SimWorld, c) -> list:  # noqa: ANN001
    """What the loop does with an approval: the gate's event, and check's
    dequeue of the change."""
    approve(w, c)
    pev = w.pending["gate"][-1]
    dequeues = supersede_dequeues(pev, w.layout.pipelines["gate"])
    w.dequeues.extend(dequeues)
    return dequeues


def test_the_gate_supersedes_check():
    assert world().layout.pipelines["gate"].supercedes == ("check",)


def test_a_change_entering_the_gate_leaves_check_without_a_report():
    w = world(hold=holding(1, 2))
    for n in (1, 2):
        w.add_change(change(n), "check")
    for _ in range(4):
        w.step("check")
    assert len(w.queue("check")) == 2
    (building,) = check_builds(w, 1)
    (dequeue,) = approve_superseding(w, change(1))
    assert dequeue.pipelines == ("check",) and not dequeue.report
    w.step("check")
    # Change 1 left check (its build canceled, SQL says why); change 2 stays.
    assert [i.change.number for i in w.queue("check")] == [2]
    assert w.sql_builds[building.uuid]["result"] == "CANCELED"
    (row,) = [b for b in w.sql_buildsets.values() if b.get("result") == "DEQUEUED"]
    assert "entered pipeline gate, which supersedes check" in row["message"]
    (report,) = [r for r in w.review_reports if r[1] == "dequeue"]
    assert report[3] == {}  # nothing sent to the review system
    # The gate runs it and merges it.
    w.hold = lambda req: False
    run(w, 10)
    assert merged(w) == [1]


def test_a_change_that_cannot_enter_the_gate_stays_in_check():
    w = world(hold=holding(1))
    w.add_change(change(2), "check")
    for _ in range(3):
        w.step("check")
    approve(w, change(2), needs=(change(1),), unmet=((change(1).key, "no Workflow +1"),))
    assert supersede_dequeues(w.pending["gate"][-1], w.layout.pipelines["gate"]) == []
    approve(w, change(3), not_ready="a needed change is abandoned")
    assert supersede_dequeues(w.pending["gate"][-1], w.layout.pipelines["gate"]) == []
    w.step("gate")
    assert not gate(w)


def test_another_patchset_in_check_is_not_superseded():
    w = world(hold=holding(1))
    w.add_change(change(1, patchset=2), "check")
    for _ in range(3):
        w.step("check")
    approve_superseding(w, change(1, patchset=1))
    w.step("check")
    assert [i.change.patchset for i in w.queue("check")] == [2]


def test_a_pipeline_without_supercedes_removes_nothing():
    w = world()
    approve(w, change(1))
    check = w.layout.pipelines["check"]
    assert supersede_dequeues(w.pending["gate"][-1], check) == []
    assert (
        supersede_dequeues(w.pending["gate"][-1], replace(check, supercedes=("gate",), name="gate"))
        == []
    )


def test_a_failing_gate_run_does_not_bring_the_change_back_to_check():
    w = world(build_result=failing((1, "unit")))
    w.add_change(change(1), "check")
    w.step("check")
    approve_superseding(w, change(1))
    w.step("check")
    run(w, 10)
    assert merged(w) == [] and not w.queue("check")
