"""The processes ``lockgate up`` started, recorded in its state directory.

Who calls it: ``lockgate.up.main``.  Each process it starts (ZooKeeper, the
Gerrit, the components) is recorded as soon as it runs; a clean stop clears
the file.  A ``lockgate up`` that was killed (SIGKILL, a crash) leaves its
children running and their records behind: the next ``lockgate up`` on the
same state directory stops them first (``stop_leftovers``), and refuses to
start while the ``up`` that owns them is still alive.

A PID alone does not say which process it names: after a reboot, or once
the process has ended, the number may belong to another.  A record keeps
the process's start time (``/proc/PID/stat``, field 22) and its command
line, and a process is signalled only while both still match.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TypeAlias

UP = "lockgate up"

_Arg: TypeAlias = str | bytes | os.PathLike[str] | os.PathLike[bytes]
#: A command line as ``subprocess.Popen.args`` holds it.
Argv: TypeAlias = _Arg | Sequence[_Arg]


@dataclass(frozen=True)
class ProcessRecord:
    """One process ``lockgate up`` started (or ``up`` itself: name ``UP``).

    ``group``: the process leads a session of its own (started with
    ``start_new_session``), so its whole process group is signalled."""

    name: str
    pid: int
    start_time: int
    cmdline: tuple[str, ...]
    group: bool = False


def identity(pid: int) -> tuple[int, tuple[str, ...]] | None:
    """The start time (clock ticks after boot) and command line of ``pid``, or
    None if there is no such process (or it is a zombie)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after it.
    fields = stat[stat.rindex(")") + 2 :].split()
    if fields[0] == "Z":
        return None
    start_time = int(fields[19])  # field 22 of stat(5); fields[0] is field 3
    return start_time, tuple(part.decode(errors="replace") for part in raw.split(b"\0") if part)


def record_of(name: str, pid: int, argv: Argv, *, group: bool = False) -> ProcessRecord | None:
    """A record of the running process ``pid`` started with ``argv`` (None if
    it is already gone).

    The command line is the ``argv`` it was started with, not what /proc
    shows now: right after ``Popen`` the child may not have exec'd yet and
    still shows its parent's command line."""
    found = identity(pid)
    if found is None:
        return None
    start_time, _ = found
    parts = [argv] if isinstance(argv, str | bytes | os.PathLike) else list(argv)
    return ProcessRecord(name, pid, start_time, tuple(os.fsdecode(a) for a in parts), group)


def alive(record: ProcessRecord) -> bool:
    """The recorded process still runs: same PID, start time and command line."""
    found = identity(record.pid)
    return found is not None and found == (record.start_time, record.cmdline)


class PidFile:
    """``<state>/run/processes.json``: the records, rewritten whole at each change."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def records(self) -> list[ProcessRecord]:
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return []
        out = []
        for item in data if isinstance(data, list) else []:
            try:
                out.append(
                    ProcessRecord(
                        name=str(item["name"]),
                        pid=int(item["pid"]),
                        start_time=int(item["start_time"]),
                        cmdline=tuple(str(p) for p in item["cmdline"]),
                        group=bool(item.get("group", False)),
                    )
                )
            except (KeyError, TypeError, ValueError):
                continue  # a damaged entry names nothing we may signal
        return out

    def add(self, record: ProcessRecord | None) -> None:
        if record is None:
            return
        records = [r for r in self.records() if r.name != record.name] + [record]
        self._write(records)

    def remove(self, name: str) -> None:
        self._write([r for r in self.records() if r.name != name])

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)

    def _write(self, records: list[ProcessRecord]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps([asdict(r) for r in records], indent=1))
        os.replace(tmp, self.path)


def signal_record(record: ProcessRecord, sig: int) -> None:
    """Send ``sig`` to the recorded process (its group if it leads one), if
    it is still the process that was recorded."""
    if not alive(record):
        return
    try:
        if record.group:
            os.killpg(record.pid, sig)
        else:
            os.kill(record.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def stop_records(
    records: Iterable[ProcessRecord],
    *,
    grace: float,
    say: Callable[[str], None],
    poll: float = 0.1,
) -> list[ProcessRecord]:
    """SIGTERM every live recorded process at once, SIGKILL what is left after
    ``grace`` seconds; returns the records that were alive."""
    live = [r for r in records if alive(r)]
    for record in live:
        say(f"  stopping leftover {record.name} (pid {record.pid})")
        signal_record(record, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while any(alive(r) for r in live) and time.monotonic() < deadline:
        time.sleep(poll)
    for record in live:
        if alive(record):
            say(f"  {record.name} (pid {record.pid}) did not stop; killing it")
            signal_record(record, signal.SIGKILL)
    return live
