"""How many GitHub webhooks one web process accepts per second (each stored
in ZooKeeper before its 200), and how long a delivery takes to become an
event on the tenant's trigger queue.

A real ``lockgate web`` process (``python -m lockgate.cli -c FILE web``) on
a real TLS ZooKeeper (forceSync=no, as in tests); deliveries are the
GitHub emulator's own ``pull_request opened`` payload for a real pull
request, signed, each with a new ``X-GitHub-Delivery`` id, sent by
``--clients`` concurrent HTTP clients.  Beside it, in the same run, the
baseline: the same payloads put straight from Python on the same kind of
queue with the same dedup keys (one client), so the ratio shows what HTTP,
the signature check and the web cost over ZooKeeper itself.

Delivery -> trigger queue: the scheduler's ``GithubEventSource`` (run here
in-process, as the scheduler runs it) reads the stored delivery, asks the
emulator for the head commit (the patchset number), and puts the event on
the tenant's trigger queue; one delivery at a time, timed from the POST to
the event's appearance on the queue.

    /opt/lockgate/bin/python -m bench.github_webhooks [--deliveries 2000] [--clients 8]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp
from lockgate.drivers.base import EventSourceHooks
from lockgate.drivers.github.event_source import delivery_queue
from lockgate.drivers.github.webhook import Delivery, sign
from lockgate.drivers.registry import make_connections
from lockgate.model.events import TriggerEvent
from lockgate.service_config import ServiceConfig
from lockgate.zk.queues import trigger_queue

from tests.fixtures.github.fixture import GitHubEmulator
from tests.fixtures.network import free_port, http_get
from tests.fixtures.waiting import wait_for
from tests.fixtures.zk import start_tls_server

PROJECT = "bench/app"
CHROOT = "/bench"


def service_config(root: Path, zk: Any, github: GitHubEmulator, port: int) -> Path:
    tls = zk.tls.client
    path = root / "lockgate.conf"
    path.write_text(
        f"""
[zookeeper]
hosts = {zk.server.hosts}
tls_ca = {tls.ca}
tls_cert = {tls.cert}
tls_key = {tls.key}
chroot = {CHROOT}

[web]
listen_address = 127.0.0.1
port = {port}

[database]
dburi = sqlite:///{root}/web.db

"""
        + github.zuul_conf_text()
    )
    return path


def start_web(config: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "lockgate.cli", "-c", str(config), "web"],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    wait_for(
        lambda: (
            http_get(f"http://127.0.0.1:{port}/health/ready")[0] == 200 or proc.poll() is not None
        ),
        60,
        "the web process",
    )
    if proc.poll() is not None:
        raise RuntimeError(log.read_text(errors="replace"))
    return proc


async def post_all(url: str, secret: str, bodies: list[tuple[str, bytes]], clients: int) -> float:
    """Seconds to POST every body with ``clients`` concurrent senders; each
    must be answered 200 ``accepted``."""
    work: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()
    for item in bodies:
        work.put_nowait(item)

    async def sender(session: aiohttp.ClientSession) -> None:
        while not work.empty():
            delivery, body = work.get_nowait()
            headers = {
                "X-GitHub-Event": "pull_request",
                "X-GitHub-Delivery": delivery,
                "X-Hub-Signature-256": sign(secret, body),
                "Content-Type": "application/json",
            }
            async with session.post(url, data=body, headers=headers) as reply:
                answer = await reply.json()
                assert reply.status == 200 and answer["status"] == "accepted", answer

    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=connector) as session:
        t0 = time.perf_counter()
        await asyncio.gather(*(sender(session) for _ in range(clients)))
        return time.perf_counter() - t0


def baseline_rate(client: Any, bodies: list[tuple[str, bytes]]) -> float:
    """The same deliveries put straight on a fresh queue (dedup key and all)."""
    queue = delivery_queue(client, "baseline")
    t0 = time.perf_counter()
    for delivery, body in bodies:
        d = Delivery("baseline", "pull_request", delivery, json.loads(body))
        queue.put(d.to_dict(), dedup_key=f"delivery-{delivery}")
    return len(bodies) / (time.perf_counter() - t0)


def delivery_to_queue(
    client: Any, config: Path, url: str, secret: str, body: bytes, n: int
) -> list[float]:
    """Seconds from each POST to its event on the tenant's trigger queue."""
    conn = make_connections(ServiceConfig.load(config))["github"]
    events = trigger_queue(client, "bench")
    seen: list[TriggerEvent] = []

    def sink(event: TriggerEvent) -> None:
        events.put(event.to_dict(), dedup_key=event.dedup_key)
        seen.append(event)

    hooks = EventSourceHooks(
        sink=sink,
        projects=lambda: {PROJECT},
        state_get=lambda key: None,
        state_set=lambda key, data: None,
        zk=client,
    )
    source = conn.event_source(hooks)
    assert source is not None
    source.start()
    out = []
    try:
        with aiohttp_session() as post:
            for _ in range(n):
                before = len(events)
                delivery = str(uuid.uuid4())
                t0 = time.perf_counter()
                post(url, secret, delivery, body)
                wait_for(lambda b=before: len(events) > b, 30, "the event", interval=0.001)
                out.append(time.perf_counter() - t0)
    finally:
        source.stop()
        conn.close()
    return out


