"""How fast the Gerrit driver takes events from one ``stream-events`` into
ZooKeeper, and how long a catch-up after a disconnect takes.

Against the Gerrit emulator (``tests/fixtures/gerrit``: a separate process
speaking SSH and REST on loopback) and a real TLS ZooKeeper (forceSync=no,
as in tests).  Printed beside a baseline measured in the same run: the same
payloads put on the same kind of queue straight from Python (with and
without their dedup keys), so the ratio shows what the stream, the parsing
and the driver cost over ZooKeeper itself.

    /opt/lockgate/bin/python -m bench.gerrit_events [--events 2000] [--missed 200]
"""

from __future__ import annotations

import argparse
import logging
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from lockgate.drivers.base import EventSourceHooks
from lockgate.drivers.gerrit import GerritConnection
from lockgate.drivers.registry import make_connections
from lockgate.model.events import TriggerEvent
from lockgate.service_config import ServiceConfig
from lockgate.zk.queues import trigger_queue

from tests.fixtures.gerrit.fixture import GerritEmulator
from tests.fixtures.waiting import wait_for
from tests.fixtures.zk import start_tls_server

PROJECT = "bench/p"


def connection(emulator: GerritEmulator, root: Path, http: bool) -> GerritConnection:
    section = emulator.zuul_conf_section(password=http)
    known = emulator.write_known_hosts(root / "known_hosts")
    section.update(known_hosts=str(known), event_delay="0")
    text = "[connection gerrit]\n" + "".join(f"{k}={v}\n" for k, v in section.items())
    conn = make_connections(ServiceConfig.parse(text))["gerrit"]
    assert isinstance(conn, GerritConnection)
    return conn


class Sink:
    def __init__(self, client: Any, tenant: str) -> None:
        self.queue = trigger_queue(client, tenant)
        self.count = 0
        self.events: list[TriggerEvent] = []

    def __call__(self, event: TriggerEvent) -> None:
        self.queue.put(event.to_dict(), dedup_key=event.dedup_key)
        self.events.append(event)
        self.count += 1


def hooks(sink: Sink, state: dict[str, Any]) -> EventSourceHooks:
    return EventSourceHooks(
        sink=sink, projects=lambda: {PROJECT}, state_get=state.get, state_set=state.__setitem__
    )


def streamed_rate(
    emulator: GerritEmulator, client: Any, root: Path, n: int, change: int
) -> tuple[float, list[TriggerEvent]]:
    sink = Sink(client, "stream")
    source = connection(emulator, root, http=True).event_source(hooks(sink, {}))
    assert source is not None
    source.start()
    try:
        wait_for(source.connected.is_set, 20, "the stream")
        t0 = time.perf_counter()
        emulator.control.emit_bulk(change, n, account="bob")
        wait_for(lambda: sink.count >= n, 300, f"{n} events queued", interval=0.005)
        elapsed = time.perf_counter() - t0
    finally:
        source.stop()
    assert len(sink.queue.ids()) == n, "every bulk event queued once"
    return n / elapsed, sink.events


def baseline_rates(client: Any, payloads: list[TriggerEvent]) -> tuple[float, float]:
    plain = trigger_queue(client, "baseline-plain")
    t0 = time.perf_counter()
    for event in payloads:
        plain.put(event.to_dict())
    plain_rate = len(payloads) / (time.perf_counter() - t0)
    keyed = trigger_queue(client, "baseline-dedup")
    t0 = time.perf_counter()
    for event in payloads:
        keyed.put(event.to_dict(), dedup_key=event.dedup_key)
    return plain_rate, len(payloads) / (time.perf_counter() - t0)


def catch_up_time(
    emulator: GerritEmulator, client: Any, root: Path, missed: int, http: bool
) -> tuple[float, float, int, int]:
    """Seconds from the server's return to the end of the catch-up, the
    catch-up's own seconds, changes found, events queued."""
    sink = Sink(client, f"catchup-{'rest' if http else 'ssh'}")
    source = connection(emulator, root, http=http).event_source(hooks(sink, {}))
    assert source is not None
    source.reconnect_delay, source.max_reconnect_delay = 0.05, 0.2
    source.start()
    c = emulator.control
    try:
        wait_for(source.connected.is_set, 20, "the stream")
        c.set_down(True)
        wait_for(lambda: not source.connected.is_set(), 20, "the stream to drop")
        # ``missed`` events while down: new changes, each with a review.
        for _ in range(missed // 2):
            number = c.create_change(PROJECT, message="missed")["number"]
            c.comment(number, "looks fine", account="alice", labels={"Code-Review": 1})
        done = source.catchups
        t0 = time.perf_counter()
        c.set_down(False)
        wait_for(lambda: source.catchups > done, 120, "the catch-up", interval=0.005)
        total = time.perf_counter() - t0
        assert source.last_catchup is not None
        seconds, changes, queued = source.last_catchup
        return total, seconds, changes, queued
    finally:
        source.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--missed", type=int, default=200)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)  # the reconnect warnings are expected here
    root = Path(tempfile.mkdtemp(prefix="lockgate-bench-gerrit-"))
    zk = start_tls_server(root / "zk")
    client = zk.client("/bench")
    client.connect()
    emulator = GerritEmulator(root / "gerrit").start()
    try:
        c = emulator.control
        c.create_project(PROJECT, files={"README": "bench\n"})
        change = c.create_change(PROJECT, message="bench")["number"]
        rate, payloads = streamed_rate(emulator, client, root, args.events, change)
        # The baseline: the same payloads, put again on fresh queues.
        plain, keyed = baseline_rates(client, payloads)
        print(f"stream -> ZooKeeper, {args.events} comment-added events over SSH")
        print(f"  driver (stream, parse, queue put with dedup key) {rate:8.0f} events/s")
        print(f"  baseline: queue put with dedup key               {keyed:8.0f} events/s")
        print(f"  baseline: plain queue put                        {plain:8.0f} events/s")
        print(f"  driver / baseline with dedup key                 {rate / keyed:8.2f}")
        print(f"catch-up after a disconnect, {args.missed} missed events")
        for http in (True, False):
            # A fresh server each time, so one run's changes are not the next one's.
            with GerritEmulator(root / f"gerrit-{http}") as fresh:
                fresh.control.create_project(PROJECT, files={"README": "bench\n"})
                total, own, changes, queued = catch_up_time(fresh, client, root, args.missed, http)
            how = "REST" if http else "SSH query"
            print(
                f"  {how:9}: {total:5.2f} s from the server's return ({own:5.2f} s of catch-up);"
                f" {changes} changes found, {queued} events queued"
            )
    finally:
        emulator.stop()
        client.disconnect()
        zk.server.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
