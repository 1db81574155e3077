"""Freeze an item's job graph: which jobs run, with exactly what attributes.

The scheduler calls ``freeze_job_graph(layout, pipeline, project, branch,
changed_files)`` for each queue item (with the speculative layout when the
item or one ahead changes configuration).  It is pure — no I/O, no clock —
and fast: the inheritance part of a job (the chain of definitions from its
base job, with the variants that match the branch) is computed once per
layout and branch and cached in the layout, so freezing the same template
job for a thousand projects costs one chain and a thousand cheap copies.

For each job named in the project's pipeline stanzas (templates first,
stanza by stanza) it:

1. collects the job's inheritance chain, at each level every variant whose
   branch matcher fits (``override-checkout`` on the project-pipeline
   variant picks the branch, as in Zuul), and applies them in order
   (``lockgate.config.inherit``);
2. applies the project-pipeline variants;
3. checks what only the final job can tell: abstract jobs do not run,
   ``allowed-projects``, post-review jobs only in post-review pipelines;
4. applies ``files``/``irrelevant-files`` on the final value (ignored when
   the change alters the job's own configuration, ``match-on-config-updates``);
5. builds the ``FrozenJob`` (playbooks with their project, trust, roles and
   secrets; nodes; project variables under job variables).

Then it resolves ``dependencies`` into a DAG: a hard dependency on a job
that does not run is an error, a soft one is dropped, cycles are errors.
Errors are returned in the graph (``JobGraph.errors``), never raised.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

from lockgate.config.errors import ConfigError, SourceContext
from lockgate.config.inherit import InheritanceError, JobState, apply_definition, deep_merge
from lockgate.config.layout import NOOP_JOB_NAME, Layout, job_reference_problems
from lockgate.config.matchers import files_match, irrelevant_files_match
from lockgate.config.model import Job, Nodeset, Pipeline
from lockgate.model.jobs import FrozenJob, NodeSpec, PlaybookRef

# Keys of reference problems (already reported once by the layout builder).
_REFERENCE_KEYS = frozenset(
    {
        "unknown-parent",
        "unknown-nodeset",
        "unknown-secret",
        "secret-not-permitted",
        "unknown-project",
    }
)


@dataclass
class JobGraph:
    """The frozen jobs of one item and how they depend on each other.

    ``jobs`` are in the order the project's configuration lists them.
    ``dependencies`` maps each job to the names of the jobs it waits for
    (only jobs present in the graph; soft dependencies on absent jobs are
    dropped).  ``not_run`` says why a configured job was left out (branch or
    file matchers).  ``errors`` are configuration errors for this item: if
    there are any, the item should be reported as a configuration error.
    """

    pipeline: str
    project: str
    branch: str | None
    jobs: list[FrozenJob] = field(default_factory=list)
    dependencies: dict[str, list[str]] = field(default_factory=dict)
    not_run: dict[str, str] = field(default_factory=dict)
    errors: list[ConfigError] = field(default_factory=list)

    @property
    def job_names(self) -> list[str]:
        return [j.name for j in self.jobs]

    def get_job(self, name: str) -> FrozenJob | None:
        for job in self.jobs:
            if job.name == name:
                return job
        return None

    def dependents(self, name: str) -> list[str]:
        """Jobs that wait (directly) for ``name``."""
        return [j for j, deps in self.dependencies.items() if name in deps]

    def ready(self, finished: Collection[str]) -> list[str]:
        """Jobs not in ``finished`` whose dependencies all are."""
        return [
            j.name
            for j in self.jobs
            if j.name not in finished
            and all(d in finished for d in self.dependencies.get(j.name, ()))
        ]


# One shared empty mapping, so jobs of projects without variables share a
# cache entry (the cache keys on the identity of the project variables).
_NO_VARS: dict[str, Any] = {}


class _NotRun(Exception):
    """The job does not run for this item (not an error)."""


# ---------------------------------------------------------------------------
# Public entry points


def freeze_job_graph(
    layout: Layout,
    pipeline: str,
    project: str,
    branch: str | None,
    changed_files: Sequence[str] | None = None,
    *,
    previous_layout: Layout | None = None,
    project_vars: bool = True,
) -> JobGraph:
    """Freeze the jobs ``project``'s configuration runs in ``pipeline`` for
    an item on ``branch`` that changes ``changed_files`` (None: unknown, file
    matchers ignored).

    ``previous_layout`` is the layout before this item's configuration
    change, if it has one: jobs whose frozen form differs between the two
    ignore their file matchers (``match-on-config-updates``).
    """
    name = layout.resolve_project(project) or project
    graph = JobGraph(pipeline=pipeline, project=name, branch=branch)
    pipeline_obj = layout.pipelines.get(pipeline)
    if pipeline_obj is None:
        graph.errors.append(
            ConfigError(
                f"pipeline '{pipeline}' is not defined",
                None,
                "pipeline",
                pipeline,
                key="unknown-pipeline",
            )
        )
        return graph
    pp_jobs = layout.get_project_pipeline_jobs(pipeline, name, branch)
    pvars = layout.get_project_vars(name, branch) if project_vars and pp_jobs else _NO_VARS
    pvars = pvars or _NO_VARS
    # Without file matching, the graph depends only on the configuration
    # that reaches it: projects configured alike (by the same templates)
    # share one recipe, and each call only copies its jobs.
    reusable = not changed_files and previous_layout is None
    recipe_key: tuple[Any, ...] = ()
    if reusable:
        recipe_key = ("graph", pipeline, branch, id(pvars), _recipe_signature(pp_jobs))
        recipe = layout.cache.get(recipe_key)
        if recipe is not None and (recipe[0] is None or recipe[0] == name):
            _, recipe_jobs, deps, not_run, errors = recipe
            graph.jobs = [_clone(t, deps[t["name"]][1]) for t in recipe_jobs]
            graph.dependencies = {k: list(v[0]) for k, v in deps.items()}
            graph.not_run = dict(not_run)
            graph.errors = list(errors)
            return graph
    frozen: dict[str, FrozenJob] = {}
    templates: list[dict[str, Any]] = []
    project_specific = False
    for job_name, pp_variants in pp_jobs.items():
        if job_name not in layout.jobs:
            # Zuul fails the item's job graph ("Job X not defined"): running
            # the other jobs would report success for a config that asks
            # for a job nobody can run.
            graph.errors.append(
                ConfigError(
                    f"job '{job_name}' is not defined",
                    pp_variants[0].context if pp_variants else None,
                    "job",
                    job_name,
                    key="unknown-job",
                )
            )
            continue
        try:
            state, template = _frozen_template(layout, job_name, pp_variants, branch, pvars)
            if state.allowed_projects is not None:
                project_specific = True
            _check_final_job(state, job_name, pp_variants, name, pipeline_obj)
            if not _files_allow(
                layout, state, changed_files, previous_layout, job_name, pipeline, name, branch
            ):
                graph.not_run[job_name] = "no changed file matches the job's file matchers"
                continue
            frozen[job_name] = _clone(template, template["dependencies"])
            templates.append(template)
        except _NotRun as reason:
            graph.not_run[job_name] = str(reason)
            reason.__traceback__ = None  # cached: must not keep this frame alive
        except InheritanceError as exc:
            graph.errors.append(_error(exc))
            exc.__traceback__ = None
    _resolve_dependencies(graph, frozen, pp_jobs)
    if reusable:
        deps = {
            job.name: (
                tuple(graph.dependencies[job.name]),
                tuple(dict(d) for d in job.dependencies),
            )
            for job in graph.jobs
        }
        layout.cache[recipe_key] = (
            name if project_specific else None,
            templates,
            deps,
            dict(graph.not_run),
            tuple(graph.errors),
        )
    return graph


def _recipe_signature(pp_jobs: dict[str, list[Job]]) -> tuple[Any, ...]:
    """What of an item's project-pipeline variants can change its graph:
    per job, the variants that set something or carry a branch matcher
    (by identity), and whether any variant is trusted."""
    out = []
    for job_name, variants in pp_jobs.items():
        effective = []
        trusted = False
        for v in variants:
            if v.explicit or v.branch_matcher is not None:
                effective.append(id(v))
            if v.trusted:
                trusted = True
        out.append((job_name, tuple(effective), trusted))
    return tuple(out)


def _frozen_template(
    layout: Layout,
    name: str,
    pp_variants: Sequence[Job],
    branch: str | None,
    pvars: dict[str, Any],
) -> tuple[JobState, dict[str, Any]]:
    """The frozen state and job, cached: many projects run the same job with
    no project-specific change (a template's plain job entry), and a
    project-pipeline entry that sets nothing changes nothing.  The job is
    kept as a template for ``_clone`` (see ``_template``)."""
    effective = tuple(v for v in pp_variants if v.explicit or v.branch_matcher is not None)
    key = ("frozen", name, branch, tuple(id(v) for v in effective), id(pvars))
    found = layout.cache.get(key)
    if found is None:
        try:
            state = _freeze_state(layout, name, effective, branch)
            _check_state(state, name, pp_variants[0] if pp_variants else state_origin(state))
            found = (state, _template(_build_frozen_job(layout, state, pvars)), effective, pvars)
        except (InheritanceError, _NotRun) as exc:
            found = exc
        layout.cache[key] = found
    if isinstance(found, Exception):
        raise found.with_traceback(None)
    return found[0], found[1]


_DICT_FIELDS = ("vars", "extra_vars", "host_vars", "group_vars")
_LIST_FIELDS = tuple(
    f.name
    for f in dataclasses.fields(FrozenJob)
    if f.name not in _DICT_FIELDS and f.default_factory is list  # type: ignore[comparison-overlap]
)
# What ``_clone`` copies as it is (``dependencies`` come resolved per item).
_CLONED_LISTS = tuple(n for n in _LIST_FIELDS if n != "dependencies")
_new_object = object.__new__


def _template(job: FrozenJob) -> dict[str, Any]:
    """A frozen job as kept in the layout's cache: its attributes, with
    tuples for its lists (see ``_clone``).

    Templates stay alive as long as the layout; tuples instead of lists
    keep them small and mostly out of the cyclic garbage collector's way
    (an empty tuple is shared, a tuple of strings is not tracked), whose
    passes over a large live heap are a good part of freezing's cost.
    """
    data = dict(job.__dict__)
    for name in _LIST_FIELDS:
        data[name] = tuple(data[name] or ())
    return data


def _clone(template: dict[str, Any], dependencies: Sequence[dict[str, Any]]) -> FrozenJob:
    """A new ``FrozenJob`` from a template, with ``dependencies`` (copied).

    The job's own lists and mappings are new, so a caller may add or replace
    entries; values nested deeper (variable values, playbook records,
    secret entries) are shared between the items that run the same job and
    must be treated as read-only, as Zuul treats frozen jobs.  (Copying
    every nested variable costs more than all the rest of freezing.)  This
    runs once per job of every item, so it fills the instance dictionary
    directly instead of going through the dataclass constructor, whose
    checks the template already passed.
    """
    data = template.copy()
    for name in _CLONED_LISTS:
        data[name] = list(template[name])
    for name in _DICT_FIELDS:
        data[name] = template[name].copy()
    data["dependencies"] = [d.copy() for d in dependencies]
    new = _new_object(FrozenJob)
    new.__dict__ = data
    return new


def freeze_job(
    layout: Layout,
    job_name: str,
    branch: str | None,
    project: str | None = None,
    project_pipeline_variants: Sequence[Job] = (),
) -> FrozenJob:
    """Freeze one job outside any pipeline (for the API's job pages and for
    tests).  Raises ``InheritanceError`` or ``LookupError``."""
    try:
        state = _freeze_state(layout, job_name, tuple(project_pipeline_variants), branch)
    except _NotRun as reason:
        raise LookupError(str(reason)) from None
    pvars = layout.get_project_vars(project, branch) if project else {}
    return _build_frozen_job(layout, state, pvars)


def validate_jobs(layout: Layout) -> None:
    """Try every job's inheritance chain once and record what fails there
    (final or protected parents, intermediate rules, cycles, attribute
    control) as layout errors, attributed to the definition at fault."""
    seen = {(e.message, e.context) for e in layout.errors}
    for name, variants in layout.jobs.items():
        if name == NOOP_JOB_NAME:
            continue
        branches: list[str | None] = []
        for v in variants:
            if v.context.branch not in branches:
                branches.append(v.context.branch)
        for branch in branches:
            try:
                _freeze_state(layout, name, (), branch)
            except _NotRun:
                continue
            except InheritanceError as exc:
                if exc.key in _REFERENCE_KEYS or exc.origin.name != name:
                    continue
                err = _error(exc)
                if (err.message, err.context) not in seen:
                    seen.add((err.message, err.context))
                    layout.errors.append(err)


# ---------------------------------------------------------------------------
# Inheritance


def _error(exc: InheritanceError) -> ConfigError:
    return ConfigError(str(exc), exc.origin.context, "job", exc.origin.name, key=exc.key)


def _override_checkouts(pp_variants: Sequence[Job]) -> tuple[Any, ...]:
    """Branch overrides for variant matching from the project-pipeline
    variants: ``(default, ((project, branch), ...))``."""
    default = None
    per_project: dict[str, str] = {}
    for v in pp_variants:
        if v.override_checkout:
            default = v.override_checkout
        for req in v.required_projects or ():
            if req.get("override-checkout"):
                per_project[req["name"]] = req["override-checkout"]
    return (default, tuple(sorted(per_project.items())))


def _check_refs(layout: Layout, job: Job) -> None:
    key = ("refs", id(job))
    problems = layout.cache.get(key)
    if problems is None:
        problems = job_reference_problems(layout, job)
        layout.cache[key] = problems
    if problems:
        message, kind = problems[0]
        raise InheritanceError(message, job, kind)


def _freeze_state(
    layout: Layout, name: str, pp_variants: Sequence[Job], branch: str | None
) -> JobState:
    overrides = _override_checkouts(pp_variants)
    key = ("chain", name, branch, overrides)
    cached = layout.cache.get(key)
    if cached is None:
        try:
            cached = _chain_state(layout, name, branch, overrides)
        except (InheritanceError, _NotRun) as exc:
            cached = exc
        layout.cache[key] = cached
    if isinstance(cached, Exception):
        raise cached.with_traceback(None)
    state = cached
    for v in pp_variants:
        _check_refs(layout, v)
        if v.branch_matcher is not None and not v.branch_matcher.matches(branch):
            continue
        state = apply_definition(state, v, inheriting=False)
    return state


def _cached_chain(
    layout: Layout, name: str, branch: str | None, overrides: tuple[Any, ...]
) -> JobState | None:
    """The chain state of ``name`` from the cache (computed if missing), or
    None if its chain cannot be applied."""
    key = ("chain", name, branch, overrides)
    cached = layout.cache.get(key)
    if cached is None:
        try:
            cached = _chain_state(layout, name, branch, overrides)
        except (InheritanceError, _NotRun) as exc:
            cached = exc
        layout.cache[key] = cached
    return None if isinstance(cached, Exception) else cached


def _chain_state(
    layout: Layout, name: str, branch: str | None, overrides: tuple[Any, ...]
) -> JobState:
    default_oc, per_project = overrides
    per_project_map = dict(per_project)

    def branch_for(job: Job) -> str | None:
        oc = per_project_map.get(job.project)
        if oc is None:
            for pname, value in per_project:
                if layout.resolve_project(pname) == job.project:
                    oc = value
                    break
        return oc or default_oc or branch

    levels: list[tuple[str, list[Job]]] = []
    path: list[str] = []
    current: str | None = name
    child: Job | None = None
    while current is not None:
        if current in path:
            cycle = " -> ".join(path + [current])
            assert child is not None
            raise InheritanceError(
                f"job '{name}' has an inheritance cycle: {cycle}", child, "inheritance-cycle"
            )
        variants = layout.jobs.get(current)
        if not variants:
            if child is None:
                raise _NotRun(f"job '{name}' is not defined")
            raise InheritanceError(
                f"job '{child.name}' has unknown parent '{current}'", child, "unknown-parent"
            )
        matching = [
            v
            for v in variants
            if v.branch_matcher is None or v.branch_matcher.matches(branch_for(v))
        ]
        if not matching:
            if child is None:
                raise _NotRun(f"no variant of job '{name}' matches branch '{branch}'")
            raise _NotRun(
                f"job '{child.name}' has no variant of its parent '{current}' for branch '{branch}'"
            )
        levels.append((current, matching))
        path.append(current)
        explicit = next((v for v in matching if v.base_job or v.parent is not None), None)
        child = explicit or matching[0]
        if explicit is not None:
            current = None if explicit.base_job else explicit.parent
        elif current == layout.default_parent:
            current = None
        else:
            current = layout.default_parent
    if len(levels) > 1:
        # The chain above this job is its parent's chain: reuse that (cached)
        # state and apply only this job's own level.  The walk above already
        # showed the parent's walk cannot fail; if applying its chain fails,
        # the whole chain is applied below so the error is raised as before.
        parent_name = levels[1][0]
        parent = _cached_chain(layout, parent_name, branch, overrides)
        if parent is not None:
            level_name, variants = levels[0]
            state = parent
            for index, variant in enumerate(variants):
                _check_refs(layout, variant)
                state = apply_definition(state, variant, inheriting=index == 0)
                state.name = name  # a new state (apply_definition copies)
            if parent.intermediate and not state.abstract:
                raise InheritanceError(
                    f"job '{level_name}' inherits from intermediate job "
                    f"'{parent_name}' and so must be abstract",
                    variants[0],
                    "intermediate",
                )
            return state
    state = JobState(name)
    previous_intermediate: tuple[str, bool] | None = None
    for level_name, variants in reversed(levels):
        for index, variant in enumerate(variants):
            _check_refs(layout, variant)
            state = apply_definition(state, variant, inheriting=index == 0)
        if previous_intermediate and previous_intermediate[1] and not state.abstract:
            raise InheritanceError(
                f"job '{level_name}' inherits from intermediate job "
                f"'{previous_intermediate[0]}' and so must be abstract",
                variants[0],
                "intermediate",
            )
        previous_intermediate = (level_name, state.intermediate)
    return state


def _check_final_job(
    state: JobState, name: str, pp_variants: Sequence[Job], project: str, pipeline: Pipeline
) -> None:
    origin = pp_variants[0] if pp_variants else None
    if origin is None:
        return
    if state.abstract:
        raise InheritanceError(
            f"job '{name}' is abstract and may not be run directly", origin, "abstract"
        )
    if state.allowed_projects is not None and project not in state.allowed_projects:
        if not any(v.trusted for v in pp_variants):
            raise InheritanceError(
                f"job '{name}' may not be used by project '{project}' "
                "(it is not in the job's allowed-projects)",
                origin,
                "allowed-projects",
            )
    if state.post_review and not pipeline.post_review:
        raise InheritanceError(
            f"job '{name}' is post-review only and may not run in pre-review pipeline "
            f"'{pipeline.name}'",
            origin,
            "post-review",
        )


def _check_state(state: JobState, name: str, origin: Job | None) -> None:
    """Checks that depend on the frozen state only (cached with it)."""
    values = state.values
    pre, total = values.get("pre_timeout"), values.get("timeout")
    if pre is not None and total is not None and pre > total:
        assert origin is not None
        raise InheritanceError(
            f"job '{name}' pre-timeout ({pre}) must not exceed its timeout ({total})",
            origin,
            "timeout",
        )
    job_sems = {s["name"] for s in state.semaphores}
    if not job_sems:
        return
    for placed in state.pre_run + state.run + state.post_run + state.cleanup_run:
        clash = job_sems.intersection(placed.definition.semaphores)
        if clash:
            raise InheritanceError(
                f"job '{name}' playbook '{placed.definition.path}' uses semaphore "
                f"'{sorted(clash)[0]}', which the job itself also holds",
                placed.job,
                "semaphore",
            )


def _files_allow(
    layout: Layout,
    state: JobState,
    changed_files: Sequence[str] | None,
    previous_layout: Layout | None,
    name: str,
    pipeline: str,
    project: str,
    branch: str | None,
) -> bool:
    values = state.values
    files = values.get("files")
    irrelevant = values.get("irrelevant_files")
    if not files and not irrelevant:
        return True
    ok = (not files or files_match(files, changed_files)) and not (
        irrelevant and irrelevant_files_match(irrelevant, changed_files)
    )
    if ok:
        return True
    if values.get("match_on_config_updates", True) and previous_layout is not None:
        old_pp = previous_layout.get_project_pipeline_jobs(pipeline, project, branch)
        return _config_changed(layout, previous_layout, old_pp.get(name, ()), name, branch, state)
    return False


def _config_changed(
    layout: Layout,
    previous: Layout,
    old_pp_variants: Sequence[Job],
    name: str,
    branch: str | None,
    state: JobState,
) -> bool:
    """Does the job's frozen form differ from the one in ``previous``?"""
    if previous is layout:
        return False
    try:
        old_state = _freeze_state(previous, name, old_pp_variants, branch)
    except (InheritanceError, _NotRun):
        return True
    return _comparable(_build_frozen_job(previous, old_state, {})) != _comparable(
        _build_frozen_job(layout, state, {})
    )


def _comparable(job: FrozenJob) -> dict[str, Any]:
    data = job.to_dict()
    data.pop("source_contexts", None)
    data.pop("inheritance_path", None)
    return data


# ---------------------------------------------------------------------------
# Building the FrozenJob


def _copy(value: Any) -> Any:
    """A cheap deep copy of plain data (much faster than copy.deepcopy)."""
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_copy(v) for v in value]
    return value


