"""What metrics cost a component: recording a figure, a scrape, the event
queue gauges.

- recording: ``Metrics.inc``/``observe``/``set`` per call, without and with
  ``[statsd]`` (to a UDP socket of this script that drops what it gets),
  beside a plain ``dict`` increment measured in the same run;
- a scrape: ``/metrics`` over HTTP with many label sets (tenants x
  pipelines), against a scrape of a component that recorded nothing;
- the scheduler's event queue gauges: one scrape's ZooKeeper reads for N
  tenants (empty queues and queues of 50 events) on a real TLS ZooKeeper,
  beside one ``trigger_queue(...).list()`` that a pass already does.

    /opt/lockgate/bin/python -m bench.metrics [--n 20000] [--tenants 10]
"""

from __future__ import annotations

import argparse
import shutil
import socket
import statistics
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

from lockgate.metrics import Metrics, MetricsSettings, StatsdSettings
from lockgate.metrics.catalog import BUILD_DURATION, BUILDS_FINISHED, PIPELINE_ITEMS
from lockgate.metrics.readers import event_queues
from lockgate.zk.queues import trigger_queue

from tests.fixtures.zk import start_tls_server


def per_call_us(n: int, fn: Callable[[int], object]) -> float:
    started = time.perf_counter()
    for i in range(n):
        fn(i)
    return (time.perf_counter() - started) / n * 1e6


def median_ms(n: int, fn: Callable[[], object]) -> float:
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def recording(n: int) -> None:
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind(("127.0.0.1", 0))
    plain = Metrics("executor")
    statsd = Metrics(
        "executor",
        settings=MetricsSettings(statsd=StatsdSettings("127.0.0.1", sink.getsockname()[1])),
    )
    statsd.start()
    counts: dict[str, int] = {}
    labels = {"tenant": "demo", "pipeline": "gate", "result": "SUCCESS"}
    baseline = per_call_us(n, lambda i: counts.__setitem__("k", counts.get("k", 0) + 1))
    print(f"recording one figure (µs per call; a dict increment: {baseline:.2f} µs)")
    for name, m in (("no statsd", plain), ("with statsd", statsd)):
        inc = per_call_us(n, lambda i, m=m: m.inc(BUILDS_FINISHED, **labels))
        observe = per_call_us(n, lambda i, m=m: m.observe(BUILD_DURATION, 1.0, **labels))
        gauge = per_call_us(n, lambda i, m=m: m.set(PIPELINE_ITEMS, i, tenant="t", pipeline="p"))
        print(
            f"  {name:12} inc {inc:6.2f}  observe {observe:6.2f}  set {gauge:6.2f}"
            f"   (inc = {inc / baseline:.0f}x the dict)"
        )
    statsd.stop()
    sink.close()


def scraping(tenants: int) -> None:
    empty = Metrics("scheduler", settings=MetricsSettings(prometheus_port=0))
    full = Metrics("scheduler", settings=MetricsSettings(prometheus_port=0))
    for t in range(tenants):
        for p in range(20):
            full.set(PIPELINE_ITEMS, p, tenant=f"t{t}", pipeline=f"p{p}")
            full.observe(BUILD_DURATION, 10.0, tenant=f"t{t}", pipeline=f"p{p}", result="SUCCESS")
    empty.start()
    full.start()

    def get(url: str) -> bytes:
        with urllib.request.urlopen(url, timeout=10) as response:
            return bytes(response.read())

    base = median_ms(50, lambda: get(empty.url))  # type: ignore[arg-type]
    size = len(get(full.url))  # type: ignore[arg-type]
    cost = median_ms(50, lambda: get(full.url))  # type: ignore[arg-type]
    print(
        f"a scrape over HTTP: {cost:.2f} ms for {tenants * 20} pipelines with a gauge and a "
        f"histogram each ({size // 1024} KiB); an empty component's: {base:.2f} ms "
        f"({cost / base:.1f}x)"
    )
    empty.stop()
    full.stop()


def queue_gauges(tenants: int) -> None:
    root = Path(tempfile.mkdtemp(prefix="lockgate-bench-metrics-"))
    env = start_tls_server(root)
    client = env.client("/bench-metrics")
    client.connect()
    try:
        names = [f"t{i}" for i in range(tenants)]
        read = event_queues(client, lambda: names)
        empty = median_ms(20, lambda: list(read()))
        event = {"type": "ref-updated", "project": "demo/app", "timestamp": time.time()}
        for name in names:
            queue = trigger_queue(client, name)
            for _ in range(50):
                queue.put(event)
        busy = median_ms(20, lambda: list(read()))
        one_list = median_ms(20, lambda: trigger_queue(client, names[0]).list(limit=100))
        print(
            f"event queue gauges of one scrape, {tenants} tenants x 3 queues: "
            f"{empty:.1f} ms empty, {busy:.1f} ms with 50 trigger events each; "
            f"one pass's trigger_queue.list() of 50 events: {one_list:.1f} ms "
            f"(the scrape = {busy / one_list:.1f} such lists, on the scrape's thread)"
        )
    finally:
        client.disconnect()
        env.server.stop()
        shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=20000)
    parser.add_argument("--tenants", type=int, default=10)
    args = parser.parse_args()
    recording(args.n)
    scraping(args.tenants)
    queue_gauges(args.tenants)


if __name__ == "__main__":
    main()
