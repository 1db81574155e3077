"""Gauges read at scrape time that need ZooKeeper: a tenant's event queues.

Who calls it: the scheduler adds ``event_queues(...)`` to its ``Metrics``
(``Metrics.add_gauges``).  The reads happen on the scrape's (or the statsd
flush's) thread, never in the scheduler's pass, so metrics cost the pass
nothing: per tenant and queue, one listing, and for a queue that is not
empty one more listing and the oldest entry (``EventQueue.ids``, ``peek``).
While ZooKeeper is away the queues are left out of the scrape rather than
waited for.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping

from lockgate.metrics.catalog import EVENT_QUEUE_LENGTH, EVENT_QUEUE_OLDEST_AGE, MetricSpec
from lockgate.zk.client import ZKClient
from lockgate.zk.queues import EventQueue, management_queue, result_queue, trigger_queue

QUEUES: tuple[tuple[str, Callable[[ZKClient, str], EventQueue]], ...] = (
    ("trigger", trigger_queue),
    ("management", management_queue),
    ("result", result_queue),
)


def event_queues(
    client: ZKClient,
    tenants: Callable[[], Iterable[str]],
    clock: Callable[[], float] = time.time,
) -> Callable[[], Iterator[tuple[MetricSpec, Mapping[str, str], float]]]:
    """A gauge reader: each tenant's queue lengths and the age of their
    oldest event (from its ``timestamp``; 0 for an empty queue)."""

    def read() -> Iterator[tuple[MetricSpec, Mapping[str, str], float]]:
        if not client.connected:
            return
        for tenant in list(tenants()):
            for name, make in QUEUES:
                queue = make(client, tenant)
                labels = {"tenant": tenant, "queue": name}
                ids = queue.ids()
                age = 0.0
                if ids:
                    oldest = queue.peek()
                    stamp = oldest[1].get("timestamp") if oldest is not None else None
                    if isinstance(stamp, int | float):
                        age = max(0.0, clock() - float(stamp))
                yield EVENT_QUEUE_LENGTH, labels, float(len(ids))
                yield EVENT_QUEUE_OLDEST_AGE, labels, age

    return read
