"""Parsed configuration objects: what a tenant's YAML means, immutable once loaded.

``lockgate.config.interpret`` builds these from the parser's ``ConfigObject``
records, one object at a time; ``lockgate.config.layout`` gathers them into a
``Layout`` and checks the references between them; ``lockgate.config.freeze``
reads them to produce ``FrozenJob``s.  Nothing here changes after loading, so
a layout can be shared by every item in every pipeline of a tenant.

A ``Job`` is one *definition* (one variant) exactly as written: attributes the
author did not set are ``None``.  That distinction is the whole of Zuul's
inheritance model — an unset attribute inherits, a set one overrides or
merges — so it is kept all the way to freezing.  ``explicit`` lists the set
attributes, so the freezer only visits those.
"""

from __future__ import annotations

import enum
from dataclasses import MISSING, dataclass, field, fields
from typing import Any

from lockgate.config.errors import SourceContext
from lockgate.config.matchers import BranchMatcher, Regex
from lockgate.config.schema.repository import ATTRIBUTE_CONTROL_ATTRS
from lockgate.model.jobs import RequiredProject

# --------------------------------------------------------------------------
# Jobs


@dataclass(frozen=True)
class PlaybookDef:
    """A playbook as written in one job definition (path in that repo)."""

    path: str
    semaphores: tuple[str, ...] = ()
    cleanup: bool = False


@dataclass(frozen=True)
class RoleDef:
    """A role source: a Zuul project (``zuul:``) or an Ansible Galaxy role.

    ``implicit``: the project holding the job definition, which Zuul adds to
    every definition's roles (so a playbook can use its own repository's
    ``roles/``); it is not part of equality, so an explicit entry for the
    same project and name replaces it."""

    kind: str  # "zuul" or "galaxy"
    source: str  # project name (zuul) or galaxy role name
    name: str  # the name the role is installed under
    implicit: bool = field(default=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.kind, self.kind: self.source, "name": self.name}
        if self.implicit:
            out["implicit"] = True
        return out


@dataclass(frozen=True)
class SecretUse:
    """``job.secrets`` entry: expose secret ``secret`` as variable ``name``."""

    name: str
    secret: str
    pass_to_parent: bool = False


class OverrideMode(enum.StrEnum):
    """How a multi-value attribute combines with what it inherits."""

    INHERIT = "inherit"
    OVERRIDE = "override"


# Attributes whose change on a ``final`` job (by a variant or a project
# pipeline) is allowed: they decide whether and how a job is reported, not
# how it runs.  Everything else is an execution attribute.
NON_EXECUTION_ATTRIBUTES = frozenset(
    {
        "name",
        "description",
        "variant_description",
        "voting",
        "hold_following_changes",
        "success_message",
        "failure_message",
        "branches",
        "files",
        "irrelevant_files",
        "match_on_config_updates",
        "tags",
        "provides",
        "requires",
        "dependencies",
        "final",
    }
)

# Attributes ``attribute-control`` may mark final (Zuul's documented list).
ATTRIBUTE_CONTROL_ATTRIBUTES = frozenset(ATTRIBUTE_CONTROL_ATTRS)


@dataclass(frozen=True)
class Job:
    """One job definition or variant, as written (unset attributes are None)."""

    name: str
    context: SourceContext
    # Where it is defined: the tenant project name and whether it is trusted.
    project: str
    trusted: bool = False
    # Defined inside a project's pipeline stanza (a project-pipeline variant).
    in_project_pipeline: bool = False
    parent: str | None = None
    base_job: bool = False  # ``parent: null`` was written
    branch_matcher: BranchMatcher | None = None
    description: str | None = None
    variant_description: str | None = None
    final: bool | None = None
    protected: bool | None = None
    abstract: bool | None = None
    intermediate: bool | None = None
    attribute_control: dict[str, bool] | None = None  # yaml attr -> final
    success_message: str | None = None
    failure_message: str | None = None
    hold_following_changes: bool | None = None
    voting: bool | None = None
    semaphores: tuple[dict[str, Any], ...] | None = None  # {name, resources-first}
    tags: tuple[str, ...] | None = None
    provides: tuple[str, ...] | None = None
    requires: tuple[str, ...] | None = None
    secrets: tuple[SecretUse, ...] | None = None
    nodeset: str | Nodeset | None = None
    override_checkout: str | None = None
    pre_timeout: int | None = None
    timeout: int | None = None
    post_timeout: int | None = None
    attempts: int | None = None
    pre_run: tuple[PlaybookDef, ...] | None = None
    run: tuple[PlaybookDef, ...] | None = None
    post_run: tuple[PlaybookDef, ...] | None = None
    cleanup_run: tuple[PlaybookDef, ...] | None = None
    ansible_split_streams: bool | None = None
    ansible_version: str | None = None
    roles: tuple[RoleDef, ...] | None = None
    required_projects: tuple[RequiredProject, ...] | None = None
    vars: dict[str, Any] | None = None
    extra_vars: dict[str, Any] | None = None
    host_vars: dict[str, Any] | None = None
    group_vars: dict[str, Any] | None = None
    include_vars: tuple[dict[str, Any], ...] | None = None
    dependencies: tuple[dict[str, Any], ...] | None = None  # {name, soft}
    allowed_projects: frozenset[str] | None = None
    post_review: bool | None = None
    files: tuple[Regex, ...] | None = None
    irrelevant_files: tuple[Regex, ...] | None = None
    match_on_config_updates: bool | None = None
    deduplicate: bool | str | None = None
    failure_output: tuple[str, ...] | None = None
    workspace_checkout: bool | str | None = None
    workspace_scheme: str | None = None
    image_build_name: str | None = None
    # ``!inherit`` / ``!override`` written on an attribute (field name -> mode).
    override_modes: dict[str, OverrideMode] = field(default_factory=dict)
    # Field names of the attributes set in this definition, in a fixed order.
    explicit: tuple[str, ...] = ()

    @property
    def location(self) -> str:
        # Kept once computed: every chain that applies this definition
        # records it (functools.cached_property takes a lock per call).
        found: str | None = self.__dict__.get("_location")
        if found is None:
            ctx = self.context
            found = self.__dict__["_location"] = f"{ctx.project}@{ctx.branch}:{ctx.location()}"
        return found


