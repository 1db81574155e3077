"""Running a process with a deadline and an abort flag (real processes)."""

from __future__ import annotations

import os
import threading

from lockgate.executor.process import Abort, Status, run_process

from tests.fixtures.waiting import wait_for


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead for our purpose.
    with open(f"/proc/{pid}/stat") as f:
        return f.read().split(") ", 1)[1][0] != "Z"


def test_normal_exit(tmp_path):
    out = run_process(
        ["sh", "-c", "echo hi; exit 3"],
        env={"PATH": "/usr/bin:/bin"},
        cwd=tmp_path,
        output=tmp_path / "out",
        timeout=30,
        abort=Abort(),
    )
    assert out.status is Status.NORMAL and out.returncode == 3
    assert (tmp_path / "out").read_text() == "hi\n"


def test_timeout_kills_the_whole_group(tmp_path):
    # The child writes its grandchild's pid, then both sleep.
    script = f"sleep 600 & echo $! > {tmp_path}/pid; wait"
    out = run_process(
        ["sh", "-c", script],
        env={"PATH": "/usr/bin:/bin"},
        cwd=tmp_path,
        output=tmp_path / "out",
        timeout=1,
        abort=Abort(),
    )
    assert out.status is Status.TIMED_OUT
    grandchild = int((tmp_path / "pid").read_text())
    # SIGKILL to the group is delivered asynchronously: wait for its effect.
    wait_for(lambda: not alive(grandchild), 30, "the grandchild to die")


def test_abort_wakes_the_wait(tmp_path):
    abort = Abort()
    threading.Timer(0.5, abort.set, args=("stop",)).start()
    out = run_process(
        ["sleep", "600"],
        env={"PATH": "/usr/bin:/bin"},
        cwd=tmp_path,
        output=tmp_path / "out",
        timeout=None,
        abort=abort,
    )
    assert out.status is Status.ABORTED and abort.reason == "stop"


def test_already_aborted_does_not_start(tmp_path):
    abort = Abort()
    abort.set()
    out = run_process(
        ["sh", "-c", f"touch {tmp_path}/ran"],
        env={},
        cwd=tmp_path,
        output=tmp_path / "out",
        timeout=None,
        abort=abort,
    )
    assert out.status is Status.ABORTED
    assert not (tmp_path / "ran").exists()
