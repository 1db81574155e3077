"""Many of each: two schedulers, executors, launchers and webs; one of each SIGKILLed.

One whole system (``lockgate up``'s ``System`` with ``replicas=2``: every
component twice, each copy with its own state directories and web port, one
ZooKeeper and one database) builds 20 pushes, each to its own project of
the git connection (polled), in the post pipeline: a trivial Ansible job on
a node of the local cloud.  Once the first five pushes are being built,
one component of each kind is SIGKILLed in turn, each holding work, and the
other fifteen are pushed while none has been replaced yet (the dead
processes' locks last their ZooKeeper sessions):

1. the scheduler that polls git (one does, under its event-source lock):
   the other takes over the poller and the tenant;
2. an executor running a build: the scheduler gives the build up (RETRY)
   and the other executor runs it again;
3. a launcher whose node that build runs on: the other adopts its nodes
   (deletes them once used) and makes every node after;
4. a web: the other answers the REST API.

Then every push must have been built and reported exactly once: one
buildset per commit, SUCCESS, one final build (a build lost with its
executor is a RETRY, not final), one report line in the schedulers' logs.
How long each takeover took is printed (``-s``); the deadlines are generous
bounds, not measurements.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
import sqlalchemy as sa
from lockgate.model.builds import BuildState
from lockgate.service_config import ServiceConfig
from lockgate.up import seed
from lockgate.zk import BuildRequestStore, NodeStore, list_components

from tests.fixtures.system import TENANT, LockgateSystem
from tests.fixtures.waiting import wait_for

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the local cloud needs root")

PUSHES = 20
POLLER_STARTED = "event source local started"
BASE_JOBS = "zuul.d/jobs.yaml"
BASE_PRE_RUN = "    pre-run: playbooks/base/pre.yaml\n"
PLAY = "- hosts: all\n  gather_facts: false\n  tasks:\n    - ansible.builtin.command: 'true'\n"
# The first batch's builds are still running when an executor is killed.
SLOW_PLAY = PLAY + "    - ansible.builtin.command: sleep 5\n"
BATCH = 5


def project_files(n: int) -> dict[str, str | bytes]:
    job = f"trivial-{n:02d}"
    return {
        ".zuul.yaml": (
            f"- job:\n    name: {job}\n    run: playbooks/run.yaml\n"
            f"- project:\n    post:\n      jobs: [{job}]\n"
        ),
        "playbooks/run.yaml": SLOW_PLAY if n < BATCH else PLAY,
    }


PROJECTS = {f"many/p{n:02d}": project_files(n) for n in range(PUSHES)}


def config_files() -> dict[str, str | bytes]:
    """The stock config project, its base job without the pre-run that
    copies the source to the node: a trivial job needs nothing of it."""
    files = seed.config_project_files()
    jobs = files[BASE_JOBS]
    text = jobs.decode() if isinstance(jobs, bytes) else jobs
    assert BASE_PRE_RUN in text
    files[BASE_JOBS] = text.replace(BASE_PRE_RUN, "")
    return files


@pytest.fixture
def lockgate(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LockgateSystem]:
    system = LockgateSystem(
        tmp_path_factory.mktemp("lockgate-replicas"),
        PROJECTS,
        review_projects={},
        replicas=2,
        config_files=config_files(),
    )
    try:
        system.start()
        yield system
    finally:
        system.stop()


# --- looking at it ------------------------------------------------------------------------


def session_timeout(system: LockgateSystem) -> float:
    config = ServiceConfig.load(system.system.state.config_file)
    return config.section("zookeeper").get_float("session_timeout", 10.0) or 10.0


def sql(system: LockgateSystem, query: str, **params: Any) -> list[dict[str, Any]]:
    dburi = ServiceConfig.load(system.system.state.config_file).section("database").get("dburi")
    engine = sa.create_engine(str(dburi))
    try:
        with engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(sa.text(query), params)]
    finally:
        engine.dispose()


def buildsets(system: LockgateSystem) -> dict[str, list[dict[str, Any]]]:
    """newrev -> its post buildsets (uuid, result)."""
    rows = sql(
        system,
        "SELECT r.newrev, s.uuid, s.result FROM lockgate_buildset s "
        "JOIN lockgate_buildset_ref sr ON sr.buildset_id = s.id "
        "JOIN lockgate_ref r ON sr.ref_id = r.id WHERE s.pipeline = 'post'",
    )
    out: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        out.setdefault(row["newrev"], []).append(row)
    return out


def builds(system: LockgateSystem) -> dict[str, list[dict[str, Any]]]:
    """newrev -> its build rows (job, result, final)."""
    rows = sql(
        system,
        "SELECT r.newrev, b.uuid, b.job_name, b.result, b.final FROM lockgate_build b "
        "JOIN lockgate_ref r ON b.ref_id = r.id ORDER BY b.id",
    )
    out: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        out.setdefault(row["newrev"], []).append(row)
    return out


def all_builds(system: LockgateSystem) -> list[dict[str, Any]]:
    return [row for rows in builds(system).values() for row in rows]


def component_name(system: LockgateSystem, copy: str, pattern: str) -> str:
    """A copy's name in the component registry, from its own log."""
    found = wait_for(
        lambda: re.search(pattern, system.component(copy).log_path.read_text(errors="replace")),
        timeout=10,
        what=f"{copy}'s name in its log",
    )
    return found.group(1)


