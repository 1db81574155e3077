"""SIGHUP to ``python -m lockgate.scheduler`` re-reads the tenant config:
a tenant added is loaded and published, an item queued before goes on to
its report; a broken tenant config is refused — the tenants keep running
and the error is logged and published with their configuration errors."""

from __future__ import annotations

import signal

import pytest
from lockgate.zk.components import list_components
from lockgate.zk.pipelines import read_pipelines
from lockgate.zk.tenants import load_layout, tenant_names

from tests.fixtures.waiting import wait_for
from tests.integration.scheduler.harness import (
    MAIN_YAML,
    SchedulerProcess,
    run_job,
    wait_node_request,
)

SECOND = """
- tenant:
    name: second
    source:
      git:
        config-projects: [config]
        untrusted-projects: [org/other]
"""

BROKEN = """
- tenant:
    name: demo
    source: [unclosed
"""


@pytest.fixture
def proc(site):
    p = SchedulerProcess(site.config_file(), site.root / "scheduler.log").start()
    yield p
    p.terminate()


def _hup(proc: SchedulerProcess) -> None:
    assert proc.proc is not None and proc.proc.poll() is None, proc.output()
    proc.proc.send_signal(signal.SIGHUP)


def _tenant_config_errors(client, tenant: str) -> list[dict]:
    layout = load_layout(client, tenant)
    return [] if layout is None else [e for e in layout.config_errors if _from_tenant_config(e)]


def _from_tenant_config(error: dict) -> bool:
    ctx = error.get("source_context") or {}
    return ctx.get("project") == "<tenant-config>" or error.get("name") == "tenant-config"


def test_sighup_adds_a_tenant_and_refuses_a_broken_config(site, proc):
    client = site.client
    wait_for(lambda: list_components(client, "scheduler"), 60, "the scheduler to start")
    assert tenant_names(client) == ["demo"]
    demo_uuid = load_layout(client, "demo").uuid

    # An item queued before the reload.
    site.push_event("org/app", {"src.c": "int main;\n"})
    wait_node_request(client, "build", timeout=60)

    (site.root / "main.yaml").write_text(MAIN_YAML + SECOND)
    _hup(proc)
    second = wait_for(lambda: load_layout(client, "second"), 60, "tenant second's layout")
    assert second.projects == ["config", "org/other"]
    assert second.pipelines == ["post"]
    assert second.config_errors == []
    assert tenant_names(client) == ["demo", "second"]
    # Every tenant was reloaded (a new layout), and the item queued before goes on.
    wait_for(lambda: load_layout(client, "demo").uuid != demo_uuid, 60, "demo reloaded")
    run_job(client, "build", timeout=60)
    run_job(client, "test", timeout=60)
    wait_for(
        lambda: not any(items for _, items in read_pipelines(client, "demo").values()),
        60,
        "the item to be reported",
    )
    assert "tenant second loaded (the tenant config was re-read)" in proc.output()

    # A broken tenant config: refused, reported, the tenants run on.
    demo_uuid = load_layout(client, "demo").uuid
    second_uuid = second.uuid
    (site.root / "main.yaml").write_text(BROKEN)
    _hup(proc)
    errors = wait_for(
        lambda: _tenant_config_errors(client, "demo"), 60, "the tenant config error published"
    )
    assert errors[0]["source_context"]["path"] == str(site.root / "main.yaml")
    wait_for(lambda: _tenant_config_errors(client, "second"), 60, "the error on tenant second")
    assert "not reloaded" in proc.output()
    assert tenant_names(client) == ["demo", "second"]
    assert load_layout(client, "demo").uuid == demo_uuid  # the same layout, still serving
    assert load_layout(client, "second").uuid == second_uuid
    site.push_event("org/other", {"x": "1\n"})
    wait_node_request(client, "other-job", timeout=60)
    assert proc.proc.poll() is None
    assert "Traceback" not in proc.output()
