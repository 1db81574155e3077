"""Where a running build's console can be followed: one ephemeral node per build.

Who calls it: the executor, when it starts a build, registers the address of
its console stream server for that build (``register_stream``) and removes
it when the build ends (``unregister_stream``); the web, when a client asks
for a build's ``console-stream``, looks it up (``find_stream``) and connects
there.  The node is ephemeral, so an executor that dies takes its
registrations with it: the web then says the build is not running rather
than connecting to nothing.  The wire protocol between web and executor is
``lockgate.console_stream``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from kazoo.exceptions import NoNodeError
from lockgate.zk import paths
from lockgate.zk.client import ZKClient
from lockgate.zk.errors import translate_kazoo_errors


@dataclass(frozen=True)
class StreamLocation:
    """A running build's console: which executor serves it, and where."""

    uuid: str
    tenant: str
    host: str
    port: int
    executor: str  # the executor's component name

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), sort_keys=True).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> StreamLocation:
        data = json.loads(raw)
        return cls(
            uuid=str(data["uuid"]),
            tenant=str(data["tenant"]),
            host=str(data["host"]),
            port=int(data["port"]),
            executor=str(data.get("executor", "")),
        )


@translate_kazoo_errors
def register_stream(client: ZKClient, location: StreamLocation) -> None:
    """Announce ``location`` (kept across a session loss, like a component)."""
    data = location.to_json()
    client.keep_ephemeral(paths.console_stream(location.uuid), lambda: data)


@translate_kazoo_errors
def unregister_stream(client: ZKClient, uuid: str) -> None:
    client.forget_ephemeral(paths.console_stream(uuid))


@translate_kazoo_errors
def find_stream(client: ZKClient, uuid: str) -> StreamLocation | None:
    """The registration of build ``uuid``, or None when no executor runs it."""
    try:
        raw, _ = client.retry(client.kazoo.get, paths.console_stream(uuid))
    except NoNodeError:
        return None
    try:
        return StreamLocation.from_json(raw)
    except (ValueError, KeyError, TypeError):
        return None  # not written by a Lockgate executor: treat as absent
