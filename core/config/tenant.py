"""The tenant config (``main.yaml``): tenants, their projects, rules, semaphores.

Called by the scheduler (on start and on a tenant reconfiguration) and by
``lockgate config check``.  ``parse_tenant_config(text, path)`` reads the
file, validates every object with ``lockgate.config.schema`` and returns a
``TenantConfig``: one ``TenantSpec`` per tenant (every attribute with
Zuul's default filled in), its projects as ``TenantProject`` records in load
order (project groups expanded, include/exclude resolved), the authorization
rules, global semaphores and the api-root.  Problems are ``ConfigError``
records in ``TenantConfig.errors``; a broken tenant is left out, the others
are kept.

What comes next: ``lockgate.config.loader.load_tenant`` reads each
project's files and builds the tenant's layout.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from lockgate.config import schema
from lockgate.config.errors import ConfigError, SourceContext
from lockgate.config.limits import TENANT_CONFIG_LIMITS, ReadBudget
from lockgate.config.objects import REPO_OBJECT_KINDS, TENANT_OBJECT_KINDS
from lockgate.config.yaml import load_config_yaml

# Classes a project loads unless ``include``/``exclude`` say otherwise.
# ``pragma`` is not a class one includes: it always applies to its file.
DEFAULT_CLASSES: frozenset[str] = frozenset(schema.PROJECT_CLASSES)


@dataclass(frozen=True)
class TenantProject:
    """One project of a tenant and how its configuration is loaded."""

    name: str
    connection: str
    trusted: bool  # a config project
    # Object classes that are loaded from this project (after include/exclude).
    include: frozenset[str] = DEFAULT_CLASSES
    # Classes explicitly excluded (informational; already removed from include).
    exclude: frozenset[str] = frozenset()
    load_branch: str | None = None  # config projects only; "master" by default
    extra_config_paths: tuple[str, ...] = ()
    shadow: tuple[str, ...] = ()
    # None means "the tenant's setting".
    exclude_unprotected_branches: bool | None = None
    exclude_locked_branches: bool | None = None
    include_branches: tuple[str, ...] = ()
    exclude_branches: tuple[str, ...] = ()
    always_dynamic_branches: tuple[str, ...] = ()
    implied_branch_matchers: bool | None = None
    configure_projects: tuple[str, ...] = ()  # untrusted projects only
    allow_circular_dependencies: bool | None = None
    # Whether the project may define base jobs (jobs with ``parent: null``).
    # Defaults to ``trusted``: only config projects may.
    allow_base_jobs: bool = False
    include_provider_config: bool = False
    context: SourceContext | None = field(default=None, compare=False)

    def loads(self, kind: str) -> bool:
        """Whether objects of ``kind`` from this project are loaded."""
        return kind == "pragma" or kind in self.include


@dataclass(frozen=True)
class TenantSource:
    """The projects a tenant takes from one connection."""

    connection: str
    config_projects: tuple[TenantProject, ...] = ()
    untrusted_projects: tuple[TenantProject, ...] = ()


@dataclass(frozen=True)
class TenantSpec:
    """A tenant as the tenant config defines it, with Zuul's defaults."""

    name: str
    sources: tuple[TenantSource, ...] = ()
    max_changes_per_pipeline: int | None = None
    max_dependencies: int | None = None
    max_nodes_per_job: int = 5
    max_job_timeout: int = 10800
    max_oidc_ttl: int | None = None
    allowed_oidc_issuers: tuple[str, ...] = ()
    exclude_unprotected_branches: bool = False
    exclude_locked_branches: bool = False
    allowed_triggers: tuple[str, ...] | None = None  # None: every connection
    allowed_reporters: tuple[str, ...] | None = None  # None: every connection
    allowed_labels: tuple[str, ...] | None = None  # None: every label
    disallowed_labels: tuple[str, ...] = ()
    allow_circular_dependencies: bool = False
    default_parent: str = "base"
    default_ansible_version: str | None = None
    access_rules: tuple[str, ...] = ()
    admin_rules: tuple[str, ...] = ()
    semaphores: tuple[str, ...] = ()  # global semaphores this tenant may use
    # Those global semaphores' definitions (filled from the tenant config).
    global_semaphores: tuple[GlobalSemaphore, ...] = ()
    authentication_realm: str | None = None
    web_root: str | None = None
    use_nodepool: bool | None = None
    context: SourceContext | None = field(default=None, compare=False)

    @property
    def config_projects(self) -> tuple[TenantProject, ...]:
        """Config projects of every source, in the order listed."""
        return tuple(p for s in self.sources for p in s.config_projects)

    @property
    def untrusted_projects(self) -> tuple[TenantProject, ...]:
        return tuple(p for s in self.sources for p in s.untrusted_projects)

    @property
    def projects(self) -> tuple[TenantProject, ...]:
        """Every project in load order: all config projects, then the rest."""
        return self.config_projects + self.untrusted_projects

    @property
    def connections(self) -> tuple[str, ...]:
        return tuple(s.connection for s in self.sources)

    def project(self, name: str) -> TenantProject | None:
        for p in self.projects:
            if p.name == name:
                return p
        return None


