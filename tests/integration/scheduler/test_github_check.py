"""The check pipeline for GitHub pull requests, through the real parts the
scheduler meets: the GitHub emulator (a separate process speaking GitHub's
REST API and git over HTTP) sending signed webhooks to a real ``lockgate
web`` process, which stores them in a real ZooKeeper (TLS); the scheduler's
GitHub event source, the real merger, SQLite.  The launcher and the
executor are played by hand through their ZooKeeper stores.

Pipelines as Zuul's GitHub quick-start: check on pull_request opened /
changed / reopened and a ``recheck`` comment; a commit status and a check
run for the result."""

from __future__ import annotations

import time

import pytest
from lockgate.zk.pipelines import read_pipelines

from tests.fixtures.waiting import wait_for
from tests.integration.scheduler.github_site import (
    GithubSite,
    build_for,
    events_settled,
    github_system,
)
from tests.integration.scheduler.harness import build_requests, complete_build

MAIN_YAML = """
- tenant:
    name: demo
    source:
      git:
        config-projects: [config]
      github:
        untrusted-projects: [acme/app, acme/lib, other/app]
"""

CONFIG = r"""
- pipeline:
    name: check
    manager: independent
    require:
      github:
        open: true
        current-patchset: true
    trigger:
      github:
        - event: pull_request
          action: [opened, changed, reopened]
        - event: pull_request
          action: comment
          comment: (?i)^\s*recheck\s*$
    start:
      github:
        status: pending
        check: in_progress
        comment: false
    success:
      github:
        status: success
        check: success
        comment: false
    failure:
      github:
        status: failure
        check: failure
    config-error:
      github:
        status: failure
        check: failure
        comment: true
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
    required-projects: [acme/lib]
- project:
    check:
      jobs: [unit]
"""

OTHER = """
- job:
    name: other-unit
- project:
    check:
      jobs: [other-unit]
"""

CONTEXT = "demo/check"


@pytest.fixture
def site(tmp_path, upstream, zk_server, zk_chroot, zk_client):  # noqa: ANN001, ANN201
    with github_system(
        tmp_path,
        upstream,
        zk_server,
        zk_chroot,
        zk_client,
        main_yaml=MAIN_YAML,
        config_yaml=CONFIG,
        repos={
            "acme/app": {".zuul.yaml": APP, "README": "app\n"},
            "acme/lib": {"README": "lib\n"},
            "other/app": {".zuul.yaml": OTHER, "README": "other\n"},
        },
    ) as s:
        yield s


def statuses(site: GithubSite, project: str, number: int, state: str | None = None) -> list[dict]:
    return [
        s
        for s in site.control.statuses(project, number)
        if s["context"] == CONTEXT and (state is None or s["state"] == state)
    ]


def wait_status(site: GithubSite, project: str, number: int, state: str, count: int = 1) -> dict:
    return wait_for(
        lambda: (found := statuses(site, project, number, state)) and len(found) >= count and found,
        60,
        f"status {state} on {project}#{number}",
    )[-1]


def check_run(site: GithubSite, project: str, number: int) -> dict | None:
    runs = [r for r in site.control.check_runs(project, number) if r["name"] == CONTEXT]
    return runs[-1] if runs else None


def test_a_pull_request_is_tested_as_merged_and_gets_a_status_and_a_check_run(site):
    c = site.control
    pr = c.open_pull("acme/app", "feature", {"app.py": "x = 1\n"}, title="Add app.py")
    build = build_for(site.client, "acme/app", pr["number"])
    # Tested as it will merge: the pull request merged onto main.
    assert build.project.steps and build.project.steps[0].number == pr["number"]
    assert build.project.commit != pr["head_sha"]
    assert build.zuul_vars["patchset"] == pr["head_sha"]
    assert build.zuul_vars["change_url"].endswith(f"/acme/app/pull/{pr['number']}")
    lib = [r for r in build.repos if r.project == "acme/lib"]
    assert lib and not lib[0].steps
    # Started: pending, and the check run in progress.
    assert wait_status(site, "acme/app", pr["number"], "pending")
    run = wait_for(lambda: check_run(site, "acme/app", pr["number"]), 30, "a check run")
    assert run["status"] == "in_progress"
    complete_build(site.client, build.uuid, "SUCCESS")
    done = wait_status(site, "acme/app", pr["number"], "success")
    assert done["sha"] == pr["head_sha"]
    run = wait_for(
        lambda: (
            (r := check_run(site, "acme/app", pr["number"])) and r["status"] == "completed" and r
        ),
        30,
        "the check run completed",
    )
    # One check run, updated in place.
    assert run["conclusion"] == "success"
    assert len([r for r in c.check_runs("acme/app", pr["number"]) if r["name"] == CONTEXT]) == 1
    assert "unit" in run["output"]["summary"]
    wait_for(lambda: not build_requests(site.client), 30, "the build request released")
    assert not c.comments("acme/app", pr["number"])  # comment: false on success


