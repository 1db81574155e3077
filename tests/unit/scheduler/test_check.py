"""The check pipeline's decisions for changes: merged by the mergers, frozen
on the merged state, reported to the review system; new patchsets and
abandons dequeue.  Pure: the simulated world of ``world.py``."""

from __future__ import annotations

import base64
import random

import pytest
from lockgate.model.change import Account, Change, ChangeKey
from lockgate.model.merges import MergeResult
from lockgate.model.queue import ItemState
from lockgate.scheduler.manager.snapshot import ChangeDequeue, Speculation

from tests.unit.scheduler.world import SimWorld, make_layout, sha

MAIN = """
- tenant:
    name: demo
    source:
      gerrit:
        config-projects: [config]
        untrusted-projects: [org/app, org/lib]
"""

CONFIG = """
- pipeline:
    name: check
    manager: independent
    trigger:
      gerrit:
        - event: patchset-created
        - event: comment-added
          comment: (?i)^\\\\s*recheck\\\\s*$
    start:
      gerrit:
        Verified: 0
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
    attempts: 2
"""

APP = """
- job:
    name: unit
- job:
    name: docs
    files: ['^doc/.*$']
- project:
    check:
      jobs: [unit, docs]
"""


def layout():
    return make_layout(
        {"config": {"master": {"zuul.yaml": CONFIG}}, "org/app": {"master": {".zuul.yaml": APP}}},
        main=MAIN,
    )


def change(number: int = 101, patchset: int = 1, project: str = "org/app", **kw) -> Change:
    return Change(
        connection="gerrit",
        project=project,
        branch="master",
        number=number,
        patchset=patchset,
        commit=sha(number * 100 + patchset),
        message=f"Change {number}\n\nChange-Id: I{number:040x}\n",
        url=f"https://review.example.org/{number}",
        owner=Account("Alice", "alice@example.org", "alice"),
        topic="topic-x",
        **kw,
    )


def world(**kw) -> SimWorld:
    return SimWorld(
        layout(), heads={"org/app": {"master": sha(1)}, "org/lib": {"master": sha(2)}}, **kw
    )


def run(w: SimWorld, steps: int = 10) -> None:
    for _ in range(steps):
        w.step("check")


def test_a_new_patchset_is_merged_then_tested_and_voted_on():
    w = world()
    w.add_change(change())
    w.run_scheduler("check")
    (item,) = w.queue("check")
    assert item.state is ItemState.PREPARING and not item.jobs
    (req,) = w.merges.values()
    assert [(s.project, s.ref, s.commit, s.merge_mode) for s in req.steps] == [
        ("org/app", "refs/changes/01/101/1", sha(10101), "merge-resolve")
    ]
    run(w)
    assert not w.queue("check") and not w.merges  # reported, merge request released
    (start, done) = w.review_reports
    assert start[1] == "start" and start[3] == {"gerrit": {"Verified": 0}}
    assert done[1] == "success" and done[3] == {"gerrit": {"Verified": 1}}
    assert "- unit" in done[2] and "SUCCESS" in done[2]
    # docs has a file matcher the change does not touch.
    assert "docs" not in done[2]


def test_the_build_tests_the_merged_commit_with_the_change_vars():
    w = world()
    w.add_change(change(), needs=(change(77, 2, project="org/lib"),))
    w.run_scheduler("check")
    w.run_merger()
    w.run_scheduler("check")
    w.run_launcher()
    w.run_scheduler("check")
    (build,) = w.builds.values()
    item = w.queue("check")[0]
    merged = item.merge_commits["org/app"]["master"]
    assert build.project.commit == merged != change().commit
    # The executor replays the steps of each project-branch from the heads
    # the merger started from.
    assert build.project.base == sha(1)
    assert [(s.number, s.patchset, s.url) for s in build.project.steps] == [
        (101, 1, "ssh://review.example.org/org/app")
    ]
    lib = [r for r in build.repos if r.project == "org/lib"]
    assert [(s.number, s.patchset) for s in lib[0].steps] == [(77, 2)]
    assert lib[0].commit == item.merge_commits["org/lib"]["master"]
    zv = build.zuul_vars
    assert (zv["change"], zv["patchset"]) == ("101", "1")
    assert zv["change_url"] == "https://review.example.org/101"
    assert base64.b64decode(zv["message"]).decode().startswith("Change 101")
    assert zv["topic"] == "topic-x"
    assert [(i["project"]["name"], i["change"], i["patchset"]) for i in zv["items"]] == [
        ("org/lib", "77", "2"),
        ("org/app", "101", "1"),
    ]
    assert zv["projects"]["review.example.org/org/app"]["checkout"] == "master"
    assert "newrev" not in zv


def test_failure_votes_minus_one():
    w = world(build_result=lambda req: "FAILURE")
    w.add_change(change())
    run(w)
    assert w.review_reports[-1][1] == "failure"
    assert w.review_reports[-1][3] == {"gerrit": {"Verified": -1}}


def test_merge_conflict_is_reported_as_such_and_runs_nothing():
    w = world(
        merge_result=lambda req: MergeResult(
            ok=False, conflict="change 101,1 does not merge into org/app master: a.txt"
        )
    )
    w.add_change(change())
    run(w)
    assert not w.builds and not w.node_requests
    (report,) = w.review_reports
    assert report[1] == "merge-conflict"
    assert report[3] == {"gerrit": {"Verified": -1}}  # falls back to failure, as Zuul
    assert report[2].startswith("Merge failed.") and "a.txt" in report[2]


