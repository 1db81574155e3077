"""The gate killed anywhere: a scheduler that dies after any side effect and
starts again from what it saved reaches the same end — the same merges,
each change merged once, no build started twice, every change reported.
Pure: the simulated world's crashes (``SimWorld.crash_after``)."""

from __future__ import annotations

import random

import pytest

from tests.unit.scheduler.gate_world import (
    approve,
    change,
    failing,
    gate,
    merged,
    run_with_crashes,
    world,
)


def _run_with_crashes(seed: int, bad: int | None):
    rng = random.Random(seed)
    rule = failing((bad, "integration")) if bad else (lambda req: "SUCCESS")
    w = world(build_result=rule)
    w.hold = lambda req: int(req.zuul_vars["change"]) == 1 and rng.random() < 0.5
    for n in (1, 2, 3):
        approve(w, change(n))
    return run_with_crashes(w, rng)


@pytest.mark.parametrize("seed", range(16))
@pytest.mark.parametrize("bad", [None, 1, 2])
def test_a_gate_run_killed_anywhere_ends_the_same(seed, bad):
    w = _run_with_crashes(seed, bad)
    assert w.crashes >= 2
    assert not gate(w) and not w.builds and not w.node_requests and not w.merges
    expected = [n for n in (1, 2, 3) if n != bad]
    assert merged(w) == expected
    assert set(w.merged_changes.values()) == {1}  # no change merged twice
    assert all(n == 1 for n in w.executed.values())  # no build started twice
    reported = {w.item_changes[u] for u, _ in w.reports}
    assert reported == {"1,1", "2,1", "3,1"}
    results = {w.item_changes[u]: r for u, r in w.reports}
    if bad:
        assert results[f"{bad},1"] == "FAILURE"
