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
from lockgate.config.freeze.build import build_frozen_job
from lockgate.config.inherit import FreezeState, InheritanceError, apply_definition
from lockgate.config.layout_model import NOOP_JOB_NAME, Layout, job_reference_problems
from lockgate.config.matchers import files_match, irrelevant_files_match
from lockgate.config.model import Job, Pipeline
from lockgate.model.jobs import FrozenJob

# Keys of reference problems (already reported once by the layout builder).
_REFERENCE_KEYS = frozenset(
    {
        "unknown-parent",
        "unknown-nodeset",
        "unknown-label",
        "unknown-secret",
        "secret-not-permitted",
        "unknown-project",
    }
)
# References only the frozen job's final value needs: a parent naming a
# nodeset the tenant lacks does not stop a child that sets its own (Zuul
# resolves only the final nodeset).  ``build`` checks the final one.
_FINAL_VALUE_KEYS = frozenset({"unknown-nodeset", "unknown-label"})
# Problems Zuul finds only when a job is frozen: a variant that changes a
# final job or a final attribute is an error only if it is ever applied.
_FREEZE_ONLY_KEYS = frozenset({"final-variant", "attribute-control"})
# The deepest inheritance chain a job may have.  Zuul sets no bound; real
# chains are under ten deep, and each level costs every frozen descendant.
MAX_INHERITANCE_DEPTH = 64


class NotRun(Exception):
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
        state = freeze_state(layout, job_name, tuple(project_pipeline_variants), branch)
    except NotRun as reason:
        raise LookupError(str(reason)) from None
    pvars = layout.get_project_vars(project, branch) if project else {}
    return build_frozen_job(layout, state, pvars)


def validate_jobs(layout: Layout) -> None:
    """Try every job's inheritance chain once and record what fails there
    (final, protected or intermediate parents, cycles, chains too deep) as
    layout errors, attributed to the definition at fault.  What Zuul finds
    only when a job is frozen (a variant changing a final job or a final
    attribute) is left to the freezer, and a cycle is reported once, by the
    job that closes it, whichever job's chain found it."""
    seen = {(e.message, e.context) for e in layout.errors}
    cycles: set[tuple[str, frozenset[str]]] = set()
    for name, variants in layout.jobs.items():
        if name == NOOP_JOB_NAME:
            continue
        branches: list[str | None] = []
        for v in variants:
            if v.context.branch not in branches:
                branches.append(v.context.branch)
        for branch in branches:
            try:
                freeze_state(layout, name, (), branch)
            except NotRun:
                continue
            except InheritanceError as exc:
                if exc.key in _REFERENCE_KEYS or exc.key in _FREEZE_ONLY_KEYS:
                    continue
                if exc.key in ("inheritance-cycle", "inheritance-depth"):
                    # One report per cycle (by its members), and per chain
                    # too deep (by where the bound was reached).
                    members = frozenset(exc.cycle or ())
                    if (exc.key, members) in cycles:
                        continue
                    cycles.add((exc.key, members))
                elif exc.origin.name != name:
                    continue
                err = config_error(exc)
                if (err.message, err.context) not in seen:
                    seen.add((err.message, err.context))
                    layout.errors.append(err)


def config_error(exc: InheritanceError) -> ConfigError:
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
            if req.override_checkout:
                per_project[req.name] = req.override_checkout
    return (default, tuple(sorted(per_project.items())))


def _check_refs(layout: Layout, job: Job) -> None:
    """Raise for the first reference of ``job`` the layout cannot satisfy,
    except those only the final job's value needs (its nodeset)."""
    key = ("refs", id(job))
    problems = layout.cache.get(key)
    if problems is None:
        problems = [p for p in job_reference_problems(layout, job) if p[1] not in _FINAL_VALUE_KEYS]
        layout.cache[key] = problems
    if problems:
        message, kind = problems[0]
        raise InheritanceError(message, job, kind)


def freeze_state(
    layout: Layout, name: str, pp_variants: Sequence[Job], branch: str | None
) -> FreezeState:
    overrides = _override_checkouts(pp_variants)
    key = ("chain", name, branch, overrides)
    cached = layout.cache.get(key)
    if cached is None:
        try:
            cached = _chain_state(layout, name, branch, overrides)
        except (InheritanceError, NotRun) as exc:
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