def _jsonable(value: Any) -> Any:
    """Secret data as plain JSON; encrypted values stay encrypted, marked
    ``{"encrypted": "pkcs1-oaep", "ciphertext": [...]}``."""
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if hasattr(value, "to_dict"):
        return value.to_dict()
    chunks = getattr(value, "ciphertext", None)
    if chunks is None:
        chunks = getattr(value, "chunks", None)
    if chunks is not None:
        if isinstance(chunks, (str, bytes)):
            chunks = [chunks]
        return {
            "encrypted": "pkcs1-oaep",
            "ciphertext": [c.decode() if isinstance(c, bytes) else c for c in chunks],
        }
    return str(value)


def _secret_json(layout: Layout, secret: Any, attr: str) -> Any:
    key = ("secret-json", id(secret), attr)
    found = layout.cache.get(key)
    if found is None:
        found = layout.cache[key] = (_jsonable(getattr(secret, attr)),)
    return found[0]  # shared between frozen jobs: read-only


def _flatten_nodesets(layout: Layout, nodeset: Nodeset, origin: Job) -> list[Nodeset]:
    """Alternatives flattened breadth-first into concrete nodesets."""
    out: list[Nodeset] = []
    queue: list[Nodeset] = [nodeset]
    seen: set[str] = set()
    while queue:
        current = queue.pop(0)
        if not current.alternatives:
            out.append(current)
            continue
        for alt in current.alternatives:
            if isinstance(alt, str):
                if alt in seen:
                    raise InheritanceError(
                        f"nodeset alternatives of job '{origin.name}' loop through '{alt}'",
                        origin,
                        "nodeset-cycle",
                    )
                seen.add(alt)
                found = layout.nodesets.get(alt)
                if found is None:
                    raise InheritanceError(
                        f"job '{origin.name}' nodeset alternative '{alt}' is not defined",
                        origin,
                        "unknown-nodeset",
                    )
                queue.append(found)
            else:
                queue.append(alt)
    return out


