"""``/api/tenant/{t}/status`` with 1,000 queued items of 5 jobs each across 10
pipelines: latency p50/p99 with 1 and with 100 concurrent clients.

A real TLS ZooKeeper (``tests.fixtures.zk``, forceSync=no) holds the
items, written as the scheduler writes them (``PipelineStore``); about a
third of the jobs are running (every item has one: the answer ages with
the clock and is rebuilt every ``CLOCK_REFRESH`` s to keep elapsed and
remaining times current), the rest waiting or done.  A SQLite history
gives the jobs their estimated times.  The web app (``lockgate.web.app``
on ``WebRunner``, as ``lockgate web`` serves it, ZooKeeper reads through
``ZKClusterState`` with the service's 1 s ttl) answers on loopback.  Each
measurement lasts ``--seconds``; the clients run in another process (they
must not take the server's CPU), ask for gzip as browsers do and do not
inflate it.  Meanwhile another process plays the scheduler: one item
changes every second (a build finishes).

Baselines, same run and client counts: ``/api/info`` (no ZooKeeper, no
encoding) — what HTTP and the app cost alone; and the status answer's
gzipped bytes served as they are from a route of their own — what sending
them costs (the floor of a status served from kept bytes).  Also shown: the cost of
one cold build of the answer, of one check when nothing changed, how many
answers were built during the measurement (once per change of state, or
per ``CLOCK_REFRESH`` while builds run — not per request) and how many
item entries were encoded for them, and the server's loop lag (how late a
5 ms sleeper wakes: p99/max) with the full garbage collections meanwhile
(``gc2 count x longest ms``).
Floors: p99 under 20 ms with one client, under 200 ms with 100.

    /opt/lockgate/bin/python -m bench.web_status [--items 1000] [--seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import multiprocessing
import shutil
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from lockgate.db import Database, RefInfo
from lockgate.model.jobs import FrozenJob, NodeSpec
from lockgate.model.queue import ChangeQueue, ItemState, JobState, JobStatus, QueueItem
from lockgate.model.tenant_state import TenantLayoutState
from lockgate.web.app import make_app
from lockgate.web.cluster import ClusterView
from lockgate.web.context import WebContext
from lockgate.web.http import WebRunner
from lockgate.web.zkstate import ZKClusterState
from lockgate.zk.client import ZKClient
from lockgate.zk.pipeline_reader import PipelineReader
from lockgate.zk.pipelines import PipelineStore
from lockgate.zk.tenants import save_layout

from tests.fixtures.zk import start_tls_server

TENANT = "bench"
PIPELINES = [f"pipeline-{n}" for n in range(10)]
JOBS = ["unit", "lint", "docs", "functional", "integration"]
CHROOT = "/bench-status"


def _item(n: int, pipeline: str, now: float) -> QueueItem:
    jobs = []
    for k, name in enumerate(JOBS):
        phase = (n + k) % 3  # 0 waiting, 1 running, 2 done
        jobs.append(
            JobState(
                name=name,
                job=FrozenJob(name=name, nodes=[NodeSpec(["controller"], "ubuntu-jammy")]),
                status=JobStatus.WAITING if phase == 0 else JobStatus.BUILD_REQUESTED,
                attempt=0 if phase == 0 else 1,
                build_uuid=None if phase == 0 else f"build-{n}-{k}",
                start_time=None if phase == 0 else now - 60 - k,
                end_time=now - 5 if phase == 2 else None,
                result="SUCCESS" if phase == 2 else None,
                worker="executor-1" if phase else None,
            )
        )
    return QueueItem(
        uuid=f"item-{n:05d}",
        tenant=TENANT,
        pipeline=pipeline,
        queue=f"org/project-{n % 50}",
        event_id=f"event-{n}",
        event_type="patchset-created",
        connection="gerrit",
        project=f"org/project-{n % 50}",
        ref=f"refs/changes/{n % 100:02d}/{n}/1",
        branch="master",
        oldrev="0" * 40,
        newrev=f"{n:040d}",
        state=ItemState.ACTIVE,
        buildset_uuid=f"buildset-{n}",
        jobs=jobs,
    )


def fill_zk(client: object, items: int) -> None:
    now = time.time()
    store = PipelineStore(client, TENANT)  # type: ignore[arg-type]
    per = items // len(PIPELINES)
    for p, pipeline in enumerate(PIPELINES):
        loaded = store.load(pipeline)
        for n in range(p * per, (p + 1) * per):
            item = _item(n, pipeline, now)
            loaded.items[item.uuid] = item
            loaded.state.queues.append(ChangeQueue(name=item.queue + str(n), items=[item.uuid]))
        store.save_items(loaded, set(loaded.items))
        store.save_state(loaded)
    save_layout(
        client,  # type: ignore[arg-type]
        TenantLayoutState(tenant=TENANT, projects=["org/project-0"], pipelines=PIPELINES),
    )


def fill_history(db: Database) -> None:
    for n in range(50):
        ref = RefInfo(project=f"org/project-{n}", ref="refs/heads/master", branch="master")
        db.create_buildset(f"old-{n}", TENANT, "pipeline-0", [ref])
        for job in JOBS:
            uuid = f"old-{n}-{job}"
            db.create_build(uuid, f"old-{n}", job, start_time=1000)
            db.update_build(uuid, result="SUCCESS", end_time=1000 + 300)


async def client_loop(session: aiohttp.ClientSession, url: str, seconds: float) -> list[float]:
    times: list[float] = []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        start = time.perf_counter()
        async with session.get(url, headers={"Accept-Encoding": "gzip"}) as reply:
            await reply.read()
            assert reply.status == 200, reply.status
        times.append((time.perf_counter() - start) * 1000)
    return times


async def _measure(url: str, clients: int, seconds: float) -> list[float]:
    connector = aiohttp.TCPConnector(limit=clients)
    # As a browser would, the client takes gzip; it does not inflate here
    # (a browser does that in its own process, not the server's).
    async with aiohttp.ClientSession(connector=connector, auto_decompress=False) as session:
        await client_loop(session, url, 0.1)  # warm up
        results = await asyncio.gather(
            *(client_loop(session, url, seconds) for _ in range(clients))
        )
    return [t for r in results for t in r]


def measure_in_process(url: str, clients: int, seconds: float) -> list[float]:
    """(Run in a separate process: the clients must not share the server's CPU time.)"""
    return asyncio.run(_measure(url, clients, seconds))


async def measure(pool: ProcessPoolExecutor, url: str, clients: int, seconds: float) -> list[float]:
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(pool, measure_in_process, url, clients, seconds)


def play_scheduler(zk: dict[str, Any], stop: Any, changes: Any) -> None:
    """(Run in a process of its own, as a scheduler is.)  Changes one item a
    second (a build finishes) until ``stop`` is set; counts in ``changes``."""
    client = ZKClient(**zk)
    client.connect(timeout=15)
    store = PipelineStore(client, TENANT)
    try:
        while not stop.wait(1.0):
            n = changes.value
            loaded = store.load(PIPELINES[n % len(PIPELINES)])
            uuid = sorted(loaded.items)[n % len(loaded.items)]
            job = loaded.items[uuid].jobs[0]
            job.start_time = job.start_time or time.time() - 30
            job.end_time, job.result = time.time(), "SUCCESS"
            store.save_items(loaded, {uuid})
            changes.value = n + 1
    finally:
        client.disconnect()


class Scheduler:
    """The scheduler's writes, from another process (its decoding of a
    pipeline a second must not take the web's CPU or GIL)."""

    def __init__(self, zk: dict[str, Any]) -> None:
        context = multiprocessing.get_context("spawn")
        self.stop = context.Event()
        self._changes = context.Value("i", 0)
        self._process = context.Process(
            target=play_scheduler, args=(zk, self.stop, self._changes), daemon=True
        )

    @property
    def changes(self) -> int:
        return int(self._changes.value)

    def start(self) -> None:
        self._process.start()

    def join(self) -> None:
        self._process.join(timeout=30)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()


class LoopLag:
    """How late the server's event loop wakes a 5 ms sleeper: a request
    arriving meanwhile waits as long (what a rebuild on the loop, or a
    thread holding the GIL, costs every client).  Also the full collections
    of Python's garbage collector meanwhile (each stops every thread for as
    long as it takes to look at every object kept)."""

    def __init__(self) -> None:
        self.lags: list[float] = []
        self.gc_pauses: list[float] = []
        self._gc_start = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            start = time.perf_counter()
            await asyncio.sleep(0.005)
            self.lags.append((time.perf_counter() - start - 0.005) * 1000)

    def _on_gc(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._gc_start = time.perf_counter()
        elif info["generation"] == 2:
            self.gc_pauses.append((time.perf_counter() - self._gc_start) * 1000)

    def start(self) -> None:
        self.lags, self.gc_pauses = [], []
        gc.callbacks.append(self._on_gc)
        self._task = asyncio.create_task(self._run())

    def stop(self) -> str:
        """``p99/max`` of the lags, how many full collections and the longest, in ms."""
        if self._task is not None:
            self._task.cancel()
        gc.callbacks.remove(self._on_gc)
        return (
            f"{_pct(self.lags, 0.99):.0f}/{max(self.lags, default=0):.0f}"
            f" gc2 {len(self.gc_pauses)}x{max(self.gc_pauses, default=0):.0f}"
        )


def _pct(times: list[float], q: float) -> float:
    ordered = sorted(times)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def run(zk: object, zk_args: dict[str, Any], db: Database, args: argparse.Namespace) -> int:
    cluster = ClusterView(ZKClusterState(zk), ttl=1.0)  # type: ignore[arg-type]
    context = WebContext(db=db, cluster=cluster)
    context.status.settle_garbage = True  # as ``lockgate web`` has it
    app = make_app(context)
    kept: list[bytes] = []

    async def kept_bytes(request: web.Request) -> web.Response:
        """The second baseline: the status answer's gzipped bytes, fixed."""
        return web.Response(
            body=kept[0], content_type="application/json", headers={"Content-Encoding": "gzip"}
        )

    app.router.add_get("/bench/kept-bytes", kept_bytes)
    runner = WebRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = int(runner.addresses[0][1])
    base = f"http://127.0.0.1:{port}"
    failures = 0
    pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
    try:
        start = time.perf_counter()
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{base}/api/tenant/{TENANT}/status") as reply:
                body = await reply.read()
        cold = (time.perf_counter() - start) * 1000
        answer = await context.status.get(await context.layout(TENANT))
        kept.append(answer.gzipped)
        print(
            f"cold first answer (read every item, build, encode): {cold:.0f} ms, "
            f"{len(body) / 1e6:.1f} MB, {len(answer.gzipped) / 1e3:.0f} KB gzipped"
        )
        reader = PipelineReader(zk, TENANT)  # type: ignore[arg-type]
        reader.read()
        start = time.perf_counter()
        reader.read()
        print(
            f"one check with nothing changed (a barrier, watches say what moved): "
            f"{(time.perf_counter() - start) * 1000:.0f} ms"
        )
        reader.close()  # (its 1,000 items are not the web's to keep)
        del reader
        print(
            f"{'path':28} {'clients':>7} {'requests':>8} {'p50 ms':>8} {'p99 ms':>8} "
            f"{'x base p50':>10} {'built':>6} {'loop lag p99/max ms':>26}"
        )
        scheduler = Scheduler(zk_args)
        scheduler.start()
        for clients, floor in ((1, 20.0), (100, 200.0)):
            b50 = 0.0
            for label, path in (
                ("/api/info (baseline)", "/api/info"),
                ("same bytes, fixed (baseline)", "/bench/kept-bytes"),
            ):
                lag = LoopLag()
                lag.start()
                base_times = await measure(pool, base + path, clients, args.seconds)
                base_lags = lag.stop()
                b50 = b50 or _pct(base_times, 0.5)
                print(
                    f"{label:28} {clients:>7} {len(base_times):>8} "
                    f"{_pct(base_times, 0.5):8.1f} {_pct(base_times, 0.99):8.1f} "
                    f"{_pct(base_times, 0.5) / b50:10.1f} {'':>6} {base_lags:>26}"
                )
            builds_before, changes_before = context.status.builds, scheduler.changes
            made_before = getattr(context.status, "templates_made", 0)
            lag = LoopLag()
            lag.start()
            started = time.perf_counter()
            times = await measure(pool, f"{base}/api/tenant/{TENANT}/status", clients, args.seconds)
            seconds = time.perf_counter() - started
            lags = lag.stop()
            built = context.status.builds - builds_before
            made = getattr(context.status, "templates_made", 0) - made_before
            changes = scheduler.changes - changes_before
            p50, p99 = _pct(times, 0.5), _pct(times, 0.99)
            over = p99 > floor
            failures += over
            print(
                f"{'/api/tenant/t/status':28} {clients:>7} {len(times):>8} {p50:8.1f} "
                f"{p99:8.1f} {p50 / b50:10.1f} {built:>6} "
                f"{lags:>26}"
                f"{f'  OVER {floor:.0f} ms' if over else ''}"
                f"   ({built} builds for {changes} changes in {seconds:.1f} s, "
                f"{made} item entries encoded)"
            )
        scheduler.stop.set()
        scheduler.join()
    finally:
        pool.shutdown()
        await runner.cleanup()
        context.status.close()
        cluster.close()
    return failures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=10.0, help="per measurement")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-status-"))
    zk_env = start_tls_server(root / "zk")
    db = Database(f"sqlite:///{root}/history.db")
    try:
        client = zk_env.client(CHROOT)
        client.connect(timeout=15)
        start = time.perf_counter()
        fill_zk(client, args.items)
        db.upgrade()
        fill_history(db)
        print(
            f"{args.items} items x {len(JOBS)} jobs in {len(PIPELINES)} pipelines written "
            f"in {time.perf_counter() - start:.1f} s"
        )
        zk_args = {
            "hosts": zk_env.server.hosts,
            "tls_ca": str(zk_env.tls.client.ca),
            "tls_cert": str(zk_env.tls.client.cert),
            "tls_key": str(zk_env.tls.client.key),
            "chroot": CHROOT,
        }
        failures = asyncio.run(run(client, zk_args, db, args))
        client.disconnect()
    finally:
        db.close()
        zk_env.server.stop()
        shutil.rmtree(root, ignore_errors=True)
    print("floors met" if not failures else f"{failures} floors missed")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
