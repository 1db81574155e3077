"""lockgate.metrics.Metrics: what a component records is what a scrape of
its endpoint shows and what a statsd server receives; settings come from
the service config."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from lockgate.metrics import Metrics, MetricsSettings, StatsdSettings, settings_from_config
from lockgate.metrics.catalog import (
    BUILD_DURATION,
    BUILDS_FINISHED,
    EVENT_QUEUE_LENGTH,
    PIPELINE_ITEMS,
    RUNNING_BUILDS,
)
from lockgate.service_config import ServiceConfig, ServiceConfigError

from tests.fixtures.metrics import StatsdListener, scrape, value


@pytest.fixture
def statsd() -> Iterator[StatsdListener]:
    listener = StatsdListener()
    yield listener
    listener.close()


def started(**settings: object) -> Metrics:
    metrics = Metrics(
        "executor",
        hostname="ex1",
        settings=MetricsSettings(prometheus_port=0, **settings),  # type: ignore[arg-type]
        statsd_interval=0.1,
    )
    metrics.start()
    return metrics


def test_a_scrape_shows_what_was_recorded() -> None:
    metrics = started()
    try:
        labels = {"tenant": "demo", "pipeline": "gate", "result": "SUCCESS"}
        metrics.inc(BUILDS_FINISHED, **labels)
        metrics.inc(BUILDS_FINISHED, **labels)
        metrics.observe(BUILD_DURATION, 42.0, **labels)
        metrics.set(PIPELINE_ITEMS, 3, tenant="demo", pipeline="gate")
        metrics.add_gauges(lambda: [(RUNNING_BUILDS, {}, 2.0)])
        assert metrics.url is not None and metrics.url.startswith("http://127.0.0.1:")
        samples = scrape(metrics.url)
    finally:
        metrics.stop()
    assert value(samples, "lockgate_builds_finished_total", **labels) == 2
    assert value(samples, "lockgate_build_duration_seconds_count", **labels) == 1
    assert value(samples, "lockgate_build_duration_seconds_sum", **labels) == 42.0
    assert value(samples, "lockgate_build_duration_seconds_bucket", le="60.0", **labels) == 1
    assert value(samples, "lockgate_pipeline_items", tenant="demo", pipeline="gate") == 3
    assert value(samples, "lockgate_executor_running_builds") == 2
    assert value(samples, "process_resident_memory_bytes")  # the process, as Zuul's
    # No *_created series beside the counters.
    assert not any(name.endswith("_created") for name, _ in samples)


def test_health_follows_the_component_state() -> None:
    metrics = started()
    try:
        base = metrics.url.removesuffix("/metrics")  # type: ignore[union-attr]

        def get(path: str) -> tuple[int, str]:
            try:
                with urllib.request.urlopen(base + path, timeout=5) as response:
                    return response.status, response.read().decode().strip()
            except urllib.error.HTTPError as e:
                return e.code, e.read().decode().strip()

        assert get("/health/live") == (200, "OK")
        assert get("/health/ready") == (503, "initializing")
        metrics.ready()
        assert get("/health/ready") == (200, "running")
        assert get("/health/status") == (200, "running")
        assert get("/nothing")[0] == 404
    finally:
        metrics.stop()


def test_a_failing_reader_is_left_out_of_the_scrape(caplog: pytest.LogCaptureFixture) -> None:
    def broken() -> list:  # type: ignore[type-arg]
        raise RuntimeError("ZooKeeper is away")

    metrics = started()
    try:
        metrics.add_gauges(broken)
        metrics.add_gauges(lambda: [(RUNNING_BUILDS, {}, 1.0)])
        first = scrape(metrics.url)  # type: ignore[arg-type]
        scrape(metrics.url)  # type: ignore[arg-type]
    finally:
        metrics.stop()
    assert value(first, "lockgate_executor_running_builds") == 1
    # Said once, not at every scrape.
    assert caplog.text.count("a gauge could not be read: ZooKeeper is away") == 1


def test_labels_and_kinds_are_checked() -> None:
    metrics = Metrics("executor")
    with pytest.raises(ValueError, match="lockgate_builds_finished_total: labels"):
        metrics.inc(BUILDS_FINISHED, tenant="demo")
    with pytest.raises(ValueError, match="is a counter, not a gauge"):
        metrics.set(BUILDS_FINISHED, 1, tenant="t", pipeline="p", result="SUCCESS")


def test_a_taken_port_is_one_line() -> None:
    first = started()
    try:
        port = first.server.port  # type: ignore[union-attr]
        second = Metrics("web", settings=MetricsSettings(prometheus_port=port))
        with pytest.raises(OSError, match=f"cannot serve metrics on 127.0.0.1:{port}: "):
            second.start()
    finally:
        first.stop()


def test_statsd_receives_counts_timings_and_gauges(statsd: StatsdListener) -> None:
    metrics = Metrics(
        "executor",
        hostname="ex1.example",
        settings=MetricsSettings(statsd=StatsdSettings("127.0.0.1", statsd.port, "ci")),
        statsd_interval=0.1,
    )
    metrics.start()
    try:
        labels = {"tenant": "demo", "pipeline": "gate", "result": "FAILURE"}
        metrics.inc(BUILDS_FINISHED, **labels)
        metrics.observe(BUILD_DURATION, 1.5, **labels)
        metrics.set(PIPELINE_ITEMS, 4, tenant="demo", pipeline="org/gate")
        metrics.add_gauges(
            lambda: [(EVENT_QUEUE_LENGTH, {"tenant": "demo", "queue": "trigger"}, 7.0)]
        )
        lines = statsd.wait_for(
            lambda got: (
                {
                    "ci.lockgate.tenant.demo.pipeline.gate.builds_finished.FAILURE:1|c",
                    "ci.lockgate.tenant.demo.pipeline.gate.build_time.FAILURE:1500.000000|ms",
                    "ci.lockgate.tenant.demo.pipeline.org_gate.current_changes:4|g",
                    "ci.lockgate.tenant.demo.trigger_events:7|g",
                }
                <= set(got)
            ),
            what="the build's count and time, and the gauges",
        )
    finally:
        metrics.stop()
    assert not [line for line in lines if line.startswith("ci.lockgate.process")]


def test_settings_from_the_service_config() -> None:
    config = ServiceConfig.parse(
        "[zookeeper]\nhosts = zk:2181\n[executor]\nprometheus_port = 9093\n"
        "[web]\nprometheus_port = 0\nprometheus_addr = ::1\n"
        "[statsd]\nserver = stats.example.org\nprefix = ci\n",
        "/etc/lockgate.conf",
    )
    assert settings_from_config(config, "executor") == MetricsSettings(
        "127.0.0.1", 9093, StatsdSettings("stats.example.org", 8125, "ci")
    )
    assert settings_from_config(config, "web").prometheus_addr == "::1"
    off = ServiceConfig.parse("[zookeeper]\nhosts = zk:2181\n", "/etc/lockgate.conf")
    assert settings_from_config(off, "launcher") == MetricsSettings()


def test_a_bad_port_names_the_key() -> None:
    config = ServiceConfig.parse(
        "[zookeeper]\nhosts = zk:2181\n[launcher]\nprometheus_port = 70000\n",
        "/etc/lockgate.conf",
    )
    with pytest.raises(ServiceConfigError) as raised:
        Metrics.for_component(config, "launcher")
    assert str(raised.value) == (
        "/etc/lockgate.conf: [launcher] prometheus_port: expected a port number (0-65535), got 70000"
    )


def test_a_forgotten_pipeline_leaves_the_scrape_and_may_come_back() -> None:
    metrics = started()
    try:
        metrics.set(PIPELINE_ITEMS, 2, tenant="demo", pipeline="gate")
        metrics.set(PIPELINE_ITEMS, 1, tenant="demo", pipeline="check")
        metrics.forget(PIPELINE_ITEMS, pipeline="gate", tenant="demo")  # any label order
        gone = scrape(metrics.url)  # type: ignore[arg-type]
        metrics.set(PIPELINE_ITEMS, 5, tenant="demo", pipeline="gate")
        back = scrape(metrics.url)  # type: ignore[arg-type]
    finally:
        metrics.stop()
    assert value(gone, "lockgate_pipeline_items", tenant="demo", pipeline="gate") is None
    assert value(gone, "lockgate_pipeline_items", tenant="demo", pipeline="check") == 1
    assert value(back, "lockgate_pipeline_items", tenant="demo", pipeline="gate") == 5
