"""Benchmark: the gate's throughput, simulated — the real dependent manager.

Run: ``/opt/lockgate/bin/python bench/gate_sim.py [--changes 300] [--seed 1]``

The decision core (``lockgate.scheduler.manager.decide`` with the dependent
manager) is driven through the test suite's simulated world
(``tests/unit/scheduler/world.py``: the real effect ordering, simulated
mergers, launcher, executor and review system) with a simulated clock that
jumps from one event to the next:

* 10 changes are approved per hour (one every 6 minutes), all in one shared
  queue; each runs one job that takes 1 hour on one node;
* 10 % of the changes are bad: a build fails when any change it tests (its
  own or one ahead of it) is bad; 5 % of builds fail by flakiness anyway;
* the gate's window is 20 (Zuul's defaults otherwise: +1 per merge, halved
  per failure, floor 3).

The baseline is one-at-a-time (serial) testing, run in the same process by
the same manager with a window of 1 (floor and ceiling 1): each change is
tested alone on the branch, merged if it passes.  Printed for both: merges
per hour (from the first approval to the last merge), node-hours per merged
change (every build's time on its node, restarted and canceled ones
included), mean time from approval to merge, and bad changes merged (must
be 0) — and the ratios.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lockgate.model.builds import BuildState  # noqa: E402

from tests.unit.scheduler.gate_world import approve, change, layout  # noqa: E402
from tests.unit.scheduler.world import SimWorld, sha  # noqa: E402

HOUR = 3600.0
JOB = "unit"


@dataclass
class Figures:
    name: str
    merged: int
    failed: int
    hours: float
    node_hours: float
    mean_wait: float  # hours from approval to merge
    bad_merged: int
    decisions: int
    wall: float

    @property
    def merges_per_hour(self) -> float:
        return self.merged / self.hours if self.hours else 0.0

    @property
    def node_hours_per_merge(self) -> float:
        return self.node_hours / self.merged if self.merged else float("inf")


def simulate(
    name: str, window_lines: str, changes: int, seed: int, per_hour: float = 10.0
) -> Figures:
    rng = random.Random(seed)
    bad = {n for n in range(1, changes + 1) if rng.random() < 0.10}
    arrivals = [(1000.0 + (n - 1) * HOUR / per_hour, n) for n in range(1, changes + 1)]

    def result(req) -> str:
        tested = {int(i["change"]) for i in req.zuul_vars["items"]}
        if tested & bad:
            return "FAILURE"
        flaky = zlib.crc32(f"{seed}:{req.uuid}".encode()) % 1000 < 50
        return "FAILURE" if flaky else "SUCCESS"

    w = SimWorld(
        layout(window_lines),
        persist=False,
        heads={"org/x": {"master": sha(1)}},
        build_result=result,
    )
    w.hold = lambda req: req.start_time is not None and w.now < req.start_time + HOUR
    w.now = arrivals[0][0]
    approved: dict[int, float] = {}
    merged_at: dict[int, float] = {}
    decisions = 0
    started = time.perf_counter()
    pending = list(arrivals)
    while True:
        while pending and pending[0][0] <= w.now:
            _, n = pending.pop(0)
            approve(w, change(n, "org/x"))
            approved[n] = w.now
        for _ in range(8):
            decisions += len(w.run_scheduler("gate"))
            w.run_merger()
            w.run_launcher()
            w.run_executor()
        for key in w.merge_order[len(merged_at) :]:
            merged_at[int(key.rsplit("/", 1)[1])] = w.now
        running = [
            b.start_time + HOUR
            for b in w.builds.values()
            if b.state is BuildState.RUNNING and b.start_time is not None
        ]
        upcoming = running + ([pending[0][0]] if pending else [])
        if not upcoming:
            if not w.queue("gate"):
                break
            raise RuntimeError(f"{name}: the gate is stuck with {len(w.queue('gate'))} items")
        w.now = max(w.now + 1.0, min(upcoming))
    wall = time.perf_counter() - started
    node_seconds = sum(
        (b.end_time or w.now) - b.start_time for b in w.build_log if b.start_time is not None
    )
    waits = [merged_at[n] - approved[n] for n in merged_at]
    return Figures(
        name=name,
        merged=len(merged_at),
        failed=changes - len(merged_at),
        hours=(max(merged_at.values()) - arrivals[0][0]) / HOUR if merged_at else 0.0,
        node_hours=node_seconds / HOUR,
        mean_wait=sum(waits) / len(waits) / HOUR if waits else 0.0,
        bad_merged=len(bad & set(merged_at)),
        decisions=decisions,
        wall=wall,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--changes", type=int, default=300)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    gate = simulate("gate (window 20)", "    window: 20", args.changes, args.seed)
    serial = simulate(
        "one at a time",
        "    window: 1\n    window-floor: 1\n    window-ceiling: 1",
        args.changes,
        args.seed,
    )
    print(f"{args.changes} changes, 10/hour, 1-hour jobs, 10% bad, 5% flaky builds")
    header = (
        f"{'':18} {'merged':>6} {'failed':>6} {'merges/h':>9} {'node-h/merge':>13} "
        f"{'approval->merge h':>18} {'bad merged':>10} {'decisions':>9} {'wall s':>7}"
    )
    print(header)
    for f in (gate, serial):
        print(
            f"{f.name:18} {f.merged:6d} {f.failed:6d} {f.merges_per_hour:9.2f} "
            f"{f.node_hours_per_merge:13.2f} {f.mean_wait:18.1f} {f.bad_merged:10d} "
            f"{f.decisions:9d} {f.wall:7.1f}"
        )
    print(
        f"ratio gate/serial: merges per hour {gate.merges_per_hour / serial.merges_per_hour:.1f}x, "
        f"node-hours per merge {gate.node_hours_per_merge / serial.node_hours_per_merge:.2f}x, "
        f"approval->merge {gate.mean_wait / serial.mean_wait:.3f}x"
    )
    return 1 if gate.bad_merged or serial.bad_merged else 0


if __name__ == "__main__":
    sys.exit(main())
