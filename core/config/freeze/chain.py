"""A job's inheritance chain and the rules checked on it.

Walks a job's chain from its base job (every variant whose branch matcher
fits, ``override-checkout`` picking the branch), applies the definitions
(``lockgate.config.inherit``), caches the state per layout and branch, and
checks what only the final job can tell (abstract, ``allowed-projects``,
post-review, timeouts, semaphores) and its file matchers.  Called by
``graph`` and ``recipes`` (this package); ``freeze_job`` (one job, for the
API and tests) and ``validate_jobs`` (load-time chain validation, called by
``lockgate.config.layout``) are its public entry points.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lockgate.config.errors import ConfigError
from lockgate.config.freeze.build import _build_frozen_job
from lockgate.config.inherit import InheritanceError, JobState, apply_definition
from lockgate.config.layout import NOOP_JOB_NAME, Layout, job_reference_problems
from lockgate.config.matchers import files_match, irrelevant_files_match
from lockgate.config.model import Job, Pipeline
from lockgate.model.jobs import FrozenJob

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


class _NotRun(Exception):
    """The job does not run for this item (not an error)."""


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
