"""The gate for GitHub pull requests, through the real parts the scheduler
meets: the GitHub emulator sending signed webhooks to a real ``lockgate
web`` process, a real ZooKeeper (TLS), the scheduler's GitHub event source,
the real merger, SQLite; the launcher and executor played by hand.

Pipelines as Zuul's GitHub quick-start: a pull request with an approving
review from someone with write access and the ``gate`` label enters the
dependent ``gate``, is tested on the pull requests ahead of it, gets a
success status and is merged by Lockgate — through branch protection that
asks for that status and an approval."""

from __future__ import annotations

import pytest

from tests.fixtures.waiting import wait_for
from tests.integration.scheduler.github_site import GithubSite, github_system, requested_for
from tests.integration.scheduler.harness import complete_build

MAIN_YAML = """
- tenant:
    name: demo
    source:
      git:
        config-projects: [config]
      github:
        untrusted-projects: [acme/app]
"""

CONFIG = """
- pipeline:
    name: gate
    manager: dependent
    require:
      github:
        open: true
        current-patchset: true
        label: gate
        review:
          - type: approved
            permission: write
    trigger:
      github:
        - event: pull_request_review
          action: submitted
          state: approved
        - event: pull_request
          action: labeled
          label: gate
    start:
      github:
        status: pending
        comment: false
    success:
      github:
        status: success
        merge: true
        comment: false
    failure:
      github:
        status: failure
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
    merge-mode: squash-merge
    gate:
      jobs: [unit]
"""

CONTEXT = "demo/gate"


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
        repos={"acme/app": {".zuul.yaml": APP, "README": "app\n"}},
        repo_options={
            "acme/app": {
                "collaborators": {"alice": "write", "mallory": "read"},
                "labels": ["gate"],
                "merge_methods": ["merge", "squash"],
                "protection": {"main": {"required_contexts": [CONTEXT], "required_approvals": 1}},
            }
        },
    ) as s:
        yield s


def approve(site: GithubSite, number: int) -> None:
    site.control.review("acme/app", number, "alice", "APPROVE")
    site.control.label("acme/app", number, add=["gate"], user="alice")


def builds(site: GithubSite, numbers: list[int]) -> dict:
    def find():  # noqa: ANN202
        found = {}
        for n in numbers:
            reqs = requested_for(site.client, "acme/app", n)
            if reqs:
                found[n] = reqs[0]
        return found if set(found) == set(numbers) else None

    return wait_for(find, 90, f"builds of {numbers}")


def merged(site: GithubSite, number: int) -> bool:
    return bool(site.control.pull("acme/app", number)["merged"])


def test_two_approved_pull_requests_are_tested_together_and_merge_in_order(site):
    c = site.control
    prs = [c.open_pull("acme/app", f"f{i}", {f"f{i}.txt": f"{i}\n"}, title=f"F{i}") for i in (1, 2)]
    numbers = [pr["number"] for pr in prs]
    # A reader's approval does not count: labelled, the first still waits.
    c.review("acme/app", numbers[0], "mallory", "APPROVE")
    for n in numbers:
        approve(site, n)
    found = builds(site, numbers)
    # The second is tested on the first.
    assert [s.number for s in found[numbers[0]].project.steps] == [numbers[0]]
    assert [s.number for s in found[numbers[1]].project.steps] == numbers
    for n in reversed(numbers):
        complete_build(site.client, found[n].uuid, "SUCCESS")
    for n in numbers:
        wait_for(lambda n=n: merged(site, n), 60, f"#{n} merged")
    merges = c.merges("acme/app")
    # In queue order, with the project's merge mode, by Lockgate's App.
    assert [m["number"] for m in merges] == numbers
    assert {m["method"] for m in merges} == {"squash"}
    for pr in prs:
        states = [
            s["state"] for s in c.statuses("acme/app", pr["number"]) if s["context"] == CONTEXT
        ]
        assert states[-1] == "success" and "pending" in states


def test_a_failing_pull_request_is_reported_and_the_one_behind_merges(site):
    c = site.control
    bad = c.open_pull("acme/app", "bad", {"bad.txt": "x\n"}, title="Bad")["number"]
    good = c.open_pull("acme/app", "good", {"good.txt": "y\n"}, title="Good")["number"]
    approve(site, bad)
    approve(site, good)
    found = builds(site, [bad, good])
    assert [s.number for s in found[good].project.steps] == [bad, good]
    complete_build(site.client, found[bad].uuid, "FAILURE")

    def restarted():  # noqa: ANN202
        reqs = [
            r for r in requested_for(site.client, "acme/app", good) if r.uuid != found[good].uuid
        ]
        return reqs[0] if reqs else None

    rebuilt = wait_for(restarted, 90, "the good pull request restarted without the bad one")
    assert [s.number for s in rebuilt.project.steps] == [good]
    complete_build(site.client, rebuilt.uuid, "SUCCESS")
    wait_for(lambda: merged(site, good), 60, "the good pull request merged")
    failure = wait_for(
        lambda: [
            s
            for s in c.statuses("acme/app", bad)
            if s["context"] == CONTEXT and s["state"] == "failure"
        ],
        60,
        "the failure status",
    )
    assert failure
    comment = wait_for(lambda: c.comments("acme/app", bad), 30, "the failure comment")[-1]
    assert "unit" in comment["body"] and "FAILURE" in comment["body"]
    assert not merged(site, bad)