def _nodeset_dict(ns: Nodeset) -> dict[str, Any]:
    return {
        "name": ns.name,
        "nodes": [{"name": list(n.names), "label": n.label} for n in ns.nodes],
        "groups": [{"name": g.name, "nodes": list(g.nodes)} for g in ns.groups],
    }


@dataclass(frozen=True)
class _SecretTable:
    """The secrets a chain's definitions grant, computed once per layout for
    each distinct list of grants (most jobs share their base job's).

    ``secrets`` has one entry per (definition, variable name); ``grants``
    pairs each granting definition and its level with the indexes of its
    entries.
    """

    key: tuple[tuple[int, int], ...]
    secrets: tuple[dict[str, Any], ...]
    grants: tuple[tuple[Job, int, tuple[int, ...]], ...]


def _secret_table(layout: Layout, secret_grants: tuple[tuple[Job, int], ...]) -> _SecretTable:
    # Jobs live as long as the layout, so their ids identify them here.
    key = tuple((id(job), level) for job, level in secret_grants)
    found = layout.cache.get(("secret-table", key))
    if found is not None:
        return found  # type: ignore[no-any-return]
    secrets: list[dict[str, Any]] = []
    index: dict[tuple[int, str], int] = {}
    grants: list[tuple[Job, int, tuple[int, ...]]] = []
    for job, level in secret_grants:
        idxs = []
        for use in job.secrets or ():
            entry_key = (id(job), use.name)
            if entry_key not in index:
                secret = layout.secrets[use.secret]
                index[entry_key] = len(secrets)
                secrets.append(
                    {
                        "name": use.name,
                        "secret": use.secret,
                        "project": secret.project,
                        "branch": secret.context.branch,
                        "connection": secret.context.connection,
                        "trusted": job.trusted,
                        "pass_to_parent": use.pass_to_parent,
                        "data": _secret_json(layout, secret, "data"),
                        "oidc": _secret_json(layout, secret, "oidc"),
                    }
                )
            idxs.append(index[entry_key])
        grants.append((job, level, tuple(idxs)))
    table = _SecretTable(key, tuple(secrets), tuple(grants))
    layout.cache[("secret-table", key)] = table
    return table