def test_a_failure_links_the_build_and_recheck_runs_it_again(site):
    c = site.control
    pr = c.open_pull("acme/app", "fails", {"a.py": "1\n"}, title="A")
    n = pr["number"]
    complete_build(site.client, build_for(site.client, "acme/app", n).uuid, "FAILURE")
    failed = wait_status(site, "acme/app", n, "failure")
    assert failed["sha"] == pr["head_sha"]
    comment = wait_for(lambda: c.comments("acme/app", n), 30, "the failure comment")[-1]
    assert "unit" in comment["body"] and "FAILURE" in comment["body"]
    assert "http://logs.example/" in comment["body"]
    c.comment("acme/app", n, "recheck", user="alice")
    complete_build(site.client, build_for(site.client, "acme/app", n).uuid, "SUCCESS")
    assert wait_status(site, "acme/app", n, "success")
    run = wait_for(
        lambda: (r := check_run(site, "acme/app", n)) and r.get("conclusion") == "success" and r,
        30,
        "the check run turned success",
    )
    assert run["head_sha"] == pr["head_sha"]


def test_a_push_to_the_pull_request_dequeues_the_old_head(site):
    c = site.control
    pr = c.open_pull("acme/app", "moving", {"a.py": "1\n"}, title="A")
    n = pr["number"]
    first = build_for(site.client, "acme/app", n)
    new_sha = c.push_to_pull("acme/app", n, {"a.py": "2\n"})

    def second_build():  # noqa: ANN202
        found = build_for(site.client, "acme/app", n)
        return found if found.zuul_vars["patchset"] == new_sha else None

    second = wait_for(second_build, 60, "the new head's build")
    wait_for(
        lambda: first.uuid not in {r.uuid for r in build_requests(site.client)},
        60,
        "the old head's build released",
    )
    complete_build(site.client, second.uuid, "SUCCESS")
    done = wait_for(
        lambda: [s for s in statuses(site, "acme/app", n, "success") if s["sha"] == new_sha],
        60,
        "success on the new head",
    )
    assert done
    # The old head never got a result.
    assert not [
        s
        for s in statuses(site, "acme/app", n)
        if s["sha"] == pr["head_sha"] and s["state"] in ("success", "failure")
    ]


def test_a_closed_pull_request_is_dequeued(site):
    c = site.control
    pr = c.open_pull("acme/app", "closing", {"a.py": "1\n"}, title="A")
    build = build_for(site.client, "acme/app", pr["number"])
    c.close("acme/app", pr["number"])
    wait_for(
        lambda: build.uuid not in {r.uuid for r in build_requests(site.client)},
        60,
        "the closed pull request's build released",
    )
    wait_for(lambda: not any(read_pipelines(site.client, "demo")["check"][1]), 30, "empty check")


def test_same_pull_request_numbers_in_two_repositories_are_two_changes(site):
    c = site.control
    mine = c.open_pull("acme/app", "one", {"a.py": "1\n"}, title="Mine")
    theirs = c.open_pull("other/app", "two", {"b.py": "2\n"}, title="Theirs")
    assert mine["number"] == theirs["number"]
    a = build_for(site.client, "acme/app", mine["number"], job="unit")
    b = build_for(site.client, "other/app", theirs["number"], job="other-unit")
    assert a.project.project == "acme/app" and b.project.project == "other/app"
    complete_build(site.client, a.uuid, "SUCCESS")
    complete_build(site.client, b.uuid, "FAILURE")
    assert wait_status(site, "acme/app", mine["number"], "success")["sha"] == mine["head_sha"]
    got = wait_status(site, "other/app", theirs["number"], "failure")
    assert got["sha"] == theirs["head_sha"]


