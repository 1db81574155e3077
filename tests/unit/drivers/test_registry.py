"""lockgate.drivers.registry: drivers by name, connections from the service config."""

from __future__ import annotations

import pytest
from lockgate.drivers.base import EventProducer
from lockgate.drivers.git import GitConnection, GitDriver
from lockgate.drivers.registry import (
    driver_names,
    event_producers,
    get_driver,
    make_connections,
    resolve_trigger,
)
from lockgate.drivers.timer import TimerDriver
from lockgate.service_config import ServiceConfig, ServiceConfigError

PATH = "/etc/lockgate/lockgate.conf"


def connections(text: str):
    return make_connections(ServiceConfig.parse(text, PATH))


def error(text: str) -> str:
    with pytest.raises(ServiceConfigError) as info:
        connections(text)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(PATH + ": ")
    return message


def test_drivers_by_name():
    assert driver_names() == ["gerrit", "git", "github", "timer"]
    assert isinstance(get_driver("git"), GitDriver)
    assert isinstance(get_driver("timer"), TimerDriver)
    assert get_driver("git") is get_driver("git")
    with pytest.raises(KeyError):
        get_driver("gitlab")


def test_connections_from_sections_quoted_or_not():
    result = connections(
        "[connection local]\ndriver=git\nbaseurl=/srv/git\n\n"
        '[connection "opendev"]\nname=opendev\ndriver=git\nbaseurl=https://opendev.org\n'
    )
    assert set(result) == {"local", "opendev"}
    assert isinstance(result["opendev"], GitConnection)
    assert result["opendev"].canonical_hostname == "opendev.org"
    assert result["local"].driver_name == "git"


def test_unknown_driver_names_file_section_and_key():
    message = error("[connection c]\ndriver=gitlab\n")
    assert message == (
        f"{PATH}: [connection c] driver: unknown driver 'gitlab' (known: gerrit, git, github, timer)"
    )


def test_timer_driver_takes_no_connection():
    message = error("[connection t]\ndriver=timer\n")
    assert message.startswith(
        f"{PATH}: [connection t] driver: the timer driver takes no connection"
    )


def test_connection_may_not_shadow_a_builtin_trigger():
    message = error("[connection timer]\ndriver=git\nbaseurl=/srv\n")
    assert "[connection timer] driver: 'timer' is the name of a built-in trigger" in message


def test_same_connection_twice():
    message = error(
        '[connection a]\ndriver=git\nbaseurl=/x\n[connection "a"]\ndriver=git\nbaseurl=/y\n'
    )
    assert "connection 'a' is defined twice" in message


def test_resolve_trigger():
    conns = connections("[connection src]\ndriver=git\nbaseurl=/srv/git\n")
    driver, conn = resolve_trigger("src", conns)
    assert isinstance(driver, GitDriver) and conn is conns["src"]
    driver, conn = resolve_trigger("timer", conns)
    assert isinstance(driver, TimerDriver) and conn is None
    with pytest.raises(KeyError):
        resolve_trigger("review", conns)


def test_event_producers_are_the_connections_then_the_timer():
    """The scheduler runs an event source for each, made alike."""
    conns = connections(
        "[connection b]\ndriver=git\nbaseurl=/srv/b\n[connection a]\ndriver=git\nbaseurl=/srv/a\n"
    )
    producers = event_producers(conns)
    assert list(producers) == ["b", "a", "timer"]
    assert producers["b"] is conns["b"] and producers["a"] is conns["a"]
    assert isinstance(producers["timer"], TimerDriver)
    assert all(isinstance(p, EventProducer) and p.name == n for n, p in producers.items())
