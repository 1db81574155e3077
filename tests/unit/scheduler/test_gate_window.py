"""The gate's window (Zuul's): only the items at the head of a queue run
jobs; merges grow it, failures shrink it.  Pure."""

from __future__ import annotations

import pytest
from lockgate.config.model import Window, WindowType
from lockgate.model.queue import ChangeQueue, ItemState
from lockgate.scheduler.manager import window

from tests.unit.scheduler.gate_world import (
    approve,
    builds_of,
    change,
    gate,
    holding,
    merged,
    run,
    world,
)


class _Pipeline:
    def __init__(self, **kw):
        self.window = Window(**kw)


@pytest.mark.parametrize(
    ("kw", "start", "grown", "shrunk"),
    [
        ({}, 20, 21, 10),
        ({"increase_type": WindowType.EXPONENTIAL, "increase_factor": 2}, 4, 8, 3),
        ({"decrease_type": WindowType.LINEAR, "decrease_factor": 3}, 10, 11, 7),
        ({"ceiling": 5}, 5, 5, 3),
        ({"floor": 1}, 1, 2, 1),
    ],
)
def test_grow_and_shrink(kw, start, grown, shrunk):
    pipeline = _Pipeline(**kw)
    assert window.grow(ChangeQueue("q", window=start), pipeline) == grown
    assert window.shrink(ChangeQueue("q", window=start), pipeline) == shrunk


def test_a_window_of_zero_is_unlimited():
    q = ChangeQueue("q", window=0)
    assert window.grow(q, _Pipeline()) == 0 and window.shrink(q, _Pipeline()) == 0
    assert window.actionable(q, 10_000)


def test_only_items_inside_the_window_run_jobs():
    w = world("    window: 2\n    window-floor: 1", hold=holding(1, 2))
    for n in (1, 2, 3, 4):
        approve(w, change(n))
    run(w, 8)
    items = gate(w)
    assert [i.state for i in items] == [ItemState.ACTIVE] * 2 + [ItemState.PREPARING] * 2
    assert [i.merge_request for i in items[2:]] == [None, None]
    assert not builds_of(w, 3) and not builds_of(w, 4)
    assert all(len(m.steps) <= 2 for m in w.merge_log)
    w.hold = lambda req: False
    run(w, 30)
    assert merged(w) == [1, 2, 3, 4]
    assert w.load("gate")[0].queues[0].window == 6


def test_a_failure_shrinks_the_window_to_its_floor():
    from tests.unit.scheduler.gate_world import failing

    w = world("    window: 4\n    window-floor: 3", build_result=failing((1, "unit")))
    approve(w, change(1))
    run(w)
    assert w.load("gate")[0].queues[0].window == 3
