"""build_request: what an executor gets — repositories at fixed commits, the
scheduler's part of the ``zuul`` variables — from an item and one job."""

from __future__ import annotations

import pytest
from lockgate.model.jobs import FrozenJob
from lockgate.model.queue import ItemState, JobState, ProjectRepo, QueueItem
from lockgate.scheduler.manager.build_request import choose_checkout, make_build_request


def repo(name: str, heads: dict[str, str], default: str = "master") -> ProjectRepo:
    return ProjectRepo(
        connection="git",
        project=name,
        canonical_name=f"git.example.org/{name}",
        canonical_hostname="git.example.org",
        url=f"/srv/git/{name}",
        heads=heads,
        default_branch=default,
    )


def item(newrev: str | None = "a" * 40, branch: str = "stable", **repos: ProjectRepo):
    return QueueItem(
        uuid="item-1",
        tenant="demo",
        pipeline="post",
        queue="org/app",
        event_id="ev-1",
        event_type="ref-updated",
        connection="git",
        project="org/app",
        ref=f"refs/heads/{branch}",
        branch=branch,
        oldrev="0" * 39 + "1",
        newrev=newrev,
        state=ItemState.ACTIVE,
        buildset_uuid="bs-1",
        repos={"org/app": repo("org/app", {branch: "b" * 40}), **repos},
    )


def job_state(**job_kw) -> JobState:
    job = FrozenJob(name="unit", timeout=600, attempts=2, tags=["t1"], **job_kw)
    return JobState(
        name="unit",
        job=job,
        attempt=1,
        build_uuid="build-1",
        node_ids=["n1"],
        node_request_id="0000000007",
    )


def test_zuul_vars_of_the_triggering_project():
    req = make_build_request(item(), job_state(), now=5.0, post_review=True)
    zv = req.zuul_vars
    assert (req.uuid, req.buildset_uuid, req.event_id, req.attempt) == (
        "build-1",
        "bs-1",
        "ev-1",
        1,
    )
    assert req.node_ids == ["n1"] and req.node_request_id == "0000000007"
    assert zv["project"] == {
        "name": "org/app",
        "short_name": "app",
        "canonical_hostname": "git.example.org",
        "canonical_name": "git.example.org/org/app",
        "src_dir": "src/git.example.org/org/app",
    }
    assert (zv["branch"], zv["ref"], zv["newrev"], zv["oldrev"]) == (
        "stable",
        "refs/heads/stable",
        "a" * 40,
        "0" * 39 + "1",
    )
    assert (zv["tenant"], zv["pipeline"], zv["job"], zv["build"], zv["buildset"]) == (
        "demo",
        "post",
        "unit",
        "build-1",
        "bs-1",
    )
    assert (zv["voting"], zv["post_review"], zv["timeout"]) == (True, True, 600)
    assert (zv["attempts"], zv["max_attempts"], zv["event_id"], zv["jobtags"]) == (
        1,
        2,
        "ev-1",
        ["t1"],
    )
    # The triggering project is checked out at the event's new revision.
    assert req.project.commit == "a" * 40 and [r.project for r in req.repos] == ["org/app"]
    assert zv["projects"]["git.example.org/org/app"]["required"] is False


def test_timer_item_builds_the_branch_head_it_was_prepared_with():
    req = make_build_request(item(newrev=None), job_state(), now=5.0)
    assert req.project.commit == "b" * 40
    assert req.zuul_vars["newrev"] == "b" * 40


def test_required_projects_follow_zuuls_checkout_order():
    lib = repo("org/lib", {"master": "1" * 40, "stable": "2" * 40, "feature": "3" * 40})
    docs = repo("org/docs", {"main": "4" * 40}, default="main")
    pinned = repo("org/pinned", {"master": "5" * 40, "v1": "6" * 40})
    js = job_state(
        required_projects=[
            {"name": "org/lib"},
            {"name": "org/docs"},
            {"name": "org/pinned", "override_checkout": "v1"},
            {"name": "org/app"},
        ]
    )
    req = make_build_request(
        item(**{"org/lib": lib, "org/docs": docs, "org/pinned": pinned}), js, now=1.0
    )
    by_project = {r.project: (r.branch, r.commit) for r in req.repos}
    assert by_project["org/lib"] == ("stable", "2" * 40)  # the item's branch
    assert by_project["org/docs"] == ("main", "4" * 40)  # no stable: its default branch
    assert by_project["org/pinned"] == ("v1", "6" * 40)  # its override-checkout
    projects = req.zuul_vars["projects"]
    assert projects["git.example.org/org/lib"]["checkout_description"] == "zuul branch"
    assert projects["git.example.org/org/docs"]["checkout_description"] == (
        "project default branch"
    )
    assert projects["git.example.org/org/pinned"]["checkout_description"] == (
        "project override ref"
    )
    assert projects["git.example.org/org/app"]["required"] is True


def test_job_override_checkout():
    lib = repo("org/lib", {"master": "1" * 40, "old": "7" * 40})
    js = job_state(required_projects=[{"name": "org/lib"}], override_checkout="old")
    req = make_build_request(item(**{"org/lib": lib}), js, now=1.0)
    assert [(r.project, r.branch) for r in req.repos][1] == ("org/lib", "old")


def test_missing_repository_state_is_a_key_error():
    js = job_state(required_projects=[{"name": "org/unknown"}])
    with pytest.raises(KeyError, match="org/unknown"):
        make_build_request(item(), js, now=1.0)


def test_choose_checkout_without_any_usable_branch():
    assert choose_checkout(repo("x", {}), [("stable", "zuul branch")]) is None
