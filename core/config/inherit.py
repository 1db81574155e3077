"""Zuul's inheritance rules, one attribute at a time.

``lockgate.config.freeze`` walks a job's inheritance chain (base first) and
its variants, and for each definition calls ``apply_definition`` on a
``FreezeState``.  This module holds those rules and nothing else: which
attributes override, which merge (lists without duplicates, mappings
deeply), what ``!inherit``/``!override`` change, what ``final``,
``protected``, ``abstract``, ``intermediate`` and ``attribute-control``
forbid, and how playbooks nest (parent pre, child pre, run, child post,
parent post).

States are never mutated once shared: every step copies the state shallowly
and replaces (never edits) the values it changes, so a state cached for one
chain can seed many frozen jobs.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from lockgate.config.interpret import role_install_name
from lockgate.config.model import (
    NON_EXECUTION_ATTRIBUTES,
    Job,
    OverrideMode,
    PlaybookDef,
    RoleDef,
)
from lockgate.model.jobs import RequiredProject


class InheritanceError(Exception):
    """A definition that may not be applied; ``origin`` is the culprit."""

    def __init__(
        self, message: str, origin: Job, key: str, *, cycle: tuple[str, ...] | None = None
    ) -> None:
        super().__init__(message)
        self.origin = origin
        self.key = key
        # ``inheritance-cycle``: the jobs of the cycle; ``inheritance-depth``:
        # where the bound was reached (what a report is deduplicated by).
        self.cycle = cycle


def deep_merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """A new mapping: ``update`` deep-merged over ``base`` (neither changed).

    Leaves in ``update`` replace; mappings on both sides merge recursively.
    """
    if not base:
        return update
    if not update:
        return base
    out = dict(base)
    for key, value in update.items():
        old = out.get(key)
        if isinstance(value, dict) and isinstance(old, dict):
            out[key] = deep_merge(old, value)
        else:
            out[key] = value
    return out


def _union(old: Iterable[Any], new: Iterable[Any]) -> tuple[Any, ...]:
    out = list(old)
    for item in new:
        if item not in out:
            out.append(item)
    return tuple(out)


def _merge_by_name(
    old: tuple[RequiredProject, ...], new: tuple[RequiredProject, ...]
) -> tuple[RequiredProject, ...]:
    """Required projects: a later entry with the same name replaces."""
    by_name = {item.name: item for item in old}
    for item in new:
        by_name[item.name] = item
    return tuple(by_name.values())


@dataclass(frozen=True)
class PlacedPlaybook:
    """A playbook in the frozen sequence, with what it was added with."""

    definition: PlaybookDef
    job: Job  # the definition (variant) that added it
    level: int  # inheritance depth of that definition (0 = base job)
    roles: tuple[RoleDef, ...]


# Attribute groups by merge rule (field names).
_UNION_DEFAULT_INHERIT = {"tags", "provides", "requires", "failure_output", "include_vars"}
_DICT_DEFAULT_INHERIT = {"vars", "extra_vars", "host_vars", "group_vars"}
_DEFAULT_OVERRIDE = {"files", "irrelevant_files", "dependencies"}
_HANDLED_SPECIALLY = {
    "parent",
    "final",
    "protected",
    "abstract",
    "intermediate",
    "attribute_control",
    "semaphores",
    "secrets",
    "pre_run",
    "run",
    "post_run",
    "cleanup_run",
    "roles",
    "required_projects",
    "allowed_projects",
    "post_review",
}


class FreezeState:
    """The job as frozen so far.  ``values`` holds plain attribute values."""

    __slots__ = (
        "name",
        "values",
        "path",
        "contexts",
        "level",
        "final",
        "final_origin",
        "protected_origin",
        "abstract",
        "intermediate",
        "final_attrs",
        "allowed_projects",
        "post_review",
        "semaphores",
        "roles",
        "pre_run",
        "run",
        "post_run",
        "cleanup_run",
        "secret_grants",
        "level_names",
    )

    def __init__(self, name: str) -> None:
        self.name = name
        self.values: dict[str, Any] = {}
        self.path: tuple[str, ...] = ()
        self.contexts: tuple[str, ...] = ()
        self.level = -1
        self.final = False
        self.final_origin: Job | None = None
        self.protected_origin: str | None = None
        self.abstract = False
        self.intermediate = False
        self.final_attrs: dict[str, Job] = {}
        self.allowed_projects: frozenset[str] | None = None
        self.post_review = False
        self.semaphores: tuple[dict[str, Any], ...] = ()
        self.roles: tuple[RoleDef, ...] = ()
        self.pre_run: tuple[PlacedPlaybook, ...] = ()
        self.run: tuple[PlacedPlaybook, ...] = ()
        self.post_run: tuple[PlacedPlaybook, ...] = ()
        self.cleanup_run: tuple[PlacedPlaybook, ...] = ()
        # (definition, level) for every definition that declared secrets.
        self.secret_grants: tuple[tuple[Job, int], ...] = ()
        self.level_names: tuple[str, ...] = ()

    def copy(self) -> FreezeState:
        """A shallow copy with its own ``values`` and ``final_attrs``.

        Written out slot by slot: a state is copied for every definition of
        every chain, and a loop over ``__slots__`` with getattr/setattr costs
        several times more.  Keep it in step with ``__slots__`` (a unit test
        checks that every slot is copied).
        """
        new = _new_state(FreezeState)
        new.name = self.name
        new.values = self.values.copy()
        new.path = self.path
        new.contexts = self.contexts
        new.level = self.level
        new.final = self.final
        new.final_origin = self.final_origin
        new.protected_origin = self.protected_origin
        new.abstract = self.abstract
        new.intermediate = self.intermediate
        new.final_attrs = self.final_attrs.copy()
        new.allowed_projects = self.allowed_projects
        new.post_review = self.post_review
        new.semaphores = self.semaphores
        new.roles = self.roles
        new.pre_run = self.pre_run
        new.run = self.run
        new.post_run = self.post_run
        new.cleanup_run = self.cleanup_run
        new.secret_grants = self.secret_grants
        new.level_names = self.level_names
        return new


_new_state = object.__new__


def _check_restrictions(state: FreezeState, job: Job, inheriting: bool) -> None:
    """Raise if ``job`` may not be applied on top of ``state``."""
    if inheriting:
        parent = state.level_names[-1] if state.level_names else None
        if state.final:
            raise InheritanceError(
                f"job '{job.name}' may not inherit from final job '{parent}'",
                job,
                "final",
            )
        if state.protected_origin and state.protected_origin != job.project:
            raise InheritanceError(
                f"job '{job.name}' may not inherit from protected job '{parent}' "
                f"(only jobs in project '{state.protected_origin}' may)",
                job,
                "protected",
            )
    else:
        changed_exec = [
            a for a in job.explicit if a not in NON_EXECUTION_ATTRIBUTES and a != "parent"
        ]
        if state.final and changed_exec:
            where = "project pipeline" if job.in_project_pipeline else "variant"
            raise InheritanceError(
                f"job '{job.name}' is final; the {where} at {job.context.location()} "
                f"may not change '{changed_exec[0].replace('_', '-')}'",
                job,
                "final-variant",
            )
        if state.protected_origin and state.protected_origin != job.project and changed_exec:
            raise InheritanceError(
                f"job '{job.name}' is protected; only project '{state.protected_origin}' "
                f"may change '{changed_exec[0].replace('_', '-')}'",
                job,
                "protected",
            )
    for attr in job.explicit:
        yaml_attr = attr.replace("_", "-")
        origin = state.final_attrs.get(yaml_attr)
        if origin is not None:
            raise InheritanceError(
                f"job '{job.name}' may not change attribute '{yaml_attr}': it is final "
                f"(attribute-control in {origin.context.location()})",
                job,
                "attribute-control",
            )


def apply_definition(state: FreezeState, job: Job, inheriting: bool) -> FreezeState:
    """Apply one definition: a new level (``inheriting``) or a variant of the
    current level.  Returns a new state; raises ``InheritanceError``."""
    _check_restrictions(state, job, inheriting)
    new = state.copy()
    if inheriting:
        new.level = state.level + 1
        new.level_names = state.level_names + (job.name,)
        # Reset what a child does not inherit from its parent.
        new.final = False
        new.final_origin = None
        new.protected_origin = None
        new.abstract = False
        new.intermediate = False
        new.values.pop("description", None)
        new.values.pop("variant_description", None)
    new.path = state.path + (f"{job.name} {job.location}",)
    new.contexts = state.contexts + (job.location,)
    values = new.values
    modes = job.override_modes
    for attr in job.explicit:
        value = getattr(job, attr)
        if attr in _HANDLED_SPECIALLY:
            continue
        if attr in _DICT_DEFAULT_INHERIT:
            if modes.get(attr) is OverrideMode.OVERRIDE:
                values[attr] = value
            else:
                values[attr] = deep_merge(values.get(attr) or {}, value)
        elif attr in _UNION_DEFAULT_INHERIT:
            if modes.get(attr) is OverrideMode.OVERRIDE:
                values[attr] = value
            else:
                values[attr] = _union(values.get(attr) or (), value)
        elif attr in _DEFAULT_OVERRIDE:
            if modes.get(attr) is OverrideMode.INHERIT:
                values[attr] = _union(values.get(attr) or (), value)
            else:
                values[attr] = value
        else:
            values[attr] = value
    # Restriction flags.
    if job.final is not None:
        if job.final:
            new.final = True
            new.final_origin = job
        elif not inheriting and state.final:
            pass  # a variant cannot clear final
    if job.protected:
        new.protected_origin = job.project
    if job.abstract is not None:
        new.abstract = job.abstract or (new.abstract and not inheriting)
    if job.intermediate is not None:
        new.intermediate = job.intermediate or (new.intermediate and not inheriting)
    if job.attribute_control:
        for yaml_attr, is_final in job.attribute_control.items():
            if is_final:
                new.final_attrs[yaml_attr] = job
    if job.post_review:
        new.post_review = True
    if job.allowed_projects is not None:
        new.allowed_projects = (
            job.allowed_projects
            if new.allowed_projects is None
            else new.allowed_projects & job.allowed_projects
        )
    if job.semaphores:
        have = {s["name"] for s in new.semaphores}
        new.semaphores = new.semaphores + tuple(s for s in job.semaphores if s["name"] not in have)
    if job.required_projects is not None:
        if modes.get("required_projects") is OverrideMode.OVERRIDE:
            values["required_projects"] = job.required_projects
        else:
            values["required_projects"] = _merge_by_name(
                values.get("required_projects") or (), job.required_projects
            )
    roles = _definition_roles(job)
    if roles:
        new.roles = _add_roles(new.roles, roles)
    if job.secrets:
        new.secret_grants = new.secret_grants + ((job, new.level),)
        if any(use.pass_to_parent for use in job.secrets) and any(
            not placed.job.trusted and placed.level < new.level
            for placed in new.pre_run + new.run + new.post_run + new.cleanup_run
        ):
            # Zuul's rule: a secret passed to a parent's playbook in an
            # untrusted project could be exposed by a proposed change to
            # that playbook, so the job runs only after review.
            new.post_review = True
    # Playbooks nest: pre appends, run replaces, post and cleanup prepend.
    if job.pre_run:
        new.pre_run = new.pre_run + _place(job.pre_run, job, new)
    if job.run is not None:
        new.run = _place(job.run, job, new)
    if job.post_run:
        new.post_run = _place(job.post_run, job, new) + new.post_run
    if job.cleanup_run:
        new.cleanup_run = _place(job.cleanup_run, job, new) + new.cleanup_run
    return new


@functools.cache
def implicit_role(project: str) -> RoleDef:
    """The role Zuul adds for the project that holds a job definition."""
    return RoleDef("zuul", project, role_install_name(project), implicit=True)


def _definition_roles(job: Job) -> tuple[RoleDef, ...]:
    """The roles a definition adds: its ``roles``, after its own project's
    implicit role (unless an explicit entry names it, or it is a
    project-pipeline variant, as in Zuul)."""
    explicit = job.roles or ()
    if job.in_project_pipeline:
        return explicit
    implicit = implicit_role(job.project)
    if implicit in explicit:
        return explicit
    return (implicit, *explicit)


def _add_roles(old: tuple[RoleDef, ...], new: tuple[RoleDef, ...]) -> tuple[RoleDef, ...]:
    """Zuul's ``addRoles``: roles already there keep their place (an implicit
    one becomes explicit if ``new`` names it so); the others go first, in
    ``new``'s order.  Earlier playbooks keep their snapshot."""
    out = []
    for role in old:
        replacement = next((r for r in new if r == role), None)
        if replacement is not None and role.implicit and not replacement.implicit:
            out.append(replacement)
        else:
            out.append(role)
    for role in reversed(new):
        if role not in out:
            out.insert(0, role)
    return tuple(out)


def _place(
    defs: tuple[PlaybookDef, ...], job: Job, state: FreezeState
) -> tuple[PlacedPlaybook, ...]:
    return tuple(PlacedPlaybook(d, job, state.level, state.roles) for d in defs)
