"""The web process and a writer process sharing PostgreSQL and a TLS ZooKeeper.

A separate process plays the scheduler: it publishes the tenant's layout
(with a configuration error) in ZooKeeper and records a buildset and its
builds in PostgreSQL -- twice, as a scheduler restarted mid-way would.  The
``lockgate web`` process, started from a config file, must serve all of it
in Zuul's shapes, and the build's log.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

from lockgate.zk.client import ZKClient

from tests.fixtures.network import free_port, http_get
from tests.fixtures.waiting import wait_for
from tests.fixtures.zk import ZKEnv

WEB = (
    "import sys; from lockgate.service_config import ServiceConfig\n"
    "from lockgate.web.server import main\n"
    "sys.exit(main(ServiceConfig.load(sys.argv[1])))\n"
)

SCHEDULER = """
import sys
from lockgate.config.errors import ConfigError, SourceContext
from lockgate.db import Database, RefInfo
from lockgate.model.tenant_state import TenantLayoutState
from lockgate.zk.client import ZKClient
from lockgate.zk.tenants import save_layout

dburi, hosts, chroot, ca, cert, key, log_url = sys.argv[1:8]
zk = ZKClient(hosts, tls_ca=ca, tls_cert=cert, tls_key=key, chroot=chroot)
zk.connect(timeout=15)
error = ConfigError("Unknown job 'nope'", SourceContext("demo/broken", "main", ".zuul.yaml", 4),
                    "project", "demo/broken", key="unknown-job")
save_layout(zk, TenantLayoutState(tenant="demo", projects=["demo/app", "demo/broken"],
                                  pipelines=["post"], config_errors=[error.to_api()]))
zk.disconnect()

db = Database(dburi)
db.upgrade()
ref = RefInfo(project="demo/app", ref="refs/heads/main", branch="main",
              oldrev="0" * 40, newrev="9" * 40)
db.create_buildset("bs1", "demo", "post", [ref], event_id="ev-1", event_timestamp=1_700_000_000)
db.create_build("b1", "bs1", "hello", start_time=1_700_000_001, nodeset="local")
db.update_build("b1", result="SUCCESS", end_time=1_700_000_004, final=True, log_url=log_url)
db.update_buildset("bs1", "SUCCESS", "Build succeeded.")
db.close()
"""


def test_history_written_by_another_process_is_served(
    tmp_path: Path, zk_server: ZKEnv, zk_chroot: str, zk_client: ZKClient, postgres_dburi: str
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    tls = zk_server.tls.client
    (tmp_path / "logs" / "b1").mkdir(parents=True)
    (tmp_path / "logs" / "b1" / "job-output.txt").write_text("TASK [hello]\nLOCKGATE-MARKER\n")
    config = tmp_path / "lockgate.conf"
    config.write_text(
        f"[zookeeper]\nhosts = {zk_server.server.hosts}\nchroot = {zk_chroot}\n"
        f"tls_ca = {tls.ca}\ntls_cert = {tls.cert}\ntls_key = {tls.key}\n"
        f"[web]\nport = {port}\n[database]\ndburi = {postgres_dburi}\n"
        f"[executor]\nlog_root = {tmp_path}/logs\n"
    )
    web = subprocess.Popen(
        [sys.executable, "-c", WEB, str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(lambda: http_get(base + "/health/ready")[0] == 200, 60, "web ready")
        args = [
            postgres_dburi,
            zk_server.server.hosts,
            zk_chroot,
            str(tls.ca),
            str(tls.cert),
            str(tls.key),
            f"{base}/logs/b1/",
        ]
        for _ in range(2):  # the second run is a restarted scheduler replaying its writes
            writer = subprocess.run(
                [sys.executable, "-c", SCHEDULER, *args],
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert writer.returncode == 0, writer.stderr

        status, body = http_get(base + "/api/tenant/demo/builds?project=demo/app&result=SUCCESS")
        assert status == 200
        builds = json.loads(body)
        assert [b["uuid"] for b in builds] == ["b1"]
        build = builds[0]
        assert build["job_name"] == "hello" and build["pipeline"] == "post"
        assert build["duration"] == 3.0 and build["ref"]["newrev"] == "9" * 40
        assert build["buildset"] == {"uuid": "bs1"}

        status, body = http_get(base + "/api/tenant/demo/buildset/bs1")
        assert status == 200
        assert [b["uuid"] for b in json.loads(body)["builds"]] == ["b1"]

        status, body = http_get(base + "/api/tenant/demo/config-errors")
        errors = json.loads(body)
        assert status == 200 and len(errors) == 1
        assert errors[0]["source_context"]["project"] == "demo/broken"
        assert errors[0]["error"] == "Unknown job 'nope'"

        status, body = http_get(build["log_url"] + "job-output.txt")
        assert status == 200 and b"LOCKGATE-MARKER" in body

        status, body = http_get(base + "/t/demo/builds")
        assert status == 200 and f"href='{base}/logs/b1/'".encode() in body
    finally:
        web.send_signal(signal.SIGTERM)
        try:
            assert web.wait(timeout=30) == 0
        finally:
            if web.poll() is None:
                web.kill()
                web.wait(timeout=30)
