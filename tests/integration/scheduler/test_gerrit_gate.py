"""The gate for Gerrit changes, through the real parts the scheduler meets:
the Gerrit driver against the Gerrit emulator, the real merger, a real
ZooKeeper (TLS) and SQLite; the launcher and executor played by hand.
Changes approved together are tested speculatively and submitted in order
into the emulator's branch; a queued change whose approval is removed, that
is abandoned or gets a Code-Review -2 leaves with a report naming why."""

from __future__ import annotations

import pytest
from lockgate.zk.pipelines import PipelineStore

from tests.fixtures.gerrit.fixture import gerrit  # noqa: F401
from tests.fixtures.waiting import wait_for
from tests.integration.scheduler.harness import (
    build_requests,
    complete_build,
    fulfil_node_requests,
    review_site_config,
    scheduler_with_merger,
)

MAIN_YAML = """
- tenant:
    name: demo
    source:
      git:
        config-projects: [config]
      gerrit:
        untrusted-projects: [org/app]
"""

CONFIG = """
- pipeline:
    name: gate
    manager: dependent
    require:
      gerrit:
        open: true
        current-patchset: true
        approval:
          - Workflow: 1
    reject:
      gerrit:
        approval:
          - Code-Review: -2
    trigger:
      gerrit:
        - event: comment-added
          approval:
            - Workflow: 1
    success:
      gerrit:
        Verified: 2
        submit: true
    failure:
      gerrit:
        Verified: -2
    dequeue:
      gerrit: {}
- nodeset:
    name: single
    nodes:
      - name: node
        label: ubuntu
- job:
    name: base
    parent: null
    nodeset: single
    run: playbooks/base.yaml
"""

APP = """
- job:
    name: unit
- project:
    gate:
      jobs: [unit]
"""


@pytest.fixture
def running(tmp_path, upstream, zk_server, zk_chroot, zk_client, gerrit):  # noqa: F811
    """The scheduler (in a thread, with a real merger), its config project's
    work tree and the emulator."""
    (tmp_path / "main.yaml").write_text(MAIN_YAML)
    config_tree = upstream.create(
        "config", {"zuul.yaml": CONFIG, "playbooks/base.yaml": "- hosts: all\n"}
    )
    gerrit.control.create_project("org/app", {".zuul.yaml": APP, "README": "app\n"})
    connection = gerrit.zuul_conf_text().replace("keepalive=0", "keepalive=0\nevent_delay=0")
    config = review_site_config(tmp_path, zk_server, zk_chroot, upstream, connection)
    with scheduler_with_merger(tmp_path, config, zk_client) as sched:
        wait_for(lambda: gerrit.control.stream_status()["subscribers"], 30, "the event stream")
        yield zk_client, gerrit, sched, config_tree


@pytest.fixture
def system(running):
    client, gerrit_, _sched, _config = running
    return client, gerrit_


def requested(client):  # noqa: ANN001, ANN201
    fulfil_node_requests(client)
    return {
        r.zuul_vars["change"]: r
        for r in build_requests(client)
        if r.state.value == "requested" and "change" in r.zuul_vars
    }


def test_three_approved_changes_are_tested_together_and_merge_in_order(system):
    client, gerrit_ = system
    c = gerrit_.control
    changes = [
        c.create_change("org/app", {f"f{i}.txt": f"{i}\n"}, f"Change {i}") for i in (1, 2, 3)
    ]
    numbers = [str(ch["number"]) for ch in changes]
    for ch in changes:
        c.approve(ch["number"])
    builds = wait_for(
        lambda: (r := requested(client)) and set(numbers) <= set(r) and r, 90, "three builds"
    )
    # Each is tested on the ones ahead of it.
    steps = {n: [s.number for s in builds[n].project.steps] for n in numbers}
    assert steps[numbers[1]] == [int(numbers[0]), int(numbers[1])]
    assert steps[numbers[2]] == [int(n) for n in numbers]
    # Finishing in reverse order still merges in queue order.
    for n in reversed(numbers):
        complete_build(client, builds[n].uuid, "SUCCESS")
    for ch in changes:
        wait_for(lambda n=ch["number"]: c.change(n)["status"] == "MERGED", 60, f"{n} merged")
    merged = [c.change(ch["number"])["merged_revision"] for ch in changes]
    assert all(merged)
    mine = [r for r in c.reviews() if r["account"] == "lockgate"]
    # Each change: Verified +2 with the report, then the submit, in queue order.
    assert [(r["kind"], r["change"], r["labels"].get("Verified")) for r in mine] == [
        (kind, int(n), vote) for n in numbers for kind, vote in (("review", 2), ("submit", None))
    ]


