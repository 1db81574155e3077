"""Build the tenant layout: every configuration object of a tenant, with meaning.

``build_layout(tenant, projects)`` is called by the scheduler (on every
reconfiguration), by ``lockgate config check`` and by
``lockgate.config.speculative`` (for items that change configuration).  It
takes the parser's ``ConfigObject`` records project by project, in the
tenant's load order (config projects first), and returns a ``Layout``
(``lockgate.config.layout_model``, re-exported here): pipelines, job
variants, nodesets, secrets, semaphores, queues, project templates and
project stanzas, plus the ``ConfigError``s found on the way.  Last it tries
every job's inheritance chain with the freezer (``validate_jobs``), which
reads the ``Layout`` record and never this module.

Errors are data.  An object that cannot be used is left out and its error
recorded; everything else stays, so a running tenant keeps working with a
partly broken configuration.  A reference to something that does not exist
(a parent, a nodeset, a secret, a job in a project pipeline) is reported
once, where it is written; the object that holds it stays in the layout,
and freezing a job that needs the missing thing fails with the same message.

What comes next: ``lockgate.config.freeze.freeze_job_graph(layout, ...)``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from lockgate.config.errors import ConfigError, Severity, SourceContext
from lockgate.config.freeze import validate_jobs
from lockgate.config.interpret import (
    DefinitionSite,
    InterpretError,
    interpret_job,
    interpret_nodeset,
    interpret_pipeline,
    interpret_pragma,
    interpret_project,
    interpret_queue,
    interpret_secret,
    interpret_semaphore,
    interpret_template,
)
from lockgate.config.layout_model import (
    COUNTED_KINDS,
    NOOP_JOB,
    NOOP_JOB_NAME,
    Layout,
    ProjectMetadata,
    job_reference_problems,
    label_problems,
)
from lockgate.config.matchers import BranchMatcher, implied_branch_matcher
from lockgate.config.model import (
    Job,
    Nodeset,
    Pipeline,
    Pragma,
    ProjectTemplate,
)
from lockgate.config.objects import ConfigObject
from lockgate.config.tenant_view import ProjectView, TenantView

# The record and its checks live in ``layout_model``; callers may keep
# importing them from here.
__all__ = [
    "COUNTED_KINDS",
    "NOOP_JOB",
    "NOOP_JOB_NAME",
    "Layout",
    "ProjectMetadata",
    "build_layout",
    "job_reference_problems",
    "label_problems",
]

# Kinds other parts of Lockgate own (launcher providers); kept, not interpreted.
_PASSTHROUGH_KINDS = ("image", "flavor", "label", "section", "provider")


# ---------------------------------------------------------------------------
# Building


def build_layout(
    tenant: Any,
    projects: Sequence[tuple[Any, Sequence[ConfigObject]]],
    *,
    branches: dict[str, Sequence[str]] | None = None,
    validate: bool = True,
    labels: Iterable[str] | None = None,
) -> Layout:
    """Build a tenant's layout from parsed objects, project by project.

    ``tenant`` is a ``TenantSpec`` (or a ``TenantView``, or just a name);
    ``projects`` lists ``(TenantProject, objects)`` in load order.
    ``branches`` optionally gives each project's branch list (it decides
    implied branch matchers); otherwise the project record's ``branches`` or
    the branches its objects came from are used.  With ``validate`` the
    inheritance chain of every job is tried once so that problems such as a
    child of a final job are reported at load time, not first at run time.
    ``labels`` are the node labels the launcher's providers offer (from the
    service config); with the tenant's ``label`` objects they are the labels
    nodesets may use.  When neither names any label, labels are not checked.
    """
    view = TenantView.of(tenant, [tp for tp, _ in projects])
    builder = _Builder(view, branches or {})
    builder.layout.branches = dict(branches or {})
    for tp, objects in projects:
        project_view = ProjectView.of(tp)
        builder.layout.inputs.append((project_view, list(objects)))
        builder.load_project(project_view, objects)
    builder.layout.provider_labels = None if labels is None else frozenset(labels)
    builder.layout.labels = _known_labels(builder.layout, labels)
    builder.check_references()
    if validate:
        validate_jobs(builder.layout)
    return builder.layout


class _Builder:
    def __init__(self, tenant: TenantView, branches: dict[str, Sequence[str]]) -> None:
        self.layout = Layout(tenant=tenant)
        self.layout.jobs[NOOP_JOB_NAME] = [NOOP_JOB]
        self.branches = branches
        self.order = 0
        names: dict[str, str] = {}
        shorts: dict[str, list[str]] = defaultdict(list)
        for p in tenant.projects:
            names[p.name] = p.name
            if p.canonical_name:
                names[p.canonical_name] = p.name
            shorts[p.short_name].append(p.name)
        for short, owners in shorts.items():
            if len(owners) == 1:
                names.setdefault(short, owners[0])
        self.layout._names = names

    # ---- errors --------------------------------------------------------

    def error(
        self,
        message: str,
        ctx: SourceContext | None,
        kind: str | None,
        name: str | None,
        key: str,
        severity: Severity = Severity.ERROR,
    ) -> None:
        self.layout.errors.append(ConfigError(message, ctx, kind, name, severity=severity, key=key))

    # ---- per project ---------------------------------------------------

    def _branch_count(self, project: ProjectView, objects: Sequence[ConfigObject]) -> int:
        known = self.branches.get(project.name) or project.branches
        if known:
            return len(known)
        return len({o.context.branch for o in objects if o.context.branch is not None}) or 1

    def load_project(self, project: ProjectView, objects: Sequence[ConfigObject]) -> None:
        if project.name not in self.layout._names:
            self.layout._names[project.name] = project.name
        branch_count = self._branch_count(project, objects)
        pragmas: dict[tuple[str | None, str], Pragma] = {}
        for obj in objects:
            if obj.kind != "pragma":
                continue
            try:
                pragma = interpret_pragma(obj.body)
            except InterpretError as exc:
                self.error(str(exc), obj.context, "pragma", None, exc.key)
                continue
            self.layout.pragmas += 1
            key = (obj.context.branch, obj.context.path)
            old = pragmas.get(key)
            if old is not None:
                pragma = Pragma(
                    pragma.implied_branch_matchers
                    if pragma.implied_branch_matchers is not None
                    else old.implied_branch_matchers,
                    pragma.implied_branches or old.implied_branches,
                )
            pragmas[key] = pragma
        for obj in objects:
            if obj.kind == "pragma":
                continue
            if obj.kind not in project.load_classes:
                continue  # the tenant's include/exclude keep it out
            file_pragma = pragmas.get((obj.context.branch, obj.context.path))
            site = self._site(project, obj.context, file_pragma, branch_count)
            try:
                self._load_object(project, obj, site, file_pragma, branch_count)
            except InterpretError as exc:
                self.error(str(exc), obj.context, obj.kind, obj.name, exc.key)

    def _site(
        self,
        project: ProjectView,
        ctx: SourceContext,
        pragma: Pragma | None,
        branch_count: int,
    ) -> DefinitionSite:
        return DefinitionSite(
            project=project.name,
            trusted=project.trusted,
            branch=ctx.branch,
            connection=project.connection,
            implied=self._implied(project, ctx.branch, pragma, branch_count),
        )

    @staticmethod
    def _implied(
        project: ProjectView, branch: str | None, pragma: Pragma | None, branch_count: int
    ) -> BranchMatcher | None:
        """Zuul's implied branch matcher for jobs and templates in a file:
        the pragma decides if it says so, else the tenant's per-project
        setting, else the heuristic (untrusted and more than one branch)."""
        if pragma is not None and pragma.implied_branch_matchers is not None:
            use = pragma.implied_branch_matchers
        elif project.implied_branch_matchers is not None:
            use = project.implied_branch_matchers
        else:
            use = not project.trusted and branch_count > 1
        if not use:
            return None
        if pragma is not None and pragma.implied_branches:
            return implied_branch_matcher(pragma.implied_branches, exact=False)
        if branch is None:
            return None
        return implied_branch_matcher([branch], exact=True)

    def _load_object(
        self,
        project: ProjectView,
        obj: ConfigObject,
        site: DefinitionSite,
        pragma: Pragma | None,
        branch_count: int,
    ) -> None:
        kind, ctx, body = obj.kind, obj.context, obj.body
        if not isinstance(body, dict):
            raise InterpretError(f"a {kind} must be a mapping", "schema")
        if kind == "job":
            self._add_job(project, interpret_job(body, ctx, site))
        elif kind == "pipeline":
            if not project.trusted:
                raise InterpretError(
                    "pipelines may only be defined in config projects", "pipeline-untrusted"
                )
            pipeline = interpret_pipeline(body, ctx)
            if pipeline.name in self.layout.pipelines:
                other = self.layout.pipelines[pipeline.name].context
                raise InterpretError(
                    f"pipeline '{pipeline.name}' is already defined at "
                    f"{other.project}:{other.location()}",
                    "duplicate",
                )
            self._check_pipeline_connections(pipeline)
            self.layout.pipelines[pipeline.name] = pipeline
        elif kind == "nodeset":
            nodeset = interpret_nodeset(body, ctx, project.name)
            self._check_nodeset_limits(nodeset, ctx)
            self._add_unique(self.layout.nodesets, "nodeset", nodeset.name, nodeset, ctx)
        elif kind == "secret":
            secret = interpret_secret(body, ctx, project.name)
            self._add_unique(self.layout.secrets, "secret", secret.name, secret, ctx)
        elif kind == "semaphore":
            sem = interpret_semaphore(body, ctx, project.name)
            self._add_unique(self.layout.semaphores, "semaphore", sem.name, sem, ctx)
        elif kind == "queue":
            queue = interpret_queue(body, ctx, project.name)
            self._add_unique(self.layout.queues, "queue", queue.name, queue, ctx)
        elif kind == "project-template":
            tpl, problems = interpret_template(body, ctx, site)
            self._report(problems, ctx, kind, tpl.name)
            self._add_template(tpl)
        elif kind == "project":
            self._add_project(project, obj, site, pragma, branch_count)
        elif kind in _PASSTHROUGH_KINDS:
            self.layout.other_objects.setdefault(kind, []).append(obj)
        else:
            raise InterpretError(f"unknown configuration object '{kind}'", "schema")

    def _report(
        self, problems: Iterable[InterpretError], ctx: SourceContext, kind: str, name: str
    ) -> None:
        for exc in problems:
            self.error(str(exc), ctx, kind, name, exc.key)

    # ---- jobs ----------------------------------------------------------

    def _add_job(self, project: ProjectView, job: Job) -> None:
        layout = self.layout
        if job.name == NOOP_JOB_NAME:
            raise InterpretError("job 'noop' is built in and may not be redefined", "duplicate")
        existing = layout.jobs.get(job.name)
        is_base = job.base_job or (
            job.parent is None and job.name == layout.default_parent and not existing
        )
        if existing:
            owner = existing[0].project
            if owner != job.project:
                if owner in project.shadow:
                    return  # Zuul's shadow: the earlier project's definition wins
                raise InterpretError(
                    f"job '{job.name}' is already defined in project '{owner}' "
                    f"({existing[0].context.location()}); variants of a job must all "
                    "be in one project",
                    "duplicate",
                )
        if is_base:
            if not project.trusted:
                raise InterpretError(
                    f"job '{job.name}' is a base job (it has no parent); base jobs may "
                    "only be defined in config projects",
                    "base-job",
                )
            if not project.allow_base_jobs:
                raise InterpretError(
                    f"job '{job.name}' is a base job (it has no parent); project "
                    f"'{project.name}' may not define base jobs (allow-base-jobs is false)",
                    "base-job",
                )
        if job.timeout is not None and job.timeout > layout.tenant.max_job_timeout:
            raise InterpretError(
                f"job '{job.name}' timeout {job.timeout} exceeds the tenant's "
                f"max-job-timeout of {layout.tenant.max_job_timeout}",
                "max-job-timeout",
            )
        if isinstance(job.nodeset, Nodeset):
            self._check_nodeset_limits(job.nodeset, job.context)
        layout.jobs.setdefault(job.name, []).append(job)

    def _check_nodeset_limits(self, nodeset: Nodeset, ctx: SourceContext) -> None:
        tenant = self.layout.tenant
        count = sum(len(n.names) for n in nodeset.nodes)
        what = f"nodeset '{nodeset.name}'" if nodeset.name else "the job's nodeset"
        if count > tenant.max_nodes_per_job:
            raise InterpretError(
                f"{what} has {count} nodes, more than the tenant's max-nodes-per-job "
                f"of {tenant.max_nodes_per_job}",
                "max-nodes",
            )
        for node in nodeset.nodes:
            label = node.label
            if tenant.allowed_labels is not None and not any(
                _label_match(p, label) for p in tenant.allowed_labels
            ):
                raise InterpretError(
                    f"{what} uses label '{label}', which the tenant does not allow",
                    "label",
                )
            if tenant.disallowed_labels and any(
                _label_match(p, label) for p in tenant.disallowed_labels
            ):
                raise InterpretError(
                    f"{what} uses label '{label}', which the tenant disallows", "label"
                )

    # ---- unique objects ------------------------------------------------

    def _add_unique(
        self, table: dict[str, Any], kind: str, name: str | None, obj: Any, ctx: SourceContext
    ) -> None:
        assert name is not None
        old = table.get(name)
        if old is None:
            table[name] = obj
            return
        if old.project == obj.project:
            same = old.same_content(obj) if hasattr(old, "same_content") else old == obj
            if not same and hasattr(old, "max"):
                same = old.max == obj.max
            if same:
                return  # the same object on another branch: allowed
            raise InterpretError(
                f"{kind} '{name}' is already defined differently in project "
                f"'{old.project}' ({old.context.location()}); a {kind} may appear on "
                "several branches only with the same content",
                "duplicate",
            )
        raise InterpretError(
            f"{kind} '{name}' is already defined in project '{old.project}' "
            f"({old.context.location()})",
            "duplicate",
        )

    def _add_template(self, tpl: ProjectTemplate) -> None:
        existing = self.layout.project_templates.get(tpl.name)
        if existing and existing[0].project != tpl.project:
            raise InterpretError(
                f"project-template '{tpl.name}' is already defined in project "
                f"'{existing[0].project}' ({existing[0].context.location()})",
                "duplicate",
            )
        self.layout.project_templates.setdefault(tpl.name, []).append(tpl)

    # ---- projects ------------------------------------------------------

    def _add_project(
        self,
        project: ProjectView,
        obj: ConfigObject,
        site: DefinitionSite,
        pragma: Pragma | None,
        branch_count: int,
    ) -> None:
        body, ctx = obj.body, obj.context
        name = body.get("name") or obj.name or project.name
        if not isinstance(name, str):
            raise InterpretError("project name must be a string", "schema")
        resolved: str | None = None
        if name.startswith("^"):
            if not project.trusted:
                refused = self._regex_refused(project, name)
                if refused:
                    raise InterpretError(
                        f"the regular expression matches project '{refused}', which project "
                        f"'{project.name}' may not configure (only projects its tenant "
                        "configure-projects name, and not config projects)",
                        "project-not-permitted",
                    )
        else:
            resolved = self.layout.resolve_project(name)
            if resolved is None:
                raise InterpretError(
                    f"project '{name}' is not a project of this tenant", "project-not-found"
                )
            if not project.trusted and resolved != project.name:
                allowed = any(
                    resolved == self.layout.resolve_project(p)
                    or (p.startswith("^") and _regex_match(p, resolved))
                    for p in project.configure_projects
                )
                if not allowed:
                    raise InterpretError(
                        f"project '{project.name}' may not configure project '{name}' "
                        "(only its own, or those in its tenant configure-projects)",
                        "project-not-permitted",
                    )
        matcher = self._project_branch_matcher(project, resolved, ctx.branch, pragma, branch_count)
        cfg, problems = interpret_project(body, ctx, site, name, resolved, matcher)
        self._report(problems, ctx, "project", name)
        self.order += 1
        self.layout.cache[("order", id(cfg))] = self.order
        if cfg.regex is not None:
            self.layout.regex_project_configs.append(cfg)
            self.layout.project_configs.setdefault(name, []).append(cfg)
        else:
            assert resolved is not None
            self.layout.project_configs.setdefault(resolved, []).append(cfg)

    def _regex_refused(self, project: ProjectView, pattern: str) -> str | None:
        """The first tenant project a regex stanza of untrusted ``project``
        matches but may not configure (Zuul's rule: it must be allowed for
        every project it matches), or None."""
        from lockgate.config.matchers import RegexError, compile_regex

        try:
            regex = compile_regex(pattern)
        except RegexError:
            return None  # interpret_project reports the bad expression
        for other in self.layout.tenant.projects:
            names = [n for n in (other.name, other.canonical_name) if n]
            if not any(regex.fullmatch(n) for n in names):
                continue
            permitted = (
                not other.trusted
                and bool(project.configure_projects)
                and any(
                    other.name == self.layout.resolve_project(p)
                    or any(_regex_fullmatch(p, n) for n in names)
                    for p in project.configure_projects
                )
            )
            if not permitted:
                return other.name
        return None

    def _project_branch_matcher(
        self,
        project: ProjectView,
        target: str | None,
        branch: str | None,
        pragma: Pragma | None,
        branch_count: int,
    ) -> BranchMatcher | None:
        """Implied branches of a project stanza (Zuul's three cases)."""
        if branch is None:
            return None
        if not project.trusted and target == project.name:
            # An untrusted project configuring itself: always its own branch.
            return implied_branch_matcher([branch], exact=True)
        if project.trusted:
            if pragma is not None and pragma.implied_branch_matchers:
                if pragma.implied_branches:
                    return implied_branch_matcher(pragma.implied_branches, exact=False)
                return implied_branch_matcher([branch], exact=True)
            return None
        return self._implied(project, branch, pragma, branch_count)

    def _check_pipeline_connections(self, pipeline: Pipeline) -> None:
        tenant = self.layout.tenant
        if tenant.allowed_triggers is not None:
            for conn in pipeline.triggers:
                if conn not in tenant.allowed_triggers:
                    raise InterpretError(
                        f"pipeline '{pipeline.name}' uses trigger '{conn}', which the "
                        "tenant does not allow (allowed-triggers)",
                        "trigger-not-allowed",
                    )
        if tenant.allowed_reporters is not None:
            for action, per_conn in pipeline.reporters.items():
                for conn in per_conn:
                    if conn not in tenant.allowed_reporters:
                        raise InterpretError(
                            f"pipeline '{pipeline.name}' {action} uses reporter '{conn}', "
                            "which the tenant does not allow (allowed-reporters)",
                            "reporter-not-allowed",
                        )

    # ---- references ----------------------------------------------------

    def check_references(self) -> None:
        """Report every reference to something the layout does not have."""
        layout = self.layout
        for variants in layout.jobs.values():
            for job in variants:
                self._check_job_refs(job)
        for name, nodeset in layout.nodesets.items():
            for message, key in label_problems(layout, nodeset, f"nodeset '{name}'"):
                self.error(message, nodeset.context, "nodeset", name, key)
        for name, pipeline in layout.pipelines.items():
            for other in pipeline.supercedes:
                if other not in layout.pipelines:
                    self.error(
                        f"pipeline '{name}' supercedes unknown pipeline '{other}'",
                        pipeline.context,
                        "pipeline",
                        name,
                        "unknown-pipeline",
                    )
        for templates in layout.project_templates.values():
            for tpl in templates:
                self._check_pipelines_refs(tpl.pipelines, tpl.context, "project-template", tpl.name)
        for configs in layout.project_configs.values():
            for cfg in configs:
                for tname in cfg.templates:
                    if tname not in layout.project_templates:
                        self.error(
                            f"project '{cfg.name}' uses unknown project-template '{tname}'",
                            cfg.context,
                            "project",
                            cfg.name,
                            "unknown-template",
                        )
                self._check_pipelines_refs(cfg.pipelines, cfg.context, "project", cfg.name)

    def _check_pipelines_refs(
        self, pipelines: dict[str, Any], ctx: SourceContext, kind: str, name: str
    ) -> None:
        layout = self.layout
        for pname, ppl in pipelines.items():
            if pname not in layout.pipelines:
                # Zuul skips sections for pipelines a tenant lacks (one repo
                # serves tenants with different pipelines), so this must not
                # block; a warning still catches typos.
                self.error(
                    f"{kind} '{name}' refers to unknown pipeline '{pname}'",
                    ctx,
                    kind,
                    name,
                    "unknown-pipeline",
                    Severity.WARNING,
                )
                continue
            for job in ppl.jobs:
                if job.name not in layout.jobs:
                    self.error(
                        f"{kind} '{name}' pipeline '{pname}' uses unknown job '{job.name}'",
                        ctx,
                        kind,
                        name,
                        "unknown-job",
                    )
                else:
                    self._check_job_refs(job)

    def _check_job_refs(self, job: Job) -> None:
        for message, key in job_reference_problems(self.layout, job):
            self.error(message, job.context, "job", job.name, key)


def _known_labels(layout: Layout, given: Iterable[str] | None) -> frozenset[str] | None:
    """The labels nodesets may use: the providers' and the tenant's own
    ``label`` objects; None when neither names one (nothing to check)."""
    found = set(given or ())
    for obj in layout.other_objects.get("label", ()):
        name = obj.body.get("name") if isinstance(obj.body, dict) else None
        if isinstance(name, str):
            found.add(name)
    if given is None and not found:
        return None
    return frozenset(found)


def _regex_fullmatch(pattern: str, value: str) -> bool:
    from lockgate.config.matchers import RegexError, compile_regex

    try:
        return compile_regex(pattern).fullmatch(value) is not None
    except RegexError:
        return pattern == value


def _label_match(pattern: str, label: str) -> bool:
    return _regex_match(pattern, label)


def _regex_match(pattern: str, value: str) -> bool:
    import re

    try:
        return re.match(pattern, value) is not None
    except re.error:
        return pattern == value