@dataclass(frozen=True)
class AuthorizationRule:
    name: str
    conditions: tuple[dict[str, Any], ...]
    context: SourceContext | None = field(default=None, compare=False)


@dataclass(frozen=True)
class GlobalSemaphore:
    name: str
    max: int = 1
    context: SourceContext | None = field(default=None, compare=False)


@dataclass(frozen=True)
class ApiRoot:
    authentication_realm: str | None = None
    access_rules: tuple[str, ...] = ()


@dataclass
class TenantConfig:
    """Everything a tenant config file defines, and what was wrong with it."""

    tenants: dict[str, TenantSpec] = field(default_factory=dict)
    authorization_rules: dict[str, AuthorizationRule] = field(default_factory=dict)
    global_semaphores: dict[str, GlobalSemaphore] = field(default_factory=dict)
    api_root: ApiRoot = field(default_factory=ApiRoot)
    errors: list[ConfigError] = field(default_factory=list)


def _as_tuple(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, list):
        return tuple(value)
    return (value,)


def _classes(value: Any) -> frozenset[str] | None:
    if value is None:
        return None
    return frozenset(_as_tuple(value))


def _resolve_include(
    include: frozenset[str] | None, exclude: frozenset[str] | None
) -> tuple[frozenset[str], frozenset[str]]:
    loaded = DEFAULT_CLASSES if include is None else include
    excluded = exclude or frozenset()
    return loaded - excluded, excluded


