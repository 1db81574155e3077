"""Benchmark: one scheduler pass over a full gate, through ZooKeeper.

Run: ``/opt/lockgate/bin/python bench/gate_pass.py [--items 500] [--passes 30]
[--baseline-samples 5]``

A gate queue of 500 approved changes (one shared queue, window 0: every
item is active), 5 jobs each, every build requested (2,500 build requests
and 2,500 node requests in ZooKeeper), is built with the real dependent
manager in the simulated world (``tests/unit/scheduler/world.py``) and
written to a real TLS ZooKeeper (``forceSync=no``, as in the tests).  Then,
each time, one build request is completed (as an executor would: a
different item's build each time) and the real ``TenantProcessor`` makes
one pass over the tenant: take the tenant lock, read the queues, load the
pipeline (500 items), observe the node and build requests, decide, save,
until nothing changes.  Printed: the pass's median and p95, beside
baselines measured in the same run on the same records — the pure
``decide`` on the same snapshot (no I/O), the plain load of the pipeline
(no item cache) plus the save of one item, and listing the requests with
every build's lock directly (what a pass read besides the items before the
views of ``lockgate.zk.views``) — and what ``observe`` costs now, from the
views that ZooKeeper watches keep.
"""

from __future__ import annotations

import argparse
import math
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lockgate.config.tenant import parse_tenant_config  # noqa: E402
from lockgate.model.builds import BuildState  # noqa: E402
from lockgate.model.tenant_state import TenantLayoutState  # noqa: E402
from lockgate.scheduler.manager import decide  # noqa: E402
from lockgate.scheduler.manager.snapshot import PipelineSnapshot  # noqa: E402
from lockgate.scheduler.processor import DEFAULT_ZONE, TenantProcessor  # noqa: E402
from lockgate.scheduler.reporting import Reporter  # noqa: E402
from lockgate.scheduler.repos import RepoResolver  # noqa: E402
from lockgate.scheduler.tenants import Tenant, TenantRegistry  # noqa: E402
from lockgate.zk.certs import make_tls  # noqa: E402
from lockgate.zk.pipelines import LoadedPipeline, PipelineStore  # noqa: E402
from lockgate.zk.requests import BuildRequestStore, NodeRequestStore  # noqa: E402
from lockgate.zk.server import ServerTLS, ZooKeeperServer  # noqa: E402

from tests.fixtures.zk import ZKEnv  # noqa: E402
from tests.unit.scheduler.gate_world import MAIN, approve, change, layout  # noqa: E402
from tests.unit.scheduler.world import SimWorld, sha  # noqa: E402

EXTRA = "    window: 0\n"
JOBS = """
- job:
    name: lint
- job:
    name: docs
- job:
    name: functional
- job:
    name: upgrade
- project:
    name: org/c
    gate:
      jobs: [lint, docs, functional, upgrade]
"""


def build_gate(n: int) -> SimWorld:
    """``n`` org/c changes in the gate, each with its 5 builds requested
    (the executor never runs: every build stays REQUESTED)."""
    w = SimWorld(layout(EXTRA, JOBS), heads={"org/c": {"master": sha(3)}}, persist=False)
    for number in range(1, n + 1):
        approve(w, change(number, "org/c"))
    for _ in range(n + 10):
        w.run_scheduler("gate")
        w.run_merger()
        w.run_launcher()
        w.now += 1.0
        if len(w.builds) >= 5 * n:
            break
    assert len(w.builds) == 5 * n, f"{len(w.builds)} builds for {n} items"
    return w


def write(client, w: SimWorld) -> None:  # noqa: ANN001
    """The world's gate, node and build requests into ZooKeeper."""
    state, items = w.load("gate")
    nodes = NodeRequestStore(client)
    renamed: dict[str, str] = {}
    for old_id, req in w.node_requests.items():
        renamed[old_id] = nodes.submit(req)
    for item in items.values():
        for js in item.jobs:
            if js.node_request_id:
                js.node_request_id = renamed[js.node_request_id]
    builds = BuildRequestStore(client, DEFAULT_ZONE)
    for req in w.builds.values():
        builds.submit(req)
    store = PipelineStore(client, "demo")
    loaded = LoadedPipeline(state=state, items=items)
    store.save_items(loaded, set(items))
    store.save_state(loaded)


def processor_for(client, w: SimWorld) -> TenantProcessor:  # noqa: ANN001
    spec = parse_tenant_config(MAIN).tenants["demo"]
    state = TenantLayoutState(tenant="demo", uuid="layout-1", pipelines=list(w.layout.pipelines))
    registry = TenantRegistry("(bench)", loader=None, client=None)  # type: ignore[arg-type]
    registry.tenants["demo"] = Tenant("demo", spec, w.layout, state)
    return TenantProcessor(client, registry, RepoResolver({}, None), Reporter(None))  # type: ignore[arg-type]


def complete_one(client, uuid: str) -> None:  # noqa: ANN001
    store = BuildRequestStore(client, DEFAULT_ZONE)
    found = store.get(uuid)
    assert found is not None
    req = found.record
    req.state, req.result, req.start_time, req.end_time = (
        BuildState.COMPLETED,
        "SUCCESS",
        time.time() - 60,
        time.time(),
    )
    store.update(req, found.version)


