"""Promote: an admin moves changes to the head of a dependent queue; what
is behind restarts.  Pure: the simulated world."""

from __future__ import annotations

from lockgate.model.change import ChangeKey
from lockgate.scheduler.manager.snapshot import Promote

from tests.unit.scheduler.gate_world import (
    approve,
    builds_of,
    change,
    contents,
    gate,
    holding,
    merged,
    numbers,
    run,
    world,
)


def test_promote_moves_the_third_change_to_the_head_and_the_others_restart():
    w = world(hold=holding(1, 2, 3))
    for n in (1, 2, 3):
        approve(w, change(n))
    run(w, 6)
    assert all(len(builds_of(w, n)) == 2 for n in (1, 2, 3))
    w.promotes.append(Promote((ChangeKey("gerrit", 3),), event_id="promote-1"))
    w.run_scheduler("gate")
    assert numbers(gate(w)) == [3, 1, 2]
    assert all(b.cancel_requested for b in w.builds.values() if b.result is None)
    assert any("promoted 3,1" in line for line in w.logs)
    w.hold = lambda req: False
    run(w, 30)
    assert merged(w) == [3, 1, 2]
    assert contents(builds_of(w, 3)[-1]) == [3]
    assert contents(builds_of(w, 2)[-1]) == [3, 1, 2]


def test_promoting_a_change_brings_what_it_needs_along():
    w = world(hold=holding(1, 2, 3))
    approve(w, change(1))
    approve(w, change(3), needs=(change(2),))
    run(w, 4)
    assert numbers(gate(w)) == [1, 2, 3]
    w.promotes.append(Promote((ChangeKey("gerrit", 3),)))
    w.run_scheduler("gate")
    assert numbers(gate(w)) == [2, 3, 1]


def test_promoting_an_unknown_change_changes_nothing():
    w = world(hold=holding(1))
    approve(w, change(1))
    run(w, 4)
    w.promotes.append(Promote((ChangeKey("gerrit", 99),)))
    w.run_scheduler("gate")
    assert numbers(gate(w)) == [1]
    assert any("promote: no item" in line for line in w.logs)