class aiohttp_session:  # noqa: N801 - a context manager used like a function
    """A blocking POST helper over one keep-alive connection."""

    def __enter__(self) -> Any:
        import requests

        self.session = requests.Session()

        def post(url: str, secret: str, delivery: str, body: bytes) -> None:
            headers = {
                "X-GitHub-Event": "pull_request",
                "X-GitHub-Delivery": delivery,
                "X-Hub-Signature-256": sign(secret, body),
            }
            reply = self.session.post(url, data=body, headers=headers, timeout=30)
            assert reply.status_code == 200, reply.text

        return post

    def __exit__(self, *exc: object) -> None:
        self.session.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--deliveries", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--latency-samples", type=int, default=50)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    root = Path(tempfile.mkdtemp(prefix="lockgate-bench-github-"))
    zk = start_tls_server(root / "zk")
    client = zk.client(CHROOT)
    client.connect()
    github = GitHubEmulator(root / "github", deliver=False).start()
    web: subprocess.Popen[bytes] | None = None
    try:
        c = github.control
        c.create_repo(PROJECT, {"README": "bench\n"})
        c.open_pull(PROJECT, "topic", {"a.txt": "x\n"}, title="Bench")
        (opened,) = [
            d for d in c.deliveries(event="pull_request", payloads=True) if d["action"] == "opened"
        ]
        body = json.dumps(opened["payload"], separators=(",", ":")).encode()
        port = free_port()
        config = service_config(root, zk, github, port)
        web = start_web(config, port, root / "web.log")
        url = f"http://127.0.0.1:{port}/api/connection/github/payload"
        bodies = [(str(uuid.uuid4()), body) for _ in range(args.deliveries)]
        asyncio.run(post_all(url, github.webhook_secret, bodies[:50], args.clients))  # warm-up
        seconds = asyncio.run(post_all(url, github.webhook_secret, bodies[50:], args.clients))
        accepted = (len(bodies) - 50) / seconds
        assert len(delivery_queue(client, "github")) == len(bodies)
        base = baseline_rate(client, [(str(uuid.uuid4()), body) for _ in range(len(bodies) - 50)])
        # The queue must be empty for the latency run (the event source reads it all).
        for entry_id, _ in delivery_queue(client, "github").list():
            delivery_queue(client, "github").ack(entry_id)
        samples = delivery_to_queue(
            client, config, url, github.webhook_secret, body, args.latency_samples
        )
        print(f"webhooks -> one web process -> ZooKeeper ({len(body)} byte pull_request opened)")
        print(
            f"  web, {args.clients} concurrent clients   {accepted:8.0f} deliveries/s "
            f"({len(bodies) - 50} deliveries)"
        )
        print(f"  baseline: queue put from Python  {base:8.0f} deliveries/s (one client)")
        print(f"  web / baseline                   {accepted / base:8.2f}")
        ms = sorted(s * 1000 for s in samples)
        print(f"delivery -> event on the tenant's trigger queue ({len(ms)} deliveries, one by one)")
        print(
            f"  median {statistics.median(ms):6.1f} ms, p90 {ms[int(len(ms) * 0.9) - 1]:6.1f} ms,"
            f" max {ms[-1]:6.1f} ms"
        )
    finally:
        if web is not None and web.poll() is None:
            os.kill(web.pid, signal.SIGTERM)
            web.wait(30)
        github.stop()
        client.disconnect()
        zk.server.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