def stats(samples: list[float]) -> tuple[float, float]:
    samples = sorted(samples)
    return statistics.median(samples), samples[math.ceil(len(samples) * 0.95) - 1]


def timed(n: int, setup: Callable[[int], object], fn: Callable[[int], object]) -> list[float]:
    out = []
    for i in range(n):
        setup(i)
        t0 = time.perf_counter()
        fn(i)
        out.append((time.perf_counter() - t0) * 1000)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=500)
    parser.add_argument("--passes", type=int, default=30)
    parser.add_argument("--baseline-samples", type=int, default=5)
    args = parser.parse_args()
    t0 = time.perf_counter()
    w = build_gate(args.items)
    print(
        f"gate built in the simulated world: {args.items} items, {len(w.builds)} builds "
        f"({time.perf_counter() - t0:.1f}s)"
    )
    root = Path(tempfile.mkdtemp(prefix="lockgate-bench-gate-pass-"))
    # Sessions of 30 s (ticks of 2 s): a pass over 500 items is long, and a
    # shared machine may stall the client's pings.
    tls = make_tls(root / "tls")
    server = ZooKeeperServer(
        root / "zk",
        tls=ServerTLS.from_files(tls.server),
        client_tls=tls.client,
        force_sync=False,
        tick_time_ms=2000,
    )
    server.start()
    env = ZKEnv(server=server, tls=tls, root=root)
    client = env.client("/bench", session_timeout=30.0)
    client.connect()
    try:
        t0 = time.perf_counter()
        write(client, w)
        print(f"written to ZooKeeper in {time.perf_counter() - t0:.1f}s")
        processor = processor_for(client, w)
        processor.process("demo")  # warm-up: adopts the state as its own
        store = PipelineStore(client, "demo")
        loaded = store.load("gate")
        order = loaded.state.item_uuids()
        # One build of a different item each pass (the first job of item k).
        targets = [loaded.items[order[k]].jobs[0].build_uuid for k in range(1, args.passes + 1)]
        del loaded  # at 500 items a decoded pipeline is large: keep one at a time
        passes = timed(
            args.passes,
            lambda i: complete_one(client, targets[i]),
            lambda i: processor.process("demo"),
        )
        after = store.load("gate")
        done = [
            js
            for u in order[1 : args.passes + 1]
            for js in after.items[u].jobs
            if js.result == "SUCCESS"
        ]
        assert len(done) == args.passes, f"{len(done)} results taken in {args.passes} passes"
        del after

        # Baselines on the same records.  Those that decode every record
        # take tens of seconds each at 500 items: ``--baseline-samples``.
        heavy = min(args.passes, args.baseline_samples)

        def snapshot() -> PipelineSnapshot:
            tenant = processor.registry.get("demo")
            assert tenant is not None
            loaded = store.load("gate")
            nodes, builds = processor.observe("demo", "gate")
            return PipelineSnapshot(
                tenant="demo",
                pipeline_name="gate",
                pipeline=tenant.layout.pipelines["gate"],
                layout=tenant.layout,
                state=loaded.state,
                items=loaded.items,
                node_requests=nodes,
                builds=builds,
                layout_uuid=tenant.uuid,
                now=time.time(),
            )

        snaps: list[PipelineSnapshot] = []

        def take_snapshot(i: int) -> None:
            snaps[:] = []  # the previous one freed first
            snaps.append(snapshot())

        decides = timed(heavy, take_snapshot, lambda i: decide(snaps[-1]))
        snaps.clear()

        def load_save(i: int) -> None:
            loaded = store.load("gate")
            store.save_items(loaded, {order[1]})

        load_saves = timed(heavy, lambda i: None, load_save)
        nodes, builds = NodeRequestStore(client), BuildRequestStore(client, DEFAULT_ZONE)

        def list_directly(i: int) -> None:
            nodes.list()
            builds.locked(v.record.uuid for v in builds.list())

        lists = timed(heavy, lambda i: None, list_directly)
        observes = timed(args.passes, lambda i: None, lambda i: processor.observe("demo", "gate"))
    finally:
        client.disconnect()
        env.server.stop()
        shutil.rmtree(root, ignore_errors=True)
    rows = [
        ("scheduler pass (TenantProcessor, ZooKeeper)", passes),
        ("baseline: decide alone, same snapshot", decides),
        ("baseline: load pipeline + save one item", load_saves),
        ("baseline: list node + build requests, locks", lists),
        ("observe: the same from views kept by watches", observes),
    ]
    print(f"\n{args.items} items x 5 jobs in one gate queue; one build result per pass")
    print(f"{'':46} {'median ms':>10} {'p95 ms':>8} {'runs':>5}")
    for name, samples in rows:
        median, p95 = stats(samples)
        print(f"{name:46} {median:10.1f} {p95:8.1f} {len(samples):5d}")
    ratio = stats(passes)[0] / stats(decides)[0]
    print(f"\npass / decide alone: {ratio:.1f}x")


if __name__ == "__main__":
    main()
