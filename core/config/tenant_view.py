"""What the layout builder needs to know about a tenant and its projects.

The tenant config reader (``lockgate.config.tenant``) produces ``TenantSpec``
and ``TenantProject`` records.  The layout builder reads only a handful of
their attributes; this module names them in one place (``TenantView``,
``ProjectView``) and supplies Zuul's defaults where an attribute is absent,
so the builder, the tests and speculative layouts all see one shape.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from lockgate.config.schema import PROJECT_CLASSES

# The object classes a tenant project may include or exclude.
_OBJECT_CLASSES = frozenset(PROJECT_CLASSES)


def _get(obj: Any, *names: str, default: Any = None) -> Any:
    for name in names:
        if obj is not None and hasattr(obj, name):
            value = getattr(obj, name)
            if value is not None:
                return value
    return default


@dataclass(frozen=True)
class ProjectView:
    """A tenant project as the layout builder sees it."""

    name: str  # as in the tenant config, e.g. "openstack/nova"
    trusted: bool
    connection: str | None = None
    canonical_name: str | None = None  # e.g. "opendev.org/openstack/nova"
    load_classes: frozenset[str] = _OBJECT_CLASSES
    shadow: tuple[str, ...] = ()
    implied_branch_matchers: bool | None = None
    configure_projects: tuple[str, ...] = ()
    allow_base_jobs: bool = True
    branches: tuple[str, ...] = ()

    @property
    def short_name(self) -> str:
        return self.name.rsplit("/", 1)[-1]

    @classmethod
    def of(cls, tp: Any) -> ProjectView:
        """Read a ``TenantProject`` (or anything with the same attributes)."""
        if isinstance(tp, ProjectView):
            return tp
        if type(tp).__name__ == "TenantProject" and hasattr(tp, "include"):
            # The tenant reader's record: read its fields directly (fast path;
            # a tenant may list thousands of projects).
            return cls(
                name=tp.name,
                trusted=tp.trusted,
                connection=tp.connection,
                canonical_name=getattr(tp, "canonical_name", None),
                load_classes=frozenset(tp.include) - frozenset(tp.exclude),
                shadow=tuple(tp.shadow),
                implied_branch_matchers=tp.implied_branch_matchers,
                configure_projects=tuple(tp.configure_projects),
                allow_base_jobs=tp.allow_base_jobs,
                branches=tuple(getattr(tp, "branches", ()) or ()),
            )
        trusted = _get(tp, "trusted", "config_project", "is_config_project")
        if trusted is None:
            kind = str(_get(tp, "kind", "project_type", default="untrusted"))
            trusted = kind.startswith("config")
        include = _get(tp, "include", "include_classes")
        exclude = _get(tp, "exclude", "exclude_classes", default=())
        classes = set(_as_tuple(include)) if include else set(_OBJECT_CLASSES)
        classes -= set(_as_tuple(exclude))
        connection = _get(tp, "connection", "connection_name", "source")
        canonical = _get(tp, "canonical_name")
        if canonical is None:
            host = _get(tp, "canonical_hostname")
            if host:
                canonical = f"{host}/{tp.name}"
        return cls(
            name=tp.name,
            trusted=bool(trusted),
            connection=connection if isinstance(connection, str) else None,
            canonical_name=canonical,
            load_classes=frozenset(classes),
            shadow=_as_tuple(_get(tp, "shadow", default=())),
            implied_branch_matchers=_get(tp, "implied_branch_matchers"),
            configure_projects=_as_tuple(_get(tp, "configure_projects", default=())),
            allow_base_jobs=bool(_get(tp, "allow_base_jobs", default=True)),
            branches=_as_tuple(_get(tp, "branches", default=())),
        )


def _as_tuple(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(value)


@dataclass(frozen=True)
class TenantView:
    """Tenant-wide settings the layout and the freezer honour."""

    name: str
    default_parent: str = "base"
    max_nodes_per_job: int = 5
    max_job_timeout: int = 10800
    default_ansible_version: str | None = None
    allowed_triggers: tuple[str, ...] | None = None
    allowed_reporters: tuple[str, ...] | None = None
    allowed_labels: tuple[str, ...] | None = None
    disallowed_labels: tuple[str, ...] | None = None
    global_semaphores: dict[str, int] = field(default_factory=dict)
    # Every project of the tenant (including those with no configuration).
    projects: tuple[ProjectView, ...] = ()

    @classmethod
    def of(cls, tenant: Any, projects: Iterable[Any] = ()) -> TenantView:
        if isinstance(tenant, TenantView):
            return tenant
        if isinstance(tenant, str):
            tenant_name, tenant = tenant, None
        else:
            tenant_name = _get(tenant, "name", default="tenant")
        views: dict[str, ProjectView] = {}
        for tp in list(_get(tenant, "projects", default=())) + list(projects):
            if isinstance(tp, str):
                continue
            view = ProjectView.of(tp)
            views.setdefault(view.name, view)
        sems = _get(tenant, "global_semaphores", "semaphores", default={})
        if not isinstance(sems, dict):
            sems = {
                (_get(s, "name") if not isinstance(s, str) else s): int(_get(s, "max", default=1))
                if not isinstance(s, str)
                else 1
                for s in sems
            }

        def opt_tuple(*names: str) -> tuple[str, ...] | None:
            value = _get(tenant, *names)
            return None if value is None else _as_tuple(value)

        return cls(
            name=tenant_name,
            default_parent=_get(tenant, "default_parent", default="base"),
            max_nodes_per_job=int(_get(tenant, "max_nodes_per_job", default=5)),
            max_job_timeout=int(_get(tenant, "max_job_timeout", default=10800)),
            default_ansible_version=_get(tenant, "default_ansible_version"),
            allowed_triggers=opt_tuple("allowed_triggers"),
            allowed_reporters=opt_tuple("allowed_reporters"),
            allowed_labels=opt_tuple("allowed_labels"),
            disallowed_labels=opt_tuple("disallowed_labels"),
            global_semaphores=dict(sems),
            projects=tuple(views.values()),
        )
