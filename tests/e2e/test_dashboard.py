# ruff: noqa: F811  (fixtures imported by name and used as parameters)
"""End to end: the dashboard in a real browser against a whole running Lockgate.

``lockgate up``'s ``System`` (every component its own process, ZooKeeper,
the Gerrit emulator, the local cloud's nodes, real ``ansible-playbook``)
with a project whose jobs hold, when the change's message says
``HOLD-<PIPELINE>``, until the test releases them by creating a file in the
build's work directory on the executor -- so the test sees a job running,
follows its console live, and decides when it ends.  dash-lint holds a
semaphore; an autohold made through the admin API (with a token of
``lockgate up``'s realm) keeps the node of the failing build.  Debian's Chromium,
driven by Playwright, looks at every page; each page's screenshot goes to
the folder ``tests.fixtures.browser.screenshots_dir()`` names.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from lockgate.auth.authenticators import AuthSettings
from lockgate.auth.tokens import create_token
from lockgate.service_config import ServiceConfig
from lockgate.up import seed

from tests.fixtures.browser import browser, page, screenshot  # noqa: F401
from tests.fixtures.system import TENANT, LockgateSystem
from tests.fixtures.waiting import wait_for

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the local cloud needs root")

PLAYBOOK = """\
- hosts: all
  gather_facts: false
  tasks:
    - name: Say which job this is
      ansible.builtin.command: echo "DASH {{ zuul.job }} in {{ zuul.pipeline }}"

    - name: Wait to be released, when the change asks to be held here
      delegate_to: localhost
      ansible.builtin.wait_for:
        path: "{{ zuul.executor.work_root }}/release"
        timeout: 240
      when: >-
        zuul.job == 'dash-lint' and
        ('HOLD-' ~ (zuul.pipeline | upper)) in (zuul.message | default('') | b64decode)

    - name: Fail when the change asks to
      ansible.builtin.fail:
        msg: the change asked dash-unit to fail
      when: "zuul.job == 'dash-unit' and 'FAIL-ME' in (zuul.message | default('') | b64decode)"
"""

ZUUL_YAML = """\
- semaphore:
    name: dash-lane
    max: 5

- job:
    name: dash-base
    description: The base of the dashboard test's jobs.
    run: playbooks/run.yaml
    vars:
      flavour: plain

- job:
    name: dash-lint
    parent: dash-base
    description: Lint the code.
    semaphores: [dash-lane]
    vars:
      flavour: lint

- job:
    name: dash-unit
    parent: dash-base
    dependencies: [dash-lint]

- job:
    name: dash-docs
    parent: dash-base
    dependencies:
      - name: dash-lint
        soft: true

- project:
    check:
      jobs: [dash-lint, dash-unit, dash-docs]
    gate:
      jobs: [dash-lint]
"""

PROJECTS: dict[str, dict[str, str | bytes]] = {
    "dash/app": {".zuul.yaml": ZUUL_YAML, "playbooks/run.yaml": PLAYBOOK, "README": "app\n"},
    "dash/broken": {".zuul.yaml": "- job:\n    name: broken-job\n    parent: no-such-job\n"},
}


@pytest.fixture(scope="module")
def lockgate(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LockgateSystem]:
    system = LockgateSystem(
        tmp_path_factory.mktemp("lockgate-e2e-dashboard"), projects={}, review_projects=PROJECTS
    )
    try:
        system.start()
        wait_for(
            lambda: system.control.stream_status()["subscribers"], 60, "the Gerrit event stream"
        )
        yield system
    finally:
        system.stop()


def create(lockgate: LockgateSystem, message: str) -> int:
    name = re.sub(r"\W+", "-", message.lower())
    change = lockgate.control.create_change(
        "dash/app", {f"{name}.txt": f"{message}\n"}, message, branch="main"
    )
    return int(change["number"])


def release(lockgate: LockgateSystem, uuid: str) -> None:
    """Let a held build go on (its playbook waits for this file)."""
    section = ServiceConfig.load(lockgate.system.state.config_file).section("executor")
    state_dir = Path(section.get_path("state_dir") or "")
    builds = Path(section.get_path("job_dir") or state_dir / "builds")
    (builds / uuid / "work" / "release").touch()


def admin_token(lockgate: LockgateSystem) -> str:
    """A token of ``lockgate up``'s realm for the tenant's admin actions."""
    config = ServiceConfig.load(lockgate.system.state.config_file)
    section = config.named("auth")[seed.AUTH_NAME]
    return create_token(AuthSettings.from_section(seed.AUTH_NAME, section), "admin", [TENANT])


def running_build(lockgate: LockgateSystem, change: int, pipeline: str) -> str:
    """The uuid of dash-lint's running build for ``change`` in ``pipeline``."""

    def find() -> str | None:
        lockgate.system.check_alive()
        status = lockgate.api(f"/api/tenant/{TENANT}/status")
        for p in status["pipelines"]:
            for q in p["change_queues"] if p["name"] == pipeline else []:
                for item in (i for head in q["heads"] for i in head):
                    if item["refs"][0]["id"] == f"{change},1":
                        for job in item["jobs"]:
                            if job["name"] == "dash-lint" and job["start_time"]:
                                return str(job["uuid"])
        return None

    return wait_for(find, 300, f"dash-lint running for {change} in {pipeline}", interval=0.25)


