"""``lockgate config check``: validate configuration offline, without servers.

Two forms:

- ``lockgate config check --tenant-config main.yaml [--tenant NAME] --repos DIR``
  reads the tenant config, then for each project of the tenant (each tenant
  if ``--tenant`` is not given) the folder ``DIR/<project name>``; a missing
  folder is a project without configuration.  Connections named in the
  tenant config need no service configuration.
- ``lockgate config check REPO_DIR...`` loads the folders in the order given
  as one tenant; the first is its config project, the others untrusted
  projects, each named after its folder.

Folders are read as they are on disk (no git): a config project as its
``load-branch``, an untrusted project as one branch, ``master``.  Nothing
outside a folder is read, and reading is bounded (``lockgate.config.limits``).

``-c FILE`` gives the service config: pipeline triggers, requirements and
reporters are checked against its connections with each driver's schema,
and nodesets against the labels of its launcher providers.  Without it, the
tenant form checks pipelines against the connections the tenant config's
sources name (each taken to use the driver of its name, if there is one);
the positional form then does not check connections.  Deprecated forms are
warnings, printed with ``warning:``.

It prints each error as ``path:line: object 'name': message`` (the path as
on disk), then one summary line per tenant with the number of objects of
each type loaded, and exits 0 if there was no error, 1 if there was, 2 on
a usage error.  ``--json`` prints the same as one JSON document.  It never
shows a traceback: whatever the input, the answer is errors.

``lockgate.cli`` dispatches ``lockgate config check ...`` to ``main(argv)``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, NoReturn, TextIO

from lockgate.config.discovery import discover_on_disk
from lockgate.config.errors import ConfigError, Severity, SourceContext
from lockgate.config.loader import ParsedTenant, build, project_branches
from lockgate.config.parser import parse_files
from lockgate.config.site import connection_drivers, provider_labels, source_connections
from lockgate.config.tenant import TenantProject, TenantSource, TenantSpec, parse_tenant_config
from lockgate.service_config import ServiceConfig, ServiceConfigError

EXIT_OK = 0
EXIT_ERRORS = 1
EXIT_USAGE = 2


class _UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of exiting, so main() decides the code."""

    def error(self, message: str) -> NoReturn:
        raise _UsageError(message)