def test_a_failing_change_is_removed_and_the_ones_behind_merge(system):
    client, gerrit_ = system
    c = gerrit_.control
    changes = [
        c.create_change("org/app", {f"g{i}.txt": f"{i}\n"}, f"Change {i}") for i in (1, 2, 3)
    ]
    first, bad, third = (str(ch["number"]) for ch in changes)
    for ch in changes:
        c.approve(ch["number"])
    builds = wait_for(
        lambda: (r := requested(client)) and {first, bad, third} <= set(r) and r, 90, "builds"
    )
    complete_build(client, builds[bad].uuid, "FAILURE")

    # The third restarts on the first alone (the failing one left the chain).
    def restarted():  # noqa: ANN202
        new = requested(client).get(third)
        return new if new is not None and new.uuid != builds[third].uuid else None

    rebuilt = wait_for(restarted, 90, "the third change's new build")
    assert [s.number for s in rebuilt.project.steps] == [int(first), int(third)]
    complete_build(client, builds[first].uuid, "SUCCESS")
    complete_build(client, rebuilt.uuid, "SUCCESS")
    for n in (first, third):
        wait_for(lambda n=n: c.change(int(n))["status"] == "MERGED", 60, f"{n} merged")
    assert c.change(int(bad))["status"] == "NEW"
    bad_votes = wait_for(
        lambda: [r for r in c.reviews(change=int(bad)) if r["account"] == "lockgate"],
        60,
        "the failing change's report",
    )
    assert bad_votes[-1]["labels"] == {"Verified": -2}


def lockgate_messages(c, number: int) -> list[str]:  # noqa: ANN001
    return [r.get("message") or "" for r in c.reviews(change=number) if r["account"] == "lockgate"]


def build_of(client, uuid: str):  # noqa: ANN001, ANN201
    return next((b for b in build_requests(client) if b.uuid == uuid), None)


def test_removing_the_approval_dequeues_and_the_change_behind_restarts(system):
    client, gerrit_ = system
    c = gerrit_.control
    changes = [
        c.create_change("org/app", {f"h{i}.txt": f"{i}\n"}, f"Change {i}") for i in (1, 2, 3)
    ]
    first, second, third = (str(ch["number"]) for ch in changes)
    for ch in changes:
        c.approve(ch["number"])
    builds = wait_for(
        lambda: (r := requested(client)) and {first, second, third} <= set(r) and r, 90, "builds"
    )
    c.delete_vote(int(second), "Workflow", "admin")

    def restarted():  # noqa: ANN202
        new = requested(client).get(third)
        return new if new is not None and new.uuid != builds[third].uuid else None

    rebuilt = wait_for(restarted, 90, "the third change's new build")
    assert [s.number for s in rebuilt.project.steps] == [int(first), int(third)]
    # The dequeued change's build is canceled (or already gone).
    gone = build_of(client, builds[second].uuid)
    assert gone is None or gone.cancel_requested
    message = wait_for(
        lambda: [m for m in lockgate_messages(c, int(second)) if "requirements" in m],
        60,
        "the dequeue report",
    )[-1]
    assert "Workflow +1 is required" in message
    complete_build(client, builds[first].uuid, "SUCCESS")
    complete_build(client, rebuilt.uuid, "SUCCESS")
    for n in (first, third):
        wait_for(lambda n=n: c.change(int(n))["status"] == "MERGED", 60, f"{n} merged")
    assert c.change(int(second))["status"] == "NEW"


