"""``lockgate.up.pids`` and ``System.stop_leftovers``: what a killed ``lockgate
up`` left running is stopped by the next one, and nothing else is.

The processes are real (``sleep`` in sessions of their own, as ``up``
starts its children); each test stops what it started.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from lockgate.up.main import System
from lockgate.up.pids import UP, PidFile, alive, identity, record_of, signal_record

from tests.fixtures.waiting import wait_for


@pytest.fixture
def spawn() -> Iterator:  # type: ignore[type-arg]
    procs: list[subprocess.Popen[bytes]] = []

    def start(*argv: str, session: bool = True) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(list(argv), start_new_session=session)
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)


def gone(proc: subprocess.Popen[bytes]) -> bool:
    return proc.poll() is not None


def group_members(pgid: int) -> list[int]:
    """Live processes of process group ``pgid`` (zombies are gone already)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if fields[0] != "Z" and int(fields[2]) == pgid:
            found.append(int(entry.name))
    return found


def test_a_record_names_one_process_only(spawn) -> None:  # type: ignore[no-untyped-def]
    proc = spawn("sleep", "300")
    record = record_of("executor", proc.pid, proc.args, group=True)
    assert record is not None and record.cmdline == ("sleep", "300")
    wait_for(lambda: alive(record), what="the child to exec")
    # Another start time, or another command line: not the process recorded.
    later = dataclasses.replace(record, start_time=record.start_time + 1)
    other = dataclasses.replace(record, cmdline=("sleep", "301"))
    assert not alive(later) and not alive(other)
    signal_record(later, signal.SIGKILL)
    signal_record(other, signal.SIGKILL)
    assert proc.poll() is None
    signal_record(record, signal.SIGTERM)
    wait_for(lambda: gone(proc), what="the recorded process to stop")
    assert not alive(record)
    assert identity(proc.pid) is None


def test_the_file_survives_damage(tmp_path: Path) -> None:
    pids = PidFile(tmp_path / "run" / "processes.json")
    assert pids.records() == []
    mine = record_of(UP, os.getpid(), ["python"])
    pids.add(mine)
    pids.add(mine)
    assert pids.records() == [mine]
    pids.path.write_text('[{"name": "x"}, {"name": "y", "pid": 1, "start_time": "?"}]')
    assert pids.records() == []  # damaged entries name nothing to signal
    pids.path.write_text("not json")
    assert pids.records() == []


def test_the_next_up_stops_the_leftovers_of_a_killed_one(tmp_path: Path, spawn) -> None:  # type: ignore[no-untyped-def]
    system = System(tmp_path / "state", projects={}, review_projects={})
    system.state.root.mkdir(parents=True)
    # A component of the killed up, and what it started in its group.
    component = spawn("sh", "-c", "sleep 300 & exec sleep 301")
    gerrit = spawn("sleep", "302", session=False)
    # A process whose PID was recorded but which started later: not ours.
    stranger = spawn("sleep", "303")
    dead_up = spawn("true")
    dead_up.wait()
    records = [
        record_of("executor", component.pid, ["sleep", "301"], group=True),
        record_of("gerrit", gerrit.pid, gerrit.args),
        dataclasses.replace(record_of("web", stranger.pid, stranger.args), start_time=1),
    ]
    wait_for(lambda: all(alive(r) for r in records[:2]), what="the children to exec")
    pids = system.pids
    for record in records:
        pids.add(record)
    pids.add(dataclasses.replace(records[1], name=UP, pid=dead_up.pid))  # the killed up

    system.stop_leftovers()

    assert gone(component) and gone(gerrit)
    assert group_members(component.pid) == []  # its background sleep went with its group
    assert stranger.poll() is None  # never signalled
    assert [r.name for r in pids.records()] == [UP]
    assert pids.records()[0].pid == os.getpid()


def test_a_live_up_on_the_same_state_directory_is_not_touched(tmp_path: Path, spawn) -> None:  # type: ignore[no-untyped-def]
    system = System(tmp_path / "state", projects={}, review_projects={})
    other_up = spawn("sleep", "304")
    child = spawn("sleep", "305")
    record = record_of(UP, other_up.pid, other_up.args)
    wait_for(lambda: record is not None and alive(record), what="the other up to exec")
    system.pids.add(record)
    system.pids.add(record_of("scheduler", child.pid, child.args, group=True))
    with pytest.raises(RuntimeError, match=f"another lockgate up \\(pid {other_up.pid}\\)"):
        system.stop_leftovers()
    system.stop()  # what `up` does after a failed start: nothing of the other's
    assert other_up.poll() is None and child.poll() is None
    assert [r.name for r in system.pids.records()] == [UP, "scheduler"]
