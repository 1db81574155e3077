"""Every component serves its metrics, sends them to statsd, and logs JSON
lines that carry the event id -- the real scheduler, executor, merger,
launcher and web, on a real (TLS) ZooKeeper, through one real build.

The scheduler takes a push's event, the executor runs a job without nodes
(real Ansible), the merger serves a merge request and the launcher fulfils
a node request from a static provider (both made by hand, as the
scheduler makes them: a post item needs neither; the executor serves no
merges here, so that the merger has them all), and the web answers two
requests.  Then each ``/metrics`` endpoint is scraped and the
figures are checked against what happened; statsd lines are read from a
UDP socket this test owns; the log lines are JSON from
``lockgate.logs.JsonFormatter``.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import socket
import threading
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator

import pytest
from lockgate.executor.merger_main import Merger
from lockgate.executor.server import Executor
from lockgate.launcher.server import Launcher
from lockgate.logs import JsonFormatter
from lockgate.metrics import statsd_sink
from lockgate.metrics.catalog import statsd_safe
from lockgate.model.merges import MergeRequest, MergeState, RepoSpec
from lockgate.model.nodes import NodeRequest, NodeRequestState
from lockgate.scheduler.server import Scheduler
from lockgate.service_config import ServiceConfig
from lockgate.web.server import WebServer
from lockgate.zk import NodeRequestStore
from lockgate.zk.merges import MergeRequestStore

from tests.fixtures.metrics import StatsdListener, scrape, total, value
from tests.fixtures.waiting import wait_for
from tests.integration.scheduler.harness import Site, make_site

APP = """
- job:
    name: hello
    nodeset:
      nodes: []
    run: playbooks/hello.yaml
- project:
    post:
      jobs: [hello]
"""

HELLO = """
- hosts: localhost
  gather_facts: false
  tasks:
    - debug:
        msg: hello
"""


@pytest.fixture
def site(tmp_path, upstream, zk_server, zk_chroot, zk_client) -> Site:  # type: ignore[no-untyped-def]
    return make_site(tmp_path, upstream, zk_server, zk_chroot, zk_client, app=APP)


@pytest.fixture
def statsd() -> Iterator[StatsdListener]:
    listener = StatsdListener()
    yield listener
    listener.close()


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """Every ``lockgate`` log line of the test, as the JSON format writes it."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("lockgate")
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield stream
    logger.removeHandler(handler)
    logger.setLevel(old_level)


def write_config(site: Site, statsd_port: int) -> ServiceConfig:
    root = site.root
    (root / "host_key.pub").write_text("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMetricsTestKey\n")
    text = site.config_text().replace("[scheduler]\n", "[scheduler]\nprometheus_port = 0\n")
    text += f"""
[executor]
state_dir = {root / "executor"}
log_root = {root / "executor" / "logs"}
hostname = executor.test
private_key_file = {root / "no-such-key"}
merge_jobs = false
prometheus_port = 0

[merger]
state_dir = {root / "merger"}
hostname = merger.test
prometheus_port = 0

[launcher]
state_dir = {root / "launcher"}
hostname = launcher.test
prometheus_port = 0

[provider metal]
driver = static
nodes = 127.0.0.1 labels=metal host_key_file={root / "host_key.pub"}

[web]
listen_address = 127.0.0.1
port = 0
prometheus_port = 0

[statsd]
server = 127.0.0.1
port = {statsd_port}
"""
    path = root / "all.conf"
    path.write_text(text)
    return ServiceConfig.load(path)


class WebThread:
    """``WebServer.run`` on a loop of its own, as ``lockgate web`` runs it."""

    def __init__(self, config: ServiceConfig) -> None:
        self.server = WebServer(config)
        self.thread = threading.Thread(target=lambda: asyncio.run(self.server.run()), daemon=True)

    def start(self) -> None:
        self.thread.start()
        wait_for(lambda: self.server.port and self.server.metrics.url, 30, "the web to listen")

    def get(self, path: str) -> int:
        try:
            with urllib.request.urlopen(self.server.url + path, timeout=10) as response:
                return int(response.status)
        except urllib.error.HTTPError as e:
            return int(e.code)

    def stop(self) -> None:
        self.server.request_stop()
        self.thread.join(30)


