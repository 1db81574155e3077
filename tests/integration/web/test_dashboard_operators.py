# ruff: noqa: F811  (fixtures imported by name and used as parameters)
"""The dashboard's operator pages (nodes, labels, autoholds, tenants) in a
real browser against the web app and ZooKeeper, with the launcher's and
the executor's records written by the test -- so each state is exactly the
one under test (a held node with its reason and expiry, a node of another
tenant, an autohold that holds a build, one deleted while its page is
open) -- and their pure parts run as the pages run them.

An admin's actions from the dashboard too: with a login pasted in the
header, the item menu's dequeue and promote, a buildset's re-enqueue and
an autohold made and deleted, each asserted where the admin endpoint writes
it (the tenant's management queue, the hold requests in ZooKeeper), a
refusal shown in the server's words, and the banner of a tenant whose
events are paused.

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
from lockgate.auth.rules import TenantAuth
from lockgate.db import Database, RefInfo
from lockgate.model.event_state import TenantEventState
from lockgate.model.holds import HoldRequest, change_ref_filter
from lockgate.model.management import ManagementEvent, ManagementKind
from lockgate.model.nodes import Node, NodeRequest, NodeState
from lockgate.model.queue import JobStatus
from lockgate.model.tenant_state import TenantLayoutState
from lockgate.web.zkstate import ZKClusterState
from lockgate.zk import NodeStore
from lockgate.zk.client import ZKClient
from lockgate.zk.components import register
from lockgate.zk.event_state import save_event_state
from lockgate.zk.holds import HoldRequestStore
from lockgate.zk.layout_sources import LayoutSources, SourceFile, files_digest, save_sources
from lockgate.zk.queues import management_queue
from lockgate.zk.requests import NodeRequestStore
from lockgate.zk.semaphores import SemaphoreSlots
from lockgate.zk.tenants import save_layout

from tests.fixtures.auth import HS256Realm
from tests.fixtures.browser import browser, page, screenshot  # noqa: F401
from tests.fixtures.web import WebHarness, served, with_admin
from tests.integration.web.test_dashboard import change_item, job, write_gate

TENANT = "demo"
SSO = HS256Realm(
    "sso", "sso.example.com", "lockgate-sso", "dashboard-operators-secret-long-enough-for-hs256"
)
AUTH = SSO.section()
ADMINS = TenantAuth(
    realm="sso.example.com", admin_rules=["ops"], rules={"ops": [{"groups": "ops"}]}
)


ADMIN = SSO.token("oscar", lifetime=3600, groups=["ops"])

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


def layout_state(auth: TenantAuth) -> TenantLayoutState:
    return TenantLayoutState(
        tenant=TENANT,
        projects=["org/config", "org/app"],
        pipelines=["check", "gate"],
        pipeline_info={"gate": {"manager": "dependent"}, "check": {"manager": "independent"}},
        auth=auth.to_dict(),
    )


@pytest.fixture
def operators(tmp_path: Path, zk_client: ZKClient) -> Iterator[WebHarness]:
    db = Database(f"sqlite:///{tmp_path}/web.db")
    db.upgrade()
    # The tenant's configuration as a scheduler publishes it (the labels'
    # and semaphores' endpoints read it).
    state = layout_state(ADMINS)
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
    # The web app with its admin endpoints on ZooKeeper and an HS256 realm.
    harness = WebHarness(db, ZKClusterState(zk_client), configure=with_admin(AUTH, zk_client))
    try:
        yield from served(harness)
    finally:
        db.close()


def test_nodes_labels_and_an_autohold_live(
    operators: WebHarness, zk_client: ZKClient, page: Any
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
        # Kept 1 h, held 10 m ago: 50m left, or just under once a second has passed.
        assert "flaky: why?" in cells[6], cells
        assert "(49m" in cells[6] or "(50m 00s left)" in cells[6], cells
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
            "document.querySelector('#results')?.textContent.includes('There is no autohold')"
        )

        page.goto(f"{operators.url}/")
        page.wait_for_selector(f"table.list tr[data-tenant={TENANT}]")
        assert page.locator(f"tr[data-tenant={TENANT}] a", has_text="autoholds").count() == 1
    finally:
        launcher.unregister()


def test_the_operator_pages_pure_parts(operators: WebHarness, page: Any) -> None:
    page.goto(f"{operators.url}/")
    page.wait_for_selector("h1")
    result = page.evaluate(
        """async () => {
        const nodes = await import('/static/js/pages/nodes.js');
        const holds = await import('/static/js/pages/autoholds.js');
        const sems = await import('/static/js/pages/semaphores.js');
        const live = await import('/static/js/live.js');
        const admin = await import('/static/js/admin.js');
        const events = await import('/static/js/eventstate.js');
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
          actions: [
            [{name: 'gate', manager: 'dependent'}, status.pipelines[0].change_queues[0].heads[0][0]],
            [{name: 'post', manager: 'independent'}, status.pipelines[0].change_queues[0].heads[0][1]],
            [{name: 'check', manager: 'independent'}, {id: 'x', live: true, refs: [{id: '5,2', project: 'p'}]}],
            [{name: 'gate', manager: 'dependent'}, {id: 'y', live: false, refs: [{id: '6,1', project: 'p'}]}],
          ].map(([p, i]) => admin.itemActions(p, i)),
          reenqueue: [
            {pipeline: 'check', refs: [{project: 'p', change: 7, patchset: '3', ref: 'refs/changes/07/7/3'}]},
            {pipeline: 'post', refs: [{project: 'p', change: null, ref: 'refs/heads/main', oldrev: 'a', newrev: 'b'}]},
            {pipeline: 'post', refs: []},
          ].map(admin.reenqueueTarget),
          holds: [
            {project: ' org/app ', job: 'unit', reason: 'why', change: '12'},
            {project: 'p', job: 'j', reason: 'r', ref: 'refs/heads/.*', count: '3', hours: '1.5'},
            {project: 'p', job: 'j', reason: 'r', change: '12', ref: 'x'},
            {project: 'p', job: 'j', reason: 'r', change: 'abc'},
            {project: 'p', job: 'j', reason: 'r', count: '0'},
            {project: 'p', job: '', reason: 'r'},
          ].map((v) => { try { return admin.autoholdRequest(v); } catch (e) { return e.message; } }),
          isAdmin: [{zuul: {admin: true, scope: ['demo']}}, {zuul: {admin: true, scope: ['other']}},
                    {zuul: {admin: true, scope: ['*']}}, {zuul: {admin: false, scope: ['demo']}}, null]
            .map((a) => admin.isAdminOf(a, 'demo')),
          banner: [null, {}, {trigger_queue_discarding: true, reason: 'r'},
                   {trigger_queue_paused: true, trigger_queue_discarding: true},
                   {result_queue_paused: true, reason: 'upgrade'}].map(events.eventStateText),
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
    dequeue_12 = {
        "project": "org/app",
        "label": "change 12,3",
        "body": {"pipeline": "gate", "change": "12,3"},
    }
    assert result["actions"] == [
        {"dequeue": dequeue_12, "promote": {"change": "12,3", "project": "org/app"}},
        {"dequeue": {"project": "org/app", "label": "refs/heads/main",
                     "body": {"pipeline": "post", "ref": "refs/heads/main"}}, "promote": None},
        {"dequeue": {"project": "p", "label": "change 5,2", "body": {"pipeline": "check", "change": "5,2"}},
         "promote": None},  # promote: dependent pipelines only
        {"dequeue": None, "promote": None},  # not live
    ]  # fmt: skip
    assert result["reenqueue"] == [
        {"project": "p", "label": "change 7,3", "body": {"pipeline": "check", "change": "7,3"}},
        {"project": "p", "label": "refs/heads/main",
         "body": {"pipeline": "post", "ref": "refs/heads/main", "oldrev": "a", "newrev": "b"}},
        None,
    ]  # fmt: skip
    assert result["holds"] == [
        {"project": "org/app", "body": {"job": "unit", "reason": "why", "count": 1, "change": "12"}},
        {"project": "p", "body": {"job": "j", "reason": "r", "count": 3, "ref": "refs/heads/.*",
                                  "node_hold_expiration": 5400}},
        "Give a change or a ref expression, not both.",
        "A change is its number, or number,patchset (e.g. 1234 or 1234,2).",
        "The count is a whole number, 1 or more.",
        "Name the job.",
    ]  # fmt: skip
    assert result["isAdmin"] == [True, False, True, False, False]
    assert result["banner"] == [
        None,
        None,
        "Trigger events are discarded: r",
        "Trigger events are paused: no reason given",  # pausing wins
        "Trigger and result events are paused: upgrade",
    ]


def queued(zk: ZKClient) -> list[ManagementEvent]:
    return [ManagementEvent.from_dict(d) for _, d in management_queue(zk, TENANT).list()]


def confirm_dialog(page: Any) -> str:
    """The open dialog's text; then Confirm."""
    page.wait_for_selector("#admin-dialog[open]")
    text = page.locator("#admin-dialog").inner_text()
    page.click("#admin-confirm")
    return text


def item_action(page: Any, change: str, action: str, shot: str | None = None) -> str:
    item = f".item[data-change='{change}']"
    page.click(f"{item} .item-menu summary")
    if shot:
        screenshot(page, shot)
    page.click(f"{item} .item-menu .menu-{action}")
    return confirm_dialog(page)


def test_an_admin_acts_from_the_dashboard(
    operators: WebHarness, zk_client: ZKClient, page: Any
) -> None:
    """Logged in from the header on a tenant that is not read-protected, an
    admin dequeues and promotes from the status, re-enqueues a buildset,
    makes an autohold from a build and deletes it from its page: each
    reaches ZooKeeper as the admin endpoint writes it.  The banner follows
    the tenant's event state; a refused action shows the server's reason."""
    write_gate(
        zk_client,
        [
            change_item("i12", 12, None, [job("unit", status=JobStatus.WAITING)]),
            change_item("i13", 13, "i12", [job("unit", status=JobStatus.WAITING)]),
        ],
    )
    db = operators.context.db
    ref = RefInfo(project="org/app", ref="refs/changes/12/12/1", change=12, patchset="1")
    db.create_buildset("bs-12", TENANT, "check", [ref])
    db.create_build("b-12-unit", "bs-12", "unit")
    base = f"{operators.url}/t/{TENANT}"

    page.goto(f"{base}/status")
    page.wait_for_selector(".item[data-change='13,1']")
    assert page.locator(".item-menu").count() == 0  # no login, no actions
    assert page.locator("#event-state").count() == 0
    page.click("#login-open")
    assert "act as an admin" in page.locator("#login").inner_text()
    page.fill("#login-token", ADMIN)
    page.click("#login-submit")
    page.wait_for_selector(".item[data-change='13,1'] .item-menu")
    assert page.locator("#admin-badge").inner_text() == "admin"

    text = item_action(page, "13,1", "dequeue", shot="admin-status-menu")
    assert "change 13,1" in text and "org/app" in text, text
    page.wait_for_selector("#notices .message.ok")
    (dequeue,) = queued(zk_client)
    assert (dequeue.kind, dequeue.pipeline, dequeue.project, dequeue.change) == (
        ManagementKind.DEQUEUE, "gate", "org/app", "13,1")  # fmt: skip
    assert dequeue.requested_by == "oscar"
    assert item_action(page, "13,1", "promote").startswith("Promote change 13,1")
    page.wait_for_function("document.querySelectorAll('#notices .message.ok').length === 2")
    promote = queued(zk_client)[1]
    assert (promote.kind, promote.pipeline, promote.changes) == (
        ManagementKind.PROMOTE, "gate", ["13,1"])  # fmt: skip

    # Events paused (zuul-client manage-events): the status says so, live.
    save_event_state(
        zk_client,
        TenantEventState(TENANT, trigger_queue_paused=True, reason="Gerrit upgrade", last_modified=time.time()),
    )  # fmt: skip
    page.wait_for_selector("#event-state[data-state=paused]")
    assert "Trigger events are paused: Gerrit upgrade" in page.locator("#event-state").inner_text()
    screenshot(page, "admin-status-paused")

    # A buildset re-enqueued: its change, in its pipeline.
    page.goto(f"{base}/buildset/bs-12")
    page.wait_for_selector("#event-state")  # every tenant page (from the tenant's info)
    page.click("#buildset-reenqueue")
    assert "Re-enqueue change 12,1?" in confirm_dialog(page)
    page.wait_for_selector("#notices .message.ok")
    enqueue = queued(zk_client)[2]
    assert (enqueue.kind, enqueue.pipeline, enqueue.project, enqueue.change) == (
        ManagementKind.ENQUEUE, "check", "org/app", "12,1")  # fmt: skip
    save_event_state(zk_client, TenantEventState(TENANT))

    # An autohold from a build: the form comes filled in from the build.
    page.goto(f"{base}/build/b-12-unit")
    page.click("#build-autohold")
    page.wait_for_selector("#admin-dialog[open]")
    assert page.input_value("#autohold-project") == "org/app"
    assert page.input_value("#autohold-job") == "unit"
    assert page.input_value("#autohold-change") == "12"
    page.click("#admin-confirm")  # no reason: said before anything is sent
    page.wait_for_selector("#admin-problem .message.error")
    assert "Give a reason" in page.locator("#admin-problem").inner_text()
    page.fill("#autohold-reason", "flaky unit")
    page.fill("#autohold-count", "2")
    page.fill("#autohold-hours", "2")
    screenshot(page, "admin-autohold-form")
    page.click("#admin-confirm")
    page.wait_for_selector("#notices .message.ok")
    assert page.locator("#event-state").count() == 0  # resumed
    (hold,) = HoldRequestStore(zk_client).for_tenant(TENANT)
    assert (hold.project, hold.job, hold.reason, hold.ref_filter) == (
        "org/app", "unit", "flaky unit", change_ref_filter(12))  # fmt: skip
    assert (hold.max_count, hold.node_expiration, hold.requested_by) == (2, 7200, "oscar")

    # Deleted from its page.
    page.goto(f"{base}/autohold/{hold.id}")
    page.wait_for_selector("#autohold-delete")
    screenshot(page, "admin-autohold")
    page.click("#autohold-delete")
    assert f"Delete autohold {hold.id}?" in confirm_dialog(page)
    page.wait_for_function(
        "document.querySelector('#results')?.textContent.includes('There is no autohold')"
    )
    assert HoldRequestStore(zk_client).for_tenant(TENANT) == []

    # The tenant's admin-rules change while the dashboard still holds that
    # the login may act (asked at most a minute ago): the action is refused
    # with the server's reason, nothing is queued, and the menu goes away.
    page.locator("header nav a", has_text="Status").click()
    page.wait_for_selector(".item[data-change='12,1'] .item-menu")
    save_layout(zk_client, layout_state(TenantAuth(realm="sso.example.com", admin_rules=[])))
    item_action(page, "12,1", "dequeue")
    page.wait_for_selector("#admin-problem .message.error")
    refused = page.locator("#admin-problem").inner_text()
    assert "Refused (403)" in refused and "'oscar' is not an admin of tenant 'demo'" in refused
    screenshot(page, "admin-refused")
    assert len(queued(zk_client)) == 3
    page.click("#admin-cancel")
    page.wait_for_function("!document.querySelector('.item-menu')")
    assert page.locator("#admin-dialog").count() == 0
