"""The decision core simulated at scale, and killed at random.

- Throughput: thousands of items through the independent manager with a
  fake clock and the simulated launcher and executor (it prints the rate;
  nothing here asserts on time).
- Crash safety: the scheduler is "killed" at a random side effect over and
  over (everything not saved forgotten, as after a SIGKILL) while items
  flow; every event must still be reported, no build request may be
  submitted twice, no build executed twice, nothing left behind.
"""

from __future__ import annotations

import random
import time

import pytest
from lockgate.scheduler.manager.actions import SubmitBuildRequest

from tests.unit.scheduler.world import Crash, SimWorld, make_layout, ref_updated, sha


def test_thousands_of_items_flow_through(capsys):
    w = SimWorld(
        make_layout(),
        persist=False,
        heads={"org/lib": {"master": sha(500)}},
        build_result=lambda req: "FAILURE" if hash(req.uuid) % 7 == 0 else "SUCCESS",
    )
    count = 3000
    for n in range(1, count + 1):
        w.add_event(ref_updated(n=n))
    start = time.perf_counter()
    steps = 0
    while w.pending.get("post") or w.queue():
        w.step()
        steps += 1
        assert steps < 50, "the pipeline did not drain"
    elapsed = time.perf_counter() - start
    assert len(w.reports) == count
    assert {r for _, r in w.reports} <= {"SUCCESS", "FAILURE"}
    # Three jobs per item, each built once.
    assert len(w.sql_builds) == 3 * count
    assert all(n == 1 for n in w.executed.values())
    assert w.builds == {} and w.node_requests == {}
    with capsys.disabled():
        print(
            f"\n{count} items ({3 * count} builds) in {steps} simulated steps, "
            f"{elapsed:.2f}s: {count / elapsed:.0f} items/s"
        )


@pytest.mark.parametrize("seed", range(12))
def test_killed_at_random_points_loses_nothing_and_runs_nothing_twice(seed):
    rng = random.Random(seed)
    results = {0: "SUCCESS", 1: "FAILURE", 2: "RETRY"}
    w = SimWorld(
        make_layout(),
        heads={"org/lib": {"master": sha(500)}},
        build_result=lambda req: (
            results[hash((req.uuid, seed)) % 3] if req.attempt < 3 else "SUCCESS"
        ),
    )
    events = [ref_updated(n=n) for n in range(1, 9)]
    submitted: list[str] = []
    original = w.submit_build_request

    def recording(action: SubmitBuildRequest) -> None:
        original(action)
        submitted.append(action.request.uuid)

    w.submit_build_request = recording  # type: ignore[method-assign]
    arrivals = list(events)
    for _ in range(400):
        if arrivals and rng.random() < 0.3:
            w.add_event(arrivals.pop(0))
        if rng.random() < 0.5:
            w.crash_after(rng.randrange(0, 8))
        try:
            w.run_scheduler()
        except Crash:
            pass
        w.crash_countdown = None
        if rng.random() < 0.1:
            # An executor dies mid-build now and then.
            running = [u for u, b in w.builds.items() if b.state.value == "running"]
            if running:
                w.kill_executor(rng.choice(running))
        w.run_launcher()
        w.run_executor(finish=rng.random() < 0.7)
        w.now += 1
        if not arrivals and not w.pending.get("post") and not w.queue():
            break
    w.run_scheduler()
    assert w.crashes >= 3
    assert not arrivals and not w.pending.get("post") and w.queue() == []
    # Every event was reported (possibly more than once: reports are
    # at-least-once), with a final result in SQL.
    reported = {uuid for uuid, _ in w.reports}
    assert len(reported) == len(events)
    assert all(row.get("result") for row in w.sql_buildsets.values())
    assert len(w.sql_buildsets) == len(events)
    # No build request submitted twice, none executed twice.
    assert len(submitted) == len(set(submitted))
    assert all(n == 1 for n in w.executed.values())
    # Each job of each item has exactly one final build in SQL.
    finals: dict[tuple[str, str], int] = {}
    for row in w.sql_builds.values():
        if row.get("final"):
            key = (row["buildset"], row["job"])
            finals[key] = finals.get(key, 0) + 1
    assert len(finals) == 3 * len(events)
    assert set(finals.values()) == {1}
    assert w.builds == {} and w.node_requests == {}
