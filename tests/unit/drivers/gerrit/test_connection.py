"""Gerrit connection keys: Zuul's keys and defaults, a real zuul.conf section, errors."""

from __future__ import annotations

import pytest
from lockgate.drivers.gerrit import GerritConnection, GerritDriver
from lockgate.drivers.registry import get_driver, make_connections
from lockgate.service_config import ServiceConfig, ServiceConfigError

PATH = "/etc/lockgate/lockgate.conf"


def connection(body: str, name: str = "gerrit") -> GerritConnection:
    conns = make_connections(ServiceConfig.parse(f"[connection {name}]\n" + body, PATH))
    conn = conns[name]
    assert isinstance(conn, GerritConnection)
    return conn


def error(body: str) -> str:
    with pytest.raises(ServiceConfigError) as info:
        connection(body)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{PATH}: [connection gerrit] ")
    return message


def test_registered():
    assert isinstance(get_driver("gerrit"), GerritDriver)


def test_defaults_follow_zuul():
    c = connection("driver=gerrit\nserver=review.example.org\n").config
    assert c.server == c.ssh_server == c.canonical_hostname == "review.example.org"
    assert c.port == 29418
    assert c.baseurl == "https://review.example.org"
    assert c.user == "zuul"
    assert c.keepalive == 60
    assert c.event_delay == 10.0
    assert c.auth_type == "basic" and c.verify_ssl and not c.git_over_ssh
    assert c.stream_events and c.password is None and not c.use_http
    assert c.max_dependencies is None
    assert c.gitweb_url_template.startswith("{baseurl}/gitweb?p={project.name}.git")


def test_a_zuul_conf_section_works_unchanged():
    # The shape of a real zuul.conf (quoted name, name= repeated, ssh + http).
    text = """
[connection "gerrit"]
name=gerrit
driver=gerrit
server=review.opendev.org
canonical_hostname=opendev.org
ssh_server=ssh.review.opendev.org
port=29418
baseurl=https://review.opendev.org/
user=zuul
sshkey=/var/ssh/zuul_rsa
keepalive=30
password=secret
auth_type=basic
verify_ssl=false
git_over_ssh=true
gitweb_url_template=https://opendev.org/{project.name}/commit/{sha}
max_dependencies=8
"""
    conn = make_connections(ServiceConfig.parse(text, PATH))["gerrit"]
    c = conn.config
    assert (c.server, c.ssh_server, c.canonical_hostname) == (
        "review.opendev.org",
        "ssh.review.opendev.org",
        "opendev.org",
    )
    assert c.baseurl == "https://review.opendev.org"
    assert c.sshkey == "/var/ssh/zuul_rsa" and c.keepalive == 30
    assert c.use_http and not c.verify_ssl and c.git_over_ssh and c.max_dependencies == 8
    # git_over_ssh wins over the password for git, REST is still used for queries.
    assert conn.source().clone_url("openstack/nova") == (
        "ssh://zuul@ssh.review.opendev.org:29418/openstack/nova"
    )
    assert conn.source().canonical_name("openstack/nova") == "opendev.org/openstack/nova"
    assert "secret" not in repr(c) and "secret" not in repr(conn)


def test_clone_urls_ssh_and_http():
    ssh = connection("driver=gerrit\nserver=gerrit.local\nuser=ci\nsshkey=/k/id\n").config
    assert ssh.clone_url("org/a") == "ssh://ci@gerrit.local:29418/org/a"
    env = ssh.git_env()
    assert "-i /k/id" in env["GIT_SSH_COMMAND"]
    http = connection(
        "driver=gerrit\nserver=gerrit.local\nbaseurl=http://gerrit.local:8080/r\n"
        "user=ci bot\npassword=p@ss/word\n"
    ).config
    assert http.clone_url("org/a") == "http://ci%20bot:p%40ss%2Fword@gerrit.local:8080/r/a/org/a"
    assert http.git_env() == {}


def test_known_hosts_is_strict_for_git_too():
    c = connection("driver=gerrit\nserver=g\nknown_hosts=/etc/lockgate/known_hosts\n").config
    assert c.known_hosts == "/etc/lockgate/known_hosts"
    assert "UserKnownHostsFile=/etc/lockgate/known_hosts" in c.ssh_command()
    assert "StrictHostKeyChecking=yes" in c.ssh_command()


def test_fractional_event_delay_and_zero():
    assert connection("driver=gerrit\nserver=g\nevent_delay=0\n").config.event_delay == 0
    assert connection("driver=gerrit\nserver=g\nevent_delay=0.25\n").config.event_delay == 0.25


def test_stream_events_false_means_no_event_source():
    conn = connection("driver=gerrit\nserver=g\nstream_events=false\n")
    assert conn.event_source(None) is None  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "body, expected",
    [
        ("driver=gerrit\n", "server: missing required key"),
        ("driver=gerrit\nserver=g\nsever=x\n", "sever: unknown key"),
        ("driver=gerrit\nserver=g\nport=ssh\n", "port: expected an integer"),
        ("driver=gerrit\nserver=g\nport=70000\n", "port: not a TCP port"),
        ("driver=gerrit\nserver=g\nbaseurl=ftp://g\n", "baseurl: not an http(s) URL"),
        ("driver=gerrit\nserver=g\nevent_delay=-1\n", "event_delay: must be 0 or more"),
        ("driver=gerrit\nserver=g\nauth_type=kerberos\n", "auth_type: unknown value"),
        ("driver=gerrit\nserver=g\nauth_type=form\n", "auth_type: logging in through"),
        ("driver=gerrit\nserver=g\nauth_type=gcloud_service\n", "not supported"),
        ("driver=gerrit\nserver=g\nverify_ssl=maybe\n", "verify_ssl: expected true or false"),
        (
            "driver=gerrit\nserver=g\nkafka_bootstrap_servers=k:9092\n",
            "kafka_bootstrap_servers: Gerrit events over kafka are not supported",
        ),
    ],
)
def test_errors_name_the_key(body, expected):
    assert expected in error(body)


def test_unknown_key_suggests_the_right_one():
    assert "did you mean 'sshkey'" in error("driver=gerrit\nserver=g\nssh_key=/k\n")


def test_digest_auth_is_accepted():
    assert connection("driver=gerrit\nserver=g\npassword=x\nauth_type=digest\n").config.use_http
