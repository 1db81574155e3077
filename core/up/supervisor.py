"""The component processes of ``lockgate up``, started and stopped by PID.

Each component is ``python -m lockgate.cli -c CONF <component>``, its output
in ``<state>/logs/<component>.log``, in a session of its own (Ctrl-C at the
terminal reaches only ``lockgate up``, which stops them in order).  Stopping
sends SIGTERM (components finish or abort their work cleanly and exit
within 10 s), then SIGKILL to the whole process group after a grace period;
``stop_all`` does that for several at once.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

# Components exit within 10 s of SIGTERM (lockgate.lifecycle); a little more.
STOP_GRACE = 12.0


@dataclass
class ComponentProcess:
    name: str
    config: Path
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    _log: IO[bytes] | None = field(default=None, repr=False)
    #: The ``lockgate`` command it runs; default ``name`` (a second copy is
    #: named ``executor-2`` and runs ``executor``: ``lockgate.up.replicas``).
    command: str | None = None

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "ab")
        command = self.command or self.name
        self.process = subprocess.Popen(
            [sys.executable, "-m", "lockgate.cli", "-c", str(self.config), command],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C reaches only us; we stop them in order
        )

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def exited(self) -> int | None:
        return self.process.poll() if self.process else None

    def stop(self, grace: float = STOP_GRACE) -> None:
        stop_all([self], grace)

    def terminate(self) -> None:
        """Ask it to stop (SIGTERM); ``stop_all`` waits."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        """SIGKILL its whole process group (what it started too)."""
        if self.process is not None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass

    def _close_log(self) -> None:
        if self._log:
            self._log.close()
            self._log = None

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


def stop_all(procs: list[ComponentProcess], grace: float = STOP_GRACE) -> None:
    """SIGTERM every one at once, wait up to ``grace`` seconds for all, then
    SIGKILL the process groups of those still there."""
    for proc in procs:
        proc.terminate()
    deadline = time.monotonic() + grace
    for proc in procs:
        if proc.process is None:
            continue
        try:
            proc.process.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.process.wait(5)
        # Whatever it started in its group goes with it.
        proc.kill()
        proc._close_log()


def wait_until(predicate: Callable[[], object], timeout: float, interval: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())