class _TenantParser:
    """Turns one validated ``tenant`` body into a ``TenantSpec``."""

    def __init__(
        self, body: dict[str, Any], context: SourceContext, errors: list[ConfigError]
    ) -> None:
        self.body = body
        self.context = context
        self.errors = errors
        self.name: str = body["name"]
        self.seen: set[tuple[str, str]] = set()

    def error(self, message: str, key: str = "tenant") -> None:
        self.errors.append(ConfigError(message, self.context, "tenant", self.name, key=key))

    def parse(self) -> TenantSpec:
        b = self.body
        sources = []
        for conn, section in (b.get("source") or {}).items():
            section = section or {}
            config = self._projects(conn, section.get("config-projects") or [], True)
            untrusted = self._projects(conn, section.get("untrusted-projects") or [], False)
            sources.append(TenantSource(conn, tuple(config), tuple(untrusted)))

        def opt_tuple(key: str) -> tuple[str, ...] | None:
            return _as_tuple(b[key]) if key in b else None

        version = b.get("default-ansible-version")
        return TenantSpec(
            name=self.name,
            sources=tuple(sources),
            max_changes_per_pipeline=b.get("max-changes-per-pipeline"),
            max_dependencies=b.get("max-dependencies"),
            max_nodes_per_job=b.get("max-nodes-per-job", 5),
            max_job_timeout=b.get("max-job-timeout", 10800),
            max_oidc_ttl=b.get("max-oidc-ttl"),
            allowed_oidc_issuers=_as_tuple(b.get("allowed-oidc-issuers")),
            exclude_unprotected_branches=b.get("exclude-unprotected-branches", False),
            exclude_locked_branches=b.get("exclude-locked-branches", False),
            allowed_triggers=opt_tuple("allowed-triggers"),
            allowed_reporters=opt_tuple("allowed-reporters"),
            allowed_labels=opt_tuple("allowed-labels"),
            disallowed_labels=_as_tuple(b.get("disallowed-labels")),
            allow_circular_dependencies=b.get("allow-circular-dependencies", False),
            default_parent=b.get("default-parent", "base"),
            default_ansible_version=None if version is None else str(version),
            access_rules=_as_tuple(b.get("access-rules")),
            admin_rules=_as_tuple(b.get("admin-rules")),
            semaphores=_as_tuple(b.get("semaphores")),
            authentication_realm=b.get("authentication-realm"),
            web_root=b.get("web-root"),
            use_nodepool=b.get("use-nodepool"),
            context=self.context,
        )

    def _projects(
        self,
        conn: str,
        entries: list[Any],
        trusted: bool,
        group_include: frozenset[str] | None = None,
        group_exclude: frozenset[str] | None = None,
    ) -> list[TenantProject]:
        out: list[TenantProject] = []
        for entry in entries:
            if isinstance(entry, dict) and "projects" in entry:
                include = _classes(entry.get("include"))
                exclude = _classes(entry.get("exclude"))
                out.extend(
                    self._projects(
                        conn,
                        entry.get("projects") or [],
                        trusted,
                        include if include is not None else group_include,
                        exclude if exclude is not None else group_exclude,
                    )
                )
                continue
            if isinstance(entry, str):
                name, options = entry, {}
            else:
                ((name, options),) = entry.items()
                options = options or {}
            project = self._project(conn, name, options, trusted, group_include, group_exclude)
            if project is not None:
                out.append(project)
        return out

    def _project(
        self,
        conn: str,
        name: str,
        options: dict[str, Any],
        trusted: bool,
        group_include: frozenset[str] | None,
        group_exclude: frozenset[str] | None,
    ) -> TenantProject | None:
        if (conn, name) in self.seen:
            self.error(
                f"project '{name}' of connection '{conn}' is listed more than once",
                "duplicate-project",
            )
            return None
        self.seen.add((conn, name))
        if trusted and "configure-projects" in options:
            self.error(
                f"'configure-projects' is only allowed on untrusted projects (project '{name}')"
            )
        if not trusted and "load-branch" in options:
            self.error(f"'load-branch' is only allowed on config projects (project '{name}')")
        include = _classes(options.get("include"))
        exclude = _classes(options.get("exclude"))
        loaded, excluded = _resolve_include(
            include if include is not None else group_include,
            exclude if exclude is not None else group_exclude,
        )
        return TenantProject(
            name=name,
            connection=conn,
            trusted=trusted,
            include=loaded,
            exclude=excluded,
            load_branch=options.get("load-branch", "master") if trusted else None,
            extra_config_paths=_as_tuple(options.get("extra-config-paths")),
            shadow=_as_tuple(options.get("shadow")),
            exclude_unprotected_branches=options.get("exclude-unprotected-branches"),
            exclude_locked_branches=options.get("exclude-locked-branches"),
            include_branches=_regex_tuple(options.get("include-branches")),
            exclude_branches=_regex_tuple(options.get("exclude-branches")),
            always_dynamic_branches=_regex_tuple(options.get("always-dynamic-branches")),
            implied_branch_matchers=options.get("implied-branch-matchers"),
            configure_projects=_as_tuple(options.get("configure-projects")),
            allow_circular_dependencies=options.get("allow-circular-dependencies"),
            allow_base_jobs=options.get("allow-base-jobs", trusted),
            include_provider_config=options.get("include-provider-config", False),
            context=self.context,
        )


def _regex_tuple(value: Any) -> tuple[str, ...]:
    """Branch regexes; the ``{regex, negate}`` form is kept as its pattern text."""
    out = []
    for item in _as_tuple(value):
        if isinstance(item, dict):
            pattern = item["regex"]
            out.append(f"(?!{pattern})" if item.get("negate") else pattern)
        else:
            out.append(item)
    return tuple(out)


