"""``lockgate up``, the README's first command, as a user runs it.

Starts it as a process on a fresh state directory, waits for it to report
the demo buildset's jobs, checks the dashboard answers, then Ctrl-C (SIGINT)
and checks that it stopped everything it started.  And with its output
gone (``lockgate up | head -1``): Ctrl-C still stops everything.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path

import pytest
from lockgate.zk.server import free_port

from tests.fixtures.network import http_get
from tests.fixtures.waiting import wait_for

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the local cloud needs root")


def processes_mentioning(text: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if text in cmdline:
            found.append(int(entry.name))
    return found


def test_lockgate_up_runs_the_demo_build_and_stops_cleanly(tmp_path: Path) -> None:
    state = tmp_path / "state"
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "lockgate.cli",
            "up",
            "--state-dir",
            str(state),
            "--web-port",
            str(port),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    reader = threading.Thread(
        target=lambda: lines.extend(iter(proc.stdout.readline, "")), daemon=True
    )  # type: ignore[union-attr]
    reader.start()
    try:
        wait_for(
            lambda: (
                any("Press Ctrl-C to stop." in line for line in lines) or proc.poll() is not None
            ),
            timeout=240,
            what="lockgate up to be ready",
        )
        output = "".join(lines)
        assert proc.poll() is None, output
        # The demo buildset's jobs, by name.
        assert "demo buildset: SUCCESS" in output, output
        assert "    hello: SUCCESS  log: http://" in output, output
        # The review demo: a change proposed in the Gerrit of `lockgate up`
        # is voted on by check, then gated and merged.
        assert "check: Verified 1" in output, output
        assert "gate: Verified 2, change 1 MERGED" in output, output
        dashboard = f"http://127.0.0.1:{port}/t/demo/builds"
        assert f"Dashboard: {dashboard}" in output
        with urllib.request.urlopen(dashboard, timeout=10) as page:
            assert b"hello" in page.read()  # the demo job's build is listed
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
        code = proc.wait(120)
        reader.join(10)
    assert code == 0, "".join(lines)
    assert "stopping ZooKeeper" in "".join(lines)
    # Nothing it started is left: no component, no ZooKeeper, no node sshd.
    assert processes_mentioning(str(state)) == []


def test_lockgate_up_stops_everything_when_its_output_is_gone(tmp_path: Path) -> None:
    """``lockgate up | head -1``: the reader leaves after one line.  ``up``
    goes on (writes fail with EPIPE and are dropped), and Ctrl-C still stops
    everything it started."""
    state = tmp_path / "state"
    port = free_port()
    read, write = os.pipe()
    proc = subprocess.Popen(
        [sys.executable, "-m", "lockgate.cli", "up", "--no-demo"]
        + ["--state-dir", str(state), "--web-port", str(port)],
        stdout=write,
        stderr=subprocess.STDOUT,
    )
    os.close(write)
    try:
        with os.fdopen(read) as output:
            first = output.readline()  # then the reader is gone, as head's
        assert first.startswith("Starting Lockgate in"), first

        def web_up() -> bool:
            assert proc.poll() is None, "lockgate up died when its output went away"
            return http_get(f"http://127.0.0.1:{port}/api/info")[0] == 200

        wait_for(web_up, timeout=240, what="lockgate up to start its web", interval=0.5)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
        code = proc.wait(120)
    assert code == 0
    assert processes_mentioning(str(state)) == []
    assert not (state / "run" / "processes.json").exists()
