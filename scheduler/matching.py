"""Which pipelines a trigger event enters, and as which items.  Pure.

Called by the tenant processor for every trigger event, with the tenant's
layout and its compiled trigger filters (``lockgate.scheduler.tenants``).
An event enters a pipeline when one of the pipeline's trigger filters for
the event's connection matches it (the drivers' ``TriggerFilter.matches``),
the change satisfies the pipeline's ``require``/``reject`` for its
connection (a change event: its current state from the change cache is
passed in), and the project has jobs in that pipeline on the event's
branch — as in Zuul, a project not in a pipeline is not enqueued there.
A change event's target is the change's patchset ref and commit.

A timer event names the one pipeline it is for (``event.pipeline``) and
the project-branch; an event without a project (a timer tick for the whole
pipeline) fans out to every project-branch of the tenant with jobs in it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from lockgate.config.layout_model import Layout
from lockgate.drivers.base import TriggerFilter
from lockgate.model.change import Change
from lockgate.model.events import TriggerEvent
from lockgate.scheduler.manager.snapshot import Target


class Requirement(Protocol):
    def check(self, change: Change, now: float) -> str | None: ...


# pipeline -> connection (trigger name) -> compiled filters
TriggerFilters = Mapping[str, Mapping[str, Sequence[TriggerFilter]]]
# pipeline -> connection -> compiled require/reject
Requirements = Mapping[str, Mapping[str, Requirement]]


def _connection_of(layout: Layout, project: str, event: TriggerEvent) -> str:
    view = layout.project_view(project)
    if view is not None and view.connection:
        return str(view.connection)
    return event.connection


def match_event(
    layout: Layout,
    filters: TriggerFilters,
    event: TriggerEvent,
    change: Change | None = None,
    requirements: Requirements | None = None,
    now: float = 0.0,
    refused: list[str] | None = None,
) -> list[Target]:
    """The items ``event`` asks for, one per pipeline (and project-branch).

    ``change`` is the event's change as last known (None for ref events);
    a pipeline whose requirements it fails is skipped, and why is appended
    to ``refused``."""
    if event.pipeline:
        names = [event.pipeline] if event.pipeline in layout.pipelines else []
    else:
        names = list(layout.pipelines)
    targets: list[Target] = []
    for name in names:
        pipeline_filters = filters.get(name, {}).get(event.connection, ())
        if not any(f.matches(event, change) for f in pipeline_filters):
            continue
        if change is not None:
            requirement = (requirements or {}).get(name, {}).get(change.connection)
            reason = requirement.check(change, now) if requirement is not None else None
            if reason:
                if refused is not None:
                    refused.append(f"{name}: {reason}")
                continue
        if event.project:
            targets.extend(_project_target(layout, name, event, change))
        else:
            targets.extend(_every_project_branch(layout, name, event))
    return targets


def _project_target(
    layout: Layout, pipeline: str, event: TriggerEvent, change: Change | None
) -> list[Target]:
    project = layout.resolve_project(event.project)
    if project is None:
        return []
    branch = change.branch if change is not None else event.branch
    if pipeline not in layout.get_project_pipelines(project, branch):
        return []
    if change is not None:
        return [
            Target(
                pipeline=pipeline,
                project=project,
                connection=_connection_of(layout, project, event),
                ref=change.ref,
                branch=change.branch,
                newrev=change.commit,
            )
        ]
    return [
        Target(
            pipeline=pipeline,
            project=project,
            connection=_connection_of(layout, project, event),
            ref=event.ref or (f"refs/heads/{event.branch}" if event.branch else ""),
            branch=event.branch,
            oldrev=event.oldrev,
            newrev=event.newrev,
        )
    ]


def change_target(layout: Layout, pipeline: str, change: Change) -> Target | None:
    """The item ``change`` would be in ``pipeline`` without an event of its
    own (a change following another into a gate); None when its project
    has no jobs there."""
    project = layout.resolve_project(change.project)
    if project is None or pipeline not in layout.get_project_pipelines(project, change.branch):
        return None
    view = layout.project_view(project)
    return Target(
        pipeline=pipeline,
        project=project,
        connection=str(view.connection)
        if view is not None and view.connection
        else change.connection,
        ref=change.ref,
        branch=change.branch,
        newrev=change.commit,
    )


def _every_project_branch(layout: Layout, pipeline: str, event: TriggerEvent) -> list[Target]:
    return [
        Target(
            pipeline=pipeline,
            project=project,
            connection=_connection_of(layout, project, event),
            ref=f"refs/heads/{branch}",
            branch=branch,
        )
        for project, branch in project_branches_in(layout, pipeline)
    ]


def project_branches(layout: Layout, project: str) -> list[str]:
    """The branches the layout knows ``project`` has (those it read config from)."""
    branches = (getattr(layout, "branches", None) or {}).get(project)
    if branches:
        return list(branches)
    view = layout.project_view(project)
    return list(view.branches) if view is not None and view.branches else ["master"]


def project_branches_in(layout: Layout, pipeline: str) -> list[tuple[str, str]]:
    """(project, branch) pairs with jobs in ``pipeline`` (the timer's targets)."""
    out = []
    for view in layout.tenant.projects:
        for branch in project_branches(layout, view.name):
            if pipeline in layout.get_project_pipelines(view.name, branch):
                out.append((view.name, branch))
    return out
