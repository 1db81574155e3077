"""The freezer's caches of frozen jobs and whole graphs, and cloning them.

A job's frozen form is computed once per layout, branch, effective
project-pipeline variants and project variables and kept as a *template*
(its attributes, lists as tuples); each item gets a cheap ``clone``.  A
graph without file matching is kept as a *recipe* keyed by what of the
project's configuration can change it (``recipe_signature``), so projects
configured alike share it.  Called by ``graph`` (this package).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from lockgate.config.freeze.build import build_frozen_job, state_origin
from lockgate.config.freeze.chain import NotRun, check_state, freeze_state
from lockgate.config.inherit import FreezeState, InheritanceError
from lockgate.config.layout_model import Layout
from lockgate.config.model import Job
from lockgate.model.jobs import FrozenJob

# One shared empty mapping, so jobs of projects without variables share a
# cache entry (the cache keys on the identity of the project variables).
NO_VARS: dict[str, Any] = {}


def recipe_signature(pp_jobs: dict[str, list[Job]]) -> tuple[Any, ...]:
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


def frozen_template(
    layout: Layout,
    name: str,
    pp_variants: Sequence[Job],
    branch: str | None,
    pvars: dict[str, Any],
) -> tuple[FreezeState, dict[str, Any]]:
    """The frozen state and job, cached: many projects run the same job with
    no project-specific change (a template's plain job entry), and a
    project-pipeline entry that sets nothing changes nothing.  The job is
    kept as a template for ``clone`` (see ``_template``)."""
    effective = tuple(v for v in pp_variants if v.explicit or v.branch_matcher is not None)
    key = ("frozen", name, branch, tuple(id(v) for v in effective), id(pvars))
    found = layout.cache.get(key)
    if found is None:
        try:
            state = freeze_state(layout, name, effective, branch)
            check_state(state, name, pp_variants[0] if pp_variants else state_origin(state))
            found = (state, _template(build_frozen_job(layout, state, pvars)), effective, pvars)
        except (InheritanceError, NotRun) as exc:
            found = exc
        layout.cache[key] = found
    if isinstance(found, Exception):
        raise found.with_traceback(None)
    return found[0], found[1]


_DICT_FIELDS = ("vars", "extra_vars", "host_vars", "group_vars")
_LIST_FIELDS = tuple(
    f.name
    for f in dataclasses.fields(FrozenJob)
    if f.name not in _DICT_FIELDS and f.default_factory is list
)
# What ``clone`` copies as it is (``dependencies`` come resolved per item).
_CLONED_LISTS = tuple(n for n in _LIST_FIELDS if n != "dependencies")
_new_object = object.__new__


def _template(job: FrozenJob) -> dict[str, Any]:
    """A frozen job as kept in the layout's cache: its attributes, with
    tuples for its lists (see ``clone``).

    Templates stay alive as long as the layout; tuples instead of lists
    keep them small and mostly out of the cyclic garbage collector's way
    (an empty tuple is shared, a tuple of strings is not tracked), whose
    passes over a large live heap are a good part of freezing's cost.
    """
    data = dict(job.__dict__)
    for name in _LIST_FIELDS:
        data[name] = tuple(data[name] or ())
    return data


def clone(template: dict[str, Any], dependencies: Sequence[dict[str, Any]]) -> FrozenJob:
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
