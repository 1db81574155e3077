"""The component registry: which scheduler, executor, launcher and web
processes are alive, and their state.

Who calls it: every process registers itself at start (``register``) and
updates its state as it changes (``Component.update_state``: e.g. an executor's
``accepting`` flag and load); web's ``/api/components`` and operators'
tools read it with ``list``; a scheduler ``watch``es its peers and the
executors, to take over a dead one's work the moment its session ends, and
keeps a ``component_view`` of the executors (which zones they serve).

A registration is an ephemeral node ``components/<kind>/<hostname>-<uuid>``:
it vanishes when the process dies or its session expires, so the registry is
never stale.  After a session loss the client creates it again (with the
latest state) in the new session.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kazoo.exceptions import NoNodeError
from kazoo.recipe.watchers import ChildrenWatch
from lockgate.zk import paths
from lockgate.zk.client import ZKClient
from lockgate.zk.errors import translate_kazoo_errors
from lockgate.zk.views import ChildRead, FolderView

log = logging.getLogger("lockgate.zk.components")


@dataclass(frozen=True)
class ComponentInfo:
    """A registered component as read from the registry."""

    kind: str
    name: str  # <hostname>-<uuid>
    hostname: str
    state: dict[str, Any] = field(default_factory=dict)


@translate_kazoo_errors
class Component:
    """This process's own registration (returned by :func:`register`)."""

    def __init__(self, client: ZKClient, kind: str, hostname: str, state: dict[str, Any]) -> None:
        self.client = client
        self.kind = kind
        self.hostname = hostname
        self.name = f"{hostname}-{uuid.uuid4().hex[:12]}"
        self.path = paths.component(kind, self.name)
        self._state = dict(state)
        self._lock = threading.Lock()

    def _data(self) -> bytes:
        with self._lock:
            body = {"kind": self.kind, "hostname": self.hostname, "state": self._state}
        return json.dumps(body, sort_keys=True).encode()

    @property
    def state(self) -> dict[str, Any]:
        with self._lock:
            return dict(self._state)

    def update_state(self, **changes: Any) -> None:
        """Merge ``changes`` into the state and write it (one ZooKeeper set)."""
        with self._lock:
            self._state.update(changes)
        kz = self.client.kazoo
        try:
            self.client.retry(kz.set, self.path, self._data())
        except NoNodeError:
            # Session was lost and the node not yet restored: the restore
            # will write the state we just recorded.
            pass

    def unregister(self) -> None:
        """Remove the registration (a clean shutdown)."""
        self.client.forget_ephemeral(self.path)


@translate_kazoo_errors
def register(
    client: ZKClient, kind: str, state: dict[str, Any] | None = None, *, hostname: str | None = None
) -> Component:
    """Register this process as a ``kind`` component; kept across session loss."""
    component = Component(client, kind, hostname or socket.gethostname(), state or {})
    client.keep_ephemeral(component.path, component._data)
    return component


@translate_kazoo_errors
def watch_components(
    client: ZKClient, kind: str, callback: Callable[[list[str]], None]
) -> Callable[[], None]:
    """Call ``callback(names)`` now and whenever a ``kind`` component comes
    or goes (and after reconnecting).  A process that died is seen going when
    its session expires -- the same moment its locks are freed -- so a peer
    can take over its work at once rather than at its next periodic look.
    Runs on a kazoo thread: keep it short.  Returns a function that stops it."""
    kz = client.kazoo
    folder = paths.component_kind(kind)
    client.retry(kz.ensure_path, folder)
    stopped = [False]

    def on_children(children: list[str]) -> bool | None:
        if stopped[0]:
            return False
        try:
            callback(sorted(paths.unsegment(c) for c in children))
        except Exception:
            log.exception("component watch callback on %s failed", folder)
        return None

    ChildrenWatch(kz, folder, on_children)

    def stop() -> None:
        stopped[0] = True

    return stop


@translate_kazoo_errors
def list_components(client: ZKClient, kind: str | None = None) -> list[ComponentInfo]:
    """Live components of ``kind`` (every kind if None), sorted by kind and name."""
    kz = client.kazoo
    try:
        kinds = [kind] if kind else client.retry(kz.get_children, paths.components())
    except NoNodeError:
        return []
    out: list[ComponentInfo] = []
    for k in sorted(paths.unsegment(x) if kind is None else x for x in kinds):
        try:
            names = client.retry(kz.get_children, paths.component_kind(k))
        except NoNodeError:
            continue
        for name in sorted(names):
            try:
                raw, _ = client.retry(kz.get, paths.component(k, paths.unsegment(name)))
            except NoNodeError:
                continue
            body = json.loads(raw or b"{}")
            out.append(
                ComponentInfo(
                    kind=k,
                    name=paths.unsegment(name),
                    hostname=body.get("hostname", ""),
                    state=body.get("state", {}),
                )
            )
    return out


def component_view(client: ZKClient, kind: str) -> FolderView[ComponentInfo]:
    """The live ``kind`` components, kept by ZooKeeper watches
    (``lockgate.zk.views``): ``refresh()`` gives name -> ``ComponentInfo``,
    reading only the registrations that came or changed since the last one.
    For a reader that looks every pass (the scheduler: which executor zones
    are served)."""

    def info(quoted: str, answer: tuple[bytes, Any]) -> ComponentInfo:
        body = json.loads(answer[0] or b"{}")
        return ComponentInfo(
            kind=kind,
            name=paths.unsegment(quoted),
            hostname=body.get("hostname", ""),
            state=body.get("state", {}),
        )

    return FolderView(client, paths.component_kind(kind), ChildRead.DATA, info)
