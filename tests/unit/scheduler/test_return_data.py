"""What builds return (``zuul_return``) through the decision core: data and
artifacts to child jobs, ``zuul.child_jobs``, pause and resume, file
comments and warnings in the report, artifacts in SQL, and ``requires`` /
``provides`` across items.  Pure: the simulated world of ``world.py``."""

from __future__ import annotations

from typing import Any

from lockgate.model.builds import BuildRequest
from lockgate.model.change import Account, Approval, Change
from lockgate.model.queue import item_status_json
from lockgate.scheduler.manager.actions import ResumeBuildRequest
from lockgate.scheduler.manager.snapshot import ProvidedArtifacts

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
    success:
      gerrit:
        Verified: 1
    failure:
      gerrit:
        Verified: -1
- pipeline:
    name: gate
    manager: dependent
    trigger:
      gerrit:
        - event: comment-added
    success:
      gerrit:
        Verified: 2
        submit: true
    failure:
      gerrit:
        Verified: -2
- queue:
    name: integrated
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
- job:
    name: parent-job
- job:
    name: child-a
    dependencies: [parent-job]
- job:
    name: child-b
    dependencies: [parent-job]
- job:
    name: grandchild
    dependencies: [child-b]
- job:
    name: soft-child
    dependencies: [{name: child-b, soft: true}]
- job:
    name: image-build
    provides: [image]
- job:
    name: image-test
    requires: [image]
- project:
    name: org/app
    queue: integrated
    check:
      jobs: [parent-job, child-a, child-b, grandchild, soft-child]
- project:
    name: org/lib
    queue: integrated
    check:
      jobs: [image-build]
    gate:
      jobs: [image-build]
- project:
    name: org/user
    queue: integrated
    check:
      jobs: [image-test]
    gate:
      jobs: [image-test]
