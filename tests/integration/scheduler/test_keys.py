"""The scheduler makes every tenant project's keys in the background, after
the tenant is loaded and published (a real ZooKeeper and git)."""

from __future__ import annotations

from lockgate.keys.keystore import KeyStore
from lockgate.scheduler.server import Scheduler
from lockgate.service_config import ServiceConfig
from lockgate.zk.tenants import load_layout


def test_keys_of_every_project_are_made_behind_the_tenant_load(site, zk_client):
    path = site.root / "scheduler-keys.conf"
    path.write_text(site.config_text("scheduler", 3600) + "\n[keystore]\npassword = pw\n")
    scheduler = Scheduler(ServiceConfig.load(path), tick=0.5)
    scheduler.start()
    try:
        layout = load_layout(zk_client, "demo")
        assert layout is not None  # published by start(), keys or not
        assert layout.project_connections == {p: "git" for p in layout.projects}
        wanted = [("git", p) for p in layout.projects]
        keystore = KeyStore(zk_client, "pw")
        generator = scheduler.key_generator
        assert generator is not None
        assert generator.wait_idle(120), "the generator did not finish"
        assert keystore.missing(wanted) == []
        assert generator.failures == {}
        for _, project in wanted:
            assert keystore.secrets_key("git", project).key_size == 4096
    finally:
        scheduler.stop()
