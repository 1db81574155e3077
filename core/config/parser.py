"""A project's configuration files -> validated ``ConfigObject`` records.

Called by ``lockgate.config.loader`` and ``lockgate config check`` once per
project-branch, with the files discovery chose, in load order.  For every
top-level item it checks the envelope (a mapping with exactly one key naming
a known object type), applies the tenant project's include/exclude classes,
validates the body with ``lockgate.config.schema`` and keeps its file and
line.  Problems are ``ConfigError`` records; an invalid object is left out
and the rest are kept.  Objects that the tenant's include/exclude rules keep
out are not errors; they are counted in ``ParseResult.excluded``.

Two rules that need no other object are checked here as well: pipelines may
only be defined in config projects, and a ``project`` stanza without a name
is named after the project it lives in.

What comes next: ``lockgate.config.layout.build_layout``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from lockgate.config import schema
from lockgate.config.errors import ConfigError, Severity, SourceContext
from lockgate.config.limits import DEFAULT_LIMITS, ReadBudget, ReadLimits, size_text
from lockgate.config.objects import REPO_OBJECT_KINDS, TENANT_OBJECT_KINDS, ConfigObject
from lockgate.config.schema.pipeline import trigger_deprecations
from lockgate.config.yaml import load_config_yaml


class ProjectLike(Protocol):
    """What the parser needs of a ``TenantProject``."""

    @property
    def name(self) -> str: ...
    @property
    def trusted(self) -> bool: ...
    @property
    def connection(self) -> str: ...
    def loads(self, kind: str) -> bool: ...


@dataclass
class ParseResult:
    """What one project-branch's files yielded."""

    objects: list[ConfigObject] = field(default_factory=list)
    errors: list[ConfigError] = field(default_factory=list)
    # Objects left out by the tenant's include/exclude rules, by kind.
    excluded: Counter[str] = field(default_factory=Counter)


def _envelope_error(value: Any) -> str | None:
    if not isinstance(value, dict):
        return (
            f"each configuration item must be a mapping with one key naming the object "
            f"type, got {schema.describe(value)}"
        )
    if len(value) != 1:
        keys = ", ".join(f"'{k}'" for k in value)
        return (
            f"each configuration item must have exactly one key naming the object type, "
            f"found {len(value)} ({keys}); is the indentation right?"
        )
    return None


def _unknown_kind_message(kind: Any) -> str:
    extra = ""
    if kind in TENANT_OBJECT_KINDS:
        extra = f" ({kind} objects belong in the tenant config, not in a repository)"
    else:
        close = schema.suggest(kind, REPO_OBJECT_KINDS)
        if close:
            extra = f" (did you mean '{close}'?)"
    return f"unknown configuration object type '{kind}'{extra}"


def parse_files(
    files: Mapping[str, str | bytes] | Iterable[tuple[str, str | bytes]],
    project: ProjectLike,
    branch: str | None,
    *,
    connections: Mapping[str, str] | None = None,
    limits: ReadLimits = DEFAULT_LIMITS,
) -> ParseResult:
    """Parse a project-branch's configuration files (already discovered).

    The files share one ``ReadBudget`` of ``limits``: past the branch's
    byte total the remaining files are reported and not read.
    """
    result = ParseResult()
    budget = ReadBudget(limits)
    pairs = files.items() if isinstance(files, Mapping) else files
    for path, text in pairs:
        file_context = SourceContext(
            project=project.name,
            branch=branch,
            path=path,
            trusted=project.trusted,
            connection=project.connection,
        )
        if budget.objects >= limits.max_objects:
            continue  # said once, where the bound was reached
        if len(text) <= limits.max_file_bytes and not budget.take_bytes(len(text)):
            result.errors.append(
                ConfigError(
                    f"the configuration files of this project-branch are larger than "
                    f"{size_text(limits.max_branch_bytes)} together (the limit); this file "
                    "is not read",
                    file_context,
                    key="branch-too-large",
                )
            )
            continue
        _parse_one(text, file_context, project, result, connections, budget)
    return result


def _parse_one(
    text: str | bytes,
    file_context: SourceContext,
    project: ProjectLike,
    result: ParseResult,
    connections: Mapping[str, str] | None,
    budget: ReadBudget,
) -> None:
    doc = load_config_yaml(text, file_context, budget)
    result.errors.extend(doc.errors)
    for item in doc.items:
        context = SourceContext(
            project=file_context.project,
            branch=file_context.branch,
            path=file_context.path,
            line=item.line,
            trusted=file_context.trusted,
            connection=file_context.connection,
        )
        value = item.value
        problem = _envelope_error(value)
        if problem:
            result.errors.append(ConfigError(problem, context, key="config-item"))
            continue
        ((kind, body),) = value.items()
        if kind not in REPO_OBJECT_KINDS:
            result.errors.append(
                ConfigError(_unknown_kind_message(kind), context, key="unknown-object-type")
            )
            continue
        if not project.loads(kind):
            result.excluded[kind] += 1
            continue
        name = body.get("name") if isinstance(body, dict) else None
        name = name if isinstance(name, str) else None
        if body is None and kind in ("project", "pragma"):
            body = {}
        if kind == "project" and name is None and isinstance(body, dict) and "name" not in body:
            name = project.name
        if kind == "pipeline" and not project.trusted:
            result.errors.append(
                ConfigError(
                    "pipelines may only be defined in config projects",
                    context,
                    kind,
                    name,
                    key="pipeline-in-untrusted-project",
                )
            )
            continue
        if kind == "pipeline":
            for message, zuul_kind in trigger_deprecations(body, connections):
                result.errors.append(
                    ConfigError(
                        message,
                        context,
                        kind,
                        name,
                        severity=Severity.WARNING,
                        key="deprecated",
                        kind=zuul_kind,
                    )
                )
        problems = schema.validate(kind, body, name=name, connections=connections)
        if problems:
            for p in problems:
                result.errors.append(
                    ConfigError(
                        p.message,
                        context,
                        kind,
                        name,
                        key=p.key,
                        extra={"path": schema.format_path(p.path)},
                    )
                )
            continue
        result.objects.append(ConfigObject(kind=kind, name=name, body=body, context=context))


def parse_project_files(
    files: Mapping[str, str | bytes] | Iterable[tuple[str, str | bytes]],
    project: ProjectLike,
    branch: str | None,
    *,
    connections: Mapping[str, str] | None = None,
    limits: ReadLimits = DEFAULT_LIMITS,
) -> tuple[list[ConfigObject], list[ConfigError]]:
    """``(objects, errors)`` for a project-branch's discovered config files.

    ``files`` are the files discovery chose, in load order (a mapping keeps
    its insertion order).  ``connections`` maps connection names to driver
    names; when given, pipeline trigger and reporter sections are checked
    against it.  Use ``parse_files`` to also learn how many objects the
    tenant's include/exclude rules kept out.
    """
    result = parse_files(files, project, branch, connections=connections, limits=limits)
    return result.objects, result.errors
