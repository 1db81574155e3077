"""The entry point: check one object against its kind's schema.

``validate(kind, body, ...)`` picks the schema (``repository``,
``pipeline`` or ``tenant``), runs it and phrases every complaint as a
``SchemaProblem`` naming the object and the place inside it (it never
raises for bad input).  Called by ``lockgate.config.parser`` (repository
objects) and ``lockgate.config.tenant`` (tenant-config objects) through
``lockgate.config.schema``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import voluptuous as vs
from lockgate.config.schema.pipeline import PIPELINE, UnknownConnection, pipeline_schema_for
from lockgate.config.schema.repository import (
    JOB,
    NODESET,
    PRAGMA,
    PROJECT,
    PROJECT_TEMPLATE,
    QUEUE,
    SECRET,
    SEMAPHORE,
    lenient_object,
)
from lockgate.config.schema.tenant import API_ROOT, AUTHORIZATION_RULE, GLOBAL_SEMAPHORE, TENANT
from lockgate.config.schema.validators import MissingAttribute, UnknownAttribute, Validator

REPO_SCHEMAS: dict[str, Validator] = {
    "pipeline": PIPELINE,
    "job": JOB,
    "project": PROJECT,
    "project-template": PROJECT_TEMPLATE,
    "nodeset": NODESET,
    "secret": SECRET,
    "semaphore": SEMAPHORE,
    "queue": QUEUE,
    "pragma": PRAGMA,
    "image": lenient_object,
    "flavor": lenient_object,
    "label": lenient_object,
    "section": lenient_object,
    "provider": lenient_object,
}

TENANT_SCHEMAS: dict[str, Validator] = {
    "tenant": TENANT,
    "authorization-rule": AUTHORIZATION_RULE,
    "admin-rule": AUTHORIZATION_RULE,
    "global-semaphore": GLOBAL_SEMAPHORE,
    "api-root": API_ROOT,
}


@dataclass(frozen=True)
class SchemaProblem:
    """One thing wrong with an object, already phrased for a user."""

    message: str
    path: tuple[Any, ...]  # where inside the object, e.g. ("secrets", 0, "name")
    key: str  # "unknown-attribute", "missing-attribute" or "schema"


def format_path(path: Iterable[Any]) -> str:
    """``secrets[0].name`` from ``["secrets", 0, "name"]``."""
    text = ""
    for part in path:
        if isinstance(part, int) and not isinstance(part, bool):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + str(part)
    return text


def _flatten(exc: vs.Invalid) -> list[vs.Invalid]:
    if isinstance(exc, vs.MultipleInvalid):
        out: list[vs.Invalid] = []
        for err in exc.errors:
            out.extend(_flatten(err))
        return out
    return [exc]


def _phrase(err: vs.Invalid, where: str) -> SchemaProblem:
    path = tuple(err.path)
    at = f" at {format_path(path)}" if path else ""
    if isinstance(err, UnknownAttribute):
        hint = f" (did you mean '{err.suggestion}'?)" if err.suggestion else ""
        return SchemaProblem(
            f"unknown attribute '{err.key}' in {where}{at}{hint}", path, "unknown-attribute"
        )
    if isinstance(err, UnknownConnection):
        return SchemaProblem(
            f"invalid value for '{format_path(path)}' in {where}: {err.error_message}",
            path,
            "unknown-connection",
        )
    if isinstance(err, MissingAttribute):
        return SchemaProblem(f"{err.error_message} in {where}{at}", path, "missing-attribute")
    # Drivers' schemas are plain voluptuous: say their errors in our words.
    if path and err.error_message == "extra keys not allowed":
        parent = f" at {format_path(path[:-1])}" if path[:-1] else ""
        return SchemaProblem(
            f"unknown attribute '{path[-1]}' in {where}{parent}", path, "unknown-attribute"
        )
    if path and err.error_message == "required key not provided":
        parent = f" at {format_path(path[:-1])}" if path[:-1] else ""
        return SchemaProblem(
            f"missing required attribute '{path[-1]}' in {where}{parent}",
            path,
            "missing-attribute",
        )
    if path:
        return SchemaProblem(
            f"invalid value for '{format_path(path)}' in {where}: {err.error_message}",
            path,
            "schema",
        )
    return SchemaProblem(f"invalid {where}: {err.error_message}", path, "schema")


def object_label(kind: str, name: Any) -> str:
    """``job 'x'`` or just ``job`` when the object has no usable name."""
    if isinstance(name, str):
        return f"{kind} '{name}'"
    return kind


def validate(
    kind: str,
    body: Any,
    *,
    name: str | None = None,
    connections: Mapping[str, str] | None = None,
) -> list[SchemaProblem]:
    """Check one object's body against its kind's schema; [] if it is valid.

    ``name`` is used in messages (defaults to the body's ``name``);
    ``connections`` maps connection names to driver names for pipelines.
    """
    validator = REPO_SCHEMAS.get(kind) or TENANT_SCHEMAS.get(kind)
    if validator is None:
        raise KeyError(kind)
    if kind == "pipeline" and connections is not None:
        validator = pipeline_schema_for(tuple(sorted(connections.items())))
    if name is None and isinstance(body, dict):
        maybe = body.get("name")
        name = maybe if isinstance(maybe, str) else None
    where = object_label(kind, name)
    try:
        validator(body)
    except vs.Invalid as exc:
        return [_phrase(err, where) for err in _flatten(exc)]
    except (RecursionError, TypeError, ValueError) as exc:
        # A validator tripping over something truly strange is still the
        # input's fault: report it rather than crash the load.
        return [SchemaProblem(f"invalid {where}: {exc}", (), "schema")]
    return []