"""


def world(**kw: Any) -> SimWorld:
    main = MAIN.replace("[org/app, org/lib]", "[org/app, org/lib, org/user]")
    layout = make_layout({"config": {"master": {"zuul.yaml": CONFIG}}}, main=main)
    heads = {p: {"master": sha(n)} for n, p in enumerate(("org/app", "org/lib", "org/user"), 1)}
    return SimWorld(layout, heads=heads, **kw)


def change(number: int, project: str = "org/app", patchset: int = 1) -> Change:
    return Change(
        connection="gerrit",
        project=project,
        branch="master",
        number=number,
        patchset=patchset,
        commit=sha(number * 100 + patchset),
        message=f"Change {number}\n",
        url=f"https://review.example.org/{number}",
        owner=Account("Alice", "alice@example.org", "alice"),
        approvals=[Approval("Code-Review", 2), Approval("Workflow", 1)],
    )


def run(w: SimWorld, pipeline: str = "check", steps: int = 15) -> None:
    for _ in range(steps):
        w.step(pipeline)


def builds_of(w: SimWorld, job: str) -> list[BuildRequest]:
    return [b for b in w.build_log if b.job.name == job]


def job_results(w: SimWorld) -> dict[str, tuple[str, str | None]]:
    return {
        row["job"]: (row.get("result"), row.get("error_detail")) for row in w.sql_builds.values()
    }


def test_data_and_artifacts_reach_the_child_jobs():
    def data(req: BuildRequest) -> dict[str, Any]:
        if req.job.name == "parent-job":
            return {
                "image": {"name": "app", "tag": "1"},
                "zuul": {
                    "log_url": "https://logs.example/p/",
                    "artifacts": [{"name": "docs", "url": "docs/"}],
                },
            }
        if req.job.name == "child-b":
            return {"image": {"tag": "2"}, "from_b": True}
        return {}

    w = world(build_data=data)
    w.add_change(change(101))
    run(w)
    (parent,) = builds_of(w, "parent-job")
    assert parent.zuul_vars["child_jobs"] == ["child-a", "child-b"]
    (child,) = builds_of(w, "child-a")
    assert child.parent_data == {"image": {"name": "app", "tag": "1"}}
    assert child.zuul_vars["child_jobs"] == []
    assert child.zuul_vars["artifacts"] == [
        {
            "name": "docs",
            "url": "https://logs.example/p/docs/",
            "project": "org/app",
            "job": "parent-job",
            "branch": "master",
            "change": "101",
            "patchset": "1",
        }
    ]
    # A grandchild gets every ancestor's data, the nearer one winning.
    (grand,) = builds_of(w, "grandchild")
    assert grand.parent_data == {"image": {"name": "app", "tag": "2"}, "from_b": True}
    assert [a["job"] for a in grand.zuul_vars["artifacts"]] == ["parent-job"]
    # The parent's artifacts are recorded in SQL with its build.
    row = next(r for r in w.sql_builds.values() if r["job"] == "parent-job")
    assert row["artifacts"] == [{"name": "docs", "url": "https://logs.example/p/docs/"}]
    assert w.reports[-1][1] == "SUCCESS"


def test_child_jobs_choose_which_children_run():
    w = world(
        build_data=lambda req: (
            {"zuul": {"child_jobs": ["child-a"]}} if req.job.name == "parent-job" else {}
        )
    )
    w.add_change(change(101))
    run(w)
    results = job_results(w)
    assert results["child-a"][0] == "SUCCESS"
    assert results["child-b"] == (
        "SKIPPED",
        "Skipped due to child_jobs return value in job parent-job",
    )
    assert results["grandchild"][0] == "SKIPPED"
    # A soft dependency on a skipped job does not hold it back.
    assert results["soft-child"][0] == "SUCCESS"
    assert not builds_of(w, "child-b") and not builds_of(w, "grandchild")
    assert w.reports[-1][1] == "SUCCESS"


def test_empty_child_jobs_skips_every_hard_dependent():
    w = world(
        build_data=lambda req: {"zuul": {"child_jobs": []}} if req.job.name == "parent-job" else {}
    )
    w.add_change(change(101))
    run(w)
    results = job_results(w)
    assert {j: r[0] for j, r in results.items()} == {
        "parent-job": "SUCCESS",
        "child-a": "SKIPPED",
        "child-b": "SKIPPED",
        "grandchild": "SKIPPED",
        "soft-child": "SUCCESS",
    }


def test_a_paused_job_lets_its_children_run_then_resumes():
    w = world(
        pause=lambda req: req.job.name == "parent-job",
        build_data=lambda req: (
            {"server": "10.0.0.5", "zuul": {"pause": True}} if req.job.name == "parent-job" else {}
        ),
    )
    w.add_change(change(101))
    saw_paused = False
    resumes = []
    for _ in range(20):
        decisions = w.run_scheduler("check")
        resumes += [a for d in decisions for a in d.actions if isinstance(a, ResumeBuildRequest)]
        items = w.queue("check")
        parent = items[0].job("parent-job") if items else None
        if parent is not None:
            if parent.paused:
                saw_paused = True
                assert item_status_json(items[0])["jobs"][0]["paused"] is True
                # Children run while it is paused; it is not done yet.
                assert not parent.done
        w.run_merger()
        w.run_launcher()
        w.run_executor()
        w.now += 1
    assert saw_paused
    assert len(resumes) == 1
    assert job_results(w)["parent-job"][0] == "SUCCESS"
    (child,) = builds_of(w, "child-a")
    assert child.parent_data == {"server": "10.0.0.5"}
    ends = {r["job"]: r["end_time"] for r in w.sql_builds.values()}
    assert ends["parent-job"] > max(ends[j] for j in ("child-a", "child-b", "grandchild"))
    row = next(r for r in w.sql_builds.values() if r["job"] == "parent-job")
    assert row["events"] == ["PAUSED", "RESUMED"]
    assert w.reports[-1][1] == "SUCCESS"


def test_a_paused_job_that_is_lost_runs_its_children_again():
    w = world(
        pause=lambda req: req.job.name == "parent-job",
        hold=lambda req: req.job.name == "child-b",
    )
    w.add_change(change(101))
    for _ in range(8):
        w.step("check")
    (first,) = builds_of(w, "parent-job")
    assert w.builds[first.uuid].paused
    assert builds_of(w, "child-b")
    w.kill_executor(first.uuid)
    w.hold = lambda req: False
    run(w, steps=25)
    assert len(builds_of(w, "parent-job")) == 2
    children = builds_of(w, "child-b")
    assert len(children) == 2, "the child ran against the lost build; again"
    # The reset build does not count as one of the child's attempts.
    assert [b.attempt for b in children] == [1, 1]
    assert children[0].uuid != children[1].uuid
    assert w.reports[-1][1] == "SUCCESS"


def test_file_comments_and_warnings_go_to_the_report():
    def data(req: BuildRequest) -> dict[str, Any]:
        if req.job.name == "child-a":
            return {
                "zuul": {
                    "file_comments": {
                        "file-101.txt": [{"line": 3, "message": "typo"}],
                        "/COMMIT_MSG": [{"line": 1, "message": "subject too long"}],
                        "not-in-change.py": [{"line": 1, "message": "dropped"}],
                    }
                }
            }
        return {}

    w = world(build_data=data)
    original = w.run_executor

    def with_warnings(finish: bool = True) -> None:
        original(finish)
        for req in w.builds.values():
            if req.job.name == "parent-job" and req.result:
                req.warnings = ["the image is old"]

    w.run_executor = with_warnings  # type: ignore[method-assign]
    w.add_change(change(101))
    run(w)
    (report,) = [r for r in w.review_reports if r[1] == "failure" or r[1] == "success"]
    comments = report[4]
    assert comments == {
        "file-101.txt": [{"line": 3, "message": "typo"}],
        "/COMMIT_MSG": [{"line": 1, "message": "subject too long"}],
    }
    assert (
        "Warning:\n  the image is old\n  Comments left for invalid file not-in-change.py"
        in (report[2])
    )


def gate(w: SimWorld, c: Change, needs: tuple[Change, ...] = ()) -> None:
    w.add_change(c, "gate", needs=needs, event_type="comment-added")


def test_a_job_requiring_what_an_item_ahead_provides_waits_and_gets_its_artifacts():
    released = {"image-build": False}
    w = world(
        hold=lambda req: req.job.name == "image-build" and not released["image-build"],
        build_data=lambda req: (
            {"zuul": {"artifacts": [{"name": "image", "url": "https://reg.example/app:1"}]}}
            if req.job.name == "image-build"
            else {}
        ),
    )
    gate(w, change(1, "org/lib"))
    gate(w, change(2, "org/user"))
    run(w, "gate", steps=10)
    assert builds_of(w, "image-build") and not builds_of(w, "image-test")
    (item_b,) = [i for i in w.queue("gate") if i.project == "org/user"]
    assert item_status_json(item_b)["jobs"][0]["waiting_status"] == "requirements: image"
    released["image-build"] = True
    run(w, "gate", steps=15)
    (test,) = builds_of(w, "image-test")
    assert test.zuul_vars["artifacts"] == [
        {
            "name": "image",
            "url": "https://reg.example/app:1",
            "project": "org/lib",
            "job": "image-build",
            "branch": "master",
            "change": "1",
            "patchset": "1",
        }
    ]
    assert [r for _, r in w.reports] == ["SUCCESS", "SUCCESS"]
    row = next(r for r in w.sql_builds.values() if r["job"] == "image-build")
    assert row["provides"] == ["image"]


def test_a_needed_change_queued_in_check_provides_live():
    w = world(
        hold=lambda req: req.job.name == "image-build" and w.now < 1010,
        build_data=lambda req: (
            {"zuul": {"artifacts": [{"name": "image", "url": "u1"}]}}
            if req.job.name == "image-build"
            else {}
        ),
    )
    lib = change(1, "org/lib")
    w.add_change(lib)
    w.add_change(change(2, "org/user"), needs=(lib,))
    run(w, steps=25)
    (test,) = builds_of(w, "image-test")
    (build,) = builds_of(w, "image-build")
    assert test.created >= w.sql_builds[build.uuid]["end_time"], "it waited for the provider"
    assert [a["url"] for a in test.zuul_vars["artifacts"]] == ["u1"]
    assert not w.lookups, "found live, the history is not asked"


def test_a_needed_change_not_queued_is_looked_up_in_the_history():
    lib = change(1, "org/lib")
    history = ProvidedArtifacts(
        ({"name": "image", "url": "https://reg.example/app:0", "job": "image-build"},)
    )
    w = world(history=lambda action: history)
    w.add_change(change(2, "org/user"), needs=(lib,))
    run(w)
    (lookup,) = {(a.item_uuid, a.job_name): a for a in w.lookups}.values()
    assert lookup.requires == ("image",)
    assert [c.number for c in lookup.changes] == [1]
    assert lookup.pipeline == "check"
    (test,) = builds_of(w, "image-test")
    assert [a["url"] for a in test.zuul_vars["artifacts"]] == ["https://reg.example/app:0"]


def test_a_failed_provider_in_the_history_fails_the_job():
    lib = change(1, "org/lib")
    w = world(history=lambda action: ProvidedArtifacts(error="build xyz failed with FAILURE"))
    w.add_change(change(2, "org/user"), needs=(lib,))
    run(w)
    assert not builds_of(w, "image-test")
    assert job_results(w)["image-test"] == ("FAILURE", "build xyz failed with FAILURE")
    assert w.reports[-1][1] == "FAILURE"


def test_file_comments_go_with_the_gate_submit():
    w = world(
        build_data=lambda req: {
            "zuul": {"file_comments": {"file-1.txt": [{"line": 1, "message": "m"}]}}
        }
    )
    gate(w, change(1, "org/lib"))
    run(w, "gate", steps=15)
    # The submit carries the vote and the comments (the report after the
    # merge tells the review system nothing more).
    submit = next(r for r in w.review_reports if r[1] == "success")
    assert submit[3] == {"gerrit": {"Verified": 2, "submit": True}}
    assert submit[4] == {"file-1.txt": [{"line": 1, "message": "m"}]}
    assert len(w.merge_order) == 1