def _playbook_refs(
    layout: Layout, placed_list: tuple[Any, ...], table: _SecretTable
) -> tuple[PlaybookRef, ...]:
    """The ``PlaybookRef``s of one of a state's playbook sequences.

    States of a chain's descendants share their ancestors' sequences (the
    same tuple), so the records are computed once per sequence and table;
    the cached value holds the sequence, so its id stays its own.
    """
    key = ("playbooks", id(placed_list), table.key)
    found = layout.cache.get(key)
    if found is not None:
        return found[1]  # type: ignore[no-any-return]
    secrets = table.secrets
    out = []
    for placed in placed_list:
        job = placed.job
        readable: list[int] = []
        names: set[str] = set()
        for gjob, _glevel, idxs in table.grants:
            if gjob is job:
                for i in idxs:
                    readable.append(i)
                    names.add(secrets[i]["name"])
        for _gjob, glevel, idxs in table.grants:
            if glevel > placed.level:
                for i in idxs:
                    if secrets[i]["pass_to_parent"] and secrets[i]["name"] not in names:
                        readable.append(i)
                        names.add(secrets[i]["name"])
        ref_key = ("playbook", id(placed), tuple(readable))
        ref = layout.cache.get(ref_key)
        if ref is None:
            view = layout.project_view(job.project)
            ref = layout.cache[ref_key] = PlaybookRef(
                path=placed.definition.path,
                connection=job.context.connection or (view.connection if view else None) or "",
                project=job.project,
                branch=job.context.branch,
                trusted=job.trusted,
                roles=[_role_dict(layout, r) for r in placed.roles],
                semaphores=list(placed.definition.semaphores),
                cleanup=placed.definition.cleanup,
                secrets=readable,
                nesting_level=placed.level,
            )
        out.append(ref)
    refs = tuple(out)
    layout.cache[key] = (placed_list, refs)
    return refs


