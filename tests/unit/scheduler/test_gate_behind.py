"""The changes behind (issue 7, scenario 7): approving the root of a tree of
approved changes enqueues all of them in dependency order.  Pure: a table
of changes plays the review system (``needing``, and the ``Lookup`` of the
real dependency resolver), the loop's ``changes_behind`` finds what
follows, and the simulated world runs the gate."""

from __future__ import annotations

from dataclasses import replace

from lockgate.drivers.gerrit.requirements import make_requirement
from lockgate.model.change import Approval, Change
from lockgate.scheduler.behind import changes_behind, reported_labels, submit_needs
from lockgate.scheduler.dependencies import resolve

from tests.unit.scheduler.gate_world import (
    SUCCESS,
    builds_of,
    change,
    contents,
    gate,
    merged,
    numbers,
    run,
    world,
)
from tests.unit.scheduler.world import SimWorld

GATE = make_requirement("gerrit", {"open": True, "approval": [{"Workflow": 1}]}, None)


class Table:
    """A review system as a table: git parents, Depends-On URLs."""

    def __init__(self, *changes: Change) -> None:
        self.changes = {c.number: c for c in changes}
        self.asked: list[int] = []

    def by_url(self, url: str) -> Change | None:
        return self.changes.get(int(url.rstrip("/").rsplit("/", 1)[1]))

    def git_parents(self, c: Change) -> list[Change]:
        return [o for o in self.changes.values() if o.commit in c.parents]

    def needing(self, c: Change) -> list[Change]:
        self.asked.append(c.number)
        return [
            o
            for o in self.changes.values()
            if o.is_open and (c.commit in o.parents or c.url in o.depends_on)
        ]


def child(number: int, *parents: Change, depends: tuple[Change, ...] = (), **kw) -> Change:
    c = change(number, **kw)
    message = c.message + "".join(f"Depends-On: {d.url}\n" for d in depends)
    return replace(c, parents=[p.commit for p in parents], message=message, depends_on=[])


def tree() -> Table:
    """1 <- 2 <- 4, 2 <- 5 <- 7; 1 <- 3 <- 6; 7 Depends-On 6."""
    c1 = change(1)
    c2, c3 = child(2, c1), child(3, c1)
    c4, c5, c6 = child(4, c2), child(5, c2), child(6, c3)
    c7 = child(7, c5, depends=(c6,))
    return Table(c1, c2, c3, c4, c5, c6, c7)


def admit_all(c: Change) -> str | None:
    return None


def enter(w: SimWorld, table: Table, root: Change, admits=admit_all) -> list[tuple[Change, str]]:  # noqa: ANN001
    """What the loop does when ``root`` is approved: its event, then one
    event per change behind it (the same trigger event), each with every
    change it needs in merge order."""
    needs = tuple(resolve(root, table).merge_order()[:-1])
    event = w.add_change(root, "gate", needs=needs, event_type="comment-added")
    found, refused = changes_behind(root, table.needing, admits)
    for c in found:
        needs = tuple(resolve(c, table).merge_order()[:-1])
        unmet = tuple((n.key, why) for n in needs if (why := admits(n)))
        w.add_change(
            c, "gate", needs=needs, event_type="comment-added", event_id=event.event_id, unmet=unmet
        )
    return refused


def test_approving_the_root_of_seven_approved_changes_enqueues_all_in_order():
    table = tree()
    w = world()
    enter(w, table, table.changes[1])
    w.run_scheduler("gate")
    assert numbers(gate(w)) == [1, 2, 3, 4, 5, 6, 7]
    items = {i.change.number: i for i in gate(w)}
    assert set(items[7].needs) == {items[n].uuid for n in (1, 2, 3, 5, 6)}
    run(w, 30)
    assert merged(w) == [1, 2, 3, 4, 5, 6, 7]
    assert contents(builds_of(w, 7)[-1]) == [1, 2, 3, 4, 5, 6, 7]


def test_the_search_is_breadth_first_and_asks_each_change_once():
    table = tree()
    found, refused = changes_behind(table.changes[1], table.needing, admit_all)
    assert [c.number for c in found] == [2, 3, 4, 5, 6, 7]
    assert refused == []
    assert sorted(table.asked) == [1, 2, 3, 4, 5, 6, 7]


def test_an_unapproved_change_and_what_needs_it_stay_out():
    table = tree()
    table.changes[2] = replace(table.changes[2], approvals=[Approval("Code-Review", 2)])
    w = world()
    refused = enter(w, table, table.changes[1], lambda c: GATE.check(c, 0.0))
    w.run_scheduler("gate")
    # 4, 5 and 7 need 2 (7 is found through 6, and refused for 2); 3 and 6
    # follow 1.
    assert numbers(gate(w)) == [1, 3, 6]
    assert [(c.number, why) for c, why in refused] == [(2, "Workflow +1 is required")]
    run(w, 20)
    assert merged(w) == [1, 3, 6]


def test_a_merged_or_abandoned_change_does_not_follow():
    from lockgate.model.change import ChangeStatus

    table = tree()
    table.changes[3] = replace(table.changes[3], status=ChangeStatus.ABANDONED)
    found, _ = changes_behind(table.changes[1], table.needing, admit_all)
    assert 3 not in [c.number for c in found] and 6 not in [c.number for c in found]


def test_at_most_limit_changes_follow():
    table = tree()
    found, _ = changes_behind(table.changes[1], table.needing, admit_all, limit=3)
    assert [c.number for c in found] == [2, 3, 4]


def test_labels_the_review_system_still_needs_keep_a_change_out():
    reported = reported_labels(SUCCESS, "gerrit")
    assert reported == ["Verified"]
    ready = replace(change(2), missing_labels=["Verified"])
    assert submit_needs(ready, reported) is None
    unreviewed = replace(change(3), missing_labels=["Code-Review", "Verified"])
    assert submit_needs(unreviewed, reported) == "it still needs Code-Review to be submitted"
    assert reported_labels({"gerrit": {"submit": True}}, "gerrit") == []
    assert reported_labels({}, "gerrit") == []
