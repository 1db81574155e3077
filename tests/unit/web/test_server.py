"""``lockgate web`` as a real process: config file in, HTTP on loopback, clean stop."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from lockgate.model.tenant_state import TenantLayoutState
from lockgate.zk.client import ZKClient
from lockgate.zk.tenants import save_layout

from tests.fixtures.network import free_port, http_get
from tests.fixtures.waiting import wait_for
from tests.fixtures.zk import ZKEnv

RUN = (
    "import sys; from lockgate.service_config import ServiceConfig, ServiceConfigError\n"
    "from lockgate.web.server import main\n"
    "try:\n    config = ServiceConfig.load(sys.argv[1])\n"
    "except ServiceConfigError as e:\n    print(e, file=sys.stderr); sys.exit(2)\n"
    "sys.exit(main(config))\n"
)


@pytest.fixture
def write_config(tmp_path: Path) -> Callable[..., Path]:
    def write(text: str) -> Path:
        path = tmp_path / "lockgate.conf"
        path.write_text(textwrap.dedent(text))
        return path

    return write


@pytest.fixture
def run_web() -> Iterator[Callable[[Path], subprocess.Popen[str]]]:
    procs: list[subprocess.Popen[str]] = []

    def run(config: Path) -> subprocess.Popen[str]:
        proc = subprocess.Popen(
            [sys.executable, "-c", RUN, str(config)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        procs.append(proc)
        return proc

    yield run
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)


def zk_section(zk_server: ZKEnv, chroot: str) -> str:
    tls = zk_server.tls.client
    return (
        f"[zookeeper]\nhosts = {zk_server.server.hosts}\nchroot = {chroot}\n"
        f"tls_ca = {tls.ca}\ntls_cert = {tls.cert}\ntls_key = {tls.key}\n"
    )


def test_serves_until_sigterm(
    zk_server: ZKEnv,
    zk_chroot: str,
    zk_client: ZKClient,
    tmp_path: Path,
    write_config: Callable[..., Path],
    run_web: Callable[[Path], subprocess.Popen[str]],
) -> None:
    port = free_port()
    (tmp_path / "logs" / "b1").mkdir(parents=True)
    (tmp_path / "logs" / "b1" / "job-output.txt").write_text("marker\n")
    config = write_config(
        zk_section(zk_server, zk_chroot)
        + f"""
[web]
listen_address = 127.0.0.1
port = {port}
[database]
dburi = sqlite:///{tmp_path}/state/lockgate.db
[executor]
log_root = {tmp_path}/logs
"""
    )
    proc = run_web(config)
    base = f"http://127.0.0.1:{port}"
    wait_for(lambda: http_get(base + "/health/ready")[0] == 200, 60, "web ready")
    assert (tmp_path / "state" / "lockgate.db").exists()  # migrated at start
    save_layout(zk_client, TenantLayoutState(tenant="demo", projects=["demo/app"]))
    status, body = http_get(base + "/api/tenants")
    assert status == 200 and b'"name": "demo"' in body
    assert http_get(base + "/api/tenant/demo/builds") == (200, b"[]")
    assert http_get(base + "/logs/b1/job-output.txt") == (200, b"marker\n")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0
    assert http_get(base + "/health/live")[0] == 0  # the port is closed


def test_zookeeper_away_at_start_is_not_fatal(
    tmp_path: Path,
    write_config: Callable[..., Path],
    run_web: Callable[[Path], subprocess.Popen[str]],
) -> None:
    port, nothing = free_port(), free_port()
    config = write_config(f"""
[zookeeper]
hosts = 127.0.0.1:{nothing}
[web]
port = {port}
[database]
dburi = sqlite:///{tmp_path}/lockgate.db
""")
    proc = run_web(config)
    base = f"http://127.0.0.1:{port}"
    wait_for(lambda: http_get(base + "/health/live")[0] == 200, 60, "web live")
    status, body = http_get(base + "/health/ready")
    assert status == 503 and b"zookeeper" in body
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=30) == 0


def test_config_errors_are_one_line(
    tmp_path: Path,
    write_config: Callable[..., Path],
    run_web: Callable[[Path], subprocess.Popen[str]],
) -> None:
    config = write_config("[web]\nport = 9000\n")
    proc = run_web(config)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert err.strip() == f"lockgate web: {config}: [zookeeper]: missing section"


def test_port_in_use_is_one_line(
    tmp_path: Path,
    write_config: Callable[..., Path],
    run_web: Callable[[Path], subprocess.Popen[str]],
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = write_config(f"""
[zookeeper]
hosts = 127.0.0.1:{free_port()}
[web]
port = {port}
[database]
dburi = sqlite:///{tmp_path}/lockgate.db
""")
        proc = run_web(config)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert len(err.strip().splitlines()) == 1
    assert f"cannot listen on 127.0.0.1:{port}" in err


def test_in_process_with_shared_client_and_database(
    zk_client: ZKClient, tmp_path: Path, write_config: Callable[..., Path]
) -> None:
    """As ``lockgate up`` runs it: the process's own ZooKeeper client and database,
    an ephemeral port, start/stop without signals; the shared objects stay open."""
    import asyncio

    from lockgate.db import Database
    from lockgate.service_config import ServiceConfig
    from lockgate.web.server import WebServer

    config = ServiceConfig.load(write_config("[zookeeper]\nhosts = unused:1\n[web]\nport = 0\n"))
    db = Database(f"sqlite:///{tmp_path}/shared.db")
    save_layout(zk_client, TenantLayoutState(tenant="demo"))

    async def scenario() -> tuple[int, bytes, int]:
        server = WebServer(config, zk=zk_client, db=db)
        await server.start()
        try:
            loop = asyncio.get_running_loop()
            status, body = await loop.run_in_executor(None, http_get, server.url + "/api/tenants")
            ready, _ = await loop.run_in_executor(None, http_get, server.url + "/health/ready")
            return status, body, ready
        finally:
            await server.stop()

    status, body, ready = asyncio.run(scenario())
    assert status == 200 and b'"demo"' in body and ready == 200
    assert zk_client.connected
    db.ping()  # still open (and migrated by the server)
    db.close()
