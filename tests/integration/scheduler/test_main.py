"""``lockgate scheduler`` / ``python -m lockgate.scheduler``: bad input is a
one-line error and an exit status, never a traceback; SIGTERM stops cleanly."""

from __future__ import annotations

import subprocess
import sys

from lockgate.scheduler.server import main
from lockgate.service_config import ServiceConfig
from lockgate.zk.components import list_components

from tests.fixtures.waiting import wait_for
from tests.integration.scheduler.harness import SchedulerProcess


def test_missing_tenant_config_is_one_line_and_status_1(site, capsys):
    (site.root / "main.yaml").unlink()
    assert main(site.service_config()) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert err.startswith("lockgate scheduler: [scheduler] tenant_config ")
    assert "main.yaml: cannot read" in err


def test_bad_service_config_is_status_2(tmp_path):
    conf = tmp_path / "bad.conf"
    conf.write_text("[scheduler]\nstate_dir = /tmp\n")  # no tenant_config, no zookeeper
    proc = subprocess.run(
        [sys.executable, "-m", "lockgate.scheduler", "-c", str(conf)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        f"lockgate scheduler: {conf}: [scheduler] tenant_config: missing required key"
    )


def test_sigterm_stops_and_unregisters(site):
    proc = SchedulerProcess(site.config_file(), site.root / "scheduler.log").start()
    try:
        wait_for(lambda: list_components(site.client, "scheduler"), 30, "the registration")
    finally:
        status = proc.terminate()
    assert status == 0, proc.output()
    # Gone with the session, which the server may close after the process exits.
    wait_for(lambda: list_components(site.client, "scheduler") == [], 30, "the registration gone")
    output = proc.output()
    assert "scheduler scheduler stopped" in output, output[-4000:]
    assert "Traceback" not in output, output[output.find("Traceback") - 1000 :][:5000]


def test_service_config_loads_from_the_file(site):
    # The harness's file is a valid zuul.conf-shaped config (sanity for the above).
    assert ServiceConfig.load(site.config_file()).section("scheduler").get("hostname") == (
        "scheduler"
    )
