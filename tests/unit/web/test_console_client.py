"""``lockgate console UUID``: following a build from a terminal, through the web."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from lockgate.executor.console_stream import ConsoleStreamServer
from lockgate.web.console_client import stream_url, web_url
from lockgate.zk.client import ZKClient
from lockgate.zk.streams import StreamLocation, register_stream

from tests.fixtures.web import WebHarness

UUID = "c0de0000000000000000000000000001"


@pytest.fixture
def executor(log_root: Path) -> Iterator[ConsoleStreamServer]:
    server = ConsoleStreamServer(log_root, poll_interval=0.01)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def lockgate(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "lockgate.cli", "-c", "/nonexistent", "console", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_follows_a_build_to_its_end(
    web: WebHarness,
    executor: ConsoleStreamServer,
    zk_client: ZKClient,
    publish: Callable[..., object],
) -> None:
    publish("demo")
    executor.build_started(UUID)
    register_stream(zk_client, StreamLocation(UUID, "demo", "127.0.0.1", executor.port, "ze01"))
    console = executor.log_root / UUID / "job-output.txt"
    console.parent.mkdir()
    console.write_text("2024-01-01 00:00:00.000000 | TASK [first]\n")
    proc = lockgate("--url", web.url, UUID)  # the only tenant is found
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == "2024-01-01 00:00:00.000000 | TASK [first]\n"
        with open(console, "a") as out:
            out.write("2024-01-01 00:00:01.000000 | TASK [second]\n")
        executor.build_ended(UUID, "build ended: SUCCESS")
        stdout, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert stdout == "2024-01-01 00:00:01.000000 | TASK [second]\n"
    assert stderr.strip() == "build ended: SUCCESS"
    assert proc.returncode == 0


def test_a_build_that_cannot_be_followed(web: WebHarness, publish: Callable[..., object]) -> None:
    publish("demo")
    proc = lockgate("--url", web.url, "--tenant", "demo", "feedface")
    stdout, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 1 and stdout == ""
    assert (
        stderr.strip() == "lockgate console: Build ID feedface not found: no executor is running it"
    )
    publish("other")
    proc = lockgate("--url", web.url, "feedface")
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 1
    assert "name the build's tenant with --tenant (tenants: demo, other)" in stderr


def test_where_the_web_is(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LOCKGATE_URL", raising=False)
    assert web_url("http://lg.example/", None) == "http://lg.example"
    config = tmp_path / "lockgate.conf"
    config.write_text("[web]\nlisten_address = 0.0.0.0\nport = 9123\n")
    assert web_url(None, str(config)) == "http://127.0.0.1:9123"
    assert web_url(None, str(tmp_path / "none.conf")) == "http://127.0.0.1:9000"
    monkeypatch.setenv("LOCKGATE_URL", "https://ci.example/zuul/")
    assert web_url(None, str(config)) == "https://ci.example/zuul"
    assert stream_url("https://ci.example/zuul", "org/t") == (
        "wss://ci.example/zuul/api/tenant/org%2Ft/console-stream"
    )
    assert stream_url("http://127.0.0.1:9000", "demo") == (
        "ws://127.0.0.1:9000/api/tenant/demo/console-stream"
    )
