"""The executor's console stream server, over real sockets and a real console file.

The server tails ``<log_root>/<uuid>/job-output.txt`` as the runner and
Ansible's callback write it; these tests write that file themselves and read
the frames of ``lockgate.console_stream`` back.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from lockgate.console_stream import FrameKind, encode_request
from lockgate.executor import console_stream
from lockgate.executor.console_stream import ConsoleStreamServer, ConsoleStreamSettings
from lockgate.service_config import ServiceConfig, ServiceConfigError

from tests.fixtures.console import Follower
from tests.fixtures.waiting import wait_for

UUID = "0123456789abcdef0123456789abcdef"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ConsoleStreamServer]:
    srv = ConsoleStreamServer(tmp_path, poll_interval=0.01)
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


def console(server: ConsoleStreamServer, uuid: str = UUID) -> Path:
    path = server.log_root / uuid / "job-output.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def append(path: Path, text: str) -> None:
    with open(path, "a", encoding="utf-8") as out:
        out.write(text)


def follow(server: ConsoleStreamServer, request: bytes | None = None, rcvbuf: int = 0) -> Follower:
    return Follower("127.0.0.1", server.port, request, rcvbuf)


def test_follows_a_build_from_its_first_line_to_its_end(server: ConsoleStreamServer) -> None:
    path = console(server)
    append(path, "first line\n")
    server.build_started(UUID)
    follower = follow(server, encode_request(UUID))
    follower.until("first line\n")
    append(path, "second line\n")
    follower.until("second line\n")
    append(path, "last line\n")
    server.build_ended(UUID, "build ended: SUCCESS")
    end = follower.to_end()
    assert end.kind is FrameKind.END and end.text == "build ended: SUCCESS"
    assert follower.data == b"first line\nsecond line\nlast line\n"
    wait_for(lambda: server.followers() == 0, what="the follower to be dropped")


def test_waits_for_a_console_that_does_not_exist_yet(server: ConsoleStreamServer) -> None:
    server.build_started(UUID)
    follower = follow(server, encode_request(UUID))
    wait_for(lambda: server.followers(UUID) == 1, what="the follower")
    append(console(server), "PRE-RUN START\n")
    follower.until("PRE-RUN START")
    server.build_ended(UUID, "build ended: FAILURE")
    assert follower.to_end().text == "build ended: FAILURE"


def test_a_large_console_is_sent_whole_and_in_order(server: ConsoleStreamServer) -> None:
    path = console(server)
    text = "".join(f"{i:07d} | some console output\n" for i in range(120_000))  # ~3.7 MB
    append(path, text)
    server.build_started(UUID)
    server.build_ended(UUID, "build ended: SUCCESS")
    follower = follow(server, encode_request(UUID))
    assert follower.to_end().kind is FrameKind.END
    assert follower.data == text.encode()


@pytest.mark.parametrize(
    ("request_line", "message"),
    [
        (
            encode_request("feedfacefeedface"),
            "build feedfacefeedface is not running on this executor",
        ),
        (b"../../etc/passwd\n", "not a build uuid: '../../etc/passwd'"),
        (b"\xff\xfe\n", "the request is not ASCII"),
        (b"a" * 300, "the request line is too long"),
    ],
)
def test_a_bad_request_gets_an_error_frame(
    server: ConsoleStreamServer, request_line: bytes, message: str
) -> None:
    server.build_started(UUID)
    follower = follow(server, request_line)
    frame = follower.to_end()
    assert frame.kind is FrameKind.ERROR and frame.text == message


def test_a_silent_client_is_told_and_dropped(
    server: ConsoleStreamServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(console_stream, "REQUEST_TIMEOUT", 0.2)
    follower = follow(server)
    frame = follower.to_end()
    assert frame.kind is FrameKind.ERROR and frame.text == "no request received in time"


def test_fifty_followers_and_clients_that_leave_or_stall(server: ConsoleStreamServer) -> None:
    """50 followers get every byte and the end; followers that disconnect are
    dropped at once, and one that stops reading holds up nobody else (and
    still gets every byte once it reads again)."""
    path = console(server)
    server.build_started(UUID)
    followers = [follow(server, encode_request(UUID)) for _ in range(50)]
    leaving = [follow(server, encode_request(UUID)) for _ in range(5)]
    stalled = follow(server, encode_request(UUID), rcvbuf=4096)
    wait_for(lambda: server.followers(UUID) == 56, what="56 followers")
    for f in leaving:
        f.close()
    wait_for(lambda: server.followers(UUID) == 51, what="the leaving clients to be dropped")
    block = "x" * 99 + "\n"
    for i in range(20):  # 2 MB in all: far more than the stalled socket's buffers
        append(path, f"{i:04d}" + block * 1000)
    server.build_ended(UUID, "build ended: SUCCESS")
    expected = path.read_bytes()
    for f in followers:
        assert f.to_end().text == "build ended: SUCCESS"
        assert f.data == expected
        f.close()
    assert stalled.to_end().text == "build ended: SUCCESS"
    assert stalled.data == expected
    stalled.close()
    wait_for(lambda: server.followers() == 0, what="every follower to be dropped")


def test_settings_from_the_executor_section() -> None:
    config = ServiceConfig.parse(
        "[executor]\nconsole_stream_listen_address = 0.0.0.0\nconsole_stream_port = 7901\n"
    )
    settings = ConsoleStreamSettings.from_section(config.section("executor"))
    assert settings == ConsoleStreamSettings("0.0.0.0", 7901)
    assert settings.advertised_host("ze01.example.org") == "ze01.example.org"
    assert ConsoleStreamSettings("127.0.0.1").advertised_host("ze01") == "127.0.0.1"
    bad = ServiceConfig.parse("[executor]\nconsole_stream_port = 70000\n")
    with pytest.raises(ServiceConfigError, match="console_stream_port"):
        ConsoleStreamSettings.from_section(bad.section("executor"))
