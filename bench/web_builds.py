"""The builds and buildsets lists over 1,000,000 builds in PostgreSQL: how long
the first page and filtered pages take through the web API.

A real PostgreSQL server (``tests.fixtures.postgres``: initdb, loopback,
fsync off) gets Lockgate's schema as of migration 0002 and is filled with
SQL ``generate_series``: ``--buildsets`` buildsets (default 200,000) of 5
builds each, one change ref each, over 200 projects, 2 branches, 10
pipelines, 50 jobs, 10 nodesets, 3 tenants (9 in 10 buildsets in the one
asked about, 1 in 1,000 in a small one), mostly SUCCESS with some FAILURE
and rare NODE_FAILURE, a few held builds, two artifacts on one build in ten
and a provides on one in 25.  Then the later migrations run on those rows
(timed: what upgrading a database of that size costs), and ``VACUUM
ANALYZE`` settles the tables as autovacuum would.  The web app
(``lockgate.web.app``, served by ``WebRunner`` on loopback, as ``lockgate
web`` serves it) answers; one client asks each page ``--rounds`` times.

Baseline, same run: ``/api/info`` (no database at all) — what HTTP and the
app cost alone.  Each line shows p50/max in ms, the ratio of p50 to the
baseline's, and whether p50 is under the 50 ms floor.  The machine's load
average is printed before and after; ``--busy N`` keeps N processes
spinning on the CPU while pages are measured (a loaded machine, the same
in every run).  With ``--explain`` the plans of the pages' statements are
printed too.

    /opt/lockgate/bin/python -m bench.web_builds [--buildsets 200000] [--rounds 20] [--busy 4]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
from typing import Any

import aiohttp
import sqlalchemy as sa
from aiohttp import web
from lockgate.db import Database, migrate
from lockgate.model.tenant_state import TenantLayoutState
from lockgate.web.app import make_app
from lockgate.web.cluster import ClusterView
from lockgate.web.context import WebContext
from lockgate.web.http import WebRunner

from tests.fixtures.postgres import PostgresServer

TENANT = "bench"
SMALL_TENANT = "small"  # 1 buildset in 1,000
FLOOR_MS = 50.0
# The schema the rows are written for; the migrations after it then run on them.
FILL_REVISION = "0002"


class StaticCluster:
    """One published tenant and nothing queued: the bench is about SQL."""

    def connected(self) -> bool:
        return True

    def tenant_names(self) -> list[str]:
        return [TENANT, SMALL_TENANT]

    def tenant_layout(self, tenant: str) -> TenantLayoutState | None:
        return TenantLayoutState(tenant=tenant) if tenant in self.tenant_names() else None

    def pipeline_status(self, layout: TenantLayoutState) -> list[dict[str, Any]]:
        return []

    def event_queue_lengths(self, tenant: str) -> dict[str, int]:
        return {}


def fill(db: Database, buildsets: int) -> int:
    """``buildsets`` buildsets of 5 builds each, in the schema of
    ``FILL_REVISION``; returns the number of builds."""
    t = db.t
    n = buildsets
    statements = [
        f"""INSERT INTO {t.ref.name} (id, project, ref, ref_url, change, patchset, oldrev,
            newrev, branch)
        SELECT i, 'org/project-' || (i % 200), 'refs/changes/' || (i % 100) || '/' || i || '/1',
            '', i, '1', '', md5(i::text),
            CASE WHEN i % 10 = 0 THEN 'stable' ELSE 'master' END
        FROM generate_series(1, {n}) AS i""",
        f"""INSERT INTO {t.buildset.name} (id, uuid, tenant, pipeline, result, message,
            event_id, event_timestamp, first_build_start_time, last_build_end_time, updated)
        SELECT i, md5('bs' || i),
            CASE WHEN i % 10 = 3 THEN 'other' WHEN i % 1000 = 7 THEN '{SMALL_TENANT}'
                 ELSE '{TENANT}' END,
            'pipeline-' || (i % 10),
            CASE WHEN i % 11 = 0 THEN 'FAILURE' ELSE 'SUCCESS' END, 'Build succeeded.',
            md5('ev' || i), timestamp '2024-01-01' + i * interval '30 seconds',
            timestamp '2024-01-01' + i * interval '30 seconds',
            timestamp '2024-01-01' + i * interval '30 seconds' + interval '10 minutes',
            timestamp '2024-01-01' + i * interval '30 seconds' + interval '10 minutes'
        FROM generate_series(1, {n}) AS i""",
        f"""INSERT INTO {t.buildset_ref.name} (buildset_id, ref_id)
        SELECT i, i FROM generate_series(1, {n}) AS i""",
        f"""INSERT INTO {t.build.name} (id, buildset_id, ref_id, uuid, job_name, result,
            start_time, end_time, voting, log_url, error_detail, final, held, nodeset)
        SELECT (i - 1) * 5 + k, i, i, md5('b' || ((i - 1) * 5 + k)),
            'job-' || ((i * 5 + k) % 50),
            CASE WHEN ((i - 1) * 5 + k) % 997 = 0 THEN 'NODE_FAILURE'
                 WHEN ((i - 1) * 5 + k) % 13 = 0 THEN 'FAILURE' ELSE 'SUCCESS' END,
            timestamp '2024-01-01' + i * interval '30 seconds',
            timestamp '2024-01-01' + i * interval '30 seconds'
                + (60 + ((i - 1) * 5 + k) % 600) * interval '1 second',
            ((i - 1) * 5 + k) % 20 <> 0, 'http://logs.example/' || i || '/' || k || '/',
            NULL, true, ((i - 1) * 5 + k) % 50000 = 0, 'nodeset-' || (k % 10)
        FROM generate_series(1, {n}) AS i, generate_series(1, 5) AS k""",
        f"""INSERT INTO {t.artifact.name} (build_id, name, url, metadata)
        SELECT i, name, 'http://logs.example/' || i || '/' || name, '{{"type": "' || name || '"}}'
        FROM generate_series(10, {n * 5}, 10) AS i, (VALUES ('docs'), ('wheel')) AS a(name)""",
        f"""INSERT INTO {t.provides.name} (build_id, name)
        SELECT i, 'artifact-' || (i % 7) FROM generate_series(25, {n * 5}, 25) AS i""",
    ]
    with db.engine.begin() as conn:
        for sql in statements:
            conn.execute(sa.text(sql))
        for table in (t.ref, t.buildset, t.build, t.artifact, t.provides):
            conn.execute(
                sa.text(
                    f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                    f"(SELECT max(id) FROM {table.name}))"
                )
            )
    return n * 5


def settle(db: Database) -> None:
    """What autovacuum would do in a while: dead rows gone, statistics made."""
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM ANALYZE"))


def pages(n: int) -> list[tuple[str, str]]:
    """(label, path) of each page measured."""
    base = f"/api/tenant/{TENANT}"
    change = n - 17 if (n - 17) % 10 != 3 else n - 18
    return [
        ("baseline /api/info", "/api/info"),
        ("builds: first page", f"{base}/builds"),
        ("builds: small tenant's first page", f"/api/tenant/{SMALL_TENANT}/builds"),
        ("builds: page 100 (skip=5000)", f"{base}/builds?skip=5000"),
        ("builds: project", f"{base}/builds?project=org/project-7"),
        ("builds: project wildcard", f"{base}/builds?project=org/project-1*"),
        ("builds: job_name", f"{base}/builds?job_name=job-13"),
        ("builds: job_name wildcard", f"{base}/builds?job_name=job-4*"),
        ("builds: pipeline", f"{base}/builds?pipeline=pipeline-4"),
        ("builds: branch", f"{base}/builds?branch=stable"),
        ("builds: change", f"{base}/builds?change={change}"),
        ("builds: change+patchset", f"{base}/builds?change={change}&patchset=1"),
        ("builds: ref", f"{base}/builds?ref=refs/changes/5/{n - 95}/1"),
        ("builds: newrev", f"{base}/builds?newrev=" + _md5(n - 41)),
        ("builds: uuid", f"{base}/builds?uuid=" + _md5(f"b{n * 5 - 123}")),
        ("builds: result rare", f"{base}/builds?result=NODE_FAILURE"),
        ("builds: result FAILURE", f"{base}/builds?result=FAILURE"),
        ("builds: exclude_result", f"{base}/builds?exclude_result=SUCCESS"),
        ("builds: voting=false", f"{base}/builds?voting=false"),
        ("builds: held=true", f"{base}/builds?held=true"),
        ("builds: nodeset", f"{base}/builds?nodeset=nodeset-3"),
        ("builds: node_name", f"{base}/builds?node_name=nodeset-3"),
        ("builds: complete=false", f"{base}/builds?complete=false"),
        ("builds: final=true", f"{base}/builds?final=true"),
        ("builds: idx_max", f"{base}/builds?idx_max={n * 5 // 2}"),
        (
            "builds: project+job+result",
            f"{base}/builds?project=org/project-7&job_name=job-37&result=SUCCESS",
        ),
        ("builds: project+job, none", f"{base}/builds?project=org/project-7&job_name=job-13"),
        ("builds: pipeline+job", f"{base}/builds?pipeline=pipeline-4&job_name=job-23"),
        # Job 13 never runs in pipeline 4: none among the job's 20,000 builds.
        ("builds: pipeline+job, none", f"{base}/builds?pipeline=pipeline-4&job_name=job-13"),
        ("builds: project+branch", f"{base}/builds?project=org/project-7&branch=master"),
        ("builds: project+branch, none", f"{base}/builds?project=org/project-7&branch=stable"),
        ("builds: project+pipeline", f"{base}/builds?project=org/project-7&pipeline=pipeline-7"),
        (
            "builds: project+pipeline, none",
            f"{base}/builds?project=org/project-7&pipeline=pipeline-4",
        ),
        (
            "builds: change+job",
            f"{base}/builds?change={change}&job_name=job-{(change * 5 + 1) % 50}",
        ),
        ("buildsets: first page", f"{base}/buildsets"),
        ("buildsets: small tenant's first page", f"/api/tenant/{SMALL_TENANT}/buildsets"),
        ("buildsets: project", f"{base}/buildsets?project=org/project-7"),
        ("buildsets: change", f"{base}/buildsets?change={change}"),
        ("buildsets: pipeline", f"{base}/buildsets?pipeline=pipeline-4"),
        ("buildsets: result", f"{base}/buildsets?result=FAILURE"),
        ("buildsets: branch", f"{base}/buildsets?branch=stable"),
        (
            "buildsets: project+pipeline",
            f"{base}/buildsets?project=org/project-7&pipeline=pipeline-7",
        ),
        (
            "buildsets: project+pipeline, none",
            f"{base}/buildsets?project=org/project-7&pipeline=pipeline-4",
        ),
        ("buildsets: project+result", f"{base}/buildsets?project=org/project-7&result=FAILURE"),
        ("buildsets: pipeline+result", f"{base}/buildsets?pipeline=pipeline-4&result=FAILURE"),
        ("buildsets: branch+result", f"{base}/buildsets?branch=stable&result=FAILURE"),
        ("build-times: job_name", f"{base}/build-times?job_name=job-13"),
        ("build-times: project", f"{base}/build-times?project=org/project-7"),
        ("build-times: project+job", f"{base}/build-times?project=org/project-7&job_name=job-37"),
        ("badge: project", f"{base}/badge?project=org/project-7"),
    ]


def _md5(value: Any) -> str:
    import hashlib

    return hashlib.md5(str(value).encode()).hexdigest()


async def measure(port: int, path: str, rounds: int) -> tuple[list[float], int, int]:
    times = []
    async with aiohttp.ClientSession() as session:
        status, count = 0, 0
        for _ in range(rounds + 1):
            start = time.perf_counter()
            async with session.get(f"http://127.0.0.1:{port}{path}") as reply:
                body = await reply.read()
                status = reply.status
            times.append((time.perf_counter() - start) * 1000)
            if reply.content_type == "application/json":
                data = await reply.json() if body else None
                count = len(data) if isinstance(data, list) else 1
            else:
                count = 1
    return times[1:], status, count  # the first round warms the caches


async def run(db: Database, n: int, rounds: int) -> int:
    context = WebContext(db=db, cluster=ClusterView(StaticCluster(), ttl=60.0))
    runner = WebRunner(make_app(context), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = int(runner.addresses[0][1])
    failures = 0
    try:
        baseline = None
        print(f"{'page':36} {'status':>6} {'rows':>5} {'p50 ms':>8} {'max ms':>8} {'x base':>7}")
        for label, path in pages(n):
            times, status, count = await measure(port, path, rounds)
            p50 = statistics.median(times)
            if baseline is None:
                baseline = p50
            over = p50 > FLOOR_MS
            failures += over or status != 200
            print(
                f"{label:36} {status:>6} {count:>5} {p50:8.1f} {max(times):8.1f} "
                f"{p50 / baseline:7.1f}{'  OVER 50 ms' if over else ''}"
            )
    finally:
        await runner.cleanup()
        context.cluster.close()
    return failures


def show_plans(db: Database) -> None:
    """``EXPLAIN ANALYZE`` of the first statement each of some pages makes."""
    from lockgate.db.reads import Reader

    cases: dict[str, tuple[str, dict[str, Any]]] = {
        "builds: first page": ("find_builds", {}),
        "builds: project": ("find_builds", {"project": "org/project-7"}),
        "builds: job_name": ("find_builds", {"job_name": "job-13"}),
        "builds: result rare": ("find_builds", {"result": "NODE_FAILURE"}),
        "builds: project+job+result": (
            "find_builds",
            {"project": "org/project-7", "job_name": "job-37", "result": "SUCCESS"},
        ),
        "builds: pipeline+job, none": (
            "find_builds",
            {"pipeline": "pipeline-4", "job_name": "job-13"},
        ),
        "builds: project+pipeline, none": (
            "find_builds",
            {"project": "org/project-7", "pipeline": "pipeline-4"},
        ),
        "buildsets: project": ("find_buildsets", {"project": "org/project-7"}),
        "buildsets: project+pipeline, none": (
            "find_buildsets",
            {"project": "org/project-7", "pipeline": "pipeline-4"},
        ),
        "build-times: project": ("build_times", {"project": "org/project-7"}),
    }
    engine = getattr(db, "read_engine", db.engine)
    with engine.connect() as conn:
        reader = Reader(conn, db.t)
        for label, (method, filters) in cases.items():
            captured: list[str] = []

            def capture(
                conn: Any,
                cursor: Any,
                statement: str,
                params: Any,
                *_: Any,
                out: list[str] = captured,
            ) -> None:
                if not out:
                    out.append(cursor.mogrify(statement, params).decode())

            sa.event.listen(engine, "before_cursor_execute", capture)
            try:
                getattr(reader, method)(TENANT, **filters)
            finally:
                sa.event.remove(engine, "before_cursor_execute", capture)
            plan = conn.execute(sa.text("EXPLAIN ANALYZE " + captured[0])).scalars().all()
            print(f"\n-- {label}\n" + "\n".join(plan))


def load_average() -> str:
    return "load average " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


def spin(count: int) -> list[subprocess.Popen[bytes]]:
    """``count`` processes each keeping a CPU busy until stopped."""
    return [
        subprocess.Popen([sys.executable, "-c", "while True: pass"], stdin=subprocess.DEVNULL)
        for _ in range(count)
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--buildsets", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--explain", action="store_true")
    parser.add_argument(
        "--busy", type=int, default=0, help="processes spinning on the CPU while measuring"
    )
    args = parser.parse_args()
    server = PostgresServer.start()
    spinning: list[subprocess.Popen[bytes]] = []
    try:
        name = server.create_database()
        db = Database(server.dburi(name))
        migrate.upgrade(db.engine, revision=FILL_REVISION)
        start = time.perf_counter()
        builds = fill(db, args.buildsets)
        print(
            f"PostgreSQL: {builds:,} builds in {args.buildsets:,} buildsets "
            f"(filled in {time.perf_counter() - start:.0f} s)"
        )
        start = time.perf_counter()
        db.upgrade()
        print(
            f"migrations {FILL_REVISION} -> {migrate.head_revision()} on those rows: "
            f"{time.perf_counter() - start:.0f} s ({load_average()})"
        )
        start = time.perf_counter()
        settle(db)
        print(f"VACUUM ANALYZE: {time.perf_counter() - start:.0f} s")
        spinning = spin(args.busy)
        print(f"{args.busy} processes spinning; {load_average()}")
        failures = asyncio.run(run(db, args.buildsets, args.rounds))
        print(load_average())
        for proc in spinning:
            proc.kill()
            proc.wait()
        spinning = []
        if args.explain:
            show_plans(db)
        db.close()
    finally:
        for proc in spinning:
            proc.kill()
            proc.wait()
        server.stop()
    print(f"{'all pages under' if not failures else f'{failures} pages over'} {FLOOR_MS:.0f} ms")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