def test_abandon_and_code_review_minus_two_dequeue(system):
    client, gerrit_ = system
    c = gerrit_.control
    changes = [
        c.create_change("org/app", {f"k{i}.txt": f"{i}\n"}, f"Change {i}") for i in (1, 2, 3)
    ]
    first, second, third = (str(ch["number"]) for ch in changes)
    for ch in changes:
        c.approve(ch["number"])
    builds = wait_for(
        lambda: (r := requested(client)) and {first, second, third} <= set(r) and r, 90, "builds"
    )
    c.abandon(int(first), "not needed")
    c.vote(int(second), "Code-Review", -2)

    def alone():  # noqa: ANN202
        new = requested(client).get(third)
        if new is None or new.uuid == builds[third].uuid:
            return None
        return new if [s.number for s in new.project.steps] == [int(third)] else None

    rebuilt = wait_for(alone, 90, "the third change alone at the head")
    abandoned = wait_for(lambda: lockgate_messages(c, int(first)), 60, "the abandon report")
    assert "was abandoned" in abandoned[-1]
    rejected = wait_for(
        lambda: [m for m in lockgate_messages(c, int(second)) if "rejected" in m],
        60,
        "the Code-Review -2 report",
    )
    assert "Code-Review -2" in rejected[-1]
    complete_build(client, rebuilt.uuid, "SUCCESS")
    wait_for(lambda: c.change(int(third))["status"] == "MERGED", 60, "the third merged")
    assert c.change(int(second))["status"] == "NEW"


def test_approving_the_root_enqueues_the_approved_changes_behind_it(system):
    client, gerrit_ = system
    c = gerrit_.control
    root = c.create_change("org/app", {"root.txt": "r\n"}, "Root")["number"]
    child = c.create_change("org/app", {"child.txt": "c\n"}, "Child", parent_change=root)
    footer = f"Needs the root\n\nDepends-On: {gerrit_.baseurl}/{root}\n"
    other = c.create_change("org/app", {"other.txt": "o\n"}, footer)
    unapproved = c.create_change("org/app", {"u.txt": "u\n"}, "Unapproved", parent_change=root)
    # Approved while the root is not: they wait (nothing enqueued).
    c.approve(child["number"])
    c.approve(other["number"])
    c.vote(unapproved["number"], "Code-Review", 2)
    store = PipelineStore(client, "demo")
    # Their events were taken (and refused: the gate records every event it saw).
    wait_for(lambda: len(store.load("gate").state.seen) >= 2, 60, "the approvals processed")
    assert not requested(client)
    c.approve(root)
    numbers = [str(root), str(child["number"]), str(other["number"])]
    builds = wait_for(
        lambda: (r := requested(client)) and set(numbers) <= set(r) and r, 90, "three builds"
    )
    assert str(unapproved["number"]) not in builds
    # The root's approval brought both in behind it; the last is tested on all.
    assert [s.number for s in builds[numbers[2]].project.steps] == [int(n) for n in numbers]
    for n in numbers:
        complete_build(client, builds[n].uuid, "SUCCESS")
    for n in numbers:
        wait_for(lambda n=n: c.change(int(n))["status"] == "MERGED", 60, f"{n} merged")
    assert c.change(unapproved["number"])["status"] == "NEW"


LINT = """
- job:
    name: lint
- project:
    name: org/app
    gate:
      jobs: [lint]
"""


