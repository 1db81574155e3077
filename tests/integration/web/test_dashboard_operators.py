# ruff: noqa: F811  (fixtures imported by name and used as parameters)
"""The dashboard's operator pages (nodes, labels, autoholds, tenants) in a
real browser against the web app and ZooKeeper, with the launcher's and
the executor's records written by the test -- so each state is exactly the
one under test (a held node with its reason and expiry, a node of another
tenant, an autohold that holds a build, one deleted while its page is
open) -- and their pure parts run as the pages run them.

(``tests/e2e/test_dashboard.py`` opens the same pages against a whole
running Lockgate: nodes of real builds, the configured label, a semaphore
held by real jobs, an autohold made with a token.)
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from lockgate.db import Database
from lockgate.model.holds import HoldRequest, change_ref_filter
from lockgate.model.nodes import Node, NodeRequest, NodeState
from lockgate.model.tenant_state import TenantLayoutState
from lockgate.service_config import ServiceConfig
from lockgate.web import api_admin
from lockgate.web.app import make_app
from lockgate.web.zkstate import ZKClusterState
from lockgate.zk import NodeStore
from lockgate.zk.client import ZKClient
from lockgate.zk.components import register
from lockgate.zk.holds import HoldRequestStore
from lockgate.zk.layout_sources import LayoutSources, SourceFile, files_digest, save_sources
from lockgate.zk.requests import NodeRequestStore
from lockgate.zk.semaphores import SemaphoreSlots
from lockgate.zk.tenants import save_layout

from tests.fixtures.browser import browser, page, screenshot  # noqa: F401
from tests.fixtures.web import WebHarness

TENANT = "demo"
MAIN = f"""
- tenant:
    name: {TENANT}
    source:
      gerrit:
        config-projects: [org/config]
"""
FILES = {
    ("org/config", "master"): {
        "zuul.yaml": """
- pipeline:
    name: check
    manager: independent
    trigger: {gerrit: [{event: patchset-created}]}
