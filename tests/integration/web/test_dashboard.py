# ruff: noqa: F811  (fixtures imported by name and used as parameters)
"""The dashboard in a real browser against the web app, ZooKeeper, SQL and an
executor's console stream -- with the scheduler's and executor's records
written by the test, so that each state is exactly the one under test.

(``tests/e2e/test_dashboard.py`` runs the dashboard against a whole running
Lockgate; this module pins what is hard to reach there on demand: a
dependent queue with a failed item, a build's task record with a failed
task, a console that is streamed and then ends, one whose websocket drops
and is opened again -- or never comes back.)
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lockgate.db import Database, RefInfo
from lockgate.executor.console_stream import ConsoleStreamServer
from lockgate.model.change import Change
from lockgate.model.jobs import FrozenJob
from lockgate.model.queue import ChangeQueue, ItemState, JobState, JobStatus, QueueItem
from lockgate.model.tenant_state import TenantLayoutState
from lockgate.web.zkstate import ZKClusterState
from lockgate.zk.client import ZKClient
from lockgate.zk.pipelines import PipelineStore
from lockgate.zk.streams import StreamLocation, register_stream, unregister_stream
from lockgate.zk.tenants import save_layout

from tests.fixtures.browser import browser, page, screenshot  # noqa: F401
from tests.fixtures.web import WebHarness

TENANT = "demo"
NOW = time.time() - 100


@pytest.fixture
def system(tmp_path: Path, zk_client: ZKClient) -> Iterator[dict[str, Any]]:
    """The web app on a port, a migrated SQLite, a log root, a console stream server."""
    logs = tmp_path / "logs"
    logs.mkdir()
    db = Database(f"sqlite:///{tmp_path}/web.db")
    db.upgrade()
    save_layout(
        zk_client,
        TenantLayoutState(
            tenant=TENANT,
            projects=["org/app"],
            pipelines=["check", "gate"],
            pipeline_info={
                "gate": {"manager": "dependent", "description": "tested together"},
                "check": {"manager": "independent"},
            },
        ),
    )
    web = WebHarness(db, ZKClusterState(zk_client), str(logs)).start()
    stream = ConsoleStreamServer(logs, poll_interval=0.02)
    stream.start()
    try:
        yield {"web": web, "db": db, "zk": zk_client, "logs": logs, "stream": stream}
    finally:
        stream.stop()
        web.stop()
        db.close()


def job(name: str, **state: Any) -> JobState:
    return JobState(name=name, job=FrozenJob(name=name), **state)


def change_item(uuid: str, number: int, ahead: str | None, jobs: list[JobState]) -> QueueItem:
    return QueueItem(
        uuid=uuid,
        tenant=TENANT,
        pipeline="gate",
        queue="org/app",
        event_id=f"ev-{uuid}",
        event_type="comment-added",
        connection="gerrit",
        project="org/app",
        ref=f"refs/changes/{number:02d}/{number}/1",
        branch="main",
        state=ItemState.ACTIVE,
        buildset_uuid=f"bs-{uuid}",
        enqueue_time=NOW - 300,
        item_ahead=ahead,
        change=Change(
            connection="gerrit",
            project="org/app",
            branch="main",
            number=number,
            patchset=1,
            commit=f"{number:040d}",
            url=f"https://review.example.org/c/org/app/+/{number}",
        ),
        jobs=jobs,
    )


def write_gate(zk: ZKClient, items: list[QueueItem]) -> None:
    store = PipelineStore(zk, TENANT)
    loaded = store.load("gate")
    loaded.items = {i.uuid: i for i in items}
    loaded.state.queues = [
        ChangeQueue(name="org/app", items=[i.uuid for i in items], dynamic=False)
    ]
    store.save_items(loaded, set(loaded.items))
    store.save_state(loaded)


def test_status_draws_the_gate_and_follows_it_live(system: dict[str, Any], page: Any) -> None:
    """Three changes in the gate: 12 at the head, 13 failing (built on 12),
    14 tested on 12 without 13; then 12's job ends and the page shows it
    without being reloaded."""
    running = job(
        "unit", status=JobStatus.BUILD_REQUESTED, build_uuid="b12", attempt=1, start_time=NOW
    )
    items = [
        change_item("i12", 12, None, [running]),
        change_item(
            "i13",
            13,
            "i12",
            [job("unit", status=JobStatus.COMPLETED, build_uuid="b13", result="FAILURE")],
        ),
        change_item("i14", 14, "i12", [job("unit", status=JobStatus.WAITING)]),
    ]
    write_gate(system["zk"], items)
    web = system["web"]
    page.goto(f"{web.url}/t/{TENANT}/status")
    page.wait_for_selector(".item[data-change='14,1']")
    page.evaluate("window.notReloaded = true")
    gate = page.locator("section.pipeline[data-pipeline=gate]")
    assert gate.locator(".item").count() == 3
    # What each item is tested on: 13 and 14 on 12; 13 failing, on a side column.
    assert "tested on top of 12,1" in gate.locator(".item[data-change='13,1'] .ahead").inner_text()
    assert "tested on top of 12,1" in gate.locator(".item[data-change='14,1'] .ahead").inner_text()
    assert "failing: unit" in gate.locator(".item[data-change='13,1']").inner_text()
    nodes = gate.locator(".tree .node")
    assert nodes.count() == 3
    lefts = [n.evaluate("e => parseFloat(e.style.left)") for n in nodes.all()]
    assert lefts[0] == lefts[2] < lefts[1], lefts  # 13 aside, 12 -> 14 straight
    assert "bad" in nodes.nth(1).get_attribute("class")
    job12 = gate.locator(".item[data-change='12,1'] li.job[data-job=unit]")
    assert job12.get_attribute("data-state") == "running"
    assert job12.locator("[role=progressbar]").count() == 1
    assert job12.locator("a").get_attribute("href") == (
        f"/t/{TENANT}/stream/b12?logfile=console.log"
    )
    failed = gate.locator(".item[data-change='13,1'] li.job[data-job=unit] .badge")
    assert failed.inner_text() == "FAILURE" and "bad" in failed.get_attribute("class")
    screenshot(page, "fixture-status-gate")

    # The head's job succeeds: the page follows without a reload.
    items[0].jobs[0] = job(
        "unit",
        status=JobStatus.COMPLETED,
        build_uuid="b12",
        attempt=1,
        start_time=NOW,
        end_time=NOW + 60,
        result="SUCCESS",
    )
    write_gate(system["zk"], items)
    page.wait_for_selector(
        ".item[data-change='12,1'] li.job[data-job=unit][data-state=SUCCESS]", timeout=15_000
    )
    assert page.evaluate("window.notReloaded") is True
    assert job12.locator("a").get_attribute("href") == f"/t/{TENANT}/build/b12"

    # The filter and the change's own page.
    page.fill("#status-filter", "14")
    page.wait_for_function("document.querySelectorAll('.item').length === 1")
    assert page.locator(".item").get_attribute("data-change") == "14,1"
    assert "filter=14" in page.url
    page.goto(f"{web.url}/t/{TENANT}/status/change/13")
    page.wait_for_selector(".item[data-change='13,1']")
    assert page.locator(".item").count() == 1


TASKS = [
    {
        "phase": "run",
        "index": 0,
        "playbook": "/var/lib/lockgate/executor/builds/b1/work/src/example.org/org/app/playbooks/run.yaml",
        "trusted": False,
        "plays": [
            {
                "play": {"name": "all", "id": "p1", "duration": {}},
                "tasks": [
                    {
                        "task": {"name": "Say hello", "id": "t1", "duration": {}},
                        "hosts": {"node": {"status": "changed", "stdout": "hello", "rc": 0}},
                    },
                    {
                        "task": {"name": "Run the tests", "id": "t2", "duration": {}},
                        "hosts": {
                            "node": {
                                "status": "failed",
                                "rc": 2,
                                "cmd": "make test",
                                "stdout": "1 test failed: test_widget",
                                "stderr": "make: *** [test] Error 2",
                            }
                        },
                    },
                ],
            }
        ],
        "stats": {"node": {"ok": 1, "changed": 1, "failures": 1, "skipped": 0}},
    }
]


def failed_build(db: Database, logs: Path) -> None:
    """Build ``b1``: failed, with a task record, logs and an artifact."""
    ref = RefInfo(
        project="org/app",
        ref="refs/changes/12/12/1",
        branch="main",
        change=12,
        patchset="1",
        newrev="a" * 40,
        ref_url="https://review.example.org/c/org/app/+/12",
    )
    db.create_buildset("bs1", TENANT, "check", [ref])
    db.create_build("b1", "bs1", "unit", start_time=NOW)
    db.update_build(
        "b1",
        result="FAILURE",
        end_time=NOW + 42,
        log_url="http://lockgate.example.org/logs/b1/",  # another host name: read here
        artifacts=[{"name": "coverage report", "url": "https://logs.example.org/cov/"}],
    )
    (logs / "b1" / "zuul-info").mkdir(parents=True)
    (logs / "b1" / "job-output.json").write_text(json.dumps(TASKS))
    (logs / "b1" / "job-output.txt").write_text("2024-01-01 00:00:00.000000 | hello\n")
    (logs / "b1" / "zuul-info" / "inventory.yaml").write_text("all: {}\n")


def test_a_finished_build_shows_its_tasks_logs_and_artifacts(
    system: dict[str, Any], page: Any
) -> None:
    web = system["web"]
    failed_build(system["db"], system["logs"])
    page.goto(f"{web.url}/t/{TENANT}/build/b1")
    page.wait_for_selector("details.task")
    assert "FAILURE" in page.locator("h1").inner_text()
    tasks = page.locator("details.task")
    assert tasks.count() == 2
    assert tasks.nth(0).get_attribute("open") is None  # a passed task is closed
    assert tasks.nth(1).get_attribute("open") is not None  # the failed one open
    assert "1 test failed: test_widget" in tasks.nth(1).inner_text()
    assert "make test" in tasks.nth(1).inner_text()
    assert page.locator("details.playbook").get_attribute("open") is not None
    assert "org/app/playbooks/run.yaml" in page.locator(".playbook-path").inner_text()
    page.wait_for_selector("#log-files li.file")
    files = page.locator("#log-files").inner_text()
    assert "job-output.txt" in files and "zuul-info/" in files
    page.locator("#log-files summary").click()
    page.wait_for_selector("#log-files li.dir li.file")
    assert "inventory.yaml" in page.locator("#log-files li.dir").inner_text()
    artifact = page.locator("#artifacts a")
    assert artifact.inner_text() == "coverage report"
    assert artifact.get_attribute("href") == "https://logs.example.org/cov/"
    change = page.locator("dl.facts a", has_text="12,1")
    assert change.get_attribute("href") == "https://review.example.org/c/org/app/+/12"
    screenshot(page, "fixture-build-failed")


def lose(page: Any, patterns: dict[str, int]) -> dict[str, int]:
    """Requests whose URL ends with a key fail without an answer (as Chromium
    fails them with ERR_NETWORK_CHANGED), the first N times each; returns
    how many were lost per key."""
    lost = dict.fromkeys(patterns, 0)

    def route(request_route: Any) -> None:
        url = request_route.request.url.split("?")[0]
        for suffix, times in patterns.items():
            if url.endswith(suffix) and lost[suffix] < times:
                lost[suffix] += 1
                request_route.abort("connectionreset")
                return
        request_route.continue_()

    page.route("**/*", route)
    return lost


def test_a_page_survives_requests_lost_on_the_way(system: dict[str, Any], page: Any) -> None:
    # A module lost: the page loads again; reads lost: tried again.
    failed_build(system["db"], system["logs"])
    lost = lose(
        page,
        {"/static/js/pages/build.js": 1, "/api/tenant/demo/build/b1": 2, "/job-output.json": 1},
    )
    page.goto(f"{system['web'].url}/t/{TENANT}/build/b1")
    page.wait_for_selector("details.task.failed[open]")
    assert "1 test failed: test_widget" in page.locator("details.task.failed").inner_text()
    page.wait_for_selector("#log-files li.file")
    assert lost == {"/static/js/pages/build.js": 1, "/api/tenant/demo/build/b1": 2,
                    "/job-output.json": 1}  # fmt: skip


def test_a_page_whose_scripts_never_arrive_says_so(system: dict[str, Any], page: Any) -> None:
    lost = lose(page, {"/static/js/pages/build.js": 100})
    page.goto(f"{system['web'].url}/t/{TENANT}/builds")
    alert = page.wait_for_selector("#app [role=alert]")
    assert "could not load its scripts" in alert.inner_text()
    assert lost["/static/js/pages/build.js"] == 4  # the first load and three more


def test_builds_table_filters_and_pages(system: dict[str, Any], page: Any) -> None:
    db, web = system["db"], system["web"]
    ref = RefInfo(project="org/app", ref="refs/heads/main", branch="main", newrev="c" * 40)
    db.create_buildset("bs3", TENANT, "post", [ref])
    for i in range(55):
        db.create_build(f"p{i:02d}", "bs3", f"job-{i:02d}", start_time=NOW + i)
        db.update_build(f"p{i:02d}", result="FAILURE" if i % 5 == 0 else "SUCCESS")
    page.goto(f"{web.url}/t/{TENANT}/builds")
    rows = page.locator("#results-table tbody tr")
    page.wait_for_selector("#results-table")
    assert rows.count() == 50
    assert rows.first.get_attribute("data-uuid") == "p54"
    page.click("button:has-text('older')")
    page.wait_for_url("**/builds?skip=50")
    page.wait_for_function("document.querySelectorAll('#results-table tbody tr').length === 5")
    assert rows.last.get_attribute("data-uuid") == "p00"
    assert page.locator("button:has-text('older')").is_disabled()
    page.fill("input[data-filter=result]", "FAILURE")
    page.click("form.filters button[type=submit]")
    page.wait_for_url("**/builds?result=FAILURE")
    page.wait_for_function("document.querySelectorAll('#results-table tbody tr').length === 11")
    # A filtered, paged view is a link: loading it again gives the same rows.
    page.goto(f"{web.url}/t/{TENANT}/builds?result=FAILURE&skip=10")
    page.wait_for_selector("#results-table")
    assert rows.count() == 1 and rows.first.get_attribute("data-uuid") == "p00"
    assert page.locator("input[data-filter=result]").input_value() == "FAILURE"


def running_build(system: dict[str, Any]) -> Path:
    """Build b2 running, its console streamed by the executor; the console file."""
    db, logs, stream = system["db"], system["logs"], system["stream"]
    ref = RefInfo(project="org/app", ref="refs/heads/main", branch="main", newrev="b" * 40)
    db.create_buildset("bs2", TENANT, "post", [ref])
    db.create_build("b2", "bs2", "publish", start_time=NOW)
    console = logs / "b2" / "job-output.txt"
    console.parent.mkdir()
    console.write_text("2024-01-01 00:00:00.000000 | TASK [publish]\n")
    stream.build_started("b2")
    location = StreamLocation("b2", TENANT, "127.0.0.1", stream.port, "ze01")
    register_stream(system["zk"], location)
    return console


def record_build_end(system: dict[str, Any]) -> None:
    """Build b2's result and task log recorded (its stream not told)."""
    logs, url = system["logs"], system["web"].url
    (logs / "b2" / "job-output.json").write_text(json.dumps(TASKS))
    system["db"].update_build("b2", result="FAILURE", end_time=NOW + 5, log_url=f"{url}/logs/b2/")