def test_reconfiguring_mid_gate_keeps_the_items_and_they_merge(running):
    """Scenario 20: the tenant is re-read (SIGHUP) with a new job while three
    changes are in the gate; they stay, keep the jobs they were frozen with,
    and merge; a change approved afterwards runs the new job too."""
    client, gerrit_, sched, config_tree = running
    c = gerrit_.control
    changes = [
        c.create_change("org/app", {f"r{i}.txt": f"{i}\n"}, f"Change {i}") for i in (1, 2, 3)
    ]
    numbers = [str(ch["number"]) for ch in changes]
    for ch in changes:
        c.approve(ch["number"])
    builds = wait_for(
        lambda: (r := requested(client)) and set(numbers) <= set(r) and r, 90, "three builds"
    )
    store = PipelineStore(client, "demo")
    before = store.load("gate")
    items_before = set(before.items)
    layout_before = before.state.layout_uuid
    config_tree.commit_and_push({"zuul.yaml": CONFIG + LINT})
    sched.request_reconfigure()
    wait_for(
        lambda: store.load("gate").state.layout_uuid not in (None, layout_before),
        60,
        "the gate to see the new layout",
    )
    after = store.load("gate")
    assert set(after.items) == items_before
    assert all([j.name for j in i.jobs] == ["unit"] for i in after.items.values())
    for n in numbers:
        complete_build(client, builds[n].uuid, "SUCCESS")
    for n in numbers:
        wait_for(lambda n=n: c.change(int(n))["status"] == "MERGED", 60, f"{n} merged")
    # The new layout applies to what comes next.
    later = c.create_change("org/app", {"later.txt": "l\n"}, "Later")["number"]
    c.approve(later)

    def later_jobs():  # noqa: ANN202
        fulfil_node_requests(client)
        return sorted(
            r.job.name for r in build_requests(client) if r.zuul_vars.get("change") == str(later)
        )

    wait_for(lambda: later_jobs() == ["lint", "unit"], 90, "the later change's two jobs")


APP_WITH_NEW_JOB = """
- job:
    name: unit
- job:
    name: new-job
- project:
    gate:
      jobs: [unit, new-job]
"""


def _jobs_of(client, number: int) -> list[str]:  # noqa: ANN001
    fulfil_node_requests(client)
    return sorted(
        r.job.name
        for r in build_requests(client)
        if r.zuul_vars.get("change") == str(number) and r.state.value == "requested"
    )


def test_a_change_adding_a_job_runs_it_in_the_gate_and_later_changes_too(system):
    """Scenario 21: the job a change adds runs in the gate before it merges;
    once merged, later changes run it; a change breaking .zuul.yaml is
    reported with the error and does not merge."""
    client, gerrit_ = system
    c = gerrit_.control
    adding = c.create_change("org/app", {".zuul.yaml": APP_WITH_NEW_JOB}, "Add new-job")["number"]
    c.approve(adding)
    wait_for(lambda: _jobs_of(client, adding) == ["new-job", "unit"], 90, "both jobs")
    for r in build_requests(client):
        if r.zuul_vars.get("change") == str(adding):
            complete_build(client, r.uuid, "SUCCESS")
    wait_for(lambda: c.change(adding)["status"] == "MERGED", 60, "the job's change merged")
    later = c.create_change("org/app", {"later.txt": "l\n"}, "Later")["number"]
    c.approve(later)
    wait_for(lambda: _jobs_of(client, later) == ["new-job", "unit"], 90, "the later change's jobs")
    for r in build_requests(client):
        if r.zuul_vars.get("change") == str(later):
            complete_build(client, r.uuid, "SUCCESS")
    wait_for(lambda: c.change(later)["status"] == "MERGED", 60, "the later change merged")

    broken = c.create_change(
        "org/app", {".zuul.yaml": "- job:\n    name: unit\n    parent: no-such-job\n"}, "Break"
    )["number"]
    c.approve(broken)
    message = wait_for(
        lambda: [m for m in lockgate_messages(c, broken) if "no-such-job" in m],
        90,
        "the configuration error report",
    )[-1]
    assert "no-such-job" in message
    votes = [r["labels"] for r in c.reviews(change=broken) if r["account"] == "lockgate"]
    assert votes[-1] == {"Verified": -2}
    assert c.change(broken)["status"] == "NEW"
    assert not _jobs_of(client, broken)
