"""Every component stops within 10 s of SIGTERM, even with ZooKeeper stopped.

An operator's report: with ZooKeeper down, SIGTERM left the scheduler,
executor and launcher retrying the connection for over a minute.  This
starts the five components (``lockgate scheduler|executor|launcher|web|
merger``) as processes against a ZooKeeper of their own, stops ZooKeeper,
then sends SIGTERM to all of them: each must exit 0 within 10 s.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from lockgate.zk import list_components

from tests.fixtures.network import free_port, http_get
from tests.fixtures.waiting import wait_for
from tests.fixtures.zk import ZKEnv, running_tls_server

COMPONENTS = ("scheduler", "executor", "launcher", "web", "merger")
# A host key, so the static provider never needs to reach the host.
HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEk0XCjtb6hG8b2mXg9kT2n0h3aJ0p9VwFQ3Zl4aLwzZ\n"


@pytest.fixture
def zookeeper() -> Iterator[ZKEnv]:
    with running_tls_server("lockgate-stop-") as env:
        yield env


def write_config(root: Path, zk: ZKEnv, web_port: int) -> Path:
    tls = zk.tls.client
    (root / "host.pub").write_text(HOST_KEY)
    (root / "main.yaml").write_text("- tenant:\n    name: t\n    source: {}\n")
    config = root / "lockgate.conf"
    config.write_text(
        f"""
[zookeeper]
hosts = {zk.server.hosts}
tls_ca = {tls.ca}
tls_cert = {tls.cert}
tls_key = {tls.key}
chroot = /stop-test

[scheduler]
tenant_config = {root / "main.yaml"}
state_dir = {root / "scheduler"}

[executor]
state_dir = {root / "executor"}

[merger]
state_dir = {root / "merger"}

[launcher]
state_dir = {root / "launcher"}

[provider hosts]
driver = static
nodes = 127.0.0.1 labels=debian host_key_file={root / "host.pub"}

[web]
port = {web_port}

[database]
dburi = sqlite:///{root / "lockgate.db"}
"""
    )
    return config


def test_every_component_stops_within_10s_with_zookeeper_stopped(
    tmp_path: Path, zookeeper: ZKEnv
) -> None:
    web_port = free_port()
    config = write_config(tmp_path, zookeeper, web_port)
    procs: dict[str, subprocess.Popen[bytes]] = {}
    logs = {name: tmp_path / f"{name}.log" for name in COMPONENTS}
    try:
        for name in COMPONENTS:
            procs[name] = subprocess.Popen(
                [sys.executable, "-m", "lockgate.cli", "-c", str(config), name],
                stdout=open(logs[name], "wb"),  # noqa: SIM115 - closed with the process
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        client = zookeeper.client("/stop-test")
        client.connect(timeout=15)
        try:

            def all_up() -> bool:
                for name, proc in procs.items():
                    assert proc.poll() is None, f"{name} exited:\n{logs[name].read_text()}"
                registered = all(
                    list_components(client, name) for name in COMPONENTS if name != "web"
                )
                return registered and http_get(f"http://127.0.0.1:{web_port}/api/info")[0] == 200

            wait_for(all_up, timeout=90, what="every component to start", interval=0.2)
        finally:
            client.disconnect()

        zookeeper.server.stop()
        for proc in procs.values():
            proc.send_signal(signal.SIGTERM)
        sent = time.monotonic()
        took: dict[str, float] = {}
        codes: dict[str, int | None] = {}
        while len(took) < len(procs) and time.monotonic() - sent < 10.0:
            for name, proc in procs.items():
                if name not in took and proc.poll() is not None:
                    took[name] = time.monotonic() - sent
                    codes[name] = proc.returncode
            time.sleep(0.05)
        late = [name for name in COMPONENTS if name not in took]
        assert not late, "still running 10 s after SIGTERM: " + "; ".join(
            f"{name}:\n{logs[name].read_text()[-8000:]}" for name in late
        )
        assert codes == dict.fromkeys(COMPONENTS, 0), {
            name: logs[name].read_text()[-8000:] for name, code in codes.items() if code != 0
        }
        for name in COMPONENTS:
            assert "received SIGTERM; stopping" in logs[name].read_text(), name
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
            proc.wait(30)
