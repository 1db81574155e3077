"""Configuration read from the repositories: broken files are published as
errors while everything else keeps running; a push that changes
configuration reconfigures the tenant; the git poller feeds the scheduler."""

from __future__ import annotations

from contextlib import ExitStack

import pytest
from lockgate.scheduler.server import Scheduler
from lockgate.zk.tenants import load_layout

from tests.fixtures.waiting import wait_for
from tests.integration.scheduler.harness import (
    APP,
    build_requests,
    push_polled,
    run_job,
    running_scheduler,
    wait_node_request,
    wait_poller_ready,
)

BROKEN = """
- job:
    name: other-job
    not-an-attribute: 1
- project:
    post:
      jobs: [other-job]
"""


@pytest.fixture
def start(site):
    """Starts the scheduler when the test says (after what it pushed first),
    with the git poller's delay it names; stopped after the test."""
    with ExitStack() as running:

        def start(poll_delay: float = 3600) -> Scheduler:
            config = site.service_config(poll_delay=poll_delay)
            return running.enter_context(running_scheduler(config))

        yield start


def errors_of(site) -> list[dict]:
    layout = load_layout(site.client, "demo")
    return layout.config_errors if layout else []


def test_broken_file_is_published_and_other_projects_still_run(site, start):
    site.push("org/other", {".zuul.yaml": BROKEN})
    start()
    errors = wait_for(lambda: errors_of(site), 30, "the published configuration errors")
    # The broken job, and the project stanza that names it.
    error, unknown = errors
    assert "uses unknown job 'other-job'" in unknown["error"]
    assert error["source_context"] == {
        "project": "org/other",
        "branch": "master",
        "path": ".zuul.yaml",
    }
    assert "not-an-attribute" in error["error"]
    assert error["line"] == 2
    # org/app is unaffected.
    site.push_event("org/app", {"x": "1\n"})
    wait_node_request(site.client, "build")


def test_push_changing_configuration_reconfigures_the_tenant(site, start):
    start(poll_delay=0.2)
    wait_poller_ready(site)
    assert errors_of(site) == []
    before = load_layout(site.client, "demo").uuid
    # A broken file pushed: published as an error, the tenant keeps running.
    push_polled(site, "org/other", {".zuul.yaml": BROKEN})
    wait_for(lambda: errors_of(site), 30, "the new configuration error")
    assert load_layout(site.client, "demo").uuid != before
    # A new job pushed to org/app runs for that very push (post-merge).
    new_app = APP.replace("jobs: [build, test]", "jobs: [build, test, docs]") + (
        "- job:\n    name: docs\n    nodeset:\n      nodes: []\n"
    )
    push_polled(site, "org/app", {".zuul.yaml": new_app})
    docs = wait_for(
        lambda: [b for b in build_requests(site.client) if b.job.name == "docs"],
        30,
        "a build request for the new job",
    )
    assert docs[0].node_ids == []  # no nodes: straight to the executor
    # Fixing the broken file clears the error.
    push_polled(site, "org/other", {".zuul.yaml": BROKEN.replace("    not-an-attribute: 1\n", "")})
    wait_for(lambda: errors_of(site) == [], 30, "the error to clear")


def test_poller_push_runs_to_a_report(site, start):
    start(poll_delay=0.2)
    wait_poller_ready(site)
    sha = push_polled(site, "org/other", {"f": "1\n"})
    run_job(site.client, "other-job")
    db = site.database()
    [buildset] = wait_for(
        lambda: [b for b in db.get_buildsets("demo") if b.result], 30, "the report"
    )
    assert buildset.result == "SUCCESS"
    assert db.get_buildset(buildset.uuid, "demo").refs[0].newrev == sha
