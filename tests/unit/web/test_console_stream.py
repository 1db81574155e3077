"""The console-stream websocket against a real executor stream server and ZooKeeper.

Each test runs the web app (``WebHarness``), a ``ConsoleStreamServer`` as an
executor runs it, and registers the build in ZooKeeper as the executor does;
clients are aiohttp websockets, as a browser's would be.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from lockgate.db import Database, RefInfo
from lockgate.executor.console_stream import ConsoleStreamServer
from lockgate.web import console_stream
from lockgate.zk.client import ZKClient
from lockgate.zk.server import free_port
from lockgate.zk.streams import StreamLocation, register_stream

from tests.fixtures.waiting import wait_for
from tests.fixtures.web import WebHarness

UUID = "5a1e0000000000000000000000000001"


@pytest.fixture
def executor(log_root: Path) -> Iterator[ConsoleStreamServer]:
    server = ConsoleStreamServer(log_root, poll_interval=0.01)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def running(
    executor: ConsoleStreamServer, zk_client: ZKClient, publish: Callable[..., object]
) -> Path:
    """Build ``UUID`` of tenant "demo" running on ``executor``; its console file."""
    publish("demo")
    executor.build_started(UUID)
    register_stream(
        zk_client, StreamLocation(UUID, "demo", "127.0.0.1", executor.port, "ze01-test")
    )
    path = executor.log_root / UUID / "job-output.txt"
    path.parent.mkdir(parents=True)
    path.write_text("2024-01-01 00:00:00.000000 | PRE-RUN START\n")
    return path


@dataclass
class Session:
    text: str
    code: int | None
    reason: str


async def _follow(
    url: str, first: Any, *, until: str | None = None, then: Callable[[], None] | None = None
) -> Session:
    """Connect, send ``first`` (a dict as JSON, str or bytes as is), read to the close."""
    async with aiohttp.ClientSession() as http:
        async with http.ws_connect(url) as ws:
            if isinstance(first, dict):
                await ws.send_str(json.dumps(first))
            elif isinstance(first, bytes):
                await ws.send_bytes(first)
            elif first is not None:
                await ws.send_str(first)
            text = ""
            while True:
                msg = await ws.receive(timeout=30)
                if msg.type is not aiohttp.WSMsgType.TEXT:
                    break
                text += msg.data
                if until is not None and then is not None and until in text:
                    loop = asyncio.get_running_loop()
                    await loop.run_in_executor(None, then)
                    then = None
            # The close frame's reason is the CLOSE message's ``extra``.
            assert msg.type is aiohttp.WSMsgType.CLOSE, msg
            return Session(text, ws.close_code, msg.extra or "")


def follow(web: WebHarness, first: Any, tenant: str = "demo", **kwargs: Any) -> Session:
    url = f"ws://127.0.0.1:{web.port}/api/tenant/{tenant}/console-stream"
    return asyncio.run(_follow(url, first, **kwargs))


def request(uuid: str = UUID) -> dict[str, str]:
    return {"uuid": uuid, "logfile": "console.log"}


def test_a_running_build_is_streamed_live_to_its_end(
    web: WebHarness, executor: ConsoleStreamServer, running: Path
) -> None:
    def more_then_end() -> None:
        with open(running, "a") as out:
            out.write("2024-01-01 00:00:01.000000 | TASK [hello]\nü and 日本\n")
        executor.build_ended(UUID, "build ended: SUCCESS")

    session = follow(web, request(), until="PRE-RUN START", then=more_then_end)
    assert session.text == running.read_text()
    assert (session.code, session.reason) == (1000, "build ended: SUCCESS")


def test_a_client_that_leaves_costs_the_executor_nothing(
    web: WebHarness, executor: ConsoleStreamServer, running: Path
) -> None:
    async def leave_early() -> None:
        url = f"ws://127.0.0.1:{web.port}/api/tenant/demo/console-stream"
        async with aiohttp.ClientSession() as http:
            async with http.ws_connect(url) as ws:
                await ws.send_str(json.dumps(request()))
                msg = await ws.receive()
                assert "PRE-RUN START" in msg.data
                loop = asyncio.get_running_loop()
                assert await loop.run_in_executor(None, executor.followers, UUID) == 1

    asyncio.run(leave_early())
    wait_for(lambda: executor.followers() == 0, 10, "the executor to drop the follower")


def test_fifty_followers_of_one_build(
    web: WebHarness, executor: ConsoleStreamServer, running: Path
) -> None:
    url = f"ws://127.0.0.1:{web.port}/api/tenant/demo/console-stream"
    lines = "".join(f"2024-01-01 00:00:02.000000 | line {i}\n" for i in range(2000))

    async def main() -> list[Session]:
        followers = [asyncio.create_task(_follow(url, request())) for _ in range(50)]
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(
            None, wait_for, lambda: executor.followers(UUID) == 50, 30, "50 followers"
        )
        with open(running, "a") as out:
            out.write(lines)
        executor.build_ended(UUID, "build ended: FAILURE")
        return await asyncio.gather(*followers)

    sessions = asyncio.run(main())
    expected = running.read_text()
    assert all(s.text == expected for s in sessions)
    assert {(s.code, s.reason) for s in sessions} == {(1000, "build ended: FAILURE")}


@pytest.mark.parametrize(
    ("first", "reason"),
    [
        (
            "uuid please",
            "the first message is not JSON (Expecting value: line 1 column 1 (char 0))",
        ),
        ("[1, 2]", "the first message must be a JSON object: "),
        (b"\x00\x01", "the first message must be JSON text: "),
        ({"uuid": UUID}, "'logfile' missing from request payload: "),
        ({"logfile": "console.log"}, "'uuid' missing from request payload: "),
        (
            {"uuid": "../../etc", "logfile": "console.log"},
            "'uuid' is not a build uuid: '../../etc'",
        ),
        ({"uuid": 42, "logfile": "console.log"}, "'uuid' is not a build uuid: '42'"),
        ({"uuid": UUID, "logfile": "/etc/passwd"}, "'logfile' '/etc/passwd' cannot be streamed"),
    ],
)
def test_a_malformed_first_message_closes_with_what_is_wrong(
    web: WebHarness, running: Path, first: Any, reason: str
) -> None:
    session = follow(web, first)
    assert session.code == 4000 and session.reason.startswith(reason), session
    assert session.text == ""


def test_no_first_message_in_time(
    web: WebHarness, running: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(console_stream, "FIRST_MESSAGE_TIMEOUT", 0.3)
    session = follow(web, None)
    assert session.code == 4000 and session.reason.startswith("no request within 0.3s; send {")


def test_builds_that_cannot_be_streamed(
    web: WebHarness,
    running: Path,
    sqlite_db: Database,
    zk_client: ZKClient,
    publish: Callable[..., object],
) -> None:
    unknown = follow(web, request("feedfacefeedface"))
    assert (unknown.code, unknown.reason) == (
        4011,
        "Build ID feedfacefeedface not found: no executor is running it",
    )
    ref = RefInfo(project="demo/app", ref="refs/heads/main", branch="main", newrev="a" * 40)
    sqlite_db.create_buildset("bs1", "demo", "check", [ref])
    sqlite_db.create_build("done1", "bs1", "unit")
    sqlite_db.update_build("done1", result="SUCCESS", log_url="http://lg.example/logs/done1/")
    sqlite_db.create_build("queued1", "bs1", "lint")
    ended = follow(web, request("done1"))
    assert (ended.code, ended.reason) == (
        4011,
        "build done1 has ended: SUCCESS; logs: http://lg.example/logs/done1/",
    )
    queued = follow(web, request("queued1"))
    assert (queued.code, queued.reason) == (
        4011,
        "build queued1 is not running on any executor (yet)",
    )
    publish("other")
    elsewhere = follow(web, request(), tenant="other")  # registered for "demo"
    assert elsewhere.code == 4011 and elsewhere.reason.startswith(f"Build ID {UUID} not found")
    nope = follow(web, request(), tenant="nope")
    assert (nope.code, nope.reason) == (4000, "Unknown tenant: nope")


def test_an_executor_that_cannot_be_reached(
    web: WebHarness, zk_client: ZKClient, publish: Callable[..., object]
) -> None:
    publish("demo")
    port = free_port()
    register_stream(zk_client, StreamLocation(UUID, "demo", "127.0.0.1", port, "ze02-gone"))
    session = follow(web, request())
    assert session.code == 4011
    assert session.reason.startswith(f"cannot reach executor ze02-gone at 127.0.0.1:{port}: ")


def test_an_executor_that_stops_mid_stream(
    web: WebHarness, executor: ConsoleStreamServer, running: Path
) -> None:
    session = follow(web, request(), until="PRE-RUN START", then=executor.stop)
    assert "PRE-RUN START" in session.text
    assert (session.code, session.reason) == (
        4011,
        f"the stream from executor ze01-test at 127.0.0.1:{executor.port} broke off (did it stop?)",
    )


def test_a_plain_get_is_told_to_use_a_websocket(web: WebHarness, running: Path) -> None:
    reply = web.get("/api/tenant/demo/console-stream")
    assert reply.status == 400
    assert reply.json()["description"].startswith("this is a websocket endpoint")
