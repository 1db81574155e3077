"""Speculative layouts: the configuration a queue item would have if it merged.

The scheduler calls ``build_speculative_layout`` for an item that changes
Zuul configuration (or sits behind one that does).  It takes the layout the
item would otherwise use (the tenant's, or the one of the item ahead:
``parent``) and the item's edited configuration, as ``ConfigEdit`` records:
the complete parsed objects of each project-branch the change touches (the
parser reads the files at the item's speculative merge state).

Two layouts are built, as in Zuul:

* phase 1 applies every edit, config projects included, to *validate* the
  change: errors it introduces are reported on it;
* phase 2 applies only the edits to untrusted projects: that is the layout
  the item's jobs run with.  A config project's change is validated but
  runs with the current layout, so its unmerged playbooks never run.

Semaphores are not changed speculatively (Zuul's rule): phase 2 keeps the
parent's semaphore definitions.

Errors are attributed by comparison with the parent layout: ``new_errors``
are those the parent does not have (compared without line numbers, so an
edit that shifts lines does not make old errors look new).  Zuul also
reports pre-existing errors in the project-branch the change touches; they
are in ``same_branch_errors`` for the reporter to include.

What comes next: the scheduler freezes the item's jobs with
``freeze_job_graph(result.layout, ..., previous_layout=parent)`` so that
jobs whose configuration the change alters ignore their file matchers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from lockgate.config.errors import ConfigError, Severity
from lockgate.config.layout import Layout, build_layout
from lockgate.config.objects import ConfigObject
from lockgate.config.tenant_view import ProjectView


@dataclass(frozen=True)
class ConfigEdit:
    """A change's configuration for one project-branch.

    ``objects`` are all the objects the project-branch has with the change
    applied (not only the changed ones); ``errors`` are what the parser
    found in the changed files (YAML and schema errors).
    """

    project: str
    branch: str | None
    objects: Sequence[ConfigObject]
    errors: Sequence[ConfigError] = ()


@dataclass
class SpeculativeLayout:
    """The outcome for one item.

    ``layout`` is what the item's jobs run with (phase 2).  ``new_errors``
    are the errors this item introduces (parser errors of its files, and
    layout errors the parent layout does not have); the item is a
    configuration error when any of them has severity ``error``.
    """

    layout: Layout
    validation_layout: Layout
    new_errors: list[ConfigError] = field(default_factory=list)
    same_branch_errors: list[ConfigError] = field(default_factory=list)
    # Config projects the change edits (validated only, never run).
    trusted_edits: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(e.severity is Severity.ERROR for e in self.new_errors)


def _error_key(err: ConfigError) -> tuple[object, ...]:
    ctx = err.context
    where = None if ctx is None else (ctx.project, ctx.branch, ctx.path)
    return (err.key, err.message, err.object_type, err.object_name, where)


def apply_edits(
    inputs: Sequence[tuple[ProjectView, list[ConfigObject]]],
    edits: Sequence[ConfigEdit],
) -> list[tuple[ProjectView, list[ConfigObject]]]:
    """The layout inputs with each edit's project-branch objects replaced.

    The new objects take the place of the old branch's objects, so load
    order (and thus variant order) is kept.
    """
    by_project: dict[str, list[ConfigEdit]] = {}
    for edit in edits:
        by_project.setdefault(edit.project, []).append(edit)
    out: list[tuple[ProjectView, list[ConfigObject]]] = []
    for view, objects in inputs:
        project_edits = by_project.get(view.name)
        if not project_edits:
            out.append((view, objects))
            continue
        current = list(objects)
        for edit in project_edits:
            positions = [i for i, o in enumerate(current) if o.context.branch == edit.branch]
            at = positions[0] if positions else len(current)
            kept = [o for o in current if o.context.branch != edit.branch]
            before = sum(1 for o in current[:at] if o.context.branch != edit.branch)
            current = kept[:before] + list(edit.objects) + kept[before:]
        out.append((view, current))
    return out


def build_speculative_layout(
    base: Layout,
    edits: Sequence[ConfigEdit],
    *,
    parent: Layout | None = None,
    ahead: Sequence[ConfigEdit] = (),
) -> SpeculativeLayout:
    """The layout for an item that changes configuration.

    ``parent`` is the layout of the item ahead if it has a speculative one
    (otherwise ``base``, the tenant's layout); ``ahead`` may instead list
    the configuration edits of the items ahead, which are applied first.
    """
    if parent is None:
        if ahead:
            parent = _build(base, apply_edits(base.inputs, _untrusted(base, ahead)))
        else:
            parent = base
    trusted_projects = {v.name for v, _ in base.inputs if v.trusted}
    # Phase 1: everything, for validation.
    validation = _build(parent, apply_edits(parent.inputs, edits))
    # Phase 2: untrusted edits only, for running.
    runnable = [e for e in edits if e.project not in trusted_projects]
    if len(runnable) == len(edits):
        running = validation
    elif runnable:
        running = _build(parent, apply_edits(parent.inputs, runnable))
    else:
        running = parent
    if running is not parent:
        # Semaphores are never changed speculatively.
        running.semaphores = dict(parent.semaphores)
    known = {_error_key(e) for e in parent.errors}
    touched = {(e.project, e.branch) for e in edits}
    new_errors: list[ConfigError] = []
    same_branch: list[ConfigError] = []
    for edit in edits:
        new_errors.extend(edit.errors)
    for err in validation.errors:
        if _error_key(err) not in known:
            new_errors.append(err)
        elif err.context is not None and (err.context.project, err.context.branch) in touched:
            same_branch.append(err)
    return SpeculativeLayout(
        layout=running,
        validation_layout=validation,
        new_errors=new_errors,
        same_branch_errors=same_branch,
        trusted_edits=sorted({e.project for e in edits if e.project in trusted_projects}),
    )


def _untrusted(base: Layout, edits: Sequence[ConfigEdit]) -> list[ConfigEdit]:
    trusted = {v.name for v, _ in base.inputs if v.trusted}
    return [e for e in edits if e.project not in trusted]


def _build(like: Layout, inputs: list[tuple[ProjectView, list[ConfigObject]]]) -> Layout:
    return build_layout(
        like.tenant, inputs, branches=dict(like.branches), labels=like.provider_labels
    )