def end_running_build(system: dict[str, Any]) -> None:
    record_build_end(system)
    system["stream"].build_ended("b2", "build ended: FAILURE")


def test_a_running_build_page_streams_its_console_then_shows_the_result(
    system: dict[str, Any], page: Any
) -> None:
    console = running_build(system)
    page.goto(f"{system['web'].url}/t/{TENANT}/build/b2")
    page.wait_for_function(
        "document.querySelector('#console')?.textContent.includes('TASK [publish]')"
    )
    with open(console, "a") as out:
        out.write("2024-01-01 00:00:01.000000 | node | ERROR: return code 1\n")
    page.wait_for_selector("#console .line.bad")
    screenshot(page, "fixture-build-running")
    end_running_build(system)
    page.wait_for_selector("#console-state[data-code='1000']")
    assert page.locator("#console-state").inner_text() == "build ended: FAILURE"
    # Then the page shows the finished build (its tasks) by itself.
    page.wait_for_selector("details.task.failed", timeout=15_000)


def console_streams(page: Any, reachable: int) -> list[tuple[float, Any]]:
    """The page's console-stream websockets, through Playwright, with when
    each was opened: the first ``reachable`` reach the web; the others fail
    at once, as one the browser could not open does (1006, no close frame).
    ``drop(route)`` ends a reached one as a lost network does."""
    opened: list[tuple[float, Any]] = []

    def handler(route: Any) -> None:
        opened.append((time.monotonic(), route))
        if len(opened) > reachable:
            route.on_close(lambda code, reason: None)
            route.close(code=1006, reason="")
            return
        server = route.connect_to_server()
        # The page's side ended (by drop()): end the web's side too, cleanly
        # (a browser's websocket cannot be closed with 1006 itself).
        route.on_close(lambda code, reason: server.close())

    page.route_web_socket("**/console-stream", handler)
    return opened


