"""Scenario 24 of the gate: a scheduler killed with SIGKILL while three
changes are gated (the first failing) and started again, three times over,
ends as one that was never killed: the second and third merge once each,
the first is reported once and stays open, and no job ran twice for the
same state.  The scheduler is a real process (``python -m
lockgate.scheduler``); the merger runs in the test, the launcher and
executor are played by hand.  The pure crash test
(tests/unit/scheduler/test_gate_crash.py) kills it after every kind of side
effect; this one checks the same through ZooKeeper, SQL and Gerrit."""

from __future__ import annotations

from collections import Counter

import pytest
from lockgate.db import Database

from tests.fixtures.gerrit.fixture import gerrit  # noqa: F401
from tests.fixtures.waiting import wait_for
from tests.integration.scheduler.harness import (
    SchedulerProcess,
    build_requests,
    complete_build,
    fulfil_node_requests,
    review_site_config,
)
from tests.integration.scheduler.test_gerrit_gate import APP, CONFIG, MAIN_YAML


@pytest.fixture
def site(tmp_path, upstream, zk_server, zk_chroot, zk_client, gerrit):  # noqa: F811
    from lockgate.executor.merger import MergeServer
    from lockgate.git import RepoCache
    from lockgate.git.merge_runner import MergeRunner

    (tmp_path / "main.yaml").write_text(MAIN_YAML)
    upstream.create("config", {"zuul.yaml": CONFIG, "playbooks/base.yaml": "- hosts: all\n"})
    gerrit.control.create_project("org/app", {".zuul.yaml": APP, "README": "app\n"})
    connection = gerrit.zuul_conf_text().replace("keepalive=0", "keepalive=0\nevent_delay=0")
    config = review_site_config(tmp_path, zk_server, zk_chroot, upstream, connection)
    merger = MergeServer(
        zk_client,
        MergeRunner(RepoCache(tmp_path / "merger-git"), tmp_path / "merger-work"),
        "test-merger",
    )
    merger.start()
    scheduler = SchedulerProcess(tmp_path / "scheduler.conf", tmp_path / "scheduler.log")
    try:
        yield zk_client, gerrit, scheduler, config
    finally:
        if scheduler.proc is not None:
            scheduler.terminate()
        merger.stop()


def _requested(client) -> dict[str, object]:  # noqa: ANN001
    fulfil_node_requests(client)
    return {
        r.zuul_vars["change"]: r
        for r in build_requests(client)
        if r.state.value == "requested" and "change" in r.zuul_vars
    }


def _restart(scheduler: SchedulerProcess) -> None:
    scheduler.kill()
    scheduler.start()


def test_a_scheduler_killed_during_a_gate_reset_ends_the_same(site):
    client, gerrit_, scheduler, config = site
    c = gerrit_.control
    scheduler.start()
    wait_for(lambda: c.stream_status()["subscribers"], 60, "the scheduler's event stream")
    changes = [
        c.create_change("org/app", {f"k{i}.txt": f"{i}\n"}, f"Change {i}") for i in (1, 2, 3)
    ]
    bad, second, third = (str(ch["number"]) for ch in changes)
    for ch in changes:
        c.approve(ch["number"])
    first_builds = wait_for(
        lambda: (r := _requested(client)) and {bad, second, third} <= set(r) and r,
        120,
        "three builds",
    )
    _restart(scheduler)  # killed with every build requested
    complete_build(client, first_builds[bad].uuid, "FAILURE")
    _restart(scheduler)  # killed as the failure arrives, before or after it is taken

    def rebuilt(number: str, steps: list[int]):  # noqa: ANN202
        def find():  # noqa: ANN202
            new = _requested(client).get(number)
            if new is None or new.uuid == first_builds[number].uuid:
                return None
            return new if [s.number for s in new.project.steps] == steps else None

        return find

    second_build = wait_for(rebuilt(second, [int(second)]), 120, "the second's new build")
    third_build = wait_for(
        rebuilt(third, [int(second), int(third)]), 120, "the third's new build on the second"
    )
    complete_build(client, second_build.uuid, "SUCCESS")
    _restart(scheduler)  # killed as the second's success arrives
    complete_build(client, third_build.uuid, "SUCCESS")
    for n in (second, third):
        wait_for(lambda n=n: c.change(int(n))["status"] == "MERGED", 120, f"{n} merged")
    wait_for(
        lambda: [r for r in c.reviews(change=int(bad)) if r["account"] == "lockgate"],
        60,
        "the failing change's report",
    )
    assert c.change(int(bad))["status"] == "NEW"

    # Reported and merged once each: one vote per change, one submit each.
    mine = [r for r in c.reviews() if r["account"] == "lockgate"]
    kinds = Counter((r["change"], r["kind"], r["labels"].get("Verified")) for r in mine)
    assert kinds == Counter(
        {
            (int(bad), "review", -2): 1,
            (int(second), "review", 2): 1,
            (int(third), "review", 2): 1,
            (int(second), "submit", None): 1,
            (int(third), "submit", None): 1,
        }
    )
    # No job ran twice for one state: the failing change's one build, and
    # two for each of the others (on the failing change, then without it).
    db = Database.from_config(config)
    try:
        per_change = Counter()
        for build in db.get_builds("demo", limit=100):
            per_change[build.ref.change] += 1
    finally:
        db.close()
    assert per_change == Counter({int(bad): 1, int(second): 2, int(third): 2})
    assert scheduler.proc is not None and scheduler.proc.poll() is None