# Every field of ``Job`` in declaration order, with its default (required
# fields map to a marker); see ``new_job``.
_REQUIRED = object()
_JOB_TEMPLATE: dict[str, Any] = {
    f.name: _REQUIRED if f.default is MISSING and f.default_factory is MISSING else f.default
    for f in fields(Job)
}
_JOB_FACTORIES = tuple(
    (f.name, f.default_factory) for f in fields(Job) if f.default_factory is not MISSING
)
_JOB_REQUIRED = frozenset(k for k, v in _JOB_TEMPLATE.items() if v is _REQUIRED)


def new_job(**attributes: Any) -> Job:
    """``Job(**attributes)``, several times faster.

    A frozen dataclass sets each of its fields through
    ``object.__setattr__``; with ``Job``'s 58 fields that is most of the cost
    of interpreting a project stanza's job entries, of which a large tenant
    has thousands.  This fills the same instance dictionary (same keys, same
    order, same defaults) in one step.  Anything ``Job()`` would reject
    (an unknown or missing attribute) goes through ``Job()`` to get its error.
    """
    if not (_JOB_REQUIRED <= attributes.keys() <= _JOB_TEMPLATE.keys()):
        return Job(**attributes)
    data = _JOB_TEMPLATE.copy()
    for name, factory in _JOB_FACTORIES:
        if name not in attributes:
            data[name] = factory()
    data.update(attributes)
    job = object.__new__(Job)
    object.__setattr__(job, "__dict__", data)
    return job


# --------------------------------------------------------------------------
# Nodesets, secrets, semaphores, queues


@dataclass(frozen=True)
class NodeDef:
    names: tuple[str, ...]
    label: str


@dataclass(frozen=True)
class GroupDef:
    name: str
    nodes: tuple[str, ...]


@dataclass(frozen=True)
class Nodeset:
    """A named (or anonymous, ``name`` None) nodeset, or a list of alternatives.

    ``alternatives`` holds nodeset names or nested anonymous nodesets; the
    freezer flattens them breadth-first as Zuul does.
    """

    name: str | None
    nodes: tuple[NodeDef, ...] = ()
    groups: tuple[GroupDef, ...] = ()
    alternatives: tuple[str | Nodeset, ...] = ()
    context: SourceContext | None = None
    project: str | None = None

    def same_content(self, other: Nodeset) -> bool:
        return (self.nodes, self.groups, self.alternatives) == (
            other.nodes,
            other.groups,
            other.alternatives,
        )


@dataclass(frozen=True)
class Secret:
    """A secret; encrypted values stay encrypted (the executor decrypts)."""

    name: str
    context: SourceContext
    project: str
    data: dict[str, Any] | None = None
    oidc: dict[str, Any] | None = None

    def same_content(self, other: Secret) -> bool:
        return (repr(self.data), repr(self.oidc)) == (repr(other.data), repr(other.oidc))


@dataclass(frozen=True)
class Semaphore:
    name: str
    max: int = 1
    context: SourceContext | None = None  # None: implicit or global
    project: str | None = None
    is_global: bool = False


@dataclass(frozen=True)
class Queue:
    name: str
    per_branch: bool = False
    allow_circular_dependencies: bool = False
    dependencies_by_topic: bool = False
    context: SourceContext | None = None
    project: str | None = None


@dataclass(frozen=True)
class Pragma:
    """File-level directives (they shape loading; they are not layout objects)."""

    implied_branch_matchers: bool | None = None
    implied_branches: tuple[str, ...] | None = None