# Chromium's timers may fire a few milliseconds before their time.
SLACK = 0.02


def drop(route: Any) -> None:
    route.close(code=1006, reason="")


def console_has(page: Any, text: str) -> None:
    page.wait_for_function(
        "text => document.querySelector('#console')?.textContent.includes(text)", arg=text
    )


def stream_then_drop(
    system: dict[str, Any], page: Any, reachable: int
) -> tuple[Path, list[Any], float]:
    """The console of running build b2 drawn, then its websocket dropped
    (1006); ``reachable`` streams in all get through.  Returns the console
    file, the streams opened so far (kept up to date) and when it dropped."""
    console = running_build(system)
    opened = console_streams(page, reachable=reachable)
    page.goto(f"{system['web'].url}/t/{TENANT}/stream/b2")
    console_has(page, "TASK [publish]")
    dropped = time.monotonic()
    drop(opened[0][1])
    return console, opened, dropped


def test_a_console_stream_that_drops_connects_again_without_repeating_lines(
    system: dict[str, Any], page: Any
) -> None:
    console, opened, dropped = stream_then_drop(system, page, reachable=2)
    with open(console, "a") as out:
        out.write("2024-01-01 00:00:01.000000 | node | ERROR: return code 1\n")
    # Only the second stream can bring the new line; it brings the first again.
    console_has(page, "ERROR: return code 1")
    assert page.locator("#console").text_content() == console.read_text()
    assert page.locator("#console-state").get_attribute("data-reconnects") == "1"
    end_running_build(system)
    page.wait_for_selector("#console-state[data-code='1000']")
    assert page.locator("#console-state").inner_text() == "build ended: FAILURE"
    assert page.locator("#console").text_content() == console.read_text()
    assert len(opened) == 2
    assert opened[1][0] - dropped >= 0.5 - SLACK  # the first delay


