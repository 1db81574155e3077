"""One git poll round over many repositories: concurrent (today) beside
sequential (one ``ls-remote`` after another, as before), in one run.

The figure behind it: 50 repositories pushed at once took the sequential
poller 3.6-12.5 s to notice.  Here N bare repositories are each pushed one
commit, then one ``GitPoller.poll_once`` round finds the N ref-updated
events; the scheduler's side (sink, state) is in memory, so the figure is
the polling alone.  Rounds of each kind alternate; medians.  Two servers:

- ``local``: the repositories as paths (``git ls-remote /path``): every ask
  is two processes and no waiting, so on a small machine the round is
  bound by CPU and asking several at once gains little;
- ``remote``: the same repositories behind ``git daemon`` and a loopback
  proxy that delays every chunk by ``DELAY_MS`` (a server a few
  milliseconds away): each ask mostly waits, and the round costs about
  one ask when they wait together.

Why a bound at all: servers limit connections (``git daemon`` refuses more
than 32 at once by default; asking for all 50 repositories at once lost
some of them here), and each ask is a process or two on the scheduler.

Run: /opt/lockgate/bin/python bench/git_poll.py [REPOS] [ROUNDS]
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from lockgate.drivers.base import EventSourceHooks
from lockgate.drivers.git import GitConnection, GitPoller
from lockgate.drivers.git.connection import DEFAULT_POLL_WORKERS
from lockgate.git import ls_remote

REPOS = int(sys.argv[1]) if len(sys.argv) > 1 else 50
ROUNDS = int(sys.argv[2]) if len(sys.argv) > 2 else 3
DELAY_MS = 5.0  # one way, per chunk, through the proxy


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_delay_proxy(target: int) -> tuple[int, asyncio.AbstractEventLoop]:
    """A loopback TCP proxy to ``target`` that holds each chunk DELAY_MS."""
    port = free_port()
    loop = asyncio.new_event_loop()
    ready = threading.Event()

    async def pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                await asyncio.sleep(DELAY_MS / 1000)
                writer.write(data)
                await writer.drain()
        except OSError:
            pass
        finally:
            writer.close()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", target)
        await asyncio.gather(pump(reader, up_writer), pump(up_reader, writer))

    async def serve() -> None:
        await asyncio.start_server(handle, "127.0.0.1", port)
        ready.set()

    threading.Thread(
        target=lambda: (loop.run_until_complete(serve()), loop.run_forever()), daemon=True
    ).start()
    ready.wait(10)
    return port, loop


def git(*args: str, cwd: Path | None = None) -> None:
    subprocess.run(
        ["git", "-c", "user.name=b", "-c", "user.email=b@b", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
    )


def make_repos(root: Path) -> dict[str, Path]:
    """A bare repository per project and a working clone to push from."""
    clones = {}
    for i in range(REPOS):
        name = f"org/repo{i:02}"
        bare = root / "git" / name
        git("init", "-q", "--bare", "-b", "master", str(bare))
        clone = root / "work" / name
        git("clone", "-q", str(bare), str(clone))
        git("commit", "-q", "--allow-empty", "-m", "first", cwd=clone)
        git("push", "-q", "origin", "HEAD:master", cwd=clone)
        clones[name] = clone
    return clones


class Memory:
    """The scheduler's side of a poller, in memory (thread-safe)."""

    def __init__(self, projects: list[str]) -> None:
        self.projects = projects
        self.state: dict[str, dict[str, Any]] = {}
        self.events = 0
        self.lock = threading.Lock()

    def sink(self, _event: object) -> None:
        with self.lock:
            self.events += 1

    def hooks(self) -> EventSourceHooks:
        return EventSourceHooks(
            sink=self.sink,
            projects=lambda: list(self.projects),
            state_get=self.state.get,
            state_set=self.state.__setitem__,
        )


def push_all(clones: dict[str, Path]) -> None:
    for clone in clones.values():
        git("commit", "-q", "--allow-empty", "-m", "again", cwd=clone)
        git("push", "-q", "origin", "HEAD:master", cwd=clone)


def measure(label: str, baseurl: str, clones: dict[str, Path]) -> None:
    memory = Memory(sorted(clones))
    pollers = {
        "sequential (1 at a time)": GitPoller(
            GitConnection("src", baseurl, poll_workers=1), memory.hooks()
        ),
        f"concurrent ({DEFAULT_POLL_WORKERS} at once, default)": GitPoller(
            GitConnection("src", baseurl), memory.hooks()
        ),
    }
    next(iter(pollers.values())).poll_once()  # the first round records refs, emits nothing
    samples: dict[str, list[float]] = {name: [] for name in pollers}
    for _ in range(ROUNDS):
        for name, poller in pollers.items():
            push_all(clones)
            before = memory.events
            start = time.perf_counter()
            found = poller.poll_once()
            samples[name].append(time.perf_counter() - start)
            assert found == REPOS == memory.events - before, (found, REPOS)
    one = []
    for _ in range(9):
        start = time.perf_counter()
        ls_remote(f"{baseurl}/org/repo00")
        one.append(time.perf_counter() - start)
    medians = {name: statistics.median(values) for name, values in samples.items()}
    print(f"{label}: one round over {REPOS} repositories, each pushed once (median of {ROUNDS})")
    for name, value in medians.items():
        print(f"  {name:34} {value * 1000:8.0f} ms")
    print(f"  {'one ls-remote':34} {statistics.median(one) * 1000:8.1f} ms")
    sequential, concurrent = medians.values()
    print(f"  concurrent / sequential: {concurrent / sequential:.2f}")


def main() -> None:
    root = Path(tempfile.mkdtemp(prefix="lockgate-bench-git-poll-"))
    daemon = None
    try:
        clones = make_repos(root)
        measure("local (paths)", str(root / "git"), clones)
        port = free_port()
        daemon = subprocess.Popen(
            ["git", "daemon", "--listen=127.0.0.1", f"--port={port}", "--export-all",
             f"--base-path={root / 'git'}", "--reuseaddr", str(root / "git")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        proxy, _loop = start_delay_proxy(port)
        label = f"remote (git daemon, {DELAY_MS:.0f} ms each way)"
        measure(label, f"git://127.0.0.1:{proxy}", clones)
    finally:
        if daemon is not None:
            daemon.terminate()
            daemon.wait(10)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