def test_a_broken_zuul_yaml_is_reported_with_file_and_line(site):
    c = site.control
    broken = APP + "- job:\n    name: broken\n    runn: nothing.yaml\n"
    pr = c.open_pull("acme/app", "broken", {".zuul.yaml": broken}, title="Break it")
    n = pr["number"]
    assert wait_status(site, "acme/app", n, "failure")
    comment = wait_for(lambda: c.comments("acme/app", n), 60, "the error comment")[-1]
    assert ".zuul.yaml:" in comment["body"] and "runn" in comment["body"]
    run = wait_for(
        lambda: (r := check_run(site, "acme/app", n)) and r.get("conclusion") and r,
        30,
        "the check run",
    )
    assert run["conclusion"] == "failure"
    notes = run["annotations"]
    assert notes and notes[0]["path"] == ".zuul.yaml" and notes[0]["start_line"] > 1
    assert not build_requests(site.client)


def test_depends_on_another_pull_request_is_tested_together(site):
    c = site.control
    lib = c.open_pull("acme/lib", "lib", {"lib.py": "L = 1\n"}, title="Lib change")
    url = lib["html_url"]
    top = c.open_pull(
        "acme/app", "top", {"top.py": "T\n"}, title="Top", body=f"Uses lib.\n\nDepends-On: {url}\n"
    )
    build = build_for(site.client, "acme/app", top["number"])
    steps = [(s.project, s.number) for r in build.repos for s in r.steps]
    assert ("acme/lib", lib["number"]) in steps
    items = [(i["project"]["name"], i["change"]) for i in build.zuul_vars["items"]]
    assert items == [("acme/lib", str(lib["number"])), ("acme/app", str(top["number"]))]
    complete_build(site.client, build.uuid, "SUCCESS")
    assert wait_status(site, "acme/app", top["number"], "success")


def test_heads_are_ordered_by_github_not_by_commit_dates(site):
    """A PR's newer head may carry an older commit date (a rebase keeping
    dates, a force-push of an older commit): it still replaces the old
    head.  And a late delivery of a head that was replaced meanwhile (GitHub's
    "Redeliver" of a failed delivery) does not remove the current head."""
    c = site.control
    pr = c.open_pull("acme/app", "dated", {"a.py": "1\n"}, title="A")
    n = pr["number"]
    first = build_for(site.client, "acme/app", n)
    # Force-pushed: a commit on the base dated a day before the first head.
    base = c.repo("acme/app")["branches"]["main"]
    older = c.push_to_pull(
        "acme/app", n, {"a.py": "2\n"}, parent=base, date=int(time.time()) - 86400
    )

    def build_of(sha: str):  # noqa: ANN202
        found = build_for(site.client, "acme/app", n)
        return found if found.zuul_vars["patchset"] == sha else None

    wait_for(lambda: build_of(older), 60, "the older-dated head's build")
    wait_for(
        lambda: first.uuid not in {r.uuid for r in build_requests(site.client)},
        60,
        "the first head's build released",
    )
    # A push whose delivery fails (the receiver unreachable), then a newer one.
    web_hook = f"{site.web_url}/api/connection/github/payload"
    before = len(c.deliveries())
    c.set_webhook(url="http://127.0.0.1:9/unreachable")
    lost = c.push_to_pull("acme/app", n, {"a.py": "3\n"})
    c.wait_deliveries_done()
    c.set_webhook(url=web_hook)
    failed = [d for d in c.deliveries(since=before) if d["action"] == "synchronize"]
    assert failed and failed[-1]["status_code"] is None
    current = c.push_to_pull("acme/app", n, {"a.py": "4\n"})
    latest = wait_for(lambda: build_of(current), 60, "the current head's build")
    # The late delivery of the replaced head: it must not dequeue the current one.
    c.redeliver(failed[-1]["id"])
    wait_for(
        lambda: [a["status"] for a in c.delivery(failed[-1]["id"])["attempts"]][-1] == 200,
        30,
        "the redelivery accepted",
    )
    wait_for(lambda: events_settled(site.client, "demo"), 60, "the redelivery processed")
    assert latest.uuid in {r.uuid for r in build_requests(site.client)}
    complete_build(site.client, latest.uuid, "SUCCESS")
    done = wait_status(site, "acme/app", n, "success")
    assert done["sha"] == current
    assert lost not in {s["sha"] for s in statuses(site, "acme/app", n)}
