"""Running one ansible-playbook process with a deadline and a way to stop it.

The runner starts every playbook through ``run_process``.  The process gets
its own process group (``start_new_session``), so stopping it reaches
everything it started (Ansible workers, ssh, the sandbox): SIGTERM to the
group, then SIGKILL after a grace period.  Waiting costs no polling: a
thread blocks in ``wait()`` and wakes the caller, and so does ``Abort.set``.

The groups of running playbooks are remembered, so that an executor ended
before it could stop them (past its stop deadline, or a second SIGTERM)
kills them on its way out (``kill_all``).
"""

from __future__ import annotations

import enum
import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

KILL_GRACE = 5.0

# Process groups of the playbooks running now (their leaders' pids).
_running: set[int] = set()


def kill_all() -> None:
    """SIGKILL every running playbook's process group, without waiting (an
    executor's last act before a forced exit: nothing of a build outlives it)."""
    for pgid in list(_running):
        try:
            os.killpg(pgid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


class Status(enum.StrEnum):
    NORMAL = "normal"  # the process exited on its own
    TIMED_OUT = "timed_out"
    ABORTED = "aborted"


@dataclass(frozen=True)
class ProcessOutcome:
    status: Status
    returncode: int | None
    elapsed: float


class Abort:
    """A flag that wakes every process wait of a build when set (cancel, shutdown)."""

    def __init__(self) -> None:
        self._set = threading.Event()
        self._waiters: set[threading.Event] = set()
        self._lock = threading.Lock()
        self.reason = ""
        # How long a stopped playbook gets between SIGTERM and SIGKILL.
        self.grace = KILL_GRACE

    def set(self, reason: str = "aborted", *, grace: float | None = None) -> None:
        """``grace``: shorter than ``KILL_GRACE`` when the executor is stopping."""
        with self._lock:
            if not self._set.is_set():
                self.reason = reason
            if grace is not None:
                self.grace = min(self.grace, grace)
            self._set.set()
            for waiter in self._waiters:
                waiter.set()

    def is_set(self) -> bool:
        return self._set.is_set()

    def _add(self, waiter: threading.Event) -> None:
        with self._lock:
            self._waiters.add(waiter)
            if self._set.is_set():
                waiter.set()

    def _remove(self, waiter: threading.Event) -> None:
        with self._lock:
            self._waiters.discard(waiter)


def stop_group(proc: subprocess.Popen[bytes], grace: float = KILL_GRACE) -> None:
    """SIGTERM the process group, SIGKILL it if it is still there after ``grace``."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 30.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=wait)
            break
        except subprocess.TimeoutExpired:
            continue
    # Reap stragglers of the group that outlived the leader.
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def run_process(
    cmd: list[str],
    *,
    env: dict[str, str],
    cwd: Path,
    output: Path,
    timeout: float | None,
    abort: Abort,
    pass_fds: tuple[int, ...] = (),
) -> ProcessOutcome:
    """Run ``cmd`` with stdout and stderr to ``output``; stop it on timeout or abort.
    ``pass_fds``: descriptors the process inherits (a playbook's in-memory
    secrets files)."""
    started = time.monotonic()
    if abort.is_set():
        return ProcessOutcome(Status.ABORTED, None, 0.0)
    with open(output, "ab") as out:
        proc = subprocess.Popen(
            cmd,
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            pass_fds=pass_fds,
        )
    _running.add(proc.pid)
    woken = threading.Event()

    def wait_then_wake() -> None:
        proc.wait()
        woken.set()

    waiter = threading.Thread(target=wait_then_wake, daemon=True, name=f"wait-{proc.pid}")
    waiter.start()
    abort._add(woken)
    try:
        woken.wait(timeout)
        if proc.poll() is not None:
            return ProcessOutcome(Status.NORMAL, proc.returncode, time.monotonic() - started)
        status = Status.ABORTED if abort.is_set() else Status.TIMED_OUT
        stop_group(proc, abort.grace if status is Status.ABORTED else KILL_GRACE)
        return ProcessOutcome(status, proc.returncode, time.monotonic() - started)
    finally:
        _running.discard(proc.pid)
        abort._remove(woken)
        waiter.join(timeout=1.0)