def test_merge_errors_are_retried_then_reported():
    w = world(merge_result=lambda req: MergeResult(ok=False, error="repository unreachable"))
    w.add_change(change())
    for _ in range(40):
        w.step("check")
        w.now += 10
    assert not w.queue("check")
    assert w.reports[-1][1] == "ERROR"
    assert len(w.merged) == 3  # three attempts, each its own request


def test_a_new_patchset_dequeues_the_old_one_and_cancels_its_builds():
    w = world()
    w.add_change(change(patchset=1))
    w.step("check")
    w.step("check")
    w.run_scheduler("check")
    assert w.builds  # running
    w.dequeues.append(
        ChangeDequeue(ChangeKey("gerrit", 101), "patchset 2 was uploaded", 2, new_patchset=True)
    )
    w.add_change(change(patchset=2))
    w.run_scheduler("check")
    (item,) = w.queue("check")
    assert item.change.patchset == 2
    assert any(r[1] == "dequeue" for r in w.review_reports)
    assert "DEQUEUED" in {r for _, r in w.reports}
    assert all(b.cancel_requested for b in w.builds.values())
    run(w)
    assert w.review_reports[-1][1] == "success"


def test_an_abandon_dequeues():
    w = world()
    w.add_change(change())
    w.step("check")
    w.dequeues.append(ChangeDequeue(ChangeKey("gerrit", 101), "change 101 was abandoned"))
    w.run_scheduler("check")
    assert not w.queue("check")
    assert w.reports[-1][1] == "DEQUEUED"


def test_a_new_patchset_of_another_change_dequeues_nothing():
    w = world()
    w.add_change(change())
    w.step("check")
    w.dequeues.append(ChangeDequeue(ChangeKey("gerrit", 999), "x", 2, new_patchset=True))
    w.run_scheduler("check")
    assert len(w.queue("check")) == 1


def test_recheck_of_a_change_in_the_pipeline_is_not_enqueued_twice():
    w = world()
    w.add_change(change())
    w.step("check")
    w.add_change(change(), event_type="comment-added")
    w.run_scheduler("check")
    assert len(w.queue("check")) == 1
    run(w)
    # After it reported, a recheck tests it again.
    w.add_change(change(), event_type="comment-added")
    run(w)
    assert [r[1] for r in w.review_reports].count("success") == 2


def test_a_change_that_is_not_ready_is_not_enqueued():
    w = world()
    w.add_change(change(), not_ready="change 101,1 depends on change 5,1, which is abandoned")
    w.run_scheduler("check")
    assert not w.queue("check") and not w.merges
    assert any("which is abandoned" in line for line in w.logs)


def test_configuration_errors_are_reported_with_file_comments():
    w = world()
    event = w.add_change(change())
    w.run_scheduler("check")
    item_uuid = w.queue("check")[0].uuid
    w.speculative[item_uuid] = Speculation(
        errors=(".zuul.yaml:3: job 'unit': unknown attribute 'runn'",),
        comments={".zuul.yaml": [{"line": 3, "message": "unknown attribute 'runn'"}]},
    )
    run(w)
    assert event.change_number == 101
    (report,) = w.review_reports
    assert report[1] == "config-error" and report[3] == {"gerrit": {"Verified": -1}}
    assert ".zuul.yaml:3" in report[2]
    assert report[4] == {".zuul.yaml": [{"line": 3, "message": "unknown attribute 'runn'"}]}
    assert not w.builds


def test_files_from_the_merge_drive_file_matchers():
    def merged(req):
        result = world().default_merge(req)
        result.files["org/app"] = ["doc/index.rst"]
        return result

    w = world(merge_result=merged)
    w.add_change(change())
    run(w)
    assert "- docs" in w.review_reports[-1][2]


@pytest.mark.parametrize("seed", range(8))
def test_crashes_anywhere_in_a_change_items_life(seed):
    """A scheduler killed after any side effect: same reports, each build
    started once, one merge served per attempt."""
    rng = random.Random(seed)
    w = world()
    w.add_change(change())
    w.add_change(change(202, project="org/app"))
    for _ in range(60):
        if rng.random() < 0.3:
            w.crash_after(rng.randrange(0, 6))
        try:
            w.step("check")
        except Exception as e:  # noqa: BLE001 - the simulated SIGKILL
            assert type(e).__name__ == "Crash"
        if not w.queue("check") and not w.pending.get("check") and w.crash_countdown is None:
            break
    assert not w.queue("check")
    results = sorted(r for _, r in w.reports)
    assert results.count("SUCCESS") >= 2
    assert max(w.executed.values()) == 1
    assert max(w.merged.values()) == 1


def test_a_new_head_in_the_same_second_dequeues_the_old_head():
    """A pull request's patchset is its head commit's time in whole seconds:
    two heads pushed within one second have the same; the head sha tells
    them apart."""
    w = world()
    old = change(patchset=1700000000, patchset_id="a" * 40)
    w.add_change(old)
    w.step("check")
    w.dequeues.append(
        ChangeDequeue(
            ChangeKey("gerrit", 101),
            "a new head was pushed",
            1700000000,
            new_patchset=True,
            patchset_id="b" * 40,
        )
    )
    w.run_scheduler("check")
    assert not w.queue("check")
    assert w.reports[-1][1] == "DEQUEUED"


def test_the_same_head_again_dequeues_nothing():
    w = world()
    w.add_change(change(patchset=1700000000, patchset_id="a" * 40))
    w.step("check")
    w.dequeues.append(
        ChangeDequeue(
            ChangeKey("gerrit", 101), "x", 1700000000, new_patchset=True, patchset_id="a" * 40
        )
    )
    w.run_scheduler("check")
    assert len(w.queue("check")) == 1