def parse_tenant_config(text: str | bytes, path: str = "main.yaml") -> TenantConfig:
    """Read a tenant config file; every problem becomes a ``ConfigError``."""
    result = TenantConfig()
    file_context = SourceContext(project="<tenant-config>", branch=None, path=path, trusted=True)
    doc = load_config_yaml(text, file_context, ReadBudget(TENANT_CONFIG_LIMITS))
    result.errors.extend(doc.errors)
    api_roots = 0
    for item in doc.items:
        context = replace(file_context, line=item.line)
        value = item.value
        if not isinstance(value, dict) or len(value) != 1:
            result.errors.append(
                ConfigError(
                    "each item of a tenant config must be a mapping with one key naming the "
                    "object type (tenant, authorization-rule, global-semaphore, api-root)",
                    context,
                    key="tenant-config",
                )
            )
            continue
        ((kind, body),) = value.items()
        if kind not in TENANT_OBJECT_KINDS:
            hint = schema.suggest(kind, TENANT_OBJECT_KINDS)
            extra = ""
            if kind in REPO_OBJECT_KINDS:
                extra = f" ({kind} objects belong in a project's zuul.yaml)"
            elif hint:
                extra = f" (did you mean '{hint}'?)"
            result.errors.append(
                ConfigError(
                    f"unknown tenant config object type '{kind}'{extra}",
                    context,
                    key="unknown-object-type",
                )
            )
            continue
        name = body.get("name") if isinstance(body, dict) else None
        name = name if isinstance(name, str) else None
        if body is None and kind == "api-root":
            body = {}
        problems = schema.validate(kind, body, name=name)
        if problems:
            for problem in problems:
                result.errors.append(
                    ConfigError(problem.message, context, kind, name, key=problem.key)
                )
            continue
        if kind != "api-root":
            assert isinstance(name, str)  # the schema requires a string name
        if kind == "tenant":
            assert name is not None
            if name in result.tenants:
                result.errors.append(
                    ConfigError(
                        f"tenant '{name}' is defined more than once",
                        context,
                        kind,
                        name,
                        key="duplicate-tenant",
                    )
                )
                continue
            result.tenants[name] = _TenantParser(body, context, result.errors).parse()
        elif kind in ("authorization-rule", "admin-rule") and name is not None:
            if name in result.authorization_rules:
                result.errors.append(
                    ConfigError(
                        f"authorization rule '{name}' is defined more than once",
                        context,
                        kind,
                        name,
                        key="duplicate-rule",
                    )
                )
                continue
            conditions = body["conditions"]
            conditions = conditions if isinstance(conditions, list) else [conditions]
            result.authorization_rules[name] = AuthorizationRule(name, tuple(conditions), context)
        elif kind == "global-semaphore" and name is not None:
            result.global_semaphores[name] = GlobalSemaphore(name, body.get("max", 1), context)
        elif kind == "api-root":
            api_roots += 1
            if api_roots > 1:
                result.errors.append(
                    ConfigError(
                        "api-root may appear only once", context, kind, key="duplicate-api-root"
                    )
                )
                continue
            result.api_root = ApiRoot(
                body.get("authentication-realm"), _as_tuple(body.get("access-rules"))
            )
    _check_references(result)
    for name, tenant in list(result.tenants.items()):
        sems = tuple(
            result.global_semaphores[s] for s in tenant.semaphores if s in result.global_semaphores
        )
        result.tenants[name] = replace(tenant, global_semaphores=sems)
    return result


def _check_references(result: TenantConfig) -> None:
    """Rules and global semaphores a tenant names must be defined in the file."""
    for tenant in result.tenants.values():
        for rule in tenant.admin_rules + tenant.access_rules:
            if rule not in result.authorization_rules:
                result.errors.append(
                    ConfigError(
                        f"tenant '{tenant.name}' refers to unknown authorization rule '{rule}'",
                        tenant.context,
                        "tenant",
                        tenant.name,
                        key="unknown-rule",
                    )
                )
        for sem in tenant.semaphores:
            if sem not in result.global_semaphores:
                result.errors.append(
                    ConfigError(
                        f"tenant '{tenant.name}' refers to unknown global semaphore '{sem}'",
                        tenant.context,
                        "tenant",
                        tenant.name,
                        key="unknown-global-semaphore",
                    )
                )
    for rule in result.api_root.access_rules:
        if rule not in result.authorization_rules:
            result.errors.append(
                ConfigError(
                    f"api-root refers to unknown authorization rule '{rule}'",
                    None,
                    "api-root",
                    key="unknown-rule",
                )
            )
