"""Requirements re-checked while queued (issue 7, scenario 10): an approval
removed, a change abandoned or a new patchset dequeues a gate item, cancels
its builds, reports what is missing, and the items behind restart.  Pure:
the simulated world, with the real Gerrit requirement and the loop's real
``dequeues_for``/``requirement_dequeues`` turning the fresh change into
dequeues."""

from __future__ import annotations

from dataclasses import replace

from lockgate.drivers.gerrit.requirements import make_requirement
from lockgate.model.change import Account, Approval, Change, ChangeStatus
from lockgate.model.events import TriggerEvent
from lockgate.scheduler.changes import dequeues_for, requirement_dequeues

from tests.unit.scheduler.gate_world import (
    approve,
    builds_of,
    change,
    contents,
    gate,
    holding,
    merged,
    messages_for,
    numbers,
    run,
    world,
)
from tests.unit.scheduler.world import SimWorld

GATE = make_requirement(
    "gerrit",
    {"open": True, "current-patchset": True, "approval": [{"Workflow": 1}]},
    {"approval": [{"Code-Review": -2}]},
)
REQUIREMENTS = {"gate": {"gerrit": GATE}, "check": {}}
CORE = Account("Carol", "carol@example.org", "carol")


def event(c: Change, type_: str = "comment-added", patchset: int | None = None) -> TriggerEvent:
    return TriggerEvent(
        type=type_,
        connection="gerrit",
        project=c.project,
        branch=c.branch,
        change_number=c.number,
        patchset=patchset or c.patchset,
    )


def learn(w: SimWorld, fresh: Change, type_: str = "comment-added") -> None:
    """What the loop does with a change event: its dequeues, then the fresh
    change's requirement re-check, handed to the next decision."""
    ev = event(fresh, type_)
    w.dequeues.extend(dequeues_for(ev))
    w.dequeues.extend(requirement_dequeues(ev, fresh, REQUIREMENTS, w.now))


def reported(w: SimWorld, number: int) -> list[str]:
    """Every report action for change ``number`` (with reporters or not:
    the gate has no ``dequeue`` reporters)."""
    return [
        a for u, a, *_ in w.review_reports if w.item_changes.get(u, "").split(",")[0] == str(number)
    ]


def three_queued() -> SimWorld:
    w = world(hold=holding(1, 2, 3))
    for n in (1, 2, 3):
        approve(w, change(n))
    run(w, 6)
    assert numbers(gate(w)) == [1, 2, 3]
    assert len(w.build_log) == 6  # unit + integration each
    return w


def release(w: SimWorld) -> None:
    w.hold = lambda req: False
    run(w, 25)


def test_removing_the_workflow_vote_dequeues_and_the_items_behind_restart():
    w = three_queued()
    second = builds_of(w, 2)
    third_before = builds_of(w, 3)
    assert contents(third_before[0]) == [1, 2, 3]
    learn(w, replace(change(2), approvals=[Approval("Code-Review", 2, CORE)]), "vote-deleted")
    w.step("gate")
    assert numbers(gate(w)) == [1, 3]
    # Its builds were canceled; the report names what is missing.
    assert {w.sql_builds[b.uuid]["result"] for b in second} == {"CANCELED"}
    assert reported(w, 2) == ["start", "dequeue"]
    (message,) = [m for m in messages_for(w, 2) if "requirements" in m]
    assert "Workflow +1 is required" in message and "pipeline gate" in message
    # The third restarted on the first alone.
    (third,) = [i for i in gate(w) if i.change.number == 3]
    assert third.resets == 1
    release(w)
    assert merged(w) == [1, 3]
    assert contents(builds_of(w, 3)[-1]) == [1, 3]


def test_a_workflow_zero_comment_dequeues():
    w = three_queued()
    fresh = replace(change(3), approvals=[Approval("Code-Review", 2), Approval("Workflow", 0)])
    learn(w, fresh)
    w.step("gate")
    assert numbers(gate(w)) == [1, 2]
    assert "Workflow +1 is required" in messages_for(w, 3)[-1]
    release(w)
    assert merged(w) == [1, 2]


def test_a_code_review_minus_two_dequeues_naming_the_rejection():
    w = three_queued()
    votes = [Approval("Code-Review", -2, CORE), Approval("Workflow", 1, CORE)]
    learn(w, replace(change(1), approvals=votes))
    w.step("gate")
    assert numbers(gate(w)) == [2, 3]
    assert "Code-Review -2 by carol" in messages_for(w, 1)[-1]
    assert "is rejected" in messages_for(w, 1)[-1]
    # The new head restarts on the branch.
    head = gate(w)[0]
    assert head.resets == 1 and head.item_ahead is None
    release(w)
    assert merged(w) == [2, 3]
    assert contents(builds_of(w, 2)[-1]) == [2]


def test_abandoning_dequeues_with_one_report():
    w = three_queued()
    learn(w, replace(change(2), status=ChangeStatus.ABANDONED), "change-abandoned")
    w.step("gate")
    assert numbers(gate(w)) == [1, 3]
    assert reported(w, 2) == ["start", "dequeue"]
    assert "change 2 was abandoned" in messages_for(w, 2)[-1]
    release(w)
    assert merged(w) == [1, 3]


def test_a_new_patchset_dequeues_the_old_one_which_is_not_approved_any_more():
    w = three_queued()
    learn(w, replace(change(2, patchset=2), approvals=[]), "patchset-created")
    w.step("gate")
    assert numbers(gate(w)) == [1, 3]
    assert "patchset 2 of change 2 was uploaded" in messages_for(w, 2)[-1]
    release(w)
    assert merged(w) == [1, 3]


def test_a_vote_on_an_older_patchset_leaves_the_queued_patchset_alone():
    w = world(hold=holding(1))
    approve(w, change(1, patchset=2))
    run(w, 4)
    old = replace(change(1, patchset=1), approvals=[], is_current_patchset=False)
    learn(w, old)
    w.step("gate")
    assert numbers(gate(w)) == [1]
    assert reported(w, 1) == ["start"]


def test_a_requirement_dequeue_is_for_its_pipeline_only():
    w = three_queued()
    (dq,) = requirement_dequeues(
        event(change(2)), replace(change(2), approvals=[]), REQUIREMENTS, w.now
    )
    w.dequeues.append(replace(dq, pipelines=("check",)))
    w.step("gate")
    assert numbers(gate(w)) == [1, 2, 3]


def test_a_met_requirement_dequeues_nothing():
    w = world()
    assert requirement_dequeues(event(change(1)), change(1), REQUIREMENTS, w.now) == []


def test_the_changes_needing_a_dequeued_change_leave_with_it():
    w = world(hold=holding(1, 2))
    a, b = change(1), change(2)
    approve(w, b, needs=(a,))
    run(w, 6)
    assert numbers(gate(w)) == [1, 2]
    learn(w, replace(a, approvals=[Approval("Code-Review", 2)]), "vote-deleted")
    w.step("gate")
    assert not gate(w)
    assert "Workflow +1 is required" in messages_for(w, 1)[-1]
    assert "A change it needs (1,1) was dequeued." in messages_for(w, 2)[-1]
    assert merged(w) == []
