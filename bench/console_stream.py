"""Live console delay: from a line Ansible writes to the websocket client that shows it.

A real ``ansible-playbook`` runs a playbook of short shell tasks with
Lockgate's console callback (``lockgate_console``), which writes each line
of ``job-output.txt`` with the time it wrote it.  The executor's
``ConsoleStreamServer`` (in this process, as in the executor) serves the
file, registered in a real TLS ZooKeeper; a real ``lockgate web`` process
relays it on ``/api/tenant/{t}/console-stream``; websocket clients (aiohttp,
in this process) note when each line arrives.  Delay = arrival time minus
the time stamped in the line (one clock: the same machine).

In the same run, for the ratio: baselines that follow the same file
without the web -- a tight file tail (polling every millisecond) and a
follower of the executor's TCP stream.  Two runs: one websocket client
(beside the baselines), then 50 websocket clients of the same build.

Floor (issue 9): under 0.5 s end to end.

    /opt/lockgate/bin/python -m bench.console_stream [--tasks 30]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
from lockgate.console_stream import encode_request
from lockgate.executor.ansible_setup import CALLBACK_DIR, ansible_playbook_path
from lockgate.executor.console_stream import ConsoleStreamServer
from lockgate.model.tenant_state import TenantLayoutState
from lockgate.zk.streams import StreamLocation, register_stream, unregister_stream
from lockgate.zk.tenants import save_layout

from tests.fixtures.console import Follower
from tests.fixtures.network import free_port, http_get
from tests.fixtures.waiting import wait_for
from tests.fixtures.zk import start_tls_server

TENANT = "bench"
CHROOT = "/bench-console"
FLOOR = 0.5


def stamp_of(line: str) -> float | None:
    """The time the callback (or the runner) wrote ``line``, as epoch seconds."""
    head = line.split(" | ", 1)[0]
    try:
        return datetime.datetime.strptime(head, "%Y-%m-%d %H:%M:%S.%f").timestamp()
    except ValueError:
        return None


class Delays:
    """Arrival delay of each complete line of a text stream."""

    def __init__(self) -> None:
        self.partial = ""
        self.values: list[float] = []

    def feed(self, text: str) -> None:
        now = time.time()
        lines = (self.partial + text).split("\n")
        self.partial = lines.pop()
        for line in lines:
            written = stamp_of(line)
            if written is not None:
                self.values.append(now - written)


def playbook(tasks: int) -> str:
    body = "".join(
        f"    - name: step {i}\n      shell: echo LINE-{i}; sleep 0.2\n" for i in range(tasks)
    )
    return "- hosts: localhost\n  connection: local\n  gather_facts: false\n  tasks:\n" + body


def run_ansible(root: Path, console: Path, tasks: int) -> None:
    root.mkdir(parents=True, exist_ok=True)
    book = root / "playbook.yaml"
    book.write_text(playbook(tasks))
    env = dict(
        os.environ,
        ANSIBLE_CALLBACK_PLUGINS=str(CALLBACK_DIR),
        ANSIBLE_STDOUT_CALLBACK="lockgate_console",
        ANSIBLE_HOME=str(root / "ansible-home"),
        ANSIBLE_LOCAL_TEMP=str(root / "ansible-tmp"),
        ANSIBLE_PYTHON_INTERPRETER=sys.executable,
        LOCKGATE_JOB_OUTPUT=str(console),
    )
    subprocess.run(
        [ansible_playbook_path(), "-i", "localhost,", str(book)],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )


def tail_file(path: Path, delays: Delays, done: threading.Event) -> None:
    """Baseline: read the file as it grows, polling every millisecond."""
    wait_for(path.exists, 60, "the console file", interval=0.001)
    with open(path, encoding="utf-8") as f:
        while True:
            text = f.read()
            if text:
                delays.feed(text)
            elif done.is_set():
                return
            else:
                time.sleep(0.001)


def follow_executor(port: int, uuid: str, delays: Delays) -> None:
    """Baseline: the executor's TCP stream, without the web."""
    follower = Follower("127.0.0.1", port, encode_request(uuid))
    seen = 0
    while True:
        frame = follower.frame()
        if frame is None or frame.kind.name != "DATA":
            follower.close()
            return
        delays.feed(follower.data[seen:].decode(errors="replace"))
        seen = len(follower.data)


async def follow_web(url: str, uuid: str, delays: Delays, ready: Callable[[], None]) -> str:
    async with aiohttp.ClientSession() as http:
        async with http.ws_connect(url) as ws:
            await ws.send_str(json.dumps({"uuid": uuid, "logfile": "console.log"}))
            ready()
            while True:
                msg = await ws.receive()
                if msg.type is not aiohttp.WSMsgType.TEXT:
                    return str(msg.extra)
                delays.feed(msg.data)


