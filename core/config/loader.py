"""Load a tenant: read every project's files, parse them, build the layout.

Called by the scheduler (which reads files out of git through its merger
and passes callbacks) and by ``lockgate config check`` (which reads
folders).  For each project of the tenant, in load order, and each branch
it loads (config projects: their ``load-branch`` only; untrusted projects:
every branch the ``branches`` callback returns), it runs discovery, the
parser, and finally ``lockgate.config.layout.build_layout``.  Reading and
parsing errors are added to the layout's errors, so the caller finds every
problem in one list.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from lockgate.config.discovery import discover_in_mapping
from lockgate.config.errors import ConfigError, SourceContext
from lockgate.config.objects import ConfigObject
from lockgate.config.parser import parse_files
from lockgate.config.tenant import TenantProject, TenantSpec

ReadFiles = Callable[[TenantProject, str], Mapping[str, str | bytes] | None]
ListBranches = Callable[[TenantProject], Sequence[str]]


@dataclass
class ParsedTenant:
    """Every project's parsed objects, before the layout is built."""

    projects: list[tuple[TenantProject, list[ConfigObject]]] = field(default_factory=list)
    branches: dict[str, list[str]] = field(default_factory=dict)
    errors: list[ConfigError] = field(default_factory=list)
    excluded: Counter[str] = field(default_factory=Counter)


def project_branches(project: TenantProject, branches: ListBranches) -> list[str]:
    """The branches whose configuration a project contributes.

    A config project is read from its ``load-branch`` only; an untrusted
    project from every branch (the scheduler's callback applies the branch
    filters: protected, locked, include/exclude-branches).
    """
    if project.trusted:
        return [project.load_branch or "master"]
    return list(branches(project))


def parse_tenant_projects(
    tenant: TenantSpec,
    read_files: ReadFiles,
    branches: ListBranches,
    connections: Mapping[str, str] | None = None,
) -> ParsedTenant:
    """Discovery and parsing for every project-branch of a tenant."""
    parsed = ParsedTenant()
    for project in tenant.projects:
        objects: list[ConfigObject] = []
        project_branch_list = project_branches(project, branches)
        parsed.branches[project.name] = project_branch_list
        if not project.include:
            # ``include: []``: the project is there for required-projects only.
            parsed.projects.append((project, objects))
            continue
        for branch in project_branch_list:
            files = read_files(project, branch)
            if not files:
                continue
            context = SourceContext(
                project=project.name,
                branch=branch,
                path="",
                trusted=project.trusted,
                connection=project.connection,
            )
            chosen, errors = discover_in_mapping(files, project.extra_config_paths, context)
            parsed.errors.extend(errors)
            result = parse_files(chosen, project, branch, connections=connections)
            objects.extend(result.objects)
            parsed.errors.extend(result.errors)
            parsed.excluded.update(result.excluded)
        parsed.projects.append((project, objects))
    return parsed


def build(tenant: TenantSpec, parsed: ParsedTenant, labels: Iterable[str] | None = None) -> Any:
    """The layout of ``parsed``; reading errors come first in its errors.
    ``labels``: the node labels the site's providers offer (None: unknown)."""
    from lockgate.config.layout import build_layout

    layout = build_layout(tenant, parsed.projects, branches=dict(parsed.branches), labels=labels)
    layout.errors[:0] = parsed.errors
    return layout


def load_tenant(
    tenant: TenantSpec,
    read_files: ReadFiles,
    branches: ListBranches,
    connections: Mapping[str, str] | None = None,
    labels: Iterable[str] | None = None,
) -> Any:
    """Read, parse and build a tenant's ``Layout``.

    ``read_files(project, branch)`` returns the project-branch's files as
    ``{path: text}`` (at least the configuration roots and extra paths; any
    other files are ignored) or None if it has none; ``branches(project)``
    lists an untrusted project's branches.  ``connections`` (connection ->
    driver name) enables driver checks of pipeline triggers and reporters;
    ``labels`` (the providers' node labels, ``lockgate.config.site``)
    enables checking the labels nodesets use.
    """
    parsed = parse_tenant_projects(tenant, read_files, branches, connections)
    return build(tenant, parsed, labels)
