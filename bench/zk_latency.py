"""Latency of the ZooKeeper layer's common operations against a real TLS
ZooKeeper on loopback (forceSync=no, as in tests).  Prints medians and p95.

    /opt/lgvenv/bin/python -m bench.zk_latency [--n 300]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from lockgate.model.nodes import NodeRequest
from lockgate.zk import paths
from lockgate.zk.locks import SessionAwareLock
from lockgate.zk.queues import trigger_queue
from lockgate.zk.records import RecordStore
from lockgate.zk.requests import NodeRequestStore

from tests.fixtures.zk import start_tls_server


def timed(n: int, fn: Callable[[int], object]) -> tuple[float, float]:
    samples = []
    for i in range(n):
        t0 = time.perf_counter()
        fn(i)
        samples.append((time.perf_counter() - t0) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.95) - 1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=300)
    n = parser.parse_args().n
    root = Path(tempfile.mkdtemp(prefix="lockgate-bench-zk-"))
    env = start_tls_server(root)
    client = env.client("/bench")
    client.connect()
    try:
        queue = trigger_queue(client, "t")
        event = {
            "type": "ref-updated",
            "connection": "git",
            "project": "demo/app",
            "ref": "refs/heads/main",
        }
        ids: list[str] = []
        rows = [("queue put", timed(n, lambda i: ids.append(queue.put(event))))]
        rows.append((f"queue list ({n} entries)", timed(20, lambda i: queue.list())))
        rows.append(("queue ack", timed(n, lambda i: queue.ack(ids[i]))))
        rows.append(
            ("queue put (dedup key)", timed(n, lambda i: queue.put(event, dedup_key=f"k{i}")))
        )
        store = RecordStore(client)
        path = paths.pipeline_state("t", "gate")
        small = {"items": [{"change": i, "jobs": ["a", "b"]} for i in range(20)]}
        store.save(path, small)
        rows.append(("record load (small)", timed(n, lambda i: store.load(path))))
        rows.append(
            (
                "record save with version",
                timed(n, lambda i: store.save(path, small, version=store.load(path).version)),
            )
        )
        big = {"blob": os.urandom(1_500_000).hex()}
        big_path = paths.config_cache("git", "demo/app", "main")
        rows.append(("record save, 3 MB sharded", timed(10, lambda i: store.save(big_path, big))))
        rows.append(("record load, 3 MB sharded", timed(10, lambda i: store.load(big_path))))
        requests = NodeRequestStore(client)
        req = NodeRequest(
            labels=["l"], tenant="t", pipeline="p", buildset_uuid="b", job_name="j", event_id="e"
        )
        rids: list[str] = []
        rows.append(("node request submit", timed(n, lambda i: rids.append(requests.submit(req)))))
        rows.append((f"node request list ({n})", timed(10, lambda i: requests.list())))

        def lock_cycle(i: int) -> None:
            lock = SessionAwareLock(client, paths.node_request_lock(rids[i]))
            lock.acquire(blocking=False)
            lock.release()

        rows.append(("lock acquire+release", timed(n, lock_cycle)))
        print(f"{'operation':34} {'median ms':>10} {'p95 ms':>8}")
        for name, (median, p95) in rows:
            print(f"{name:34} {median:10.2f} {p95:8.2f}")
    finally:
        client.disconnect()
        env.server.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