def _chain_state(
    layout: Layout, name: str, branch: str | None, overrides: tuple[Any, ...]
) -> FreezeState:
    """The state of ``name``'s inheritance chain on ``branch``.

    Walks up from the job until an ancestor whose chain is already known
    (cached) or the base job, then applies the levels below it, caching each
    ancestor's state on the way down: every level is walked and applied
    once per layout, branch and overrides, however many jobs share it, so a
    chain of n jobs costs n, not n squared.  A chain deeper than
    ``MAX_INHERITANCE_DEPTH`` is refused, for every job below the bound at
    once (each such job's cache entry is the error).
    """
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
    on_path: set[str] = set()
    start: FreezeState | None = None
    too_deep: InheritanceError | None = None
    current: str | None = name
    child: Job | None = None
    while current is not None:
        if current in on_path:
            assert child is not None
            path = [level for level, _ in levels] + [current]
            cycle = path[path.index(current) :]
            error = InheritanceError(
                f"job '{child.name}' has an inheritance cycle: {' -> '.join(cycle)}",
                child,
                "inheritance-cycle",
                cycle=tuple(cycle),
            )
            _remember(layout, levels, branch, overrides, error)
            raise error
        if levels:
            cached = layout.cache.get(("chain", current, branch, overrides))
            if isinstance(cached, FreezeState):
                start = cached
                break
            if isinstance(cached, InheritanceError) and cached.key == "inheritance-depth":
                too_deep = cached
                break
            if isinstance(cached, (InheritanceError, NotRun)):
                # The walk from here would fail the same way: so do all below.
                _remember(layout, levels, branch, overrides, cached)
                raise cached.with_traceback(None)
        variants = layout.jobs.get(current)
        if not variants:
            if child is None:
                raise NotRun(f"job '{name}' is not defined")
            failure: InheritanceError | NotRun = InheritanceError(
                f"job '{child.name}' has unknown parent '{current}'", child, "unknown-parent"
            )
            _remember(layout, levels, branch, overrides, failure)
            raise failure
        matching = [
            v
            for v in variants
            if v.branch_matcher is None or v.branch_matcher.matches(branch_for(v))
        ]
        if not matching:
            if child is None:
                raise NotRun(f"no variant of job '{name}' matches branch '{branch}'")
            failure = NotRun(
                f"job '{child.name}' has no variant of its parent '{current}' for branch '{branch}'"
            )
            _remember(layout, levels, branch, overrides, failure)
            raise failure
        levels.append((current, matching))
        on_path.add(current)
        explicit = next((v for v in matching if v.base_job or v.parent is not None), None)
        child = explicit or matching[0]
        if explicit is not None:
            current = None if explicit.base_job else explicit.parent
        elif current == layout.default_parent:
            current = None
        else:
            current = layout.default_parent
    # Root first: the chain from the base job down to ``name``.
    above = list(start.level_names) if start is not None else []
    chain = above + [level for level, _ in reversed(levels)]
    bound = too_deep.cycle if too_deep is not None else None
    if bound is None and len(chain) > MAX_INHERITANCE_DEPTH:
        bound = (chain[MAX_INHERITANCE_DEPTH],)
    state = start if start is not None else FreezeState(name)
    previous: tuple[str, bool] | None = None
    if start is not None:
        previous = (above[-1] if above else start.name, start.intermediate)
    pending = list(reversed(levels))
    for depth, (level_name, variants) in enumerate(pending, start=len(above)):
        if bound is not None and (too_deep is not None or depth >= MAX_INHERITANCE_DEPTH):
            error = InheritanceError(
                f"job '{level_name}' has an inheritance chain deeper than "
                f"{MAX_INHERITANCE_DEPTH} jobs (the bound is passed at '{bound[0]}')",
                variants[0],
                "inheritance-depth",
                cycle=bound,
            )
            layout.cache[("chain", level_name, branch, overrides)] = error
            continue
        try:
            for index, variant in enumerate(variants):
                _check_refs(layout, variant)
                state = apply_definition(state, variant, inheriting=index == 0)
                state.name = level_name  # a new state (apply_definition copies)
            if previous is not None and previous[1] and not state.abstract:
                raise InheritanceError(
                    f"job '{level_name}' inherits from intermediate job "
                    f"'{previous[0]}' and so must be abstract",
                    variants[0],
                    "intermediate",
                )
        except InheritanceError as exc:
            # Every job below this level fails the same way.
            _remember(layout, pending[depth - len(above) :], branch, overrides, exc)
            raise
        previous = (level_name, state.intermediate)
        if level_name != name:
            layout.cache.setdefault(("chain", level_name, branch, overrides), state)
    if bound is not None:
        raise layout.cache[("chain", name, branch, overrides)]
    return state


def _remember(
    layout: Layout,
    levels: Sequence[tuple[str, list[Job]]],
    branch: str | None,
    overrides: tuple[Any, ...],
    failure: Exception,
) -> None:
    """Cache ``failure`` as the chain of each job of ``levels``: the chain of
    each passes through the same failing point, so walking it again would
    only fail again (and a hostile ring or ladder of jobs would cost the
    square of its length)."""
    for level_name, _ in levels:
        layout.cache.setdefault(("chain", level_name, branch, overrides), failure)


def check_final_job(
    state: FreezeState,
    name: str,
    pp_variants: Sequence[Job],
    project: str,
    pipeline: Pipeline,
    layout: Layout | None = None,
) -> None:
    origin = pp_variants[0] if pp_variants else None
    if origin is None:
        return
    if state.abstract:
        raise InheritanceError(
            f"job '{name}' is abstract and may not be run directly", origin, "abstract"
        )
    allowed = state.allowed_projects
    if allowed is not None and layout is not None:
        # Written as any name the tenant knows (short, full or canonical).
        allowed = frozenset(layout.resolve_project(p) or p for p in allowed)
    if allowed is not None and project not in allowed:
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


def check_state(state: FreezeState, name: str, origin: Job | None) -> None:
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


def files_allow(
    layout: Layout,
    state: FreezeState,
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
    state: FreezeState,
) -> bool:
    """Does the job's frozen form differ from the one in ``previous``?"""
    if previous is layout:
        return False
    try:
        old_state = freeze_state(previous, name, old_pp_variants, branch)
    except (InheritanceError, NotRun):
        return True
    return _comparable(build_frozen_job(previous, old_state, {})) != _comparable(
        build_frozen_job(layout, state, {})
    )


def _comparable(job: FrozenJob) -> dict[str, Any]:
    data = job.to_dict()
    data.pop("source_contexts", None)
    data.pop("inheritance_path", None)
    return data
