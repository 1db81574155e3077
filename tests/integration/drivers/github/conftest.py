"""The GitHub emulator, a real ZooKeeper and the real web service, wired together.

``webhooks`` gives a running ``WebServer`` (on its own event loop in a
thread, as ``lockgate web`` runs it) whose config has the emulator's
``[connection github]`` section, with the emulator's webhook pointed at its
``/api/connection/github/payload``.  ``connection`` is the driver's live
connection to the emulator (as a GitHub App).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from lockgate.db import Database
from lockgate.drivers.github.connection import GithubConnection
from lockgate.drivers.registry import make_connections
from lockgate.service_config import ServiceConfig
from lockgate.web.server import WebServer
from lockgate.web.webhooks import WEBHOOKS, WebhookReceivers
from lockgate.zk.client import ZKClient

from tests.fixtures.github.fixture import GitHubEmulator, github_emulator  # noqa: F401
from tests.fixtures.zk import zk_chroot, zk_client, zk_connect, zk_server  # noqa: F401


@dataclass
class RunningWeb:
    server: WebServer
    loop: asyncio.AbstractEventLoop
    thread: threading.Thread

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def receivers(self) -> WebhookReceivers:
        return self.server.app[WEBHOOKS]

    def payload_url(self, connection: str = "github") -> str:
        return f"{self.url}/api/connection/{connection}/payload"


def service_config(emulator: GitHubEmulator, tmp_path: Path, **kw: object) -> ServiceConfig:
    text = "[zookeeper]\nhosts = unused:1\n[web]\nport = 0\n" + emulator.zuul_conf_text(**kw)
    path = tmp_path / "lockgate.conf"
    path.write_text(text)
    return ServiceConfig.load(path)


@pytest.fixture
def webhooks(
    github_emulator: GitHubEmulator,  # noqa: F811
    zk_client: ZKClient,  # noqa: F811
    tmp_path: Path,
) -> Iterator[RunningWeb]:
    config = service_config(github_emulator, tmp_path)
    db = Database(f"sqlite:///{tmp_path}/web.db")
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="web", daemon=True)
    thread.start()
    server = WebServer(config, zk=zk_client, db=db)
    asyncio.run_coroutine_threadsafe(server.start(), loop).result(timeout=60)
    web = RunningWeb(server, loop, thread)
    github_emulator.control.set_webhook(url=web.payload_url())
    try:
        yield web
    finally:
        asyncio.run_coroutine_threadsafe(server.stop(), loop).result(timeout=60)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=30)
        loop.close()
        db.close()


@pytest.fixture
def connection(
    github_emulator: GitHubEmulator,  # noqa: F811
    tmp_path: Path,
) -> Iterator[GithubConnection]:
    conn = make_connections(service_config(github_emulator, tmp_path))["github"]
    assert isinstance(conn, GithubConnection)
    try:
        yield conn
    finally:
        conn.close()
