"""The ``pipeline`` schema, with its connection-keyed driver sections.

Pipeline ``trigger``/``require``/``reject`` and reporter sections are keyed
by connection name.  Their driver-specific content is checked only when the
caller passes a connection -> driver map *and* the driver package exposes a
schema module ``lockgate.drivers.<driver>.schema`` with any of the functions
``trigger_schema()``, ``reporter_schema()``, ``require_schema()``,
``reject_schema()`` (each returning a voluptuous validator for one
connection's section).  Otherwise any mapping or list of mappings is
accepted.  Called through ``lockgate.config.schema.validate``, which asks
``pipeline_schema_for`` for a schema per connection map.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Mapping
from typing import Any

import voluptuous as vs
from lockgate.config.kinds import deprecation_kind
from lockgate.config.schema.validators import (
    Attrs,
    Bool,
    Dict,
    Either,
    ListOf,
    NonNegativeInt,
    OneOf,
    OneOrList,
    Str,
    StrList,
    Validator,
    describe,
    guard_tags,
    suggest,
)

PIPELINE_MANAGERS = ("independent", "dependent", "serial", "supercedent")
REPORTER_ACTIONS = (
    "enqueue",
    "start",
    "success",
    "failure",
    "merge-conflict",
    "merge-failure",
    "config-error",
    "no-jobs",
    "disabled",
    "dequeue",
)
_DRIVER_SECTIONS = ("trigger", "require", "reject") + REPORTER_ACTIONS


@functools.lru_cache(maxsize=64)
def _driver_schema(driver: str, section: str) -> Validator | None:
    """The driver's own validator for one connection's section, if it has one
    (none for a connection whose driver is not known: "")."""
    if not driver:
        return None
    try:
        module = importlib.import_module(f"lockgate.drivers.{driver}.schema")
    except ImportError:
        return None
    func = "reporter_schema" if section in REPORTER_ACTIONS else f"{section}_schema"
    factory = getattr(module, func, None)
    if factory is None:
        return None
    return vs.Schema(factory())


class UnknownConnection(vs.Invalid):
    """A section keyed by a connection the service config does not have."""


# Drivers Zuul provides without a ``[connection]`` section: their name is
# both the connection and the driver.
IMPLICIT_CONNECTIONS = {"timer": "timer", "zuul": "zuul"}


def _connection_section(section: str, connections: Mapping[str, str] | None) -> Validator:
    if connections is not None:
        connections = {**IMPLICIT_CONNECTIONS, **connections}

    def check(value: Any) -> Any:
        if value is None and section != "trigger":
            return value
        Dict(value)
        errors: list[vs.Invalid] = []
        for conn, content in value.items():
            if not isinstance(conn, str):
                errors.append(vs.Invalid(f"connection names must be strings, got {describe(conn)}"))
                continue
            if connections is not None and conn not in connections:
                errors.append(
                    UnknownConnection(
                        f"unknown connection '{conn}'"
                        + (f" (did you mean '{s}'?)" if (s := suggest(conn, connections)) else ""),
                        path=[conn],
                    )
                )
                continue
            try:
                _section_content(section, conn, content, connections)
            except vs.MultipleInvalid as exc:
                for err in exc.errors:
                    err.prepend([conn])
                errors.extend(exc.errors)
            except vs.Invalid as exc:
                exc.prepend([conn])
                errors.append(exc)
        if errors:
            raise vs.MultipleInvalid(errors)
        return value

    return check


def _section_content(
    section: str, conn: str, content: Any, connections: Mapping[str, str] | None
) -> None:
    driver_validator = None
    if connections is not None:
        driver_validator = _driver_schema(connections[conn], section)
    if section == "trigger":
        # A list of event filters (a single mapping is accepted, as in Zuul);
        # the driver's schema describes one filter.
        OneOrList(Dict, "event filters")(content)
        if driver_validator is not None:
            filters = content if isinstance(content, list) else [content]
            ListOf(driver_validator, "event filters")(filters)
        return
    if driver_validator is not None:
        driver_validator(content)
    elif content is not None and not isinstance(content, (dict, list)):
        raise vs.Invalid(f"expected a mapping, got {describe(content)}")


def trigger_deprecations(body: Any, connections: Mapping[str, str] | None) -> list[tuple[str, str]]:
    """Warnings for deprecated attributes of a pipeline's trigger entries, from
    each connection's driver (``deprecations(spec)`` in its schema module), as
    ``(message, Zuul's kind)``."""
    if connections is None or not isinstance(body, Mapping):
        return []
    triggers = body.get("trigger")
    if not isinstance(triggers, Mapping):
        return []
    out: list[tuple[str, str]] = []
    for conn, content in triggers.items():
        driver = connections.get(conn) if isinstance(conn, str) else None
        if not driver:
            continue
        try:
            module = importlib.import_module(f"lockgate.drivers.{driver}.schema")
        except ImportError:
            continue
        deprecations = getattr(module, "deprecations", None)
        if deprecations is None:
            continue
        entries = content if isinstance(content, list) else [content]
        for index, spec in enumerate(entries):
            for message in deprecations(spec) if isinstance(spec, Mapping) else ():
                kind = deprecation_kind(driver, message)
                out.append((f"trigger.{conn}[{index}]: {message}", kind))
    return out


def pipeline_schema(connections: Mapping[str, str] | None = None) -> Attrs:
    fields: dict[Any, Any] = {
        vs.Required("name"): Str,
        vs.Required("manager"): OneOf(*PIPELINE_MANAGERS),
        "description": Str,
        "variant-description": Str,
        "post-review": Bool,
        "allow-other-connections": Bool,
        "precedence": OneOf("low", "normal", "high"),
        "supercedes": StrList,
        "success-message": Str,
        "failure-message": Str,
        "start-message": Str,
        "enqueue-message": Str,
        "merge-conflict-message": Str,
        "merge-failure-message": Str,
        "no-jobs-message": Str,
        "dequeue-message": Str,
        "footer-message": Str,
        "dequeue-on-new-patchset": Bool,
        "ignore-dependencies": Bool,
        "disable-after-consecutive-failures": NonNegativeInt,
        "window": NonNegativeInt,
        "window-floor": NonNegativeInt,
        "window-ceiling": Either(None, NonNegativeInt, what="an integer or null"),
        "window-increase-type": OneOf("linear", "exponential"),
        "window-increase-factor": NonNegativeInt,
        "window-decrease-type": OneOf("linear", "exponential"),
        "window-decrease-factor": NonNegativeInt,
    }
    for section in _DRIVER_SECTIONS:
        key: Any = vs.Required(section) if section == "trigger" else section
        fields[key] = _connection_section(section, connections)
    return Attrs(guard_tags(fields))


PIPELINE = pipeline_schema(None)


@functools.lru_cache(maxsize=32)
def pipeline_schema_for(connections: tuple[tuple[str, str], ...]) -> Attrs:
    return pipeline_schema(dict(connections))