def one_run(
    root: Path,
    stream: ConsoleStreamServer,
    zk: Any,
    web_port: int,
    uuid: str,
    clients: int,
    tasks: int,
) -> dict[str, list[float]]:
    console = stream.log_root / uuid / "job-output.txt"
    console.parent.mkdir(parents=True)
    stream.build_started(uuid)
    register_stream(zk, StreamLocation(uuid, TENANT, "127.0.0.1", stream.port, "bench"))
    url = f"ws://127.0.0.1:{web_port}/api/tenant/{TENANT}/console-stream"
    web = [Delays() for _ in range(clients)]
    tail, tcp = Delays(), Delays()
    done = threading.Event()
    connected = threading.Semaphore(0)
    endings: list[str] = []

    def clients_thread() -> None:
        async def main() -> None:
            endings.extend(
                await asyncio.gather(*(follow_web(url, uuid, d, connected.release) for d in web))
            )

        asyncio.run(main())

    threads = [
        threading.Thread(target=clients_thread),
        threading.Thread(target=tail_file, args=(console, tail, done)),
        threading.Thread(target=follow_executor, args=(stream.port, uuid, tcp)),
    ]
    for t in threads:
        t.start()
    for _ in range(clients):
        connected.acquire(timeout=60)
    wait_for(lambda: stream.followers(uuid) == clients + 1, 60, "every follower")
    try:
        run_ansible(root / uuid, console, tasks)
    finally:
        console.touch()
        done.set()
        stream.build_ended(uuid, "build ended: SUCCESS")
        for t in threads:
            t.join(120)
    unregister_stream(zk, uuid)
    assert endings == ["build ended: SUCCESS"] * clients, endings
    lines = sum(1 for line in console.read_text().splitlines() if stamp_of(line) is not None)
    assert all(len(d.values) == lines for d in [tail, tcp, *web]), "a follower missed lines"
    return {
        "file tail (1 ms poll)": tail.values,
        "executor TCP stream": tcp.values,
        f"websocket via web ({clients} client{'s' if clients > 1 else ''})": [
            v for d in web for v in d.values
        ],
    }


def report(label: str, values: list[float], baseline: float) -> None:
    values = sorted(values)
    p50 = statistics.median(values)
    p99 = values[min(len(values) - 1, int(len(values) * 0.99))]
    ratio = f"{p50 / baseline:6.1f}x" if baseline > 0 else "   n/a"
    print(
        f"  {label:38s} lines {len(values):5d}  p50 {p50 * 1000:6.1f} ms  "
        f"p99 {p99 * 1000:6.1f} ms  max {values[-1] * 1000:6.1f} ms  p50/tail {ratio}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", type=int, default=30, help="shell tasks per playbook")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="lockgate-bench-console-"))
    zk_env = start_tls_server(root / "zk-root")
    web_proc = None
    stream = ConsoleStreamServer(root / "logs")
    client = zk_env.client(CHROOT)
    try:
        client.connect(timeout=15)
        save_layout(client, TenantLayoutState(tenant=TENANT))
        web_port = free_port()
        tls = zk_env.tls.client
        config = root / "lockgate.conf"
        config.write_text(
            f"[zookeeper]\nhosts = {zk_env.server.hosts}\ntls_ca = {tls.ca}\n"
            f"tls_cert = {tls.cert}\ntls_key = {tls.key}\nchroot = {CHROOT}\n\n"
            f"[web]\nlisten_address = 127.0.0.1\nport = {web_port}\n\n"
            f"[database]\ndburi = sqlite:///{root}/web.db\n"
        )
        with open(root / "web.log", "wb") as out:
            web_proc = subprocess.Popen(
                [sys.executable, "-m", "lockgate.cli", "-c", str(config), "web"],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        wait_for(
            lambda: http_get(f"http://127.0.0.1:{web_port}/health/ready")[0] == 200,
            60,
            "the web process",
        )
        stream.start()
        print(
            f"console stream delay, line written by Ansible -> client "
            f"({args.tasks} shell tasks per run; floor {FLOOR * 1000:.0f} ms)"
        )
        for n, clients in enumerate((1, 50)):
            results = one_run(root, stream, client, web_port, f"bench{n:02d}", clients, args.tasks)
            baseline = statistics.median(results["file tail (1 ms poll)"])
            print(f"run {n + 1}: {clients} websocket client(s)")
            for label, values in results.items():
                report(label, values, baseline)
            worst = max(v for k, vs in results.items() if "websocket" in k for v in vs)
            verdict = "meets" if worst < FLOOR else "DOES NOT meet"
            print(f"  max websocket delay {worst * 1000:.1f} ms: {verdict} the {FLOOR} s floor")
    finally:
        client.disconnect()
        stream.stop()
        if web_proc is not None:
            web_proc.send_signal(signal.SIGTERM)
            try:
                web_proc.wait(30)
            except subprocess.TimeoutExpired:
                web_proc.kill()
                web_proc.wait()
        zk_env.server.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
