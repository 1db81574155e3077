"""Speculative configuration: the layout a change item runs with.

Who calls it: the tenant processor, for a change item whose merge is done,
before it hands the item to the decision core (``Speculation`` in the
snapshot).  The merger's answer carries the configuration files of every
project-branch the item's changes touch, read at the merged state; where
they differ from what the tenant loaded, they are parsed and a speculative
layout is built (``lockgate.config.speculative``): the errors the change
introduces are reported on it, with file comments at the lines they name,
and its jobs are frozen on that layout.

Pure given the tenant and the merge answer (no git: the merger read the
files), so a result can be cached by merge request.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from lockgate.config.discovery import discover_in_mapping
from lockgate.config.errors import ConfigError, Severity, SourceContext
from lockgate.config.parser import parse_files
from lockgate.config.speculative import ConfigEdit, build_speculative_layout
from lockgate.scheduler.manager.snapshot import Speculation


def digest(files: Mapping[str, str] | None) -> str:
    """The digest the tenant loader keeps of a project-branch's files."""
    data = json.dumps(sorted((files or {}).items())).encode()
    return hashlib.sha256(data).hexdigest()


def speculate(
    tenant: Any,
    config: Mapping[str, Mapping[str, Mapping[str, str]]],
    drivers: Mapping[str, str] | None = None,
) -> Speculation | None:
    """The item's ``Speculation``, or None when its merged state changes no
    configuration the tenant reads.  ``config``: project -> branch ->
    {path: text} as the merger read them; ``tenant``: the scheduler's
    ``Tenant`` (spec, layout, the digests of what it loaded)."""
    edits: list[ConfigEdit] = []
    for project_name, branches in sorted(config.items()):
        project = tenant.spec.project(project_name)
        if project is None or not project.include:
            continue
        for branch, files in sorted(branches.items()):
            if project.trusted and branch != (project.load_branch or "master"):
                continue
            loaded = tenant.config_digests.get((project.name, branch))
            if loaded == digest(files) or (loaded is None and not files):
                continue
            edits.append(_edit(project, branch, files, drivers))
    if not edits:
        return None
    result = build_speculative_layout(tenant.layout, edits)
    errors = [e for e in result.new_errors if e.severity is Severity.ERROR]
    if errors:
        return Speculation(errors=tuple(e.format() for e in errors), comments=file_comments(errors))
    return Speculation(layout=result.layout, previous_layout=tenant.layout)


def _edit(project: Any, branch: str, files: Mapping[str, str], drivers: Any) -> ConfigEdit:
    context = SourceContext(
        project=project.name,
        branch=branch,
        path="",
        trusted=project.trusted,
        connection=project.connection,
    )
    chosen, errors = discover_in_mapping(dict(files), project.extra_config_paths, context)
    parsed = parse_files(chosen, project, branch, connections=drivers)
    return ConfigEdit(
        project=project.name,
        branch=branch,
        objects=list(parsed.objects),
        errors=list(errors) + list(parsed.errors),
    )


def file_comments(errors: list[ConfigError]) -> dict[str, list[dict[str, Any]]]:
    """Errors as review comments on the files and lines they name."""
    out: dict[str, list[dict[str, Any]]] = {}
    for error in errors:
        ctx = error.context
        if ctx is None or not ctx.path:
            continue
        comment: dict[str, Any] = {"message": error.message}
        if ctx.line:
            comment["line"] = ctx.line
        out.setdefault(ctx.path, []).append(comment)
    return out
