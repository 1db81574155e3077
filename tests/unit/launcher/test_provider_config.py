"""Provider sections: every mistake is one line naming file, section and key."""

from __future__ import annotations

from pathlib import Path

import pytest
from lockgate.launcher.providers import LocalProvider, StaticProvider, make_provider
from lockgate.launcher.server import Launcher, main
from lockgate.service_config import Section, ServiceConfig, ServiceConfigError

CONF = "/etc/lockgate/lockgate.conf"


def section(name: str, **values: str) -> Section:
    return Section(CONF, f"provider {name}", values)


@pytest.fixture
def pubkey(tmp_path: Path) -> Path:
    path = tmp_path / "id.pub"
    path.write_text("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIexample test\n")
    return path


def error_of(factory, *args) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(ServiceConfigError) as info:
        factory(*args)
    return str(info.value)


def test_local_provider_reads_its_keys(pubkey, tmp_path):
    provider = LocalProvider(
        section("local", driver="local", labels="debian, bookworm", authorized_keys=str(pubkey),
                max_servers="3", network="10.250.0.0/24", boot_timeout="2.5"),
        tmp_path,
    )  # fmt: skip
    assert provider.name == "local"
    assert provider.labels == {"debian", "bookworm"}
    assert provider.max_servers == 3
    assert str(provider.network) == "10.250.0.0/24"
    assert provider.boot_timeout == 2.5
    assert provider.executor_zone is None
    assert provider.root == tmp_path / "local" / "local"
    assert not provider.root.exists()  # constructing touches nothing


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"labels": "debian"}, "[provider local] authorized_keys: missing required key"),
        ({"labels": "debian", "authorized_keys": "/nonexistent.pub"},
         "[provider local] authorized_keys: /nonexistent.pub: no such file"),
        ({"authorized_keys": "KEY"}, "[provider local] labels: missing required key"),
        ({"labels": "debian", "authorized_keys": "KEY", "max_servers": "0"},
         "[provider local] max_servers: must be at least 1, got 0"),
        ({"labels": "debian", "authorized_keys": "KEY", "max_servers": "many"},
         "[provider local] max_servers: expected an integer, got 'many'"),
        ({"labels": "debian", "authorized_keys": "KEY", "network": "10.1.2.0/31"},
         "[provider local] network: 10.1.2.0/31 is smaller than a /30"),
        ({"labels": "debian", "authorized_keys": "KEY", "network": "fd00::/64"},
         "[provider local] network: not an IPv4 network"),
        ({"labels": "debian", "authorized_keys": "KEY", "netwrok": "10.0.0.0/8"},
         "[provider local] netwrok: unknown key (did you mean 'network'?)"),
        ({"labels": "deb ian!", "authorized_keys": "KEY"},
         "[provider local] labels: invalid label 'ian!'"),
        ({"labels": "debian", "authorized_keys": "KEY", "executor_zone": "east west"},
         "[provider local] executor_zone: invalid zone 'east west'"),
    ],
)  # fmt: skip
def test_local_provider_errors(values, message, pubkey, tmp_path):
    values = {k: (str(pubkey) if v == "KEY" else v) for k, v in values.items()}
    text = error_of(LocalProvider, section("local", driver="local", **values), tmp_path)
    assert text.startswith(f"{CONF}: ")
    assert message in text


def test_local_provider_name_must_suit_namespace_names(pubkey, tmp_path):
    text = error_of(
        LocalProvider,
        section("my cloud", driver="local", labels="x", authorized_keys=str(pubkey)),
        tmp_path,
    )
    assert "local provider name 'my cloud'" in text


def test_static_hosts_are_parsed():
    provider = StaticProvider(
        section("hosts", driver="static", labels="debian", nodes="""
            build1.example.org labels=debian,big port=2222 username=zuul
            10.0.0.7 ; 10.0.0.8 python_path=/opt/py/bin/python3 name=eight
        """)
    )  # fmt: skip
    first, second, third = provider.hosts
    assert (first.host, first.port, first.username, first.name) == (
        "build1.example.org",
        2222,
        "zuul",
        "build1.example.org:2222",
    )
    assert first.labels == {"debian", "big"}
    assert second.labels == {"debian"} and second.name == "10.0.0.7"
    assert third.python_path == "/opt/py/bin/python3" and third.name == "eight"
    assert provider.labels == {"debian", "big"}
    assert provider.max_servers == 3


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({}, "[provider hosts] nodes: missing required key"),
        ({"nodes": "h1"}, "[provider hosts] nodes: h1: no labels"),
        ({"nodes": "h1 labels=a color=red"}, "[provider hosts] nodes: h1: unknown option 'color'"),
        ({"nodes": "h1 labels"}, "[provider hosts] nodes: h1: expected key=value, got 'labels'"),
        ({"nodes": "h1 labels=a port=x"}, "[provider hosts] nodes: h1: port must be a number"),
        ({"nodes": "h1 labels=a\nh1 labels=b"}, "[provider hosts] nodes: h1: listed twice"),
        ({"nodes": "h1 labels=a host_key_file=/nope"},
         "[provider hosts] nodes: h1: host_key_file /nope: no such file"),
        ({"nodes": "h1 labels=a", "max_servers": "0"},
         "[provider hosts] max_servers: must be at least 1"),
        ({"nodes": "h1 labels=a", "user": "x"}, "[provider hosts] user: unknown key"),
    ],
)  # fmt: skip
def test_static_provider_errors(values, message):
    text = error_of(StaticProvider, section("hosts", driver="static", **values))
    assert text.startswith(f"{CONF}: ") and message in text


def test_unknown_driver(tmp_path):
    text = error_of(make_provider, section("x", driver="openstack"), tmp_path)
    assert (
        "[provider x] driver: unknown provider driver 'openstack' (one of: local, static)" in text
    )


def test_launcher_without_providers_is_a_config_error(tmp_path):
    config = ServiceConfig.parse(f"[launcher]\nstate_dir = {tmp_path}\n", CONF)
    assert "no [provider NAME] section" in error_of(Launcher, config)


def test_main_prints_one_line_and_exits_2(tmp_path, capsys):
    config = ServiceConfig.parse(
        f"[launcher]\nstate_dir = {tmp_path}\n[provider hosts]\ndriver = static\nnodes = h1\n",
        CONF,
    )
    assert main(config) == 2
    err = capsys.readouterr().err
    assert (
        err
        == f"lockgate launcher: {CONF}: [provider hosts] nodes: h1: no labels (give labels=... or a labels key)\n"
    )


def test_executor_zone_is_read_by_every_provider(pubkey, tmp_path):
    """``executor-zone``: Zuul's node attribute, as Nodepool's pool
    ``node-attributes`` would set it (the builds go to that zone)."""
    local = LocalProvider(
        section("local", driver="local", labels="debian", authorized_keys=str(pubkey),
                executor_zone="east"),
        tmp_path,
    )  # fmt: skip
    static = StaticProvider(
        section("hosts", driver="static", nodes="192.0.2.1 labels=debian", executor_zone="vpn")
    )
    assert (local.executor_zone, static.executor_zone) == ("east", "vpn")