def _build_frozen_job(layout: Layout, state: JobState, project_vars: dict[str, Any]) -> FrozenJob:
    v = state.values
    # Nodes.
    nodeset_name = None
    nodes: list[NodeSpec] = []
    groups: list[dict[str, Any]] = []
    alternatives: list[dict[str, Any]] = []
    ns = v.get("nodeset")
    if ns is not None:
        if isinstance(ns, str):
            nodeset_name = ns
            ns = layout.nodesets[ns]
        concrete = _flatten_nodesets(layout, ns, state_origin(state)) if ns.alternatives else [ns]
        if ns.alternatives:
            alternatives = [_nodeset_dict(c) for c in concrete]
        first = concrete[0] if concrete else Nodeset(None)
        nodes = [NodeSpec(name=list(n.names), label=n.label) for n in first.nodes]
        groups = [{"name": g.name, "nodes": list(g.nodes)} for g in first.groups]
    table = _secret_table(layout, state.secret_grants)
    # Each job gets its own entries (shallow copies), as when they were
    # built per job; playbook records are shared (see _playbook_refs).
    secrets = [dict(entry) for entry in table.secrets]

    def playbooks(placed_list: tuple[Any, ...]) -> list[PlaybookRef]:
        return list(_playbook_refs(layout, placed_list, table))

    job_vars = v.get("vars") or {}
    merged_vars = deep_merge(project_vars, job_vars) if project_vars else job_vars
    return FrozenJob(
        name=state.name,
        inheritance_path=list(state.path),
        nodeset_name=nodeset_name,
        nodes=nodes,
        groups=groups,
        nodeset_alternatives=alternatives,
        pre_run=playbooks(state.pre_run),
        run=playbooks(state.run),
        post_run=playbooks(state.post_run),
        cleanup_run=playbooks(state.cleanup_run),
        vars=_copy(merged_vars),
        extra_vars=_copy(v.get("extra_vars") or {}),
        host_vars=_copy(v.get("host_vars") or {}),
        group_vars=_copy(v.get("group_vars") or {}),
        timeout=v.get("timeout"),
        post_timeout=v.get("post_timeout"),
        pre_timeout=v.get("pre_timeout"),
        attempts=v.get("attempts", 3),
        voting=v.get("voting", True),
        tags=list(v.get("tags") or ()),
        required_projects=[
            {
                "name": layout.resolve_project(r["name"]) or r["name"],
                "override_checkout": r.get("override-checkout"),
            }
            for r in v.get("required_projects") or ()
        ],
        dependencies=[dict(d) for d in v.get("dependencies") or ()],
        semaphores=[
            {"name": s["name"], "resources_first": s["resources-first"]} for s in state.semaphores
        ],
        override_checkout=v.get("override_checkout"),
        workspace_scheme=v.get("workspace_scheme", "golang"),
        post_review=state.post_review,
        secrets=secrets,
        source_contexts=list(state.contexts),
        description=v.get("description"),
        success_message=v.get("success_message"),
        failure_message=v.get("failure_message"),
        hold_following_changes=bool(v.get("hold_following_changes", False)),
        provides=list(v.get("provides") or ()),
        requires=list(v.get("requires") or ()),
        failure_output=list(v.get("failure_output") or ()),
        include_vars=[dict(i) for i in v.get("include_vars") or ()],
        ansible_version=v.get("ansible_version") or layout.tenant.default_ansible_version,
        ansible_split_streams=bool(v.get("ansible_split_streams", False)),
        deduplicate=v.get("deduplicate", "auto"),
        workspace_checkout=v.get("workspace_checkout", True),
        image_build_name=v.get("image_build_name"),
    )


