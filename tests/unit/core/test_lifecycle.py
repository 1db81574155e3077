"""``lockgate.lifecycle``: the stop promise of every component process.

Each test runs a small component under ``serve`` in a process of its own
(signals are process-wide) and signals it: a graceful stop exits 0; a stop
that hangs is ended at the deadline after the force hook; a second signal
exits at once; a signal during start stops it cleanly.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.fixtures.waiting import wait_for

COMPONENT = """
import logging, sys, threading, time
from pathlib import Path
from lockgate.lifecycle import serve

logging.basicConfig(level=logging.INFO, stream=sys.stderr)
log = logging.getLogger("lockgate.test")
marks = Path(sys.argv[1])
mode = sys.argv[2]
deadline = float(sys.argv[3])


def mark(word):
    with open(marks, "a") as f:
        f.write(word + "\\n")


class Component:
    def __init__(self):
        self.asked = threading.Event()

    def start(self):
        mark("starting")
        if mode == "slow-start":
            self.asked.wait(60)  # a start that waits on something: request_stop ends it
            if self.asked.is_set():
                raise OSError("start given up: stopping")
        mark("started")

    def request_stop(self):
        mark("requested")
        self.asked.set()

    def stop(self):
        mark("stopping")
        if mode == "hang":
            time.sleep(3600)
        mark("stopped")


sys.exit(serve("test", Component, log, force=lambda: mark("forced"), deadline=deadline))
"""


def start(tmp_path: Path, mode: str, deadline: float = 8.0) -> tuple[subprocess.Popen[str], Path]:
    marks = tmp_path / "marks"
    proc = subprocess.Popen(
        [sys.executable, "-c", COMPONENT, str(marks), mode, str(deadline)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    return proc, marks


def marks_of(path: Path) -> list[str]:
    return path.read_text().split() if path.exists() else []


def wait_mark(path: Path, word: str) -> None:
    wait_for(lambda: word in marks_of(path), timeout=30, what=f"the component to mark {word!r}")


@pytest.fixture
def reap():  # type: ignore[no-untyped-def]
    procs: list[subprocess.Popen[str]] = []
    yield procs.append
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=30)


def test_a_graceful_stop_exits_0(tmp_path: Path, reap) -> None:  # type: ignore[no-untyped-def]
    proc, marks = start(tmp_path, "normal")
    reap(proc)
    wait_mark(marks, "started")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == 0
    assert marks_of(marks) == ["starting", "started", "requested", "stopping", "stopped"]
    assert "received SIGTERM; stopping" in proc.communicate()[1]


def test_a_stop_that_hangs_is_ended_at_the_deadline(tmp_path: Path, reap) -> None:  # type: ignore[no-untyped-def]
    proc, marks = start(tmp_path, "hang", deadline=1.0)
    reap(proc)
    wait_mark(marks, "started")
    proc.send_signal(signal.SIGINT)
    assert proc.wait(30) == 1
    # What the component started is killed before the process goes.
    assert marks_of(marks)[-2:] == ["stopping", "forced"]
    assert "did not stop within 1 s" in proc.communicate()[1]


def test_a_second_signal_exits_at_once(tmp_path: Path, reap) -> None:  # type: ignore[no-untyped-def]
    proc, marks = start(tmp_path, "hang", deadline=600.0)
    reap(proc)
    wait_mark(marks, "started")
    proc.send_signal(signal.SIGTERM)
    wait_mark(marks, "stopping")
    sent = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == 128 + signal.SIGTERM
    assert time.monotonic() - sent < 30  # far from the 600 s deadline
    assert marks_of(marks)[-1] == "forced"
    assert "SIGTERM again; exiting now" in proc.communicate()[1]


def test_a_signal_while_starting_stops_cleanly(tmp_path: Path, reap) -> None:  # type: ignore[no-untyped-def]
    proc, marks = start(tmp_path, "slow-start")
    reap(proc)
    wait_mark(marks, "starting")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == 0
    assert "requested" in marks_of(marks) and "started" not in marks_of(marks)
    assert "start given up" not in proc.communicate()[1]  # not reported as a failure
