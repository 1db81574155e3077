"""ZooKeeperServer: start, restart with the same port and data, stop by PID,
clear errors; loopback only."""

from __future__ import annotations

import os
import subprocess

import pytest
from lockgate.zk import paths
from lockgate.zk.client import ZKClient
from lockgate.zk.errors import ZKError
from lockgate.zk.records import RecordStore
from lockgate.zk.server import ZooKeeperServer


def listening_addresses(pid: int) -> list[str]:
    out = subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True, check=True).stdout
    return [line.split()[3] for line in out.splitlines() if f"pid={pid}," in line]


def test_plaintext_server_restart_keeps_port_and_data(tmp_path):
    server = ZooKeeperServer(tmp_path / "zk", force_sync=False, tick_time_ms=500)
    server.start()
    try:
        pid = server.pid
        assert pid is not None and server.ruok()
        assert listening_addresses(pid) and all(
            a.rsplit(":", 1)[0] in ("127.0.0.1", "[::ffff:127.0.0.1]")
            for a in listening_addresses(pid)
        )
        assert "Mode: standalone" in server.four_letter("srvr")
        client = ZKClient(server.hosts)
        client.connect()
        RecordStore(client).save(paths.tenant_layout("t"), {"kept": True})
        port = server.port
        server.restart()
        assert server.port == port and server.pid != pid
        assert client.wait_connected(30)
        assert RecordStore(client).load(paths.tenant_layout("t")).data == {"kept": True}
        client.disconnect()
    finally:
        old = server.pid
        server.stop()
    assert server.pid is None
    with pytest.raises(ProcessLookupError):
        os.kill(old, 0)


def test_missing_java_is_a_clear_error(tmp_path):
    server = ZooKeeperServer(tmp_path / "zk", java=str(tmp_path / "no-java"))
    with pytest.raises(ZKError, match="not found"):
        server.start()


def test_missing_installation_is_a_clear_error(tmp_path):
    server = ZooKeeperServer(tmp_path / "zk", java_dir=tmp_path)
    with pytest.raises(ZKError, match="install the 'zookeeper' package"):
        server.start()


def test_port_in_use_is_reported_with_the_server_log(tmp_path, zk_server):
    server = ZooKeeperServer(tmp_path / "zk", port=zk_server.server.port, force_sync=False)
    with pytest.raises(ZKError, match="ZooKeeper (exited|on 127.0.0.1)"):
        server.start(timeout=20)
    assert server.pid is None