def test_a_console_stream_that_never_comes_back_says_so(system: dict[str, Any], page: Any) -> None:
    console, opened, dropped = stream_then_drop(system, page, reachable=1)
    page.wait_for_selector("#console-state[data-code='1006']")
    state = page.locator("#console-state").inner_text()
    assert state == "the connection was lost (1006) and 3 tries to open it again failed"
    assert "No live console" in page.locator("#after-stream").inner_text()
    # What was shown stays; the three tries came after 0.5 s, 1 s and 2 s.
    assert page.locator("#console").text_content() == console.read_text()
    assert len(opened) == 4
    tries = [dropped] + [when for when, _route in opened[1:]]
    gaps = [later - earlier for earlier, later in itertools.pairwise(tries)]
    assert all(gap >= delay - SLACK for gap, delay in zip(gaps, (0.5, 1, 2), strict=True)), gaps


def test_a_console_stream_the_web_closes_on_purpose_is_not_opened_again(
    system: dict[str, Any], page: Any
) -> None:
    opened = console_streams(page, reachable=4)
    page.goto(f"{system['web'].url}/t/{TENANT}/stream/b3")
    page.wait_for_selector("#console-state[data-code='4011']")
    # The web's reason, at once: a reconnection would have said it was one.
    state = page.locator("#console-state")
    assert state.inner_text() == "Build ID b3 not found: no executor is running it"
    assert state.get_attribute("data-reconnects") is None
    assert len(opened) == 1