def state_origin(state: JobState) -> Job:
    """A definition to blame for problems found while building (the last)."""
    for placed in state.run + state.pre_run + state.post_run:
        return placed.job
    return Job(
        name=state.name, context=SourceContext("<unknown>", None, "<unknown>"), project="<unknown>"
    )


def _role_dict(layout: Layout, role: Any) -> dict[str, Any]:
    out = role.to_dict()
    if role.kind == "zuul":
        resolved = layout.resolve_project(role.source) or role.source
        out["project"] = resolved
        view = layout.project_view(resolved)
        if view is not None and view.connection:
            out["connection"] = view.connection
    return out


# ---------------------------------------------------------------------------
# Dependencies


def _resolve_dependencies(
    graph: JobGraph, frozen: dict[str, FrozenJob], pp_jobs: dict[str, list[Job]]
) -> None:
    deps: dict[str, list[str]] = {}
    for name, job in frozen.items():
        kept: list[dict[str, Any]] = []
        for dep in job.dependencies:
            if dep["name"] in frozen:
                kept.append(dep)
            elif not dep.get("soft"):
                reason = graph.not_run.get(dep["name"], "it is not part of this pipeline")
                graph.errors.append(
                    ConfigError(
                        f"job '{name}' depends on job '{dep['name']}', which does not run "
                        f"for this item ({reason})",
                        pp_jobs[name][0].context if pp_jobs.get(name) else None,
                        "job",
                        name,
                        key="dependency-not-run",
                    )
                )
        job.dependencies = kept
        deps[name] = [d["name"] for d in kept]
    # Cycles: depth-first search with colours.
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> bool:
        state[node] = 1
        stack.append(node)
        for nxt in deps.get(node, ()):
            if state.get(nxt) == 1:
                cycle = stack[stack.index(nxt) :] + [nxt]
                graph.errors.append(
                    ConfigError(
                        "job dependency cycle: " + " -> ".join(cycle),
                        pp_jobs[nxt][0].context if pp_jobs.get(nxt) else None,
                        "job",
                        nxt,
                        key="dependency-cycle",
                    )
                )
                return True
            if state.get(nxt) is None and visit(nxt):
                return True
        stack.pop()
        state[node] = 2
        return False

    for name in deps:
        if state.get(name) is None and visit(name):
            break
    graph.jobs = list(frozen.values())
    graph.dependencies = deps
