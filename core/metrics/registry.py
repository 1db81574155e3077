"""One component's metrics: what it counts, times and gauges.

Who calls it: each component makes one ``Metrics`` at construction
(``Metrics.for_component(config, "executor", hostname)``), calls ``start``
when it starts (the ``/metrics`` endpoint, statsd, the ZooKeeper session
state), ``ready`` once it runs, and ``stop`` last.  Its code records
figures by spec (``lockgate.metrics.catalog``):

- ``inc(spec, **labels)``, ``observe(spec, seconds, **labels)`` and
  ``timer(spec, **labels)``: counts and durations, at the moment they
  happen (and sent to statsd then);
- ``set(spec, value, **labels)``: a gauge from a value the component's loop
  already holds (items in a pipeline after a pass);
- ``add_gauges(read)``: gauges read when asked -- at each scrape and each
  statsd flush, never in the component's loop (event queue lengths, builds
  running).  A reader that fails is logged and left out of that scrape.

Each ``Metrics`` has a registry of its own (not prometheus_client's global
one), so several components in one process -- tests, ``lockgate up`` of
old -- never share or collide.  Recording is cheap: a dictionary look-up
and prometheus_client's own lock; nothing here reads ZooKeeper except the
readers a component adds.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, cast

from lockgate.metrics import statsd_sink
from lockgate.metrics.catalog import (
    BY_NAME,
    ZOOKEEPER_SESSION_LOSSES,
    ZOOKEEPER_STATE,
    Kind,
    MetricSpec,
)
from lockgate.metrics.exporter import MetricsServer
from lockgate.metrics.settings import MetricsSettings, settings_from_config
from lockgate.service_config import ServiceConfig
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    disable_created_metrics,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from lockgate.zk.client import ZKClient

log = logging.getLogger("lockgate.metrics")

# No ``*_created`` series beside every counter and histogram: in the text
# format they show as extra gauge families that no dashboard reads.
disable_created_metrics()

#: A gauge reader: (spec, labels, value) for each figure it has now.
GaugeReader = Callable[[], Iterable[tuple[MetricSpec, Mapping[str, str], float]]]

#: The service config section of each component's metrics keys.
SECTIONS = {
    "scheduler": "scheduler",
    "executor": "executor",
    "merger": "merger",
    "launcher": "launcher",
    "web": "web",
}
ZOOKEEPER_STATES = ("connected", "suspended", "lost")


class Metrics:
    def __init__(
        self,
        component: str,
        *,
        hostname: str | None = None,
        settings: MetricsSettings | None = None,
        statsd_interval: float | None = None,
    ) -> None:
        """``statsd_interval``: seconds between gauge sends (default
        ``statsd_sink.GAUGE_INTERVAL``, read at ``start``)."""
        self.component = component
        self.hostname = hostname or socket.gethostname()
        self.settings = settings or MetricsSettings()
        self.statsd_interval = statsd_interval
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        self.registry.register(_Readers(self))
        self.state = "initializing"
        self.server: MetricsServer | None = None
        self.statsd: statsd_sink.StatsdSender | None = None
        self._readers: list[GaugeReader] = []
        self._metrics: dict[str, Counter | Gauge | Histogram] = {}
        # (name, labels as given) -> the labelled metric: a second record of
        # the same figure is one dictionary look-up.
        self._children: dict[
            tuple[str, tuple[tuple[str, object], ...]], Counter | Gauge | Histogram
        ] = {}
        self._lock = threading.Lock()
        self._zk: ZKClient | None = None
        self._zk_lost = True
        self._failing: set[int] = set()  # readers whose last call failed (logged once)

    @classmethod
    def for_component(
        cls, config: ServiceConfig, component: str, hostname: str | None = None
    ) -> Metrics:
        """The metrics of ``component`` as the service config sets them up
        (``ServiceConfigError`` for a bad key)."""
        settings = settings_from_config(config, SECTIONS[component])
        return cls(component, hostname=hostname, settings=settings)

    # --- life cycle ----------------------------------------------------------------------

    def start(self, client: ZKClient | None = None) -> None:
        """Serve ``/metrics`` (if ``prometheus_port`` is set), start sending to
        statsd (if ``[statsd] server`` is), and follow ``client``'s session.
        ``OSError`` (one line) if the port cannot be bound."""
        if client is not None:
            self.watch_zookeeper(client)
        settings = self.settings
        if settings.prometheus_port is not None and self.server is None:
            self.server = MetricsServer(
                self.registry,
                settings.prometheus_addr,
                settings.prometheus_port,
                lambda: self.state,
            )
            self.server.start()
            log.info("%s metrics served at %s", self.component, self.server.url)
        if settings.statsd is not None and self.statsd is None:
            interval = self.statsd_interval or statsd_sink.GAUGE_INTERVAL
            self.statsd = statsd_sink.StatsdSender(settings.statsd, self._statsd_gauges, interval)
            self.statsd.start()

    def ready(self) -> None:
        """The component runs (``/health/ready`` answers 200)."""
        self.state = "running"

    def stop(self) -> None:
        self.state = "stopping"
        if self._zk is not None:
            self._zk.remove_callback(self._session_lost)
            self._zk.remove_callback(self._reconnected)
            self._zk = None
        if self.server is not None:
            self.server.stop()
            self.server = None
        if self.statsd is not None:
            self.statsd.stop()
            self.statsd = None

    @property
    def url(self) -> str | None:
        """Where ``/metrics`` is served (None: no endpoint)."""
        return self.server.url if self.server is not None else None

    # --- recording -----------------------------------------------------------------------

    def inc(self, spec: MetricSpec, amount: float = 1.0, **labels: object) -> None:
        """Count ``amount`` more of ``spec`` (a counter)."""
        metric = cast(Counter, self._child(spec, Kind.COUNTER, labels))
        metric.inc(amount)
        sender = self.statsd
        if sender is not None and amount:
            sender.count(self._key(spec, labels), amount)

    def observe(self, spec: MetricSpec, seconds: float, **labels: object) -> None:
        """Record one duration of ``spec`` (a histogram)."""
        metric = cast(Histogram, self._child(spec, Kind.HISTOGRAM, labels))
        metric.observe(seconds)
        sender = self.statsd
        if sender is not None:
            sender.timing(self._key(spec, labels), seconds)

    @contextmanager
    def timer(self, spec: MetricSpec, **labels: object) -> Iterator[None]:
        """Observe the time the ``with`` block takes (also when it raises)."""
        started = time.monotonic()
        try:
            yield
        finally:
            self.observe(spec, time.monotonic() - started, **labels)

    def set(self, spec: MetricSpec, value: float, **labels: object) -> None:
        """Set a gauge of ``spec`` to a value the caller already holds."""
        metric = cast(Gauge, self._child(spec, Kind.GAUGE, labels))
        metric.set(value)

    def forget(self, spec: MetricSpec, **labels: object) -> None:
        """Drop one label set of ``spec`` (a pipeline that is gone)."""
        metric = self._metrics.get(spec.name)
        if metric is not None:
            wanted = {k: str(v) for k, v in labels.items()}
            for key in [k for k in self._children if k[0] == spec.name]:
                if {name: str(v) for name, v in key[1]} == wanted:
                    self._children.pop(key, None)
            try:
                metric.remove(*(str(labels[name]) for name in spec.labels))
            except KeyError:
                pass

    def add_gauges(self, read: GaugeReader) -> None:
        """Add gauges read at each scrape and statsd flush (not in any loop)."""
        with self._lock:
            self._readers.append(read)

    # --- the ZooKeeper session ---------------------------------------------------------------

    def watch_zookeeper(self, client: ZKClient) -> None:
        """Report ``client``'s session state and count its losses."""
        if self._zk is client:
            return
        self._zk = client
        client.on_session_lost(self._session_lost)
        client.on_reconnect(self._reconnected)
        self.add_gauges(self._zookeeper_state)

    def _session_lost(self) -> None:
        self._zk_lost = True
        self.inc(ZOOKEEPER_SESSION_LOSSES)

    def _reconnected(self) -> None:
        self._zk_lost = False

    def _zookeeper_state(self) -> Iterator[tuple[MetricSpec, Mapping[str, str], float]]:
        client = self._zk
        if client is None:
            return
        if client.connected:
            self._zk_lost = False
            state = "connected"
        else:
            state = "lost" if self._zk_lost else "suspended"
        for name in ZOOKEEPER_STATES:
            yield ZOOKEEPER_STATE, {"state": name}, 1.0 if name == state else 0.0

    # --- inside ----------------------------------------------------------------------------

    def _child(
        self, spec: MetricSpec, kind: Kind, labels: Mapping[str, object]
    ) -> Counter | Gauge | Histogram:
        """The metric of ``spec`` with these labels, of the type ``kind`` says."""
        key = (spec.name, tuple(labels.items()))
        child = self._children.get(key)
        if child is not None:
            return child
        child = self._make_child(spec, kind, labels)
        self._children[key] = child
        return child

    def _make_child(
        self, spec: MetricSpec, kind: Kind, labels: Mapping[str, object]
    ) -> Counter | Gauge | Histogram:
        if spec.kind is not kind:
            raise ValueError(f"metric {spec.name} is a {spec.kind.value}, not a {kind.value}")
        if len(labels) != len(spec.labels) or set(labels) != set(spec.labels):
            raise ValueError(
                f"metric {spec.name}: labels {sorted(labels)} given, {sorted(spec.labels)} declared"
            )
        metric = self._metrics.get(spec.name)
        if metric is None:
            with self._lock:
                metric = self._metrics.get(spec.name)
                if metric is None:
                    metric = self._make(spec)
                    self._metrics[spec.name] = metric
        if not spec.labels:
            return metric
        return metric.labels(*(str(labels[name]) for name in spec.labels))

    def _make(self, spec: MetricSpec) -> Counter | Gauge | Histogram:
        name, text, labels, registry = spec.name, spec.help, spec.labels, self.registry
        if spec.kind is Kind.COUNTER:
            return Counter(name, text, labelnames=labels, registry=registry)
        if spec.kind is Kind.GAUGE:
            return Gauge(name, text, labelnames=labels, registry=registry)
        return Histogram(name, text, labelnames=labels, registry=registry, buckets=spec.buckets)

    def _key(self, spec: MetricSpec, labels: Mapping[str, object]) -> str:
        return spec.statsd_key(
            {k: str(v) for k, v in labels.items()}, self.component, self.hostname
        )

    def read_gauges(self) -> Iterator[tuple[MetricSpec, Mapping[str, str], float]]:
        """Every reader's figures now (a failing reader is logged once and skipped)."""
        with self._lock:
            readers = list(self._readers)
        for read in readers:
            try:
                figures = list(read())
            except Exception as e:  # noqa: BLE001 - one reader must not spoil the scrape
                if id(read) not in self._failing:
                    self._failing.add(id(read))
                    log.warning("%s metrics: a gauge could not be read: %s", self.component, e)
                continue
            self._failing.discard(id(read))
            yield from figures

    def _statsd_gauges(self) -> Iterator[tuple[str, float]]:
        """Every gauge of the registry (set or read) as statsd keys."""
        for family in self.registry.collect():
            spec = BY_NAME.get(family.name)
            if spec is None or spec.kind is not Kind.GAUGE:
                continue
            for sample in family.samples:
                yield self._key(spec, sample.labels), float(sample.value)


class _Readers(Collector):
    """The gauges of ``Metrics.add_gauges``, one family per spec, read at collect."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def describe(self) -> list[GaugeMetricFamily]:
        return []  # nothing is read when the collector is registered

    def collect(self) -> Iterator[GaugeMetricFamily]:
        families: dict[str, GaugeMetricFamily] = {}
        for spec, labels, value in self.metrics.read_gauges():
            family = families.get(spec.name)
            if family is None:
                family = GaugeMetricFamily(spec.name, spec.help, labels=list(spec.labels))
                families[spec.name] = family
            family.add_metric([str(labels[name]) for name in spec.labels], value)
        yield from families.values()
