"""Every metric Lockgate exports, declared once: name, kind, labels, help, statsd key.

Who reads it: ``lockgate.metrics.registry.Metrics`` makes the Prometheus
metric of a spec the first time a component records it, and builds the
statsd key of each figure from ``statsd``; ``doc/operating.md`` lists every
spec here (a test compares the two).  The components record figures by spec
(``metrics.inc(BUILDS_FINISHED, tenant=..., pipeline=..., result=...)``),
never by a name typed at the call site.

Names follow Prometheus' conventions (``lockgate_`` prefix, base units:
seconds, ``_total`` for counters).  A statsd key is a template whose fields
are the spec's labels plus ``component`` and ``hostname``; it follows
Zuul's key shapes where Zuul has the figure (``tenant.<t>.trigger_events``,
``executor.<host>.running_builds``) under a ``lockgate.`` root.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Kind(enum.Enum):
    COUNTER = "counter"  # statsd: a count (``|c``) per increment
    GAUGE = "gauge"  # statsd: a gauge (``|g``), sent every flush interval
    HISTOGRAM = "histogram"  # statsd: a timer (``|ms``) per observation


#: Bucket bounds (seconds) for durations of different scales.
FAST = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
PASS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
MERGE = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
WAIT = (0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0)
BUILD = (1.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 1800.0, 3600.0, 7200.0)


@dataclass(frozen=True)
class MetricSpec:
    """One metric: what a scrape shows and what statsd receives."""

    name: str
    kind: Kind
    help: str
    labels: tuple[str, ...]
    components: tuple[str, ...]
    statsd: str
    buckets: tuple[float, ...] = ()

    def statsd_key(self, labels: dict[str, str], component: str, hostname: str) -> str:
        """The statsd key for one label set (values made safe for a dotted key)."""
        fields = {k: statsd_safe(v) for k, v in labels.items()}
        fields["component"] = statsd_safe(component)
        fields["hostname"] = statsd_safe(hostname)
        return "lockgate." + self.statsd.format(**fields)


def statsd_safe(value: object) -> str:
    """A label value as one segment of a dotted statsd key: dots, slashes,
    colons and the like become ``_`` (``org/app`` -> ``org_app``)."""
    text = str(value) or "none"
    return "".join(c if (c.isascii() and c.isalnum()) or c in "-_" else "_" for c in text)


ALL = ("scheduler", "executor", "merger", "launcher", "web")
MERGERS = ("executor", "merger")

# --- every component ------------------------------------------------------------------

ZOOKEEPER_STATE = MetricSpec(
    "lockgate_zookeeper_state",
    Kind.GAUGE,
    "1 for the state this component's ZooKeeper session is in (connected, "
    "suspended: connection lost, session may survive; lost: no session), 0 for the others",
    ("state",),
    ALL,
    "{component}.{hostname}.zookeeper.{state}",
)
ZOOKEEPER_SESSION_LOSSES = MetricSpec(
    "lockgate_zookeeper_session_losses_total",
    Kind.COUNTER,
    "ZooKeeper sessions this component lost (its locks and registrations went with them)",
    (),
    ALL,
    "{component}.{hostname}.zookeeper.session_losses",
)

# --- scheduler -------------------------------------------------------------------------

EVENT_QUEUE_LENGTH = MetricSpec(
    "lockgate_event_queue_length",
    Kind.GAUGE,
    "Events waiting in a tenant's trigger, management or result queue (read at each scrape)",
    ("tenant", "queue"),
    ("scheduler",),
    "tenant.{tenant}.{queue}_events",
)
EVENT_QUEUE_OLDEST_AGE = MetricSpec(
    "lockgate_event_queue_oldest_age_seconds",
    Kind.GAUGE,
    "Age of the oldest event waiting in the queue, from the event's own timestamp (0: empty)",
    ("tenant", "queue"),
    ("scheduler",),
    "tenant.{tenant}.{queue}_events_oldest_age",
)
TRIGGER_EVENTS = MetricSpec(
    "lockgate_trigger_events_total",
    Kind.COUNTER,
    "Trigger events this scheduler took from a tenant's queue and matched to pipelines",
    ("tenant",),
    ("scheduler",),
    "tenant.{tenant}.trigger_events_processed",
)
TENANT_PASS = MetricSpec(
    "lockgate_tenant_pass_seconds",
    Kind.HISTOGRAM,
    "Time of one scheduler pass over a tenant (events, then every pipeline)",
    ("tenant",),
    ("scheduler",),
    "tenant.{tenant}.pass_time",
    PASS,
)
PIPELINE_ITEMS = MetricSpec(
    "lockgate_pipeline_items",
    Kind.GAUGE,
    "Items in a pipeline's queues after this scheduler's last pass over it",
    ("tenant", "pipeline"),
    ("scheduler",),
    "tenant.{tenant}.pipeline.{pipeline}.current_changes",
)

# --- executor ----------------------------------------------------------------------------

BUILDS_STARTED = MetricSpec(
    "lockgate_builds_started_total",
    Kind.COUNTER,
    "Builds this executor claimed and started",
    ("tenant", "pipeline"),
    ("executor",),
    "tenant.{tenant}.pipeline.{pipeline}.builds_started",
)
BUILDS_FINISHED = MetricSpec(
    "lockgate_builds_finished_total",
    Kind.COUNTER,
    "Builds this executor finished, by result (SUCCESS, FAILURE, ...; builds handed "
    "back at a stop are not counted)",
    ("tenant", "pipeline", "result"),
    ("executor",),
    "tenant.{tenant}.pipeline.{pipeline}.builds_finished.{result}",
)
BUILD_DURATION = MetricSpec(
    "lockgate_build_duration_seconds",
    Kind.HISTOGRAM,
    "Time from a build's start on this executor to its result",
    ("tenant", "pipeline", "result"),
    ("executor",),
    "tenant.{tenant}.pipeline.{pipeline}.build_time.{result}",
    BUILD,
)
RUNNING_BUILDS = MetricSpec(
    "lockgate_executor_running_builds",
    Kind.GAUGE,
    "Builds running on this executor now",
    (),
    ("executor",),
    "executor.{hostname}.running_builds",
)
MAX_BUILDS = MetricSpec(
    "lockgate_executor_max_builds",
    Kind.GAUGE,
    "Builds this executor runs at once at most ([executor] max_builds)",
    (),
    ("executor",),
    "executor.{hostname}.max_builds",
)

# --- merges (the executor's merge half, lockgate merger) ---------------------------------

MERGES_FINISHED = MetricSpec(
    "lockgate_merge_requests_total",
    Kind.COUNTER,
    "Merge requests this component served, by result (merged, conflict, error)",
    ("result",),
    MERGERS,
    "merger.{hostname}.merges.{result}",
)
MERGE_DURATION = MetricSpec(
    "lockgate_merge_duration_seconds",
    Kind.HISTOGRAM,
    "Time to serve one merge request (git fetches and merges)",
    ("result",),
    MERGERS,
    "merger.{hostname}.merge_time.{result}",
    MERGE,
)
RUNNING_MERGES = MetricSpec(
    "lockgate_merges_running",
    Kind.GAUGE,
    "Merge requests being served by this component now",
    (),
    MERGERS,
    "merger.{hostname}.running_merges",
)

# --- launcher ----------------------------------------------------------------------------

NODE_REQUESTS = MetricSpec(
    "lockgate_node_requests",
    Kind.GAUGE,
    "Node requests in ZooKeeper by state, as this launcher's last pass read them",
    ("state",),
    ("launcher",),
    "nodepool.requests.{state}",
)
NODE_REQUESTS_FINISHED = MetricSpec(
    "lockgate_node_requests_finished_total",
    Kind.COUNTER,
    "Node requests this launcher fulfilled or failed",
    ("result",),
    ("launcher",),
    "launcher.{hostname}.requests.{result}",
)
NODE_WAIT = MetricSpec(
    "lockgate_node_wait_seconds",
    Kind.HISTOGRAM,
    "Time from a node request's creation to its fulfilment (or failure) by this launcher",
    ("result",),
    ("launcher",),
    "launcher.{hostname}.node_wait_time.{result}",
    WAIT,
)

# --- web ---------------------------------------------------------------------------------

WEB_REQUESTS = MetricSpec(
    "lockgate_web_requests_total",
    Kind.COUNTER,
    "HTTP requests the web answered, by method, route (its path pattern, "
    "e.g. /api/tenant/{tenant}/status) and status code",
    ("method", "route", "status"),
    ("web",),
    "web.{hostname}.requests.{method}.{status}",
)
WEB_REQUEST_DURATION = MetricSpec(
    "lockgate_web_request_duration_seconds",
    Kind.HISTOGRAM,
    "Time to answer an HTTP request, by method and route (streamed answers: until the end)",
    ("method", "route"),
    ("web",),
    "web.{hostname}.request_time.{method}",
    FAST,
)

SPECS: tuple[MetricSpec, ...] = (
    ZOOKEEPER_STATE,
    ZOOKEEPER_SESSION_LOSSES,
    EVENT_QUEUE_LENGTH,
    EVENT_QUEUE_OLDEST_AGE,
    TRIGGER_EVENTS,
    TENANT_PASS,
    PIPELINE_ITEMS,
    BUILDS_STARTED,
    BUILDS_FINISHED,
    BUILD_DURATION,
    RUNNING_BUILDS,
    MAX_BUILDS,
    MERGES_FINISHED,
    MERGE_DURATION,
    RUNNING_MERGES,
    NODE_REQUESTS,
    NODE_REQUESTS_FINISHED,
    NODE_WAIT,
    WEB_REQUESTS,
    WEB_REQUEST_DURATION,
)
BY_NAME: dict[str, MetricSpec] = {spec.name: spec for spec in SPECS}
