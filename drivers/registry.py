"""Drivers by name, and the connections the service config asks for.

Who calls it: every process at start-up, ``make_connections(config)`` to
turn ``[connection NAME]`` sections into live connections (errors are
``ServiceConfigError`` naming file, section and key, printed as one line by
the command line); the config loader, ``resolve_trigger`` to find which
driver interprets a pipeline's ``trigger: {<name>: ...}`` entry; the
scheduler, ``event_producers(connections)`` for everything it runs an event
source for (the connections, then the connectionless drivers).

Adding a driver is one line in ``_FACTORIES``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from lockgate.drivers.base import Connection, Driver, EventProducer
from lockgate.git.cmd import set_remote_env
from lockgate.service_config import ServiceConfig, ServiceConfigError


def _git() -> Driver:
    from lockgate.drivers.git import GitDriver

    return GitDriver()


def _gerrit() -> Driver:
    from lockgate.drivers.gerrit import GerritDriver

    return GerritDriver()


def _github() -> Driver:
    from lockgate.drivers.github import GithubDriver

    return GithubDriver()


def _timer() -> Driver:
    from lockgate.drivers.timer import TimerDriver

    return TimerDriver()


# Imported on first use, so a process pays only for the drivers it uses.
_FACTORIES: dict[str, Callable[[], Driver]] = {
    "gerrit": _gerrit,
    "git": _git,
    "github": _github,
    "timer": _timer,
}
# Drivers a pipeline names directly under ``trigger`` (they have no connection).
CONNECTIONLESS = frozenset({"timer"})
_drivers: dict[str, Driver] = {}


def driver_names() -> list[str]:
    return sorted(_FACTORIES)


def get_driver(name: str) -> Driver:
    """The driver called ``name``; ``KeyError`` if there is none."""
    if name not in _drivers:
        if name not in _FACTORIES:
            raise KeyError(name)
        _drivers[name] = _FACTORIES[name]()
    return _drivers[name]


def make_connections(config: ServiceConfig) -> dict[str, Connection]:
    """One connection per ``[connection NAME]`` section, by NAME.

    ``[connection "NAME"]`` (quoted, as many ``zuul.conf`` files write it)
    names the same connection as ``[connection NAME]``.
    """
    connections: dict[str, Connection] = {}
    for raw_name, section in config.connections.items():
        name = raw_name.strip().strip("\"'")
        if name in CONNECTIONLESS:
            raise section.error(
                "driver",
                f"'{name}' is the name of a built-in trigger; choose another connection name",
            )
        if name in connections:
            raise ServiceConfigError(
                f"{config.path}: [{section.name}]: connection '{name}' is defined twice"
            )
        driver_name = section.require("driver")
        try:
            driver = get_driver(driver_name)
        except KeyError:
            raise section.error(
                "driver", f"unknown driver '{driver_name}' (known: {', '.join(driver_names())})"
            ) from None
        connections[name] = driver.make_connection(name, section)
        _register_git_env(connections[name])
    return connections


def _register_git_env(connection: Connection) -> None:
    """Tell ``lockgate.git`` how to reach this connection's repositories when
    that needs more than a URL (git over SSH with the connection's key)."""
    source = connection.source()
    git_env = getattr(source, "git_env", None)
    env = git_env() if callable(git_env) else None
    if env:
        set_remote_env(source.clone_url(""), env)


def event_producers(connections: Mapping[str, Connection]) -> dict[str, EventProducer]:
    """What the scheduler runs an event source for, by the trigger name
    pipelines use: every connection, then every connectionless driver (its
    own producer: the timer)."""
    producers: dict[str, EventProducer] = dict(connections)
    for name in sorted(CONNECTIONLESS):
        driver = get_driver(name)
        if not isinstance(driver, EventProducer):
            raise TypeError(f"connectionless driver '{name}' makes no event source")
        producers[name] = driver
    return producers


def resolve_trigger(
    name: str, connections: Mapping[str, Connection]
) -> tuple[Driver, Connection | None]:
    """The driver (and connection) behind ``pipeline.trigger.<name>``; ``KeyError`` if none."""
    if name in connections:
        connection = connections[name]
        return get_driver(connection.driver_name), connection
    if name in CONNECTIONLESS:
        return get_driver(name), None
    raise KeyError(name)