def test_every_component_serves_and_sends_its_metrics(
    site, zk_connect, statsd, json_log, monkeypatch
):  # type: ignore[no-untyped-def]
    monkeypatch.setattr(statsd_sink, "GAUGE_INTERVAL", 0.2)  # gauges sent often
    config = write_config(site, statsd.port)
    executor = Executor(config, client=zk_connect())
    merger = Merger(config, client=zk_connect())
    launcher = Launcher(config, client=zk_connect())
    scheduler = Scheduler(config, client=zk_connect(), tick=0.5)
    web = WebThread(config)
    started = []
    stop_scheduler = None
    try:
        for component in (executor, merger, launcher, scheduler):
            component.start()
            started.append(component)
        stop_scheduler = scheduler.run_in_thread()
        web.start()

        event = site.push_event("org/app", {"playbooks/hello.yaml": HELLO})
        db = site.database()
        wait_for(lambda: [b for b in db.get_buildsets("demo") if b.result], 180, "the report")
        request = NodeRequest(
            labels=["metal"],
            tenant="elsewhere",  # not the scheduler's: it would delete a request no item made
            pipeline="check",
            buildset_uuid="by-hand",
            job_name="by-hand",
            event_id="e-by-hand",
        )
        NodeRequestStore(site.client).submit(request)
        requests = NodeRequestStore(site.client)

        def fulfilled() -> bool:
            found = requests.get(request.id)
            return found is not None and found.record.state is NodeRequestState.FULFILLED

        wait_for(fulfilled, 30, "the launcher to fulfil the node request")
        merges = MergeRequestStore(site.client)
        merge = MergeRequest(
            uuid=uuid.uuid4().hex,
            tenant="elsewhere",  # not the scheduler's: its result event stays unread
            pipeline="check",
            item_uuid="by-hand",
            event_id="e-merge",
            steps=[],
            repos=[RepoSpec("git", "org/app", str(site.repos["org/app"].upstream_path))],
        )
        merges.submit(merge)

        def merged() -> bool:
            found = merges.get(merge.uuid)
            return found is not None and found.record.state is MergeState.COMPLETED

        wait_for(merged, 60, "the merger to serve the merge request")
        assert web.get("/api/tenants") == 200
        assert web.get("/api/no-such-thing") == 404

        # --- scheduler --------------------------------------------------------------
        url = scheduler.metrics.url
        assert url is not None and url.startswith("http://127.0.0.1:")

        def scheduler_settled() -> dict | None:  # type: ignore[type-arg]
            samples = scrape(url)
            items = value(samples, "lockgate_pipeline_items", tenant="demo", pipeline="post")
            return samples if items == 0 else None  # the item was reported and left

        samples = wait_for(scheduler_settled, 30, "the post pipeline to empty")
        assert value(samples, "lockgate_trigger_events_total", tenant="demo") == 1
        assert total(samples, "lockgate_tenant_pass_seconds_count", tenant="demo") >= 1
        for queue in ("trigger", "management", "result"):
            labels = {"tenant": "demo", "queue": queue}
            assert value(samples, "lockgate_event_queue_length", **labels) is not None
            assert value(samples, "lockgate_event_queue_oldest_age_seconds", **labels) is not None
        assert value(samples, "lockgate_zookeeper_state", state="connected") == 1
        assert value(samples, "lockgate_zookeeper_state", state="lost") == 0

        # --- executor ---------------------------------------------------------------
        samples = scrape(executor.metrics.url)  # type: ignore[arg-type]
        build = {"tenant": "demo", "pipeline": "post"}
        assert value(samples, "lockgate_builds_started_total", **build) == 1
        done = {**build, "result": "SUCCESS"}
        assert value(samples, "lockgate_builds_finished_total", **done) == 1
        assert value(samples, "lockgate_build_duration_seconds_count", **done) == 1
        assert value(samples, "lockgate_executor_running_builds") == 0
        assert value(samples, "lockgate_executor_max_builds") == 4
        # It serves no merges here: the merger has them all.
        assert total(samples, "lockgate_merge_requests_total") == 0

        # --- merger -----------------------------------------------------------------
        samples = scrape(merger.metrics.url)  # type: ignore[arg-type]
        assert value(samples, "lockgate_merge_requests_total", result="merged") == 1
        assert value(samples, "lockgate_merge_duration_seconds_count", result="merged") == 1
        assert value(samples, "lockgate_merges_running") == 0

        # --- launcher ---------------------------------------------------------------
        samples = scrape(launcher.metrics.url)  # type: ignore[arg-type]
        assert value(samples, "lockgate_node_requests_finished_total", result="fulfilled") == 1
        assert value(samples, "lockgate_node_wait_seconds_count", result="fulfilled") == 1
        launcher_url = launcher.metrics.url
        assert launcher_url is not None

        def counted() -> bool:
            samples = scrape(launcher_url)
            return value(samples, "lockgate_node_requests", state="fulfilled") == 1

        wait_for(counted, 30, "the launcher's pass to count the fulfilled request")

        # --- web --------------------------------------------------------------------
        samples = scrape(web.server.metrics.url)  # type: ignore[arg-type]
        ok = {"method": "GET", "route": "/api/tenants"}
        assert value(samples, "lockgate_web_requests_total", status="200", **ok) == 1
        assert value(samples, "lockgate_web_request_duration_seconds_count", **ok) == 1
        missing = {"method": "GET", "route": "unmatched", "status": "404"}
        assert value(samples, "lockgate_web_requests_total", **missing) == 1

        # --- statsd: the same figures, from every component ---------------------------
        web_host = statsd_safe(socket.gethostname())
        wanted = {
            "lockgate.tenant.demo.trigger_events_processed:1|c",
            "lockgate.tenant.demo.pipeline.post.builds_finished.SUCCESS:1|c",
            "lockgate.merger.merger_test.merges.merged:1|c",
            "lockgate.launcher.launcher_test.requests.fulfilled:1|c",
            f"lockgate.web.{web_host}.requests.GET.200:1|c",
            "lockgate.tenant.demo.trigger_events:0|g",
            "lockgate.tenant.demo.pipeline.post.current_changes:0|g",
            "lockgate.executor.executor_test.running_builds:0|g",
            "lockgate.nodepool.requests.fulfilled:1|g",
            "lockgate.scheduler.scheduler.zookeeper.connected:1|g",
        }
        try:
            statsd.wait_for(lambda lines: wanted <= set(lines), 30, "every component's figures")
        except AssertionError:
            raise AssertionError(f"statsd never got {sorted(wanted - set(statsd.lines))}") from None
        assert any(line.startswith("lockgate.tenant.demo.pass_time:") for line in statsd.lines)
    finally:
        web.stop()
        if stop_scheduler is not None:
            stop_scheduler()
        for component in reversed(started):
            component.stop()

    # --- JSON log lines carry the event id ----------------------------------------------------
    lines = [json.loads(line) for line in json_log.getvalue().splitlines()]
    about_event = [line for line in lines if line["event_id"] == event.event_id]
    loggers = {line["logger"].split(".")[1] for line in about_event}
    assert {"scheduler", "executor"} <= loggers, loggers
    assert all(line["message"] and "[e: " not in line["message"] for line in about_event)