def test_a_build_page_whose_stream_was_lost_as_the_build_ended_shows_the_result(
    system: dict[str, Any], page: Any
) -> None:
    running_build(system)
    opened = console_streams(page, reachable=2)
    page.goto(f"{system['web'].url}/t/{TENANT}/build/b2")
    console_has(page, "TASK [publish]")
    # The build ends and its executor goes while the network is away: the
    # stream opened again finds nothing to stream (4011, "has ended").
    record_build_end(system)
    unregister_stream(system["zk"], "b2")
    drop(opened[0][1])
    page.wait_for_selector("details.task.failed", timeout=15_000)
    assert page.locator("#console-state").count() == 0  # the finished view
    assert len(opened) == 2


def test_a_build_page_whose_stream_ends_while_the_build_runs_offers_to_try_again(
    system: dict[str, Any], page: Any
) -> None:
    running_build(system)
    opened = console_streams(page, reachable=2)
    page.goto(f"{system['web'].url}/t/{TENANT}/build/b2")
    console_has(page, "TASK [publish]")
    unregister_stream(system["zk"], "b2")  # its executor went; the build is not ended
    drop(opened[0][1])
    page.wait_for_selector("#after-stream :text('still running')")
    state = page.locator("#console-state")
    assert state.get_attribute("data-code") == "4011"
    assert state.inner_text() == "build b2 is not running on any executor (yet)"
    assert (
        page.locator("#console").text_content()
        == (system["logs"] / "b2" / "job-output.txt").read_text()
    )
    assert len(opened) == 2