def build_requests(system: LockgateSystem) -> list[Any]:
    assert system.system.client is not None
    return [v.record for v in BuildRequestStore(system.system.client).list()]


def nodes(system: LockgateSystem) -> list[Any]:
    assert system.system.client is not None
    return [v.record for v in NodeStore(system.system.client).list()]


def log_text(system: LockgateSystem, copy: str) -> str:
    return system.component(copy).log_path.read_text(errors="replace")


def logged_at(system: LockgateSystem, copy: str, text: str) -> float | None:
    """When ``copy`` first logged a line with ``text`` (wall clock), or None."""
    for line in log_text(system, copy).splitlines():
        if text in line:
            return datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f").timestamp()
    return None


def report(label: str, seconds: float) -> None:
    print(f"\n{label}: {seconds:.1f} s")


def push_batch(system: LockgateSystem, projects: list[str], pushed: dict[str, str]) -> None:
    for project in projects:
        pushed[project] = system.push(project, {"change.txt": project})


# --- the test -------------------------------------------------------------------------------


def test_two_of_each_one_of_each_killed(lockgate: LockgateSystem) -> None:
    began = time.monotonic()
    timeout = session_timeout(lockgate)
    assert lockgate.system.client is not None
    for kind in ("scheduler", "executor", "launcher"):
        assert len(list_components(lockgate.system.client, kind)) == 2, kind
    # Exactly one scheduler polls the git connection.
    pollers = wait_for(
        lambda: [
            c for c in ("scheduler", "scheduler-2") if POLLER_STARTED in log_text(lockgate, c)
        ],
        timeout=30,
        what="a scheduler to poll git",
    )
    assert len(pollers) == 1, pollers
    executors = {
        component_name(lockgate, copy, r"executor (\S+) started"): copy
        for copy in ("executor", "executor-2")
    }
    launchers = {
        component_name(lockgate, copy, r"launcher (\S+) running with providers"): copy
        for copy in ("launcher", "launcher-2")
    }
    batches = [sorted(PROJECTS)[i : i + BATCH] for i in range(0, PUSHES, BATCH)]
    pushed: dict[str, str] = {}
    push_batch(lockgate, batches[0], pushed)

    # One of each dies in turn, each holding work: the scheduler polling git,
    # an executor running a build, a launcher with nodes, a web.
    poller = pollers[0]
    survivor = "scheduler-2" if poller == "scheduler" else "scheduler"
    running = wait_for(
        lambda: [
            r
            for r in build_requests(lockgate)
            if r.state is BuildState.RUNNING and r.worker in executors
        ],
        timeout=120,
        what="a running build",
    )
    victim = running[0].worker
    (dead_launcher,) = {
        n.provider_data.get("launcher") for n in nodes(lockgate) if n.id in running[0].node_ids
    }
    assert dead_launcher in launchers
    killed_at: dict[str, float] = {}
    for kind, copy in (
        ("scheduler", poller),
        ("executor", executors[victim]),
        ("launcher", launchers[dead_launcher]),
        ("web", "web"),
    ):
        killed_at[kind] = time.time()
        lockgate.kill(copy)
    # What the executor was running when it died (read after: it changes
    # nothing now).
    lost = {
        r.uuid
        for r in build_requests(lockgate)
        if r.worker == victim and r.state is BuildState.RUNNING
    }
    assert lost
    web_2 = lockgate.system.replica_web_url(2)
    assert lockgate.api_at(web_2, "/api/info")
    # The other pushes come while nothing has been taken over yet (the dead
    # processes' locks last their ZooKeeper sessions).
    for batch in batches[1:]:
        push_batch(lockgate, batch, pushed)

    # The other scheduler takes over the poller (and the tenant) ...
    polling_at = wait_for(
        lambda: logged_at(lockgate, survivor, POLLER_STARTED),
        timeout=3 * timeout + 30,
        what="the surviving scheduler to take over the git poller",
    )
    report(
        f"scheduler: {survivor} polls git, after {poller} was killed",
        polling_at - killed_at["scheduler"],
    )
    # ... gives the dead executor's builds up (RETRY, not final), which the
    # other executor runs again ...
    wait_for(
        lambda: any(r["uuid"] in lost and r["result"] == "RETRY" for r in all_builds(lockgate)),
        timeout=3 * timeout + 30,
        what="a build of the dead executor marked RETRY",
    )
    report(
        f"executor: a build of {executors[victim]} given up as lost",
        time.time() - killed_at["executor"],
    )
    # ... and the other launcher adopts the dead one's nodes (it deletes
    # them once used) and makes every node after.
    wait_for(
        lambda: all(n.provider_data.get("launcher") != dead_launcher for n in nodes(lockgate)),
        timeout=3 * timeout + 30,
        what="the dead launcher's nodes to be adopted",
    )
    report(
        f"launcher: the nodes of {launchers[dead_launcher]} adopted",
        time.time() - killed_at["launcher"],
    )

    def finished() -> bool:
        lockgate.check_alive()
        found = buildsets(lockgate)
        return all(any(s["result"] for s in found.get(newrev, [])) for newrev in pushed.values())

    wait_for(finished, timeout=240, what="every push's buildset to be reported", interval=0.5)
    report("all 20 pushes built and reported, from the first push", time.monotonic() - began)

    # Exactly once: one buildset per push, reported SUCCESS, one final build
    # (the others RETRY: lost with their executor), one report.
    found_sets, found_builds = buildsets(lockgate), builds(lockgate)
    reports = log_text(lockgate, "scheduler") + log_text(lockgate, "scheduler-2")
    for project, newrev in pushed.items():
        sets = found_sets.get(newrev, [])
        assert len(sets) == 1, (project, sets)
        assert sets[0]["result"] == "SUCCESS", (project, sets, found_builds.get(newrev))
        rows = found_builds.get(newrev, [])
        final = [r for r in rows if r["final"] in (None, True, 1)]
        assert len(final) == 1, (project, rows)
        assert final[0]["result"] == "SUCCESS", (project, rows)
        assert all(r["result"] == "RETRY" for r in rows if r not in final), (project, rows)
        assert reports.count(f"Reported {project} refs/heads/main {newrev[:12]}") == 1, project
    # Every node is gone, the dead launcher's too (deleted by the one that adopted them).
    wait_for(lambda: not nodes(lockgate), timeout=60, what="every node to be deleted")
    # The surviving web answers with every build.
    api = lockgate.api_at(web_2, f"/api/tenant/{TENANT}/builds?pipeline=post&limit=100")
    assert {b["ref"]["newrev"] for b in api} >= set(pushed.values())