# --------------------------------------------------------------------------
# Projects and templates


@dataclass(frozen=True)
class ProjectPipeline:
    """A project's (or template's) stanza for one pipeline."""

    jobs: tuple[Job, ...] = ()  # project-pipeline job variants, in order
    debug: bool | None = None
    fail_fast: bool | None = None


@dataclass(frozen=True)
class ProjectTemplate:
    name: str
    context: SourceContext
    project: str
    branch_matcher: BranchMatcher | None = None
    description: str | None = None
    queue: str | None = None
    vars: dict[str, Any] | None = None
    pipelines: dict[str, ProjectPipeline] = field(default_factory=dict)


@dataclass(frozen=True)
class ProjectConfig:
    """One ``project`` stanza.

    ``project`` is the tenant project it configures (None for a regex
    stanza, which applies to every project whose name ``regex`` matches).
    """

    name: str  # as written (or implied from the defining repo)
    context: SourceContext
    defined_in: str  # tenant project holding the stanza
    trusted: bool = False
    project: str | None = None
    regex: Any = None  # a compiled regular expression (RE2 when it accepts it)
    branch_matcher: BranchMatcher | None = None
    description: str | None = None
    templates: tuple[str, ...] = ()
    default_branch: str | None = None
    merge_mode: str | None = None
    vars: dict[str, Any] | None = None
    queue: str | None = None
    pipelines: dict[str, ProjectPipeline] = field(default_factory=dict)


# --------------------------------------------------------------------------
# Pipelines


class ManagerKind(enum.StrEnum):
    """A pipeline's ``manager``: which way its items are queued (the managers
    themselves are ``lockgate.scheduler.manager``'s ``PipelineManager``s)."""

    INDEPENDENT = "independent"
    DEPENDENT = "dependent"
    SERIAL = "serial"
    SUPERCEDENT = "supercedent"


class Precedence(enum.StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"


class WindowType(enum.StrEnum):
    LINEAR = "linear"
    EXPONENTIAL = "exponential"


# Report actions, in Zuul's vocabulary (each is a pipeline attribute).
REPORT_ACTIONS: tuple[str, ...] = (
    "enqueue",
    "start",
    "success",
    "failure",
    "merge-conflict",
    "config-error",
    "no-jobs",
    "disabled",
    "dequeue",
)

# Default introductory texts of reports (Zuul's documented defaults).
DEFAULT_MESSAGES: dict[str, str] = {
    "success-message": "Build successful.",
    "failure-message": "Build failed.",
    "start-message": "Starting {pipeline.name} jobs.",
    "enqueue-message": "",
    "merge-conflict-message": "Merge failed.",
    "no-jobs-message": "",
    "dequeue-message": "Build canceled.",
    "footer-message": "",
}


@dataclass(frozen=True)
class Window:
    """Dependent pipelines' rate limiting (like TCP flow control)."""

    initial: int = 20
    floor: int = 3
    ceiling: int | None = None  # None: unlimited
    increase_type: WindowType = WindowType.LINEAR
    increase_factor: int = 1
    decrease_type: WindowType = WindowType.EXPONENTIAL
    decrease_factor: int = 2


@dataclass(frozen=True)
class Pipeline:
    """A pipeline: when items enter, how they are managed, how they report.

    ``triggers`` maps a connection name to its list of trigger filters (the
    mappings as written; the connection's driver interprets them).
    ``require``/``reject`` map a connection name to its requirement mapping.
    ``reporters`` maps an action (``success``, ``failure``, ...) to
    ``{connection: value}``; ``reporters_for`` applies Zuul's fallbacks.
    """

    name: str
    manager: ManagerKind
    context: SourceContext
    description: str | None = None
    post_review: bool = False
    precedence: Precedence = Precedence.NORMAL
    allow_other_connections: bool = True
    supercedes: tuple[str, ...] = ()
    dequeue_on_new_patchset: bool = True
    ignore_dependencies: bool = False
    disable_after_consecutive_failures: int | None = None
    messages: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_MESSAGES))
    triggers: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    require: dict[str, Any] = field(default_factory=dict)
    reject: dict[str, Any] = field(default_factory=dict)
    reporters: dict[str, dict[str, Any]] = field(default_factory=dict)
    window: Window = field(default_factory=Window)

    def reporters_for(self, action: str) -> dict[str, Any]:
        """Reporters of ``action``; merge-conflict and config-error fall back
        to the failure reporters when they have none (Zuul's rule)."""
        found = self.reporters.get(action)
        if found is None and action in ("merge-conflict", "config-error"):
            return self.reporters.get("failure", {})
        return found or {}

    @property
    def connections(self) -> set[str]:
        """Every connection the pipeline names (trigger, requirement, reporter)."""
        names = set(self.triggers) | set(self.require) | set(self.reject)
        for per_conn in self.reporters.values():
            names |= set(per_conn)
        return names