# Counts the websockets the page creates (after Playwright's routing wraps them).
COUNT_SOCKETS = """
window.consoleSockets = 0;
window.WebSocket = class extends window.WebSocket {
  constructor(...args) { super(...args); window.consoleSockets += 1; }
};
"""


def test_leaving_the_page_stops_a_pending_reconnection(system: dict[str, Any], page: Any) -> None:
    running_build(system)
    opened = console_streams(page, reachable=1)
    page.add_init_script(COUNT_SOCKETS)
    page.clock.install()
    page.goto(f"{system['web'].url}/t/{TENANT}/stream/b2")
    console_has(page, "TASK [publish]")
    page.clock.pause_at(page.evaluate("Date.now()") + 1000)  # timers wait for run_for
    drop(opened[0][1])
    page.wait_for_selector("#console-state[data-reconnects='1']")  # one is due in 0.5 s
    page.click("a:has-text('status')")
    page.wait_for_url("**/status")
    page.clock.run_for(10_000)
    assert page.evaluate("window.consoleSockets") == 1
    assert len(opened) == 1


def test_the_scripts_pure_parts(system: dict[str, Any], page: Any) -> None:
    """The layout and formatting code, run in the browser as the pages run it."""
    page.goto(f"{system['web'].url}/")
    page.wait_for_selector("h1")
    result = page.evaluate(
        """async () => {
        const status = await import('/static/js/pages/status.js');
        const graph = await import('/static/js/graph.js');
        const dom = await import('/static/js/dom.js');
        const build = await import('/static/js/pages/build.js');
        const tree = status.treeLayout([
          {id: 'a', item_ahead: null}, {id: 'b', item_ahead: 'a'},
          {id: 'c', item_ahead: 'b'}, {id: 'd', item_ahead: 'b'}]);
        const g = graph.layout([
          {name: 'docs', dependencies: [{name: 'lint', soft: true}]},
          {name: 'unit', dependencies: [{name: 'lint', soft: false}]},
          {name: 'lint', dependencies: []},
          {name: 'deploy', dependencies: [{name: 'unit'}, {name: 'docs'}]}]);
        return {
          tree: [tree.column, tree.edges, tree.width],
          layers: g.layers,
          progress: status.jobProgress({start_time: 1, elapsed_time: 30000, estimated_time: 60}),
          noEstimate: status.jobProgress({start_time: 1, elapsed_time: 5000, estimated_time: null}),
          done: status.jobProgress({start_time: 1, result: 'SUCCESS'}),
          urls: ['javascript:alert(1)', '//evil.example', '/logs/x/', 'https://ok.example/']
            .map(dom.safeUrl),
          durations: [5, 65, 3725].map(dom.formatDuration),
          utc: dom.parseTime('2024-01-31T12:00:00').toISOString(),
          epochMs: dom.parseTime(1700000000000).toISOString(),
          playbook: build.playbookName('/x/builds/u/work/src/example.org/org/app/run.yaml'),
          trustedPlaybook: build.playbookName('/x/builds/u/ansible/projects/localhost/cfg@main/p.yaml'),
          logs: [build.logsBase('http://other.example:9000/logs/u1'),
                 build.logsBase('https://logs.example.org/u2/')],
        };
      }"""
    )
    # d (the last) and its chain b, a in column 0; c, also on b, aside.
    assert result["tree"] == [[0, 0, 1, 0], [[0, 1], [1, 2], [1, 3]], 2]
    assert result["layers"] == [["lint"], ["docs", "unit"], ["deploy"]]
    assert result["progress"] == {"percent": 50, "elapsed": 30000, "remaining": 30000}
    assert result["noEstimate"] == {"percent": None, "elapsed": 5000, "remaining": None}
    assert result["done"] is None
    assert result["urls"] == [None, None, "/logs/x/", "https://ok.example/"]
    assert result["durations"] == ["5s", "1m 05s", "1h 02m"]
    assert result["utc"] == "2024-01-31T12:00:00.000Z"
    assert result["epochMs"] == "2023-11-14T22:13:20.000Z"
    assert result["playbook"] == "example.org/org/app/run.yaml"
    assert result["trustedPlaybook"] == "cfg@main/p.yaml"
    assert result["logs"] == ["/logs/u1/", "https://logs.example.org/u2/"]
