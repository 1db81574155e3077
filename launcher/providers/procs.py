"""Processes by PID, safely: identify, find in a network namespace, kill.

Who calls it: the local provider, to stop a node's sandbox (bubblewrap, the
node's sshd and everything a job started there).  A PID alone may be reused by
an unrelated process after the original died (a crash, a reboot), so every PID
we store comes with the process's start time from ``/proc/PID/stat``; we only
signal a PID whose start time still matches.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class ProcessRef:
    """A process as it was when we started it: PID and kernel start time."""

    pid: int
    start_time: int

    @classmethod
    def of(cls, pid: int) -> ProcessRef | None:
        """The live process ``pid``, or None if there is none."""
        start = start_time(pid)
        return cls(pid, start) if start is not None else None

    def alive(self) -> bool:
        """True while the very process we recorded exists (a zombie counts as gone)."""
        return start_time(self.pid) == self.start_time and not _is_zombie(self.pid)

    def kill(self) -> bool:
        """SIGKILL it if it is still the process we recorded; True if signalled."""
        if start_time(self.pid) != self.start_time:
            return False
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            return False
        return True


def _stat_fields(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            raw = f.read()
    except OSError:
        return None
    # The command name (field 2) may contain spaces and parentheses.
    return raw[raw.rindex(")") + 2 :].split()


def start_time(pid: int) -> int | None:
    """Field 22 of ``/proc/PID/stat`` (clock ticks since boot), or None."""
    fields = _stat_fields(pid)
    return int(fields[19]) if fields is not None else None


def _is_zombie(pid: int) -> bool:
    fields = _stat_fields(pid)
    return fields is not None and fields[0] in ("Z", "X")


def netns_pids(namespace: str) -> list[int]:
    """PIDs of every process inside the named network namespace (``ip netns
    pids``); empty if the namespace does not exist."""
    result = subprocess.run(
        ["ip", "netns", "pids", namespace], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        return []
    return [int(p) for p in result.stdout.split() if p.isdigit()]


def kill_and_wait(refs: list[ProcessRef], namespace: str | None, timeout: float = 10.0) -> bool:
    """SIGKILL the recorded processes and every process in ``namespace``
    (all of which are ours: we made the namespace), until none is left.

    Returns True if everything is gone before ``timeout``.  Processes that are
    our own children are reaped so they do not linger as zombies.
    """
    deadline = time.monotonic() + timeout
    while True:
        remaining = [r for r in refs if r.alive()]
        in_ns = netns_pids(namespace) if namespace else []
        if not remaining and not in_ns:
            return True
        for ref in remaining:
            ref.kill()
        for pid in in_ns:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        _reap(r.pid for r in refs)
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)


def _reap(pids: Iterable[int]) -> None:
    for pid in pids:
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