def test_a_change_followed_live(lockgate: LockgateSystem, page: Any) -> None:
    """The status page shows a change arrive and its job run, without a
    reload; its console streams live and ends with the result; the build
    page then shows the tasks."""
    base = lockgate.web_url
    page.goto(f"{base}/t/{TENANT}/status")
    page.wait_for_selector("#status-updated[data-updated]")
    page.evaluate("window.notReloaded = true")
    number = create(lockgate, "Alpha HOLD-CHECK")
    item = page.locator(f".item[data-change='{number},1']")
    lint = item.locator("li.job[data-job=dash-lint]")
    uuid = running_build(lockgate, number, "check")
    page.wait_for_selector(
        f".item[data-change='{number},1'] li.job[data-job=dash-lint][data-state=running]"
    )
    assert lint.locator("[role=progressbar]").count() == 1
    assert item.locator("li.job[data-job=dash-unit]").get_attribute("data-state") == "waiting"
    assert page.evaluate("window.notReloaded") is True
    screenshot(page, "01-status-running")

    lint.locator("a").click()  # to the live console, through the job's status url
    page.wait_for_url(f"**/t/{TENANT}/stream/{uuid}?logfile=console.log")
    page.wait_for_function(
        "document.querySelector('#console')?.textContent.includes('DASH dash-lint in check')",
        timeout=60_000,
    )
    page.wait_for_function(
        "document.querySelector('#console')?.textContent.includes('TASK [Wait to be released')"
    )
    assert page.locator("#console-state").inner_text() == "streaming live"
    screenshot(page, "02-stream-live")
    release(lockgate, uuid)
    page.wait_for_selector("#console-state[data-code='1000']", timeout=60_000)
    assert page.locator("#console-state").inner_text() == "build ended: SUCCESS"
    assert "PLAY RECAP" in page.locator("#console").inner_text()

    page.locator("#after-stream a").click()
    page.wait_for_selector("details.playbook", timeout=30_000)
    assert "dash-lint" in page.locator("h1").inner_text()
    assert "SUCCESS" in page.locator("h1").inner_text()
    tasks = page.locator("details.task").evaluate_all("ts => ts.map(t => t.dataset.task)")
    assert "Wait to be released, when the change asks to be held here" in tasks
    page.wait_for_selector("#log-files li.file")
    assert "job-output.txt" in page.locator("#log-files").inner_text()
    screenshot(page, "03-build")

    # Back to the status (no reload): the change's other jobs run and it leaves.
    page.locator("header nav a", has_text="Status").click()
    page.wait_for_selector(
        f".item[data-change='{number},1'] li.job[data-job=dash-lint][data-state=SUCCESS]"
    )
    page.wait_for_function(
        f"!document.querySelector(\".item[data-change='{number},1']\")", timeout=300_000
    )
    assert page.evaluate("window.notReloaded") is True


