"""``supercedes`` through the loop: a change entering the gate leaves check.
The Gerrit driver against the Gerrit emulator, the real merger, a real
ZooKeeper and SQLite; the launcher and executor played by hand."""

from __future__ import annotations

import pytest

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
    supercedes: check
    require:
      gerrit:
        open: true
        approval:
          - Workflow: 1
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
    check:
      jobs: [unit]
    gate:
      jobs: [unit]
"""


@pytest.fixture
def system(tmp_path, upstream, zk_server, zk_chroot, zk_client, gerrit):  # noqa: F811
    (tmp_path / "main.yaml").write_text(MAIN_YAML)
    upstream.create("config", {"zuul.yaml": CONFIG, "playbooks/base.yaml": "- hosts: all\n"})
    gerrit.control.create_project("org/app", {".zuul.yaml": APP, "README": "app\n"})
    connection = gerrit.zuul_conf_text().replace("keepalive=0", "keepalive=0\nevent_delay=0")
    config = review_site_config(tmp_path, zk_server, zk_chroot, upstream, connection)
    with scheduler_with_merger(tmp_path, config, zk_client):
        wait_for(lambda: gerrit.control.stream_status()["subscribers"], 30, "the event stream")
        yield zk_client, gerrit


def requested(client, pipeline: str):  # noqa: ANN001, ANN201
    fulfil_node_requests(client)
    return {
        r.zuul_vars["change"]: r
        for r in build_requests(client)
        if r.pipeline == pipeline and r.state.value == "requested"
    }


def test_a_change_entering_the_gate_leaves_check(system):
    client, gerrit_ = system
    c = gerrit_.control
    mine = str(c.create_change("org/app", {"a.txt": "a\n"}, "Change A")["number"])
    other = str(c.create_change("org/app", {"b.txt": "b\n"}, "Change B")["number"])
    checks = wait_for(
        lambda: (r := requested(client, "check")) and {mine, other} <= set(r) and r,
        90,
        "both check builds",
    )
    c.approve(int(mine))
    gated = wait_for(lambda: requested(client, "gate").get(mine), 90, "the gate build")

    def check_canceled() -> bool:
        found = [b for b in build_requests(client) if b.uuid == checks[mine].uuid]
        return not found or found[0].cancel_requested

    wait_for(check_canceled, 60, "the check build canceled")
    # The other change's check build goes on.
    assert not next(
        b for b in build_requests(client) if b.uuid == checks[other].uuid
    ).cancel_requested
    complete_build(client, gated.uuid, "SUCCESS")
    wait_for(lambda: c.change(int(mine))["status"] == "MERGED", 60, "merged")
    complete_build(client, checks[other].uuid, "SUCCESS")
    votes = wait_for(
        lambda: [r for r in c.reviews(change=int(other)) if r["account"] == "lockgate"],
        60,
        "the other change's check report",
    )
    assert votes[-1]["labels"] == {"Verified": 1}
    # Check never reported on the superseded change: only the gate's vote.
    mine_votes = [r["labels"] for r in c.reviews(change=int(mine)) if r["account"] == "lockgate"]
    assert {"Verified": 1} not in mine_votes and {"Verified": 2} in mine_votes
