"""Bad input from GitHub's side, through the real parts the scheduler meets:
the GitHub emulator sending signed webhooks to a real ``lockgate web``
process, ZooKeeper (TLS), the scheduler's GitHub event source, the merger;
the executor played by hand.

- the App uninstalled from one owner: that owner's events give an error
  naming the repository, the other owner's pull requests go on;
- the App's key rotated: an error saying to replace ``app_key``, the
  deliveries kept (nothing lost), another GitHub connection goes on;
- GitHub answering 500 for a while (``api_retry_timeout`` is the patience,
  short here): deliveries made meanwhile are processed after it, once;
  a merge that keeps failing past the patience is reported as an error
  and the pull request is not merged;
- a repository renamed: items in flight keep reporting (GitHub's
  redirects followed), and the rename is reported, as are the new name's
  skipped events.

Never a traceback to the sender: every delivery is answered 200."""

from __future__ import annotations

import logging

import pytest
import yaml

from tests.fixtures.waiting import wait_for
from tests.integration.scheduler.github_site import (
    GithubSite,
    build_for,
    events_settled,
    github_system,
    requested_for,
)
from tests.integration.scheduler.harness import complete_build

MAIN_YAML = """
- tenant:
    name: demo
    source:
      git:
        config-projects: [config]
      github:
        untrusted-projects: [acme/app, other/app]
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
    start:
      github:
        status: pending
        comment: false
    success:
      github:
        status: success
        comment: false
    failure:
      github:
        status: failure
- pipeline:
    name: gate
    manager: dependent
    require:
      github:
        open: true
        label: gate
    trigger:
      github:
        - event: pull_request
          action: labeled
          label: gate
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


def jobs(name: str) -> str:
    """A repository's .zuul.yaml: its own job in check and gate."""
    return f"""
- job:
    name: {name}
- project:
    check:
      jobs: [{name}]
    gate:
      jobs: [{name}]
"""


REPOS = {
    "acme/app": {".zuul.yaml": jobs("acme-unit"), "README": "app\n"},
    "other/app": {".zuul.yaml": jobs("other-unit"), "README": "other\n"},
}
# Short patience: GitHub failing for longer than this gives up a call.
RETRY_BUDGET = "2"


def also_for(connection: str) -> str:
    """``CONFIG`` with every pipeline also triggered by, requiring of and
    reporting to ``connection`` as to ``github``."""
    config = yaml.safe_load(CONFIG)
    for entry in config:
        pipeline = entry.get("pipeline")
        for key in ("require", "trigger", "start", "success", "failure"):
            if pipeline and "github" in pipeline.get(key, {}):
                pipeline[key][connection] = pipeline[key]["github"]
    return yaml.safe_dump(config, sort_keys=False)


def site_with(tmp_path, upstream, zk_server, zk_chroot, zk_client, **kw):  # noqa: ANN001, ANN201
    return github_system(
        tmp_path,
        upstream,
        zk_server,
        zk_chroot,
        zk_client,
        main_yaml=kw.pop("main_yaml", MAIN_YAML),
        config_yaml=kw.pop("config_yaml", CONFIG),
        repos=REPOS,
        repo_options={name: {"labels": ["gate"]} for name in REPOS},
        connection_keys={"api_retry_timeout": RETRY_BUDGET},
        **kw,
    )


@pytest.fixture
def site(tmp_path, upstream, zk_server, zk_chroot, zk_client):  # noqa: ANN001, ANN201
    with site_with(tmp_path, upstream, zk_server, zk_chroot, zk_client) as s:
        yield s


def state_of(site: GithubSite, project: str, number: int, context: str = "demo/check") -> list:
    return [s["state"] for s in site.control.statuses(project, number) if s["context"] == context]


def answered_200(site: GithubSite) -> None:
    """Every delivery answered, with 200 (nothing refused, no traceback)."""
    site.control.wait_deliveries_done()
    codes = [d["status_code"] for d in site.control.deliveries()]
    assert codes and set(codes) == {200}, codes
    assert "Traceback" not in (site.root / "web.log").read_text(errors="replace")


def errors(caplog: pytest.LogCaptureFixture, *words: str) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.levelno >= logging.ERROR and all(w in r.getMessage() for w in words)
    ]


def test_an_uninstalled_owner_is_named_and_the_other_owner_goes_on(site, caplog):
    c = site.control
    caplog.set_level(logging.INFO, logger="lockgate.drivers.github")
    # Deliveries GitHub sent before the App was uninstalled, processed after.
    c.receiver_down()
    mine = c.open_pull("acme/app", "mine", {"a.py": "1\n"}, title="Acme")
    theirs = c.open_pull("other/app", "theirs", {"b.py": "2\n"}, title="Other")
    c.uninstall(site.github.installation_id("acme"))
    c.receiver_up()
    # The other owner's pull request, queued behind acme's, is tested.
    build = build_for(site.client, "other/app", theirs["number"])
    complete_build(site.client, build.uuid, "SUCCESS")
    wait_for(lambda: "success" in state_of(site, "other/app", theirs["number"]), 60, "success")
    wait_for(lambda: events_settled(site.client, "demo"), 30, "every delivery processed")
    dropped = errors(caplog, "acme/app", "no longer installed")
    assert dropped and "redeliver it from GitHub" in dropped[0]
    assert errors(caplog, "uninstalled from acme", "acme/app")
    assert not requested_for(site.client, "acme/app", mine["number"])
    assert not state_of(site, "acme/app", mine["number"])
    answered_200(site)


