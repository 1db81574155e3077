"""The check pipeline for Gerrit changes, through the real parts the
scheduler meets: the Gerrit driver against the Gerrit emulator (a separate
process speaking SSH, REST and git), the real merger serving merge requests
from ZooKeeper, a real ZooKeeper (TLS) and SQLite.  The launcher and the
executor are played by hand through their ZooKeeper stores."""

from __future__ import annotations

import pytest
from lockgate.zk.pipelines import read_pipelines
from lockgate.zk.queues import trigger_queue

from tests.fixtures.gerrit.fixture import gerrit  # noqa: F401
from tests.fixtures.waiting import wait_for
from tests.integration.scheduler.harness import (
    build_requests,
    complete_build,
    fulfil_node_requests,
    review_site_config,
    scheduler_with_merger,
    wait_build_request,
)

MAIN_YAML = """
- tenant:
    name: demo
    source:
      git:
        config-projects: [config]
      gerrit:
        untrusted-projects: [org/app, org/lib]
"""

CONFIG = r"""
- pipeline:
    name: check
    manager: independent
    require:
      gerrit:
        open: true
        current-patchset: true
    trigger:
      gerrit:
        - event: patchset-created
        - event: comment-added
          comment: (?i)^(Patch Set [0-9]+:)?( [\w\\+-]*)*(\n\n)?\s*recheck
    success:
      gerrit:
        Verified: 1
    failure:
      gerrit:
        Verified: -1
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
    required-projects: [org/lib]
- project:
    check:
      jobs: [unit]
"""


@pytest.fixture(params=["http"])
def site(request, tmp_path, upstream, zk_server, zk_chroot, zk_client, gerrit):  # noqa: F811
    """Gerrit reached as a zuul.conf says: with a password, REST and git over
    HTTP ("http"); without one, queries, reviews and git over SSH ("ssh")."""
    password = request.param != "ssh"
    timeout = "\ntimeout=2" if request.param == "http-short-timeout" else ""
    (tmp_path / "main.yaml").write_text(MAIN_YAML)
    upstream.create("config", {"zuul.yaml": CONFIG, "playbooks/base.yaml": "- hosts: all\n"})
    gerrit.control.create_project("org/app", {".zuul.yaml": APP, "README": "app\n"})
    gerrit.control.create_project("org/lib", {"README": "lib\n"})
    connection = gerrit.zuul_conf_text(password=password).replace(
        "keepalive=0", "keepalive=0\nevent_delay=0" + timeout
    )
    config = review_site_config(tmp_path, zk_server, zk_chroot, upstream, connection)
    return tmp_path, config, zk_client, gerrit


@pytest.fixture
def system(site):
    root, config, client, gerrit_ = site
    with scheduler_with_merger(root, config, client) as sched:
        yield sched, client, gerrit_


def reviews_by_lockgate(gerrit_, number):  # noqa: ANN001
    return [r for r in gerrit_.control.reviews(change=number) if r["account"] == "lockgate"]


@pytest.mark.parametrize("site", ["http", "ssh"], indirect=True)
def test_a_patchset_is_merged_tested_and_verified(system):
    sched, client, gerrit_ = system
    wait_for(lambda: gerrit_.control.stream_status()["subscribers"], 30, "the event stream")
    change = gerrit_.control.create_change("org/app", {"app.py": "x = 1\n"}, "Add app.py")
    fulfil = wait_for(lambda: fulfil_node_requests(client), 60, "a node request")
    assert fulfil
    build = wait_build_request(client, "unit", 60)
    # Tested as it will merge: the change merged onto master, replayable.
    assert build.project.steps and build.project.steps[0].number == change["number"]
    assert build.project.commit != change["revision"]
    assert build.zuul_vars["change"] == str(change["number"])
    assert build.zuul_vars["patchset"] == "1"
    lib = [r for r in build.repos if r.project == "org/lib"]
    assert lib and not lib[0].steps
    complete_build(client, build.uuid, "SUCCESS")
    review = wait_for(
        lambda: reviews_by_lockgate(gerrit_, change["number"]), 60, "Lockgate's vote"
    )[-1]
    assert review["labels"] == {"Verified": 1}
    assert "unit" in review["message"] and "SUCCESS" in review["message"]
    wait_for(lambda: not build_requests(client), 30, "the build request to be released")


def stream_ready(gerrit_) -> None:  # noqa: ANN001
    wait_for(lambda: gerrit_.control.stream_status()["subscribers"], 30, "the event stream")


def build_for(client, number: int, patchset: int = 1, timeout: float = 60):  # noqa: ANN001
    """Fulfil nodes until the build request of change ``number`` appears."""

    def find():  # noqa: ANN202
        fulfil_node_requests(client)
        for req in build_requests(client):
            zv = req.zuul_vars
            if zv.get("change") == str(number) and zv.get("patchset") == str(patchset):
                if req.state.value == "requested":
                    return req
        return None

    return wait_for(find, timeout, f"a build request for change {number},{patchset}")


def vote(gerrit_, number: int, count: int = 1):  # noqa: ANN001
    return wait_for(
        lambda: (r := reviews_by_lockgate(gerrit_, number)) and len(r) >= count and r[count - 1],
        60,
        f"Lockgate's review {count} of change {number}",
    )


def test_failure_votes_minus_one_and_recheck_runs_again(system):
    sched, client, gerrit_ = system
    stream_ready(gerrit_)
    change = gerrit_.control.create_change("org/app", {"a.py": "1\n"}, "A")
    complete_build(client, build_for(client, change["number"]).uuid, "FAILURE")
    assert vote(gerrit_, change["number"])["labels"] == {"Verified": -1}
    gerrit_.control.comment(change["number"], "recheck", account="alice")
    complete_build(client, build_for(client, change["number"]).uuid, "SUCCESS")
    assert vote(gerrit_, change["number"], 2)["labels"] == {"Verified": 1}