def _argument_parser() -> _Parser:
    parser = _Parser(
        prog="lockgate config check",
        description="Validate Zuul configuration offline and report every error.",
    )
    parser.add_argument(
        "repo_dirs",
        nargs="*",
        metavar="REPO_DIR",
        help="repository folders in load order; the first is a config project",
    )
    parser.add_argument("--tenant-config", metavar="FILE", help="a tenant config (main.yaml)")
    parser.add_argument("--tenant", metavar="NAME", help="check only this tenant")
    parser.add_argument(
        "--repos",
        metavar="DIR",
        help="folder holding one sub-folder per project, named as in the tenant config",
    )
    parser.add_argument(
        "--config-projects",
        type=int,
        default=1,
        metavar="N",
        help="with REPO_DIRs: how many leading folders are config projects (default 1)",
    )
    parser.add_argument(
        "-c",
        "--config",
        metavar="FILE",
        help="the service config (zuul.conf's shape): pipelines are checked against its "
        "connections' drivers and nodesets against its providers' labels (without it: the "
        "connections the tenant config's sources name)",
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    return parser


@dataclass(frozen=True)
class Site:
    """What the check knows of the site: connection -> driver (None: do not
    check connections) and the providers' labels (None: do not check)."""

    connections: dict[str, str] | None = None
    labels: frozenset[str] | None = None


def _service_site(path: str | None) -> Site | None:
    if path is None:
        return None
    try:
        config = ServiceConfig.load(path)
    except ServiceConfigError as exc:
        raise _UsageError(str(exc)) from exc
    return Site(connection_drivers(config), provider_labels(config))


@dataclass
class TenantReport:
    """The outcome of checking one tenant."""

    name: str
    errors: list[ConfigError] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    excluded: dict[str, int] = field(default_factory=dict)
    projects_with_config: int = 0
    # Positional form: project references that could not be checked.
    unchecked_project_references: int = 0

    @property
    def error_count(self) -> int:
        return sum(1 for e in self.errors if e.severity is Severity.ERROR)

    @property
    def warning_count(self) -> int:
        return sum(1 for e in self.errors if e.severity is Severity.WARNING)


@dataclass
class CheckResult:
    """Everything a check run found (what ``--json`` prints)."""

    tenants: list[TenantReport] = field(default_factory=list)
    # Errors not tied to one tenant (the tenant config file itself).
    errors: list[ConfigError] = field(default_factory=list)

    @property
    def error_count(self) -> int:
        own = sum(1 for e in self.errors if e.severity is Severity.ERROR)
        return own + sum(t.error_count for t in self.tenants)


def _on_disk(error: ConfigError, folders: dict[str, str]) -> ConfigError:
    """Point an error's path at the file on disk, so a user can open it."""
    ctx = error.context
    if ctx is None or ctx.project not in folders or not ctx.path:
        return error
    path = os.path.join(folders[ctx.project], ctx.path)
    return replace(error, context=replace(ctx, path=path))


def _check_tenant(tenant: TenantSpec, folders: dict[str, str], site: Site) -> TenantReport:
    """Read the folders of a tenant's projects, parse, build the layout."""
    report = TenantReport(tenant.name)
    parsed = ParsedTenant()
    excluded: Counter[str] = Counter()
    for project in tenant.projects:
        objects = []
        branches = project_branches(project, lambda p: ["master"])
        parsed.branches[project.name] = branches
        folder = folders.get(project.name)
        if folder is not None and project.include and os.path.isdir(folder):
            branch = branches[0]
            context = SourceContext(
                project=project.name,
                branch=branch,
                path="",
                trusted=project.trusted,
                connection=project.connection,
            )
            files, errors = discover_on_disk(folder, project.extra_config_paths, context)
            parsed.errors.extend(errors)
            result = parse_files(files, project, branch, connections=site.connections)
            objects = result.objects
            parsed.errors.extend(result.errors)
            excluded.update(result.excluded)
            if files:
                report.projects_with_config += 1
        parsed.projects.append((project, objects))
    layout = build(tenant, parsed, site.labels)
    report.errors = [_on_disk(e, folders) for e in layout.errors]
    report.counts = dict(layout.counts())
    report.excluded = dict(excluded)
    return report


def _tenant_form(args: argparse.Namespace) -> CheckResult:
    result = CheckResult()
    path = args.tenant_config
    try:
        with open(path, "rb") as handle:
            text = handle.read()
    except OSError as exc:
        raise _UsageError(f"cannot read tenant config {path}: {exc.strerror or exc}") from exc
    if not os.path.isdir(args.repos):
        raise _UsageError(f"--repos {args.repos}: not a folder")
    config = parse_tenant_config(text, path)
    result.errors.extend(config.errors)
    site = _service_site(args.config) or Site(connections=source_connections(config))
    names = list(config.tenants)
    if args.tenant is not None:
        if args.tenant not in config.tenants:
            known = ", ".join(names) or "none"
            result.errors.append(
                ConfigError(
                    f"tenant '{args.tenant}' is not defined in {path} (tenants: {known})",
                    SourceContext(project="<tenant-config>", branch=None, path=path),
                    key="unknown-tenant",
                )
            )
            return result
        names = [args.tenant]
    for name in names:
        tenant = config.tenants[name]
        folders = {p.name: os.path.join(args.repos, p.name) for p in tenant.projects}
        result.tenants.append(_check_tenant(tenant, folders, site))
    return result


def _positional_form(dirs: Sequence[str], config_projects: int, site: Site) -> CheckResult:
    folders: dict[str, str] = {}
    projects: list[TenantProject] = []
    for index, folder in enumerate(dirs):
        if not os.path.isdir(folder):
            raise _UsageError(f"{folder}: not a folder")
        name = os.path.basename(os.path.normpath(os.path.abspath(folder)))
        if name in folders:
            raise _UsageError(
                f"two folders are named '{name}'; project names come from "
                f"folder names and must differ"
            )
        folders[name] = folder
        trusted = index < config_projects
        projects.append(
            TenantProject(
                name=name,
                connection="local",
                trusted=trusted,
                load_branch="master" if trusted else None,
                allow_base_jobs=trusted,
            )
        )
    tenant = TenantSpec(
        name="check",
        sources=(
            TenantSource(
                "local", tuple(projects[:config_projects]), tuple(projects[config_projects:])
            ),
        ),
    )
    report = _check_tenant(tenant, folders, site)
    # Without a tenant config nothing says which other projects exist, so a
    # job's required-projects, roles and include-vars projects cannot be
    # checked: leave those errors out, and say how many were left out.
    kept = [e for e in report.errors if e.key not in ("unknown-project", "project-not-found")]
    report.unchecked_project_references = len(report.errors) - len(kept)
    report.errors = kept
    return CheckResult(tenants=[report])


def _summary(report: TenantReport) -> str:
    counts = ", ".join(f"{n} {kind}" for kind, n in report.counts.items())
    line = (
        f"tenant '{report.name}': loaded {counts}; "
        f"{report.error_count} error(s), {report.warning_count} warning(s)"
    )
    if report.excluded:
        total = sum(report.excluded.values())
        line += f"; {total} object(s) left out by include/exclude"
    if report.unchecked_project_references:
        line += (
            f"; {report.unchecked_project_references} reference(s) to other projects "
            "not checked (no tenant config)"
        )
    return line


def _print_text(result: CheckResult, out: TextIO) -> None:
    for error in result.errors:
        out.write(error.format() + "\n")
    for report in result.tenants:
        for error in report.errors:
            prefix = "warning: " if error.severity is Severity.WARNING else ""
            out.write(prefix + error.format() + "\n")
    for report in result.tenants:
        out.write(_summary(report) + "\n")


def _error_json(error: ConfigError) -> dict[str, Any]:
    data = error.to_api()
    data["location"] = error.format()
    return data


def to_json(result: CheckResult) -> dict[str, Any]:
    return {
        "errors": [_error_json(e) for e in result.errors],
        "tenants": [
            {
                "name": r.name,
                "errors": [_error_json(e) for e in r.errors],
                "counts": r.counts,
                "excluded": r.excluded,
                "unchecked_project_references": r.unchecked_project_references,
                "error_count": r.error_count,
                "warning_count": r.warning_count,
            }
            for r in result.tenants
        ],
        "error_count": result.error_count,
    }


def run(argv: Sequence[str]) -> tuple[int, CheckResult | None, str | None]:
    """The check without printing: (exit code, result, usage message)."""
    try:
        args = _argument_parser().parse_args(list(argv))
        if args.tenant_config or args.repos:
            if not (args.tenant_config and args.repos):
                raise _UsageError("--tenant-config and --repos go together")
            if args.repo_dirs:
                raise _UsageError("give either --tenant-config/--repos or REPO_DIRs, not both")
            result = _tenant_form(args)
        elif args.repo_dirs:
            if args.tenant:
                raise _UsageError("--tenant needs --tenant-config")
            if not 1 <= args.config_projects <= len(args.repo_dirs):
                raise _UsageError("--config-projects must be between 1 and the number of REPO_DIRs")
            site = _service_site(args.config) or Site()
            result = _positional_form(args.repo_dirs, args.config_projects, site)
        else:
            raise _UsageError("nothing to check: give --tenant-config and --repos, or REPO_DIRs")
    except _UsageError as exc:
        return EXIT_USAGE, None, str(exc)
    return (EXIT_ERRORS if result.error_count else EXIT_OK), result, None


def main(
    argv: Sequence[str] | None = None, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    """Entry point of ``lockgate config check``; returns the exit code."""
    out = out or sys.stdout
    err = err or sys.stderr
    argv = sys.argv[1:] if argv is None else argv
    want_json = "--json" in argv
    try:
        code, result, usage = run(argv)
    except Exception as exc:  # noqa: BLE001 - the contract is: never a traceback
        message = f"internal error while checking: {type(exc).__name__}: {exc}"
        if want_json:
            out.write(json.dumps({"internal_error": message}) + "\n")
        else:
            err.write(f"lockgate config check: {message}\n")
        return EXIT_ERRORS
    if usage is not None:
        err.write(f"lockgate config check: {usage}\n")
        if want_json:
            out.write(json.dumps({"usage_error": usage}) + "\n")
        return code
    assert result is not None
    if want_json:
        out.write(json.dumps(to_json(result), indent=2, default=str) + "\n")
    else:
        _print_text(result, out)
    return code


if __name__ == "__main__":
    sys.exit(main())
