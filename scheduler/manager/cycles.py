"""Dependency cycles in a dependent pipeline: one item, one job graph.  Pure.

Called by ``changes.prepare`` for a dependent pipeline's item, whose
``changes`` are one unit: a single change, or every change of a
``Depends-On:`` cycle (they are tested together and merge together or not
at all).  The unit's jobs are those of each project-branch of its changes,
frozen on the merged state; a job that freezes identically for several of
them runs once, a job of the same name that differs runs once per project
(named ``job (project)``).  Which changes form a cycle is the loop's
finding (``PipelineEvent.cycles``, from ``lockgate.scheduler.dependencies``).
"""

from __future__ import annotations

from typing import Any

from lockgate.config.freeze import freeze_job_graph
from lockgate.config.layout_model import Layout
from lockgate.model.queue import JobState, QueueItem
from lockgate.scheduler.manager import items
from lockgate.scheduler.manager.context import Context


def units(changes: list[Any]) -> list[tuple[str, str]]:
    """The (project, branch) pairs of ``changes``, in order, once each."""
    out: list[tuple[str, str]] = []
    for change in changes:
        key = (change.project, change.branch)
        if key not in out:
            out.append(key)
    return out


def freeze_unit(
    ctx: Context,
    item: QueueItem,
    files: dict[str, list[str]],
    *,
    layout: Layout | None = None,
    previous_layout: Layout | None = None,
) -> list[str]:
    """Freeze the jobs of every project of ``item.changes`` into
    ``item.jobs``; returns configuration errors (as ``items.freeze``)."""
    pairs = units(item.changes)
    if len(pairs) <= 1:
        return items.freeze(ctx, item, layout=layout, previous_layout=previous_layout)
    frozen_with = layout if layout is not None else ctx.snap.layout
    jobs: list[JobState] = []
    by_name: dict[str, Any] = {}
    errors: list[str] = []
    for project, branch in pairs:
        changed = files.get(project)
        try:
            assert frozen_with is not None, "the pipeline has no layout"
            graph = freeze_job_graph(
                frozen_with,
                item.pipeline,
                project,
                branch,
                changed,
                previous_layout=previous_layout,
            )
        except Exception as e:  # noqa: BLE001 - reported on the item, as items.freeze does
            errors.append(f"internal error while freezing the job graph of {project}: {e}")
            continue
        if graph.errors:
            errors.extend(e.format() for e in graph.errors)
            continue
        rename: dict[str, str] = {}
        fresh = []
        for job in graph.jobs:
            seen = by_name.get(job.name)
            if seen is None:
                rename[job.name] = job.name
            elif seen == job:
                rename[job.name] = job.name  # identical: runs once for the cycle
                continue
            else:
                rename[job.name] = f"{job.name} ({project})"
            by_name[rename[job.name]] = job
            fresh.append(job)
        for job in fresh:
            deps = [rename.get(d, d) for d in graph.dependencies.get(job.name, ())]
            jobs.append(JobState(name=rename[job.name], job=job, dependencies=deps))
    if errors:
        return errors
    item.jobs = jobs
    return []
