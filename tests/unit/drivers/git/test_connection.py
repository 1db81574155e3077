"""Git connection keys: baseurl, poll_delay (fractional), canonical_hostname, and errors."""

from __future__ import annotations

import pytest
from lockgate.drivers.registry import make_connections
from lockgate.service_config import ServiceConfig, ServiceConfigError

PATH = "/etc/lockgate/lockgate.conf"


def connection(body: str):
    return make_connections(ServiceConfig.parse("[connection src]\n" + body, PATH))["src"]


def error(body: str) -> str:
    with pytest.raises(ServiceConfigError) as info:
        connection(body)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_defaults_follow_zuul():
    conn = connection("driver=git\nbaseurl=https://git.example.org/\n")
    assert conn.baseurl == "https://git.example.org"
    assert conn.poll_delay == 7200.0
    assert conn.canonical_hostname == "git.example.org"
    assert conn.clone_url("org/a") == "https://git.example.org/org/a"


def test_fractional_poll_delay_and_local_path():
    conn = connection("driver=git\nbaseurl=/srv/git\npoll-delay=0.25\n")
    assert conn.poll_delay == 0.25
    assert conn.canonical_hostname == "localhost"
    assert conn.clone_url("org/a") == "/srv/git/org/a"


def test_canonical_hostname_overrides():
    conn = connection(
        "driver=git\nbaseurl=git://127.0.0.1:9418\ncanonical_hostname=git.example.org\n"
    )
    assert conn.canonical_hostname == "git.example.org"
    assert conn.source().canonical_name("org/a") == "git.example.org/org/a"


def test_missing_baseurl():
    assert error("driver=git\n") == f"{PATH}: [connection src] baseurl: missing required key"


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("soon", "expected a number, got 'soon'"),
        ("0", "must be a positive number of seconds, got '0'"),
        ("-1.5", "must be a positive number of seconds, got '-1.5'"),
        ("nan", "must be a positive number of seconds, got 'nan'"),
    ],
)
def test_bad_poll_delay(value, why):
    message = error(f"driver=git\nbaseurl=/srv\npoll_delay={value}\n")
    assert message == f"{PATH}: [connection src] poll_delay: {why}"


def test_unknown_key_suggests_the_right_one():
    message = error("driver=git\nbaseurl=/srv\npoll_dealy=5\n")
    assert message == (
        f"{PATH}: [connection src] poll_dealy: unknown key (did you mean 'poll_delay'?)"
    )


def test_option_looking_baseurl_is_refused():
    assert "baseurl: not a URL or path" in error("driver=git\nbaseurl=--upload-pack=x\n")


def test_poll_workers_bound_the_concurrent_polls():
    assert connection("driver=git\nbaseurl=/srv/git\n").poll_workers == 16
    assert connection("driver=git\nbaseurl=/srv/git\npoll-workers=2\n").poll_workers == 2
    assert "[connection src] poll_workers: must be at least 1, got 0" in error(
        "driver=git\nbaseurl=/srv/git\npoll_workers=0\n"
    )
