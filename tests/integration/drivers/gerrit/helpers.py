"""Connections to the Gerrit emulator as an operator would configure them,
and event-source hooks that queue into a real ZooKeeper trigger queue."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lockgate.drivers.base import EventSourceHooks
from lockgate.drivers.gerrit import GerritConnection
from lockgate.drivers.registry import make_connections
from lockgate.model.events import TriggerEvent
from lockgate.service_config import ServiceConfig
from lockgate.zk.queues import trigger_queue

from tests.fixtures.gerrit.fixture import GerritEmulator


def connect(
    gerrit: GerritEmulator, tmp_path: Path, *, http: bool = True, **keys: str
) -> GerritConnection:
    """A connection from the section a Zuul user would write, plus known_hosts."""
    known = gerrit.write_known_hosts(tmp_path / "known_hosts")
    section = gerrit.zuul_conf_section(password=http)
    section.update(known_hosts=str(known), event_delay="0", timeout="10")
    section.update(keys)
    text = "[connection gerrit]\n" + "".join(f"{k}={v}\n" for k, v in section.items())
    conn = make_connections(ServiceConfig.parse(text, str(tmp_path / "lockgate.conf")))["gerrit"]
    assert isinstance(conn, GerritConnection)
    return conn


@dataclass
class Hooks:
    """Event-source hooks: a sink that puts on a real ZooKeeper queue with the
    event's dedup key (as the scheduler does), and in-memory state."""

    client: Any
    projects: set[str] = field(default_factory=lambda: {"org/p"})
    state: dict[str, dict[str, Any]] = field(default_factory=dict)
    offered: list[TriggerEvent] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def queue(self) -> Any:
        return trigger_queue(self.client, "t")

    def sink(self, event: TriggerEvent) -> None:
        self.queue.put(event.to_dict(), dedup_key=event.dedup_key)
        with self.lock:
            self.offered.append(event)

    def hooks(self) -> EventSourceHooks:
        return EventSourceHooks(
            sink=self.sink,
            projects=lambda: set(self.projects),
            state_get=self.state.get,
            state_set=self.state.__setitem__,
        )

    def queued(self) -> list[dict[str, Any]]:
        return [event for _, event in self.queue.list()]

    def queued_of(self, type_: str, number: int | None = None) -> list[dict[str, Any]]:
        return [
            e
            for e in self.queued()
            if e["type"] == type_ and (number is None or e["change_number"] == number)
        ]