- semaphore: {name: db, max: 2}
- semaphore: {name: deploy, max: 1}
"""
    }
}


class OperatorsWeb(WebHarness):
    """The web app with its admin endpoints (autohold reads) on ZooKeeper."""

    def __init__(self, zk: ZKClient, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.zk = zk

    async def _start(self) -> None:
        app = make_app(self.context)
        api_admin.configure(app, ServiceConfig.parse(""), self.zk)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(self.runner.addresses[0][1])


@pytest.fixture
def operators(tmp_path: Path, zk_client: ZKClient) -> Iterator[OperatorsWeb]:
    db = Database(f"sqlite:///{tmp_path}/web.db")
    db.upgrade()
    # The tenant's configuration as a scheduler publishes it (the labels'
    # and semaphores' endpoints read it).
    state = TenantLayoutState(tenant=TENANT, projects=["org/config"], pipelines=["check"])
    sources = LayoutSources(
        tenant=TENANT,
        layout_uuid=state.uuid,
        tenant_config=MAIN,
        connections={"gerrit": "gerrit"},
        branches={"org/config": ["master"]},
        files=[SourceFile("gerrit", p, b, files_digest(f)) for (p, b), f in FILES.items()],
    )
    save_sources(zk_client, sources, FILES)
    save_layout(zk_client, state)
    save_layout(zk_client, TenantLayoutState(tenant="other", projects=["org/other"]))
    harness = OperatorsWeb(zk_client, db, ZKClusterState(zk_client)).start()
    try:
        yield harness
    finally:
        harness.stop()
        db.close()


def test_nodes_labels_and_an_autohold_live(
    operators: OperatorsWeb, zk_client: ZKClient, page: Any
) -> None:
    """A running build's node, a held node (reason, expiry) and another
    tenant's node; the labels with their counts; an autohold holding a
    build, then deleted while its page is open: the pages follow without a
    reload."""
    requests, nodes, holds = (
        NodeRequestStore(zk_client),
        NodeStore(zk_client),
        HoldRequestStore(zk_client),
    )
    mine = NodeRequest(["ubuntu"], TENANT, "check", "bs1", "unit", "ev1")
    theirs = NodeRequest(["ubuntu"], "other", "check", "bs2", "unit", "ev2")
    requests.submit(mine)
    requests.submit(theirs)
    running = Node("ubuntu", "local", state=NodeState.IN_USE, allocated_to=mine.id)
    nodes.create(running)
    nodes.create(Node("ubuntu", "local", state=NodeState.IN_USE, allocated_to=theirs.id))
    hold = HoldRequest(
        tenant=TENANT,
        project="org/config",
        job="unit",
        reason="flaky: why?",
        ref_filter=change_ref_filter(42),
        node_expiration=3600,
    )
    holds.create(hold)
    held = Node(
        "ubuntu",
        "local",
        state=NodeState.HOLD,
        hold_request=hold.id,
        hold_tenant=TENANT,
        hold_job="demo org/app unit",
        comment="flaky: why?",
        held_at=time.time() - 600,
        hold_expiration=3600,
    )
    nodes.create(held)
    launcher = register(zk_client, "launcher", {"labels": ["ubuntu", "fedora"]})
    try:
        base = f"{operators.url}/t/{TENANT}"
        page.goto(f"{base}/nodes")
        page.wait_for_selector(f"#results-table tr[data-node='{held.id}']")
        assert set(page.locator("#results-table tbody tr").evaluate_all(
            "rows => rows.map(r => r.dataset.node)")) == {running.id, held.id}  # fmt: skip
        row = page.locator(f"tr[data-node='{held.id}']")
        assert row.get_attribute("data-state") == "hold"
        cells = row.locator("td").all_inner_texts()
        assert "flaky: why?" in cells[6] and "49m" in cells[6], cells  # kept 1 h, held 10 m ago
        assert cells[7].startswith("10m"), cells  # in its state since it was held
        assert "unit" in page.locator(f"tr[data-node='{running.id}']").inner_text()
        assert page.locator("#live-summary").inner_text() == "2 nodes: 1 in-use, 1 hold"
        page.fill("#live-filter", "flaky")
        page.wait_for_function("document.querySelectorAll('#results-table tbody tr').length === 1")
        assert "filter=flaky" in page.url
        screenshot(page, "ops-nodes")

        # A node arrives: shown at the next poll, no reload.
        page.evaluate("window.notReloaded = true")
        page.fill("#live-filter", "")
        ready = Node("fedora", "local", state=NodeState.READY, allocated_to=mine.id)
        nodes.create(ready)
        page.wait_for_selector(f"tr[data-node='{ready.id}'][data-state=ready]")
        assert page.evaluate("window.notReloaded") is True

        page.locator("header nav a", has_text="Labels").click()
        page.wait_for_selector("#results-table tr[data-label=ubuntu]")
        cells = page.locator("tr[data-label=ubuntu] td").all_inner_texts()
        assert cells[1:] == ["0", "1", "1", "0", "2"], cells  # ready, in use, held, other, all
        assert page.locator("tr[data-label=fedora] td").all_inner_texts()[1:] == [
            "1", "0", "0", "0", "1"]  # fmt: skip
        screenshot(page, "ops-labels")

        slots = SemaphoreSlots(zk_client, TENANT, "db", 2)
        slots.acquire("check/item-1/unit")
        page.locator("header nav a", has_text="Semaphores").click()
        page.wait_for_selector("#results-table tr[data-semaphore=db][data-count='1']")
        assert "free" in page.locator("tr[data-semaphore=deploy]").inner_text()
        assert "unit in check" in page.locator("tr[data-semaphore=db]").inner_text()
        slots.acquire("check/item-2/lint")  # full now: seen without a reload
        page.wait_for_selector("tr[data-semaphore=db][data-count='2'] .usage-bar .fill.full")
        assert page.locator("tr[data-semaphore=db] [role=meter]").inner_text() == "2 / 2"
        screenshot(page, "ops-semaphores")
        page.locator("tr[data-semaphore=db] a", has_text="db").click()
        page.wait_for_selector("#holders-table tr[data-job=lint]")
        assert page.locator("#holders-table tbody tr").count() == 2
        slots.release("check/item-1/unit")
        page.wait_for_function("document.querySelectorAll('#holders-table tbody tr').length === 1")
        assert page.evaluate("window.notReloaded") is True

        page.goto(f"{base}/autoholds")
        page.wait_for_selector(f"#results-table tr[data-autohold='{hold.id}']")
        text = page.locator(f"tr[data-autohold='{hold.id}']").inner_text()
        assert "change 42" in text and "0 / 1" in text and "1h 00m" in text, text
        # The executor holds a build: the list shows it, live.
        current = holds.get(hold.id)
        assert current is not None
        current.record.record_hold("build-1", [held.id], time.time())
        holds.update(current.record, current.version)
        page.wait_for_function(
            f"document.querySelector(\"tr[data-autohold='{hold.id}']\").textContent.includes('1 / 1')"
        )
        assert "used up" in page.locator(f"tr[data-autohold='{hold.id}']").inner_text()
        screenshot(page, "ops-autoholds")

        page.locator(f"tr[data-autohold='{hold.id}'] a", has_text=str(hold.id)).click()
        page.wait_for_selector("#held-builds tr[data-build=build-1]")
        held_row = page.locator("#held-builds tr[data-build=build-1]").inner_text()
        assert held.id in held_row and "hold" in held_row
        assert "flaky: why?" in page.locator("dl.facts").inner_text()
        screenshot(page, "ops-autohold")
        # Deleted (as autohold-delete does; the launcher then deletes the node).
        holds.delete(hold.id)
        nodes.delete(held.id)
        page.wait_for_function(
            "document.querySelector('#results').textContent.includes('There is no autohold')"
        )

        page.goto(f"{operators.url}/")
        page.wait_for_selector(f"table.list tr[data-tenant={TENANT}]")
        assert page.locator(f"tr[data-tenant={TENANT}] a", has_text="autoholds").count() == 1
    finally:
        launcher.unregister()


def test_the_operator_pages_pure_parts(operators: OperatorsWeb, page: Any) -> None:
    page.goto(f"{operators.url}/")
    page.wait_for_selector("h1")
    result = page.evaluate(
        """async () => {
        const nodes = await import('/static/js/pages/nodes.js');
        const holds = await import('/static/js/pages/autoholds.js');
        const sems = await import('/static/js/pages/semaphores.js');
        const live = await import('/static/js/live.js');
        const ns = [{label: 'a', state: 'in-use'}, {label: 'a', state: 'hold'},
                    {label: 'b', state: 'deleting'}, {label: 'a', state: 'in-use'}];
        const status = {pipelines: [{name: 'gate', change_queues: [{heads: [[
          {id: 'i1', refs: [{id: '12,3', project: 'org/app', ref: 'refs/changes/12/12/3'}]},
          {id: 'i2', refs: [{id: null, project: 'org/app', ref: 'refs/heads/main'}]}]]}]}]};
        const items = sems.itemsById(status);
        return {
          summary: nodes.nodeSummary(ns),
          none: nodes.nodeSummary([]),
          labels: nodes.labelCounts([{name: 'a'}, {name: 'c'}], ns),
          age: nodes.nodeAge({state_time: 1000}, 1065000),
          states: ['ready', 'hold', 'failed', 'weird'].map(nodes.nodeStateClass),
          refs: ['.*', 'refs/changes/\\\\d+/42/.*|refs/pull/42/.*', 'refs/pull/7/.*',
                 'refs/changes/\\\\d+/1/.*|refs/pull/2/.*', 'refs/heads/main']
            .map((f) => holds.refFilterText(f).text),
          expiry: [0, null, 90].map(holds.expirationText),
          heldIds: holds.heldNodeIds({nodes: [{build: 'b', nodes: ['1', '2']}, {build: 'c', nodes: ['3']}]}),
          holders: [{pipeline: 'gate', item_uuid: 'i1', job_name: 'lint'},
                    {pipeline: 'gate', item_uuid: 'i2', job_name: 'post'},
                    {pipeline: 'check', item_uuid: 'gone', job_name: 'x'}]
            .map((x) => sems.describeHolder(x, items)),
          match: [live.matchesTerm('', [null]), live.matchesTerm('fla', ['x', 'Flaky']),
                  live.matchesTerm('zz', ['x', null])],
        };
      }"""
    )
    assert result["summary"] == "4 nodes: 2 in-use, 1 hold, 1 deleting"
    assert result["none"] == "0 nodes"
    assert result["labels"] == [
        {"name": "a", "served": True, "total": 3, "ready": 0, "inUse": 2, "hold": 1, "other": 0},
        {"name": "b", "served": False, "total": 1, "ready": 0, "inUse": 0, "hold": 0, "other": 1},
        {"name": "c", "served": True, "total": 0, "ready": 0, "inUse": 0, "hold": 0, "other": 0},
    ]
    assert result["age"] == 65
    assert result["states"] == ["ok", "warn", "bad", "muted"]
    assert result["refs"] == [
        "any ref",
        "change 42",
        "change 7",
        r"refs/changes/\d+/1/.*|refs/pull/2/.*",
        "refs/heads/main",
    ]
    assert result["expiry"] == ["until deleted", "until deleted", "1m 30s"]
    assert result["heldIds"] == ["1", "2", "3"]
    assert result["holders"] == [
        {"job": "lint", "pipeline": "gate", "item": "i1", "change": "12,3",
         "ref": "refs/changes/12/12/3", "project": "org/app"},
        {"job": "post", "pipeline": "gate", "item": "i2", "change": None,
         "ref": "refs/heads/main", "project": "org/app"},
        {"job": "x", "pipeline": "check", "item": "gone", "change": None, "ref": None,
         "project": None},
    ]  # fmt: skip
    assert result["match"] == [True, True, False]
