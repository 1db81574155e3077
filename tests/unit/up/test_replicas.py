"""Copies of the service config for a second (third...) copy of each component."""

from __future__ import annotations

import pytest
from lockgate.service_config import ServiceConfig
from lockgate.up.replicas import (
    replica_config_path,
    replica_name,
    replica_text,
    write_replica_configs,
)

CONFIG = """\
[zookeeper]
hosts = 127.0.0.1:2281

[scheduler]
tenant_config = /etc/lockgate/main.yaml
state_dir = /srv/lg/scheduler

[executor]
state_dir = /srv/lg/executor/
git_dir = /srv/lg/git
console_stream_port = 0
prometheus_port = 9102

[launcher]

[web]
listen_address = 127.0.0.1

[provider local]
driver = local
labels = debian
max_servers = 4
authorized_keys = /srv/lg/id.pub

[connection local]
driver = git
baseurl = /srv/git
"""


def test_a_copy_has_its_own_state_and_ports_and_shares_the_rest() -> None:
    copy = ServiceConfig.parse(replica_text(CONFIG, 2), "copy")
    assert copy.section("scheduler").get("state_dir") == "/srv/lg/scheduler-2"
    executor = copy.section("executor")
    assert executor.get("state_dir") == "/srv/lg/executor-2"
    assert executor.get("git_dir") == "/srv/lg/git-2"
    # Build logs stay where the first copy writes them (the web serves them).
    assert executor.get("log_root") == "/srv/lg/executor/logs"
    assert executor.get("console_stream_port") == "0"  # any free port: as is
    assert executor.get("prometheus_port") == "9103"
    # A section that names no state_dir gets its default's copy.
    assert copy.section("launcher").get("state_dir") == "/var/lib/lockgate/launcher-2"
    assert copy.section("web").get("port") == "9001"
    assert ServiceConfig.parse(replica_text(CONFIG, 3), "copy").section("web").get("port") == "9002"
    # ZooKeeper, providers and connections are the same.
    assert (
        copy.section("zookeeper").values == ServiceConfig.parse(CONFIG).section("zookeeper").values
    )
    assert copy.named("provider")["local"].values["max_servers"] == "4"
    assert copy.connections["local"].values["baseurl"] == "/srv/git"


def test_bad_ports_and_numbers_are_refused() -> None:
    with pytest.raises(ValueError, match=r"\[web\] port: not a port number"):
        replica_text(CONFIG.replace("listen_address = 127.0.0.1", "port = http"), 2)
    with pytest.raises(ValueError, match="start at 2"):
        replica_text(CONFIG, 1)


def test_files_and_names(tmp_path) -> None:
    first = tmp_path / "lockgate.conf"
    first.write_text(CONFIG)
    files = write_replica_configs(first, 3)
    assert files == [first, tmp_path / "lockgate-2.conf", tmp_path / "lockgate-3.conf"]
    assert replica_config_path(first, 2) == files[1]
    assert oct(files[2].stat().st_mode & 0o777) == "0o600"  # the keystore password is in it
    assert [replica_name("executor", k) for k in (1, 2)] == ["executor", "executor-2"]
