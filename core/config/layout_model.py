"""The ``Layout`` record: a tenant's configuration, and what it can answer.

A ``Layout`` holds every configuration object of one tenant (pipelines, job
variants, nodesets, secrets, semaphores, queues, project templates and
stanzas) with the lookups the scheduler, the freezer and the web ask of it
(a project's stanzas, pipeline sections, variables, metadata), and
``job_reference_problems``: the references of a job the layout cannot
satisfy.

It is the seam between building a layout and freezing jobs from one: the
builder (``lockgate.config.layout.build_layout``, which also re-exports
these names) fills it and validates every job's chain with the freezer
(``lockgate.config.freeze``), and the freezer reads it.  Both depend on this
module and it on neither (an import-linter contract in pyproject.toml).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from lockgate.config.errors import ConfigError, Severity, SourceContext
from lockgate.config.model import (
    Job,
    Nodeset,
    Pipeline,
    ProjectConfig,
    ProjectPipeline,
    ProjectTemplate,
    Queue,
    Secret,
    Semaphore,
)
from lockgate.config.objects import ConfigObject
from lockgate.config.tenant_view import ProjectView, TenantView

NOOP_JOB_NAME = "noop"
_BUILTIN_CONTEXT = SourceContext(project="<builtin>", branch=None, path="<builtin>", trusted=True)
NOOP_JOB = Job(
    name=NOOP_JOB_NAME,
    context=_BUILTIN_CONTEXT,
    project="<builtin>",
    trusted=True,
    base_job=True,
    description="Built-in job that succeeds without nodes or playbooks.",
    explicit=("description",),
)

# Object kinds counted in ``Layout.counts()`` (the check command's summary).
COUNTED_KINDS = (
    "pipeline",
    "job",
    "project",
    "project-template",
    "nodeset",
    "secret",
    "semaphore",
    "queue",
    "pragma",
)


@dataclass
class Layout:
    """A tenant's configuration, immutable once built.

    ``jobs`` maps a job name to its variants in load order.
    ``project_configs`` maps a tenant project name to its project stanzas in
    load order; stanzas named by a regular expression are listed under that
    expression and in ``regex_project_configs``.
    """

    tenant: TenantView
    pipelines: dict[str, Pipeline] = field(default_factory=dict)
    jobs: dict[str, list[Job]] = field(default_factory=dict)
    nodesets: dict[str, Nodeset] = field(default_factory=dict)
    secrets: dict[str, Secret] = field(default_factory=dict)
    semaphores: dict[str, Semaphore] = field(default_factory=dict)
    queues: dict[str, Queue] = field(default_factory=dict)
    project_templates: dict[str, list[ProjectTemplate]] = field(default_factory=dict)
    project_configs: dict[str, list[ProjectConfig]] = field(default_factory=dict)
    regex_project_configs: list[ProjectConfig] = field(default_factory=list)
    # Objects of kinds owned elsewhere (image, flavor, label, section, provider).
    other_objects: dict[str, list[ConfigObject]] = field(default_factory=dict)
    pragmas: int = 0
    # Node labels the tenant's providers offer (the launcher's providers and
    # the tenant's ``label`` objects); None when nothing says which exist,
    # and then labels are not checked.
    labels: frozenset[str] | None = None
    # The providers' labels as given to ``build_layout`` (a speculative
    # layout is built with the same).
    provider_labels: frozenset[str] | None = field(default=None, repr=False, compare=False)
    errors: list[ConfigError] = field(default_factory=list)
    # Tenant projects by every name they answer to (name, canonical, short).
    _names: dict[str, str] = field(default_factory=dict, repr=False)
    # What the layout was built from, so a speculative layout can replace
    # one project-branch's objects and rebuild (lockgate.config.speculative).
    inputs: list[tuple[ProjectView, list[ConfigObject]]] = field(
        default_factory=list, repr=False, compare=False
    )
    branches: dict[str, Sequence[str]] = field(default_factory=dict, repr=False, compare=False)
    # Freezer cache (see lockgate.config.freeze); safe since the layout is
    # immutable once built.
    cache: dict[Any, Any] = field(default_factory=dict, repr=False, compare=False)

    # ---- lookups -------------------------------------------------------

    @property
    def default_parent(self) -> str:
        return self.tenant.default_parent

    def resolve_project(self, name: str) -> str | None:
        """The tenant project name for ``name`` (full, canonical or unique short)."""
        found = self._names.get(name)
        if found is None and "/" in name:
            host, _, rest = name.partition("/")
            if "." in host:
                found = self._names.get(rest)
        return found or None

    def project_view(self, name: str) -> ProjectView | None:
        views = self.cache.get("views")
        if views is None:
            views = {v.name: v for v in self.tenant.projects}
            for v, _ in self.inputs:
                views.setdefault(v.name, v)
            self.cache["views"] = views
        resolved = self.resolve_project(name)
        return views.get(resolved) if resolved else None

    def get_project_configs(self, project: str, branch: str | None) -> list[ProjectConfig]:
        """Every project stanza that applies to ``project`` on ``branch``, in
        load order (regex stanzas included)."""
        key = ("project-configs", project, branch)
        found = self.cache.get(key)
        if found is None:
            found = self._project_configs(project, branch)
            self.cache[key] = found
        return found

    def _project_configs(self, project: str, branch: str | None) -> list[ProjectConfig]:
        name = self.resolve_project(project) or project
        canonical = None
        view = self.project_view(name)
        if view is not None:
            canonical = view.canonical_name
        out: list[tuple[int, ProjectConfig]] = []
        for cfg in self.project_configs.get(name, ()):
            if cfg.branch_matcher is None or cfg.branch_matcher.matches(branch):
                out.append((self._order(cfg), cfg))
        for cfg in self.regex_project_configs:
            assert cfg.regex is not None
            if cfg.regex.match(name) or (canonical and cfg.regex.match(canonical)):
                if cfg.branch_matcher is None or cfg.branch_matcher.matches(branch):
                    out.append((self._order(cfg), cfg))
        out.sort(key=lambda pair: pair[0])
        return [cfg for _, cfg in out]

    def _order(self, cfg: ProjectConfig) -> int:
        return self.cache.get(("order", id(cfg)), 0)

    def get_template(self, name: str, branch: str | None) -> list[ProjectTemplate]:
        """The variants of template ``name`` that apply on ``branch``."""
        key = ("template", name, branch)
        found = self.cache.get(key)
        if found is None:
            found = self.cache[key] = [
                t
                for t in self.project_templates.get(name, ())
                if t.branch_matcher is None or t.branch_matcher.matches(branch)
            ]
        return found

    def get_project_pipeline_jobs(
        self, pipeline: str, project: str, branch: str | None
    ) -> dict[str, list[Job]]:
        """The project-pipeline job variants for an item, by job name in the
        order jobs first appear (each template's jobs, then the stanza's own,
        stanza by stanza)."""
        out: dict[str, list[Job]] = {}
        for section in self.pipeline_sections(project, branch).get(pipeline, ()):
            for job in section.jobs:
                variants = out.get(job.name)
                if variants is None:
                    out[job.name] = [job]
                else:
                    variants.append(job)
        return out

    def get_project_pipelines(self, project: str, branch: str | None) -> list[str]:
        """Names of the pipelines the project takes part in on ``branch``."""
        return [n for n in self.pipeline_sections(project, branch) if n in self.pipelines]

    def pipeline_sections(
        self, project: str, branch: str | None
    ) -> dict[str, tuple[ProjectPipeline, ...]]:
        """The pipeline sections that apply to ``project`` on ``branch``, by
        pipeline (pipelines the tenant lacks included): each template's,
        then the stanza's own, stanza by stanza; pipelines in the order they
        first appear.

        Computed once per project and branch (the freezer asks for each
        pipeline of a project in turn, and the scheduler for every event);
        shared, so read-only.
        """
        key = ("pipeline-sections", project, branch)
        found = self.cache.get(key)
        if found is None:
            sections: dict[str, list[ProjectPipeline]] = {}
            for cfg in self.get_project_configs(project, branch):
                for tname in cfg.templates:
                    for tpl in self.get_template(tname, branch):
                        for pname, section in tpl.pipelines.items():
                            sections.setdefault(pname, []).append(section)
                for pname, section in cfg.pipelines.items():
                    sections.setdefault(pname, []).append(section)
            found = self.cache[key] = {n: tuple(s) for n, s in sections.items()}
        return found

    def get_project_metadata(self, project: str) -> ProjectMetadata:
        """Per-project settings whose first value wins (Zuul's rule):
        ``queue``, ``merge-mode`` and ``default-branch``."""
        meta = ProjectMetadata()
        for cfg in self.get_project_configs(project, None):
            if meta.merge_mode is None and cfg.merge_mode:
                meta.merge_mode = cfg.merge_mode
            if meta.default_branch is None and cfg.default_branch:
                meta.default_branch = cfg.default_branch
            if meta.queue_name is None and cfg.queue:
                meta.queue_name = cfg.queue
            for tname in cfg.templates:
                for tpl in self.get_template(tname, None):
                    if meta.queue_name is None and tpl.queue:
                        meta.queue_name = tpl.queue
        if meta.queue_name:
            meta.queue = self.queues.get(meta.queue_name)
        return meta

    def get_project_vars(self, project: str, branch: str | None) -> dict[str, Any]:
        """Project variables: template vars, then the stanzas' own on top.
        (The result is shared: treat it as read-only.)"""
        key = ("project-vars", project, branch)
        found = self.cache.get(key)
        if found is None:
            found = self._project_vars(project, branch)
            self.cache[key] = found
        return found

    def _project_vars(self, project: str, branch: str | None) -> dict[str, Any]:
        from lockgate.config.inherit import deep_merge

        merged: dict[str, Any] = {}
        stanzas = self.get_project_configs(project, branch)
        for cfg in stanzas:
            for tname in cfg.templates:
                for tpl in self.get_template(tname, branch):
                    if tpl.vars:
                        merged = deep_merge(merged, tpl.vars)
        for cfg in stanzas:
            if cfg.vars:
                merged = deep_merge(merged, cfg.vars)
        return merged

    def counts(self) -> dict[str, int]:
        """Objects loaded, per object type (what the check command prints)."""
        return {
            "pipeline": len(self.pipelines),
            "job": sum(len(v) for n, v in self.jobs.items() if n != NOOP_JOB_NAME),
            "project": sum(len(v) for v in self.project_configs.values()),
            "project-template": sum(len(v) for v in self.project_templates.values()),
            "nodeset": len(self.nodesets),
            "secret": len(self.secrets),
            "semaphore": sum(1 for s in self.semaphores.values() if s.context is not None),
            "queue": len(self.queues),
            "pragma": self.pragmas,
        }

    def error_count(self) -> int:
        return sum(1 for e in self.errors if e.severity is Severity.ERROR)


@dataclass
class ProjectMetadata:
    merge_mode: str | None = None
    default_branch: str | None = None
    queue_name: str | None = None
    queue: Queue | None = None


def job_reference_problems(layout: Layout, job: Job) -> list[tuple[str, str]]:
    """Messages for every reference in ``job`` the layout cannot satisfy.

    Shared by the layout builder (which reports them once) and the freezer
    (which refuses to freeze a job that needs them).
    """
    out: list[tuple[str, str]] = []
    if job.parent is not None and not job.in_project_pipeline and job.parent not in layout.jobs:
        out.append((f"job '{job.name}' has unknown parent '{job.parent}'", "unknown-parent"))
    if isinstance(job.nodeset, str) and job.nodeset not in layout.nodesets:
        out.append((f"job '{job.name}' uses unknown nodeset '{job.nodeset}'", "unknown-nodeset"))
    elif isinstance(job.nodeset, Nodeset):
        for alt in job.nodeset.alternatives:
            if isinstance(alt, str) and alt not in layout.nodesets:
                out.append(
                    (
                        f"job '{job.name}' nodeset alternative '{alt}' is not defined",
                        "unknown-nodeset",
                    )
                )
        out.extend(label_problems(layout, job.nodeset, f"job '{job.name}'"))
    for use in job.secrets or ():
        secret = layout.secrets.get(use.secret)
        if secret is None:
            out.append((f"job '{job.name}' uses unknown secret '{use.secret}'", "unknown-secret"))
        elif secret.project != job.project:
            out.append(
                (
                    f"job '{job.name}' uses secret '{use.secret}', which is defined in "
                    f"project '{secret.project}'; a job may only use secrets of its own "
                    "project",
                    "secret-not-permitted",
                )
            )
    for req in job.required_projects or ():
        if layout.resolve_project(req.name) is None:
            out.append(
                (
                    f"job '{job.name}' requires unknown project '{req.name}'",
                    "unknown-project",
                )
            )
    for role in job.roles or ():
        if role.kind == "zuul" and layout.resolve_project(role.source) is None:
            out.append(
                (
                    f"job '{job.name}' uses roles from unknown project '{role.source}'",
                    "unknown-project",
                )
            )
    for allowed in sorted(job.allowed_projects or ()):
        if layout.resolve_project(allowed) is None:
            out.append(
                (
                    f"job '{job.name}' allowed-projects names unknown project '{allowed}'",
                    "unknown-project",
                )
            )
    for include in job.include_vars or ():
        if include.get("project") and layout.resolve_project(include["project"]) is None:
            out.append(
                (
                    f"job '{job.name}' include-vars names unknown project '{include['project']}'",
                    "unknown-project",
                )
            )
    return out


def label_problems(layout: Layout, nodeset: Nodeset, what: str) -> list[tuple[str, str]]:
    """``what`` uses labels no provider of the tenant offers (anonymous
    alternatives included; named ones are checked where they are defined)."""
    known = layout.labels
    if known is None:
        return []
    out: list[tuple[str, str]] = []
    for node in nodeset.nodes:
        if node.label not in known:
            out.append(
                (
                    f"{what} uses label '{node.label}', which no provider of the tenant offers",
                    "unknown-label",
                )
            )
    for alt in nodeset.alternatives:
        if isinstance(alt, Nodeset):
            out.extend(label_problems(layout, alt, what))
    return out
