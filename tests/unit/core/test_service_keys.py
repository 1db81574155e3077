"""A ``zuul.conf`` written for Zuul is accepted unchanged; keys Lockgate has
no use for are named once at start; keys nobody knows are still refused."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from lockgate.service_config import KNOWN_SECTIONS, ServiceConfig, ServiceConfigError
from lockgate.service_keys import IGNORED, SECTIONS_OF, ignored_settings

ROOT = Path(__file__).resolve().parents[3]

# A zuul.conf as Zuul's documentation has operators write it (every
# component's section in one file).
ZUUL_CONF = """
[zookeeper]
hosts = zk1.example.org:2281,zk2.example.org:2281
tls_ca = /etc/zuul/ca.pem
tls_cert = /etc/zuul/client.pem
tls_key = /etc/zuul/client.key
session_timeout = 40

[keystore]
password = secret-password

[database]
dburi = postgresql://zuul:secret@db.example.org/zuul
pool_recycle = 300

[statsd]
server = statsd.example.org

[tracing]
enabled = true
endpoint = otel.example.org:4317

[scheduler]
command_socket = /var/lib/zuul/scheduler.socket
tenant_config = /etc/zuul/main.yaml
log_config = /etc/zuul/scheduler-logging.conf
pidfile = /var/run/zuul/scheduler.pid
prometheus_port = 9091

[merger]
command_socket = /var/lib/zuul/merger.socket
git_dir = /var/lib/zuul/merger-git
git_user_email = zuul@example.org
git_user_name = Zuul

[executor]
command_socket = /var/lib/zuul/executor.socket
finger_port = 7900
git_dir = /var/lib/zuul/executor-git
state_dir = /var/lib/zuul
private_key_file = /var/lib/zuul/.ssh/id_rsa
default_username = zuul
load_multiplier = 2.5
sigterm_method = graceful
trusted_ro_paths = /opt/ro

[web]
command_socket = /var/lib/zuul/web.socket
listen_address = 127.0.0.1
port = 9000
root = https://zuul.example.org/
status_url = https://zuul.example.org/status
static_cache_expiry = 0

[fingergw]
port = 7900
user = zuul

[webclient]
url = https://zuul.example.org

[ansible_callback "nocows"]
file = /etc/zuul/nocows.py

[connection gerrit]
driver = gerrit
server = review.example.org
user = zuul
sshkey = /var/lib/zuul/.ssh/id_rsa
"""


def parse(text: str) -> ServiceConfig:
    return ServiceConfig.parse(textwrap.dedent(text), "/etc/zuul/zuul.conf")


def test_a_zuul_conf_is_accepted_and_used_where_lockgate_can() -> None:
    config = parse(ZUUL_CONF)
    assert config.section("executor").get("git_dir") == "/var/lib/zuul/executor-git"
    assert config.section("database").get_float("pool_recycle") == 300.0
    assert config.section("scheduler").get("tenant_config") == "/etc/zuul/main.yaml"


@pytest.mark.parametrize(
    ("section", "key"),
    sorted((s, k) for s, keys in IGNORED.items() for k in keys),
)
def test_every_ignored_key_is_accepted(section: str, key: str) -> None:
    required = {"zookeeper": "hosts = zk:2281\n", "scheduler": "tenant_config = /t\n"}
    config = parse(f"[{section}]\n{required.get(section, '')}{key.replace('_', '-')} = 1\n")
    assert key in config.sections[section].explicit


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "[executor]\nfinger_prot = 79\n",
            "[executor] finger_prot: unknown key (did you mean 'finger_port'?)",
        ),
        ("[scheduler]\ntenant_config = /t\ncommand_sockt = /s\n", "did you mean 'command_socket'?"),
        ("[tracing]\nenabeld = true\n", "[tracing] enabeld: unknown key (did you mean 'enabled'?)"),
        ("[fingergateway]\nport = 79\n", "unknown section (did you mean 'fingergw'?)"),
    ],
)
def test_keys_zuul_does_not_know_are_still_refused(text: str, message: str) -> None:
    with pytest.raises(ServiceConfigError) as raised:
        parse(text)
    assert message in str(raised.value)


def test_each_component_names_the_ignored_keys_it_would_read() -> None:
    config = parse(ZUUL_CONF)
    said = {name: [str(s) for s in ignored_settings(config, name)] for name in SECTIONS_OF}
    scheduler = "\n".join(said["scheduler"])
    assert "[scheduler] command_socket: ignored" in scheduler
    assert "[scheduler] prometheus_port" not in scheduler  # it serves /metrics
    assert "[keystore] password" not in scheduler  # the keystore reads it
    assert "[web] root" in scheduler  # the scheduler builds report links in Zuul
    assert "finger_port" not in scheduler  # the executor's business
    executor = "\n".join(said["executor"])
    assert "[executor] finger_port: ignored" in executor
    assert "[merger] git_user_email" in executor and "[merger] git_user_name" in executor
    assert "[executor] sigterm_method" in executor
    assert '[ansible_callback "nocows"]' in executor
    # Keys Lockgate uses are not reported, nor defaults the file does not set.
    assert "git_dir" not in executor and "trusted_ro_paths" not in executor
    assert "min_avail_mem" not in executor
    merger = "\n".join(said["merger"])
    assert "[merger] git_user_email" in merger and "[merger] git_dir" not in merger
    web = "\n".join(said["web"])
    assert "[fingergw] port" in web and "[webclient] url" in web
    assert "[web] listen_address" not in web and "[web] port" not in web
    # Each setting is said once per component.
    for lines in said.values():
        assert len(lines) == len(set(lines))


def test_used_and_ignored_keys_do_not_overlap() -> None:
    for section, keys in IGNORED.items():
        assert not set(keys) & set(KNOWN_SECTIONS.get(section, {})), section


def _code_files() -> list[Path]:
    return [
        path
        for folder in ("core", "scheduler", "executor", "launcher", "web")
        for path in (ROOT / folder).rglob("*.py")
        if path.name not in ("service_config.py", "service_keys.py")
    ]


def test_no_ignored_key_is_read_by_the_code() -> None:
    """A key listed as ignored while some code reads it would be reported as
    having no effect when it has one: move it to KNOWN_SECTIONS."""
    sources = {path: path.read_text() for path in _code_files()}
    for section, keys in IGNORED.items():
        reads_section = re.compile(rf"""section\(\s*["']{section}["']""")
        readers = [p for p, text in sources.items() if reads_section.search(text)]
        for key in keys:
            users = [p for p in readers if re.search(rf"""["']{key}["']""", sources[p])]
            assert not users, f"[{section}] {key} is listed as ignored but read in {users}"


def test_the_command_line_logs_them_once_at_start(tmp_path: Path) -> None:
    conf = tmp_path / "zuul.conf"
    conf.write_text("[zookeeper]\nhosts = 127.0.0.1:1\n[tracing]\nenabled = true\n[launcher]\n")
    result = subprocess.run(
        [sys.executable, "-m", "lockgate.cli", "-c", str(conf), "launcher"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    # The launcher then refuses to run without providers (its own error).
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("[tracing] enabled: ignored") == 1, result.stderr
    assert "no [provider NAME] section" in result.stderr