def test_the_gate_and_every_page(lockgate: LockgateSystem, page: Any) -> None:
    base = f"{lockgate.web_url}/t/{TENANT}"
    api = f"{lockgate.web_url}/api/tenant/{TENANT}"
    auth = {"Authorization": f"Bearer {admin_token(lockgate)}"}
    made = requests.post(
        f"{api}/project/dash/app/autohold",
        json={"job": "dash-unit", "reason": "why does unit fail?", "count": 1,
              "node_hold_expiration": 3600},
        headers=auth,
        timeout=30,
    )  # fmt: skip
    assert made.status_code == 200, made.text
    [hold] = requests.get(f"{api}/autohold", timeout=30).json()
    failing = create(lockgate, "Beta FAIL-ME")
    first = create(lockgate, "Gamma HOLD-GATE")
    second = create(lockgate, "Delta HOLD-GATE")
    lockgate.control.approve(first)
    lockgate.control.approve(second)
    held = [running_build(lockgate, n, "gate") for n in (first, second)]

    # The gate: the second change is tested on top of the first.
    page.goto(f"{base}/status?filter=dash/app")
    gate = page.locator("section.pipeline[data-pipeline=gate]")
    page.wait_for_selector(f"section[data-pipeline=gate] .item[data-change='{second},1']")
    ahead = gate.locator(f".item[data-change='{second},1'] .ahead").inner_text()
    assert f"tested on top of {first},1" in ahead
    assert gate.locator(".tree .line").count() >= 2
    screenshot(page, "04-status-gate")
    page.goto(f"{base}/status/change/{second}")
    try:
        page.wait_for_selector(f"section[data-pipeline=gate] .item[data-change='{second},1']")
    except Exception as e:  # flaked under two suites at once: say what the page showed
        screenshot(page, "05-status-change-FAILED")
        shown = page.locator("body").inner_text()
        raise AssertionError(f"change {second},1 not drawn in the gate; page: {shown!r}") from e
    # The change wherever it is (the gate, maybe still check), nothing else.
    changes = page.locator(".item").evaluate_all("items => items.map(i => i.dataset.change)")
    assert set(changes) == {f"{second},1"}
    screenshot(page, "05-status-change")

    # While the gate's builds are held: their nodes, label and semaphore.
    page.goto(f"{base}/nodes")
    page.wait_for_function(
        "[...document.querySelectorAll('#results-table tr[data-state=in-use]')]"
        ".filter(r => r.textContent.includes('dash-lint')).length >= 2"
    )
    row = page.locator("#results-table tr[data-state=in-use]", has_text="dash-lint").first
    assert row.locator("td").nth(1).inner_text() == seed.NODE_LABEL
    screenshot(page, "16-nodes")
    page.locator("header nav a", has_text="Labels").click()
    page.wait_for_selector(f"#results-table tr[data-label={seed.NODE_LABEL}]")
    in_use = page.locator(f"tr[data-label={seed.NODE_LABEL}] td").nth(2).inner_text()
    assert int(in_use) >= 2, in_use
    screenshot(page, "17-labels")
    page.locator("header nav a", has_text="Semaphores").click()
    lane = page.locator("#results-table tr[data-semaphore=dash-lane]")
    for number in (first, second):  # named by their changes, from the status
        page.wait_for_selector(
            f"tr[data-semaphore=dash-lane] li.holder[data-pipeline=gate]:has-text('{number},1')"
        )
    assert "/ 5" in lane.locator("[role=meter]").inner_text()
    screenshot(page, "18-semaphores")

    for uuid in held:
        release(lockgate, uuid)

    # A failed build: its failed task is open.
    failed = wait_for(
        lambda: lockgate.builds(job_name="dash-unit", change=failing, complete="true"),
        300,
        "the failing change's dash-unit build",
    )[0]
    assert failed["result"] == "FAILURE"
    page.goto(f"{base}/build/{failed['uuid']}")
    page.wait_for_selector("details.task.failed[open]")
    assert "the change asked dash-unit to fail" in page.locator("details.task.failed").inner_text()
    screenshot(page, "06-build-failed")
    page.locator("dl.facts a[href*='/buildset/']").click()
    page.wait_for_selector("#buildset-builds")
    assert {"dash-lint", "dash-unit", "dash-docs"} <= set(
        page.locator("#buildset-builds tbody td:first-child").all_inner_texts()
    )
    screenshot(page, "07-buildset")

    # The autohold kept the failed build's node: listed, with its hold.
    page.goto(f"{base}/autoholds")
    page.wait_for_selector(f"#results-table tr[data-autohold='{hold['id']}']:has-text('1 / 1')")
    screenshot(page, "19-autoholds")

    # The launcher holds the node after the build gave it back (asynchronous;
    # slow on a loaded machine): wait for that in the API, then the page.
    def node_held() -> bool:
        info = requests.get(f"{api}/autohold/{hold['id']}", timeout=30).json()
        ids = {n for entry in info.get("nodes") or () for n in entry.get("nodes") or ()}
        nodes = requests.get(f"{api}/nodes", timeout=30).json()
        return any(n["id"] in ids and n["state"] == "hold" for n in nodes)

    wait_for(node_held, 180, "the failed build's node to be held")
    page.goto(f"{base}/autohold/{hold['id']}")
    page.wait_for_selector(f"#held-builds tr[data-build='{failed['uuid']}'] .badge.warn")
    [node_id] = page.locator("#held-builds li[data-node]").evaluate_all(
        "ns => ns.map(n => n.dataset.node)"
    )
    screenshot(page, "20-autohold")
    page.goto(f"{base}/nodes?filter=why")
    page.wait_for_selector(f"tr[data-node='{node_id}'][data-state=hold]")
    assert "why does unit fail?" in page.locator(f"tr[data-node='{node_id}']").inner_text()
    screenshot(page, "21-nodes-held")
    # Deleted with the token (zuul-client autohold-delete): its page says so, live.
    page.goto(f"{base}/autohold/{hold['id']}")
    page.wait_for_selector("#held-builds")
    gone = requests.delete(f"{api}/autohold/{hold['id']}", headers=auth, timeout=30)
    assert gone.status_code == 204, gone.text
    page.wait_for_function(
        "document.querySelector('#results')?.textContent.includes('There is no autohold')"
    )

    page.goto(f"{base}/builds")
    page.wait_for_selector("#results-table")
    assert "dash-unit" in page.locator("#results-table").inner_text()
    page.fill("input[data-filter=result]", "FAILURE")
    page.click("form.filters button[type=submit]")
    page.wait_for_url(re.compile(r"result=FAILURE"))
    page.wait_for_function(
        "[...document.querySelectorAll('#results-table tbody tr')]"
        ".every(r => r.textContent.includes('FAILURE'))"
    )
    screenshot(page, "08-builds")
    page.goto(f"{base}/buildsets")
    page.wait_for_selector("#results-table")
    screenshot(page, "09-buildsets")

    page.goto(f"{base}/jobs")
    page.wait_for_selector("#results-table tr[data-job=dash-lint]")
    screenshot(page, "10-jobs")
    page.goto(f"{base}/job/dash-lint")
    page.wait_for_function(
        "document.querySelector('#inheritance')?.textContent.includes('dash-base → dash-lint')"
    )
    assert "Lint the code." in page.locator("section.variant").inner_text()
    screenshot(page, "11-job")

    page.goto(f"{base}/projects")
    page.wait_for_selector("#results-table tr[data-project='dash/app']")
    screenshot(page, "12-projects")
    page.goto(f"{base}/project/dash/app")
    check = page.locator("section.project-pipeline[data-pipeline=check]")
    page.wait_for_selector("section[data-pipeline=check] svg.job-graph")
    assert sorted(check.locator("g.node").evaluate_all("ns => ns.map(n => n.dataset.job)")) == [
        "dash-docs",
        "dash-lint",
        "dash-unit",
    ]
    assert check.locator("path.edge.soft[data-to=dash-docs]").count() == 1
    assert check.locator("path.edge:not(.soft)[data-to=dash-unit]").count() == 1
    check.locator("g.node[data-job=dash-unit]").click()
    page.wait_for_selector(".frozen-job[data-job=dash-unit]")
    frozen = page.locator(".frozen-job").inner_text()
    assert "Inheritance path" in frozen and "playbooks/run.yaml" in frozen
    screenshot(page, "13-project")

    page.goto(f"{base}/config-errors")
    page.wait_for_selector("#config-errors li")
    errors = page.locator("#config-errors").inner_text()
    assert "dash/broken" in errors and ".zuul.yaml" in errors
    screenshot(page, "14-config-errors")
    page.goto(f"{lockgate.web_url}/")
    page.wait_for_selector("table.list")
    assert TENANT in page.locator("table.list").inner_text()
    screenshot(page, "15-tenants")

    # The gate's changes merged; the queue is empty again, live.
    page.goto(f"{base}/status")
    page.wait_for_function(
        "!document.querySelector('section[data-pipeline=gate]')", timeout=300_000
    )