def test_a_new_patchset_dequeues_the_old_and_an_abandon_dequeues(system):
    sched, client, gerrit_ = system
    stream_ready(gerrit_)
    change = gerrit_.control.create_change("org/app", {"a.py": "1\n"}, "A")
    first = build_for(client, change["number"])
    gerrit_.control.new_patchset(change["number"], {"a.py": "2\n"})
    second = build_for(client, change["number"], 2)
    # The first patchset's build is asked to cancel (nobody runs it here:
    # its request is then released).
    wait_for(
        lambda: first.uuid not in {r.uuid for r in build_requests(client)}, 60, "release of ps 1"
    )
    gerrit_.control.abandon(change["number"], "not needed")
    wait_for(
        lambda: second.uuid not in {r.uuid for r in build_requests(client)}, 60, "release of ps 2"
    )
    wait_for(lambda: not any(read_pipelines(client, "demo")["check"][1]), 30, "an empty check")
    # Dequeued items report to nobody here (no dequeue reporters).
    assert not reviews_by_lockgate(gerrit_, change["number"])


def test_git_parent_and_cross_project_depends_on_are_tested_together(system):
    sched, client, gerrit_ = system
    stream_ready(gerrit_)
    # org/lib has no jobs in check: its change is not enqueued on its own.
    lib = gerrit_.control.create_change("org/lib", {"lib.py": "L = 1\n"}, "Lib change")
    base = gerrit_.control.create_change("org/app", {"base.py": "B\n"}, "Base")
    complete_build(client, build_for(client, base["number"]).uuid, "SUCCESS")
    top = gerrit_.control.create_change(
        "org/app",
        {"top.py": "T\n"},
        f"Top\n\nDepends-On: {gerrit_.baseurl}/c/org/lib/+/{lib['number']}",
        parent_change=base["number"],
    )
    build = build_for(client, top["number"])
    steps = [(s.project, s.number) for r in build.repos for s in r.steps]
    assert ("org/lib", lib["number"]) in steps
    assert [s.number for s in build.project.steps] == [base["number"], top["number"]]
    items = [(i["project"]["name"], i["change"]) for i in build.zuul_vars["items"]]
    # The git parent comes before the Depends-On change, the change itself last.
    assert items == [
        ("org/app", str(base["number"])),
        ("org/lib", str(lib["number"])),
        ("org/app", str(top["number"])),
    ]
    complete_build(client, build.uuid, "SUCCESS")
    assert vote(gerrit_, top["number"])["labels"] == {"Verified": 1}


def test_a_change_to_zuul_yaml_runs_the_jobs_it_proposes(system):
    sched, client, gerrit_ = system
    stream_ready(gerrit_)
    proposed = APP.replace("jobs: [unit]", "jobs: [unit, lint]") + "- job:\n    name: lint\n"
    change = gerrit_.control.create_change("org/app", {".zuul.yaml": proposed}, "Add lint")

    def both():  # noqa: ANN202
        fulfil_node_requests(client)
        names = {r.job.name for r in build_requests(client) if r.state.value == "requested"}
        return names >= {"unit", "lint"}

    wait_for(both, 60, "builds of unit and the proposed lint")
    for req in build_requests(client):
        complete_build(client, req.uuid, "SUCCESS")
    assert "lint" in vote(gerrit_, change["number"])["message"]


def test_a_broken_zuul_yaml_gets_minus_one_with_file_and_line(system):
    sched, client, gerrit_ = system
    stream_ready(gerrit_)
    broken = APP + "- job:\n    name: broken\n    runn: nothing.yaml\n"
    change = gerrit_.control.create_change("org/app", {".zuul.yaml": broken}, "Break it")
    review = vote(gerrit_, change["number"])
    assert review["labels"] == {"Verified": -1}
    assert ".zuul.yaml:" in review["message"] and "runn" in review["message"]
    assert review.get("comments", {}).get(".zuul.yaml"), review
    assert not build_requests(client)


def test_a_merge_conflict_is_reported_as_such(system):
    sched, client, gerrit_ = system
    stream_ready(gerrit_)
    base = gerrit_.control.push("org/app", {"other.txt": "x\n"})
    gerrit_.control.push("org/app", {"conflict.txt": "theirs\n"})
    change = gerrit_.control.create_change(
        "org/app", {"conflict.txt": "mine\n"}, "Conflicting", parent=base
    )
    review = vote(gerrit_, change["number"])
    assert review["labels"] == {"Verified": -1}
    assert "Merge failed" in review["message"] or "conflict" in review["message"].lower()


@pytest.mark.parametrize("site", ["http-short-timeout"], indirect=True)
def test_a_change_query_that_times_out_is_tried_again(system):
    sched, client, gerrit_ = system
    stream_ready(gerrit_)
    gerrit_.control.slow_queries(30)
    change = gerrit_.control.create_change("org/app", {"a.py": "1\n"}, "A")
    # The event came, its query timed out: it waits in the trigger queue.
    wait_for(
        lambda: any(
            e.get("extra", {}).get("lockgate.query_attempts")
            for _, e in trigger_queue(client, "demo").list()
        ),
        60,
        "the event put back for a retry",
    )
    assert not build_requests(client)
    gerrit_.control.clear_faults()
    complete_build(client, build_for(client, change["number"], timeout=90).uuid, "SUCCESS")
    assert vote(gerrit_, change["number"])["labels"] == {"Verified": 1}
