"""Metrics: every component's Prometheus endpoint and Zuul's ``[statsd]``.

``Metrics`` (``registry``) is what a component holds and records into;
``catalog`` declares every metric (name, kind, labels, statsd key) and
``doc/operating.md`` lists them; ``settings`` reads ``prometheus_port``,
``prometheus_addr`` and ``[statsd]``; ``exporter`` serves ``/metrics`` and
``/health/*``; ``statsd_sink`` sends to statsd; ``readers`` has the gauges
read at scrape time that need ZooKeeper (the scheduler's event queues).
"""

from lockgate.metrics import catalog
from lockgate.metrics.catalog import Kind, MetricSpec
from lockgate.metrics.registry import Metrics
from lockgate.metrics.settings import MetricsSettings, StatsdSettings, settings_from_config

__all__ = [
    "Kind",
    "MetricSpec",
    "Metrics",
    "MetricsSettings",
    "StatsdSettings",
    "catalog",
    "settings_from_config",
]