@pytest.fixture
def two_githubs(tmp_path, upstream, zk_server, zk_chroot, zk_client):  # noqa: ANN001, ANN201
    main = MAIN_YAML.replace(
        "untrusted-projects: [acme/app, other/app]\n",
        "untrusted-projects: [acme/app, other/app]\n      ghe:\n        untrusted-projects: [corp/app]\n",
    )
    other = {"ghe": {"corp/app": {".zuul.yaml": jobs("corp-unit"), "README": "corp\n"}}}
    with site_with(
        tmp_path,
        upstream,
        zk_server,
        zk_chroot,
        zk_client,
        main_yaml=main,
        config_yaml=also_for("ghe"),
        other_githubs=other,
    ) as s:
        yield s


def test_a_rotated_app_key_is_named_nothing_is_lost_and_another_github_goes_on(two_githubs, caplog):
    from lockgate.drivers.github.event_source import delivery_queue

    site = two_githubs
    ghe = site.others["ghe"]
    site.github.rotate_app_key(expire_tokens=True)
    mine = site.control.open_pull("acme/app", "mine", {"a.py": "1\n"}, title="Acme")
    theirs = ghe.control.open_pull("corp/app", "theirs", {"b.py": "2\n"}, title="Corp")
    build = build_for(site.client, "corp/app", theirs["number"])
    complete_build(site.client, build.uuid, "SUCCESS")
    wait_for(
        lambda: "success" in [s["state"] for s in ghe.control.statuses("corp/app")],
        60,
        "the other GitHub's pull request reported",
    )
    refused = wait_for(
        lambda: errors(caplog, "refused the App's JWT", "app_key"), 30, "the key error"
    )
    assert "GitHub App 7" in refused[0] and "acme/app" in refused[0]
    # Kept, to be processed once the key is replaced: nothing lost.
    (stored,) = delivery_queue(site.client, "github").list()
    assert stored[1]["payload"]["pull_request"]["number"] == mine["number"]
    assert not requested_for(site.client, "acme/app", mine["number"])
    answered_200(site)
    ghe.control.wait_deliveries_done()
    assert {d["status_code"] for d in ghe.control.deliveries()} == {200}


def test_github_answering_500_is_waited_out_then_the_item_reports_an_error(site, caplog):
    c = site.control
    # A pull request opened while every API call answers 500 (longer than the
    # patience): its delivery waits in ZooKeeper and is tested afterwards, once.
    c.outage(5, status=500)
    pr = c.open_pull("acme/app", "during", {"a.py": "1\n"}, title="During")
    build = build_for(site.client, "acme/app", pr["number"], timeout=90)
    complete_build(site.client, build.uuid, "SUCCESS")
    wait_for(lambda: "success" in state_of(site, "acme/app", pr["number"]), 60, "reported")
    assert state_of(site, "acme/app", pr["number"]) == ["pending", "success"]
    assert len([r for r in c.requests() if r["status"] == 500]) > 1  # retried
    # In the gate: the merge answers 500 for longer than the patience.
    c.label("acme/app", pr["number"], add=["gate"])
    gate = wait_for(
        lambda: [
            r for r in requested_for(site.client, "acme/app", pr["number"]) if r.pipeline == "gate"
        ],
        60,
        "the gate build",
    )[0]
    c.outage(60, status=500, path="/merge")
    complete_build(site.client, gate.uuid, "SUCCESS")
    comment = wait_for(lambda: c.comments("acme/app", pr["number"]), 60, "the error")[-1]
    assert "could not be merged" in comment["body"] and "HTTP 500" in comment["body"]
    assert "failure" in state_of(site, "acme/app", pr["number"], "demo/gate")
    assert not c.pull("acme/app", pr["number"])["merged"]
    c.clear_faults()
    answered_200(site)


def test_a_renamed_repository_keeps_its_items_reporting_and_is_reported(site, caplog):
    c = site.control
    pr = c.open_pull("acme/app", "before", {"a.py": "1\n"}, title="Before")
    build = build_for(site.client, "acme/app", pr["number"])
    c.rename_repo("acme/app", "app2")
    renamed = wait_for(
        lambda: errors(caplog, "acme/app was renamed to acme/app2"), 30, "the rename"
    )
    assert "rename the project in the tenant configuration" in renamed[0]
    # The item in flight reports through GitHub's redirects of the old name.
    complete_build(site.client, build.uuid, "SUCCESS")
    wait_for(lambda: "success" in state_of(site, "acme/app2", pr["number"]), 60, "success reported")
    # The new name is no tenant's project: skipped, saying why.
    after = c.open_pull("acme/app2", "after", {"b.py": "2\n"}, title="After")
    wait_for(lambda: events_settled(site.client, "demo"), 30, "the delivery processed")
    skipped = [
        r.getMessage()
        for r in caplog.records
        if r.levelno == logging.WARNING and "acme/app2 is in no tenant" in r.getMessage()
    ]
    assert skipped and "it is acme/app renamed" in skipped[-1]
    assert not requested_for(site.client, "acme/app2", after["number"])
    answered_200(site)
