"""Changes as the scheduler learns them: review systems, through the cache.

Who calls it: the tenant processor, for every change event (``for_event``:
the change's state now, asked of its review system and written to the
shared change cache), to resolve what a change needs
(``resolve_dependencies``), and to say which items an event removes from
every pipeline (``dequeues_for``) or from the pipelines whose requirements
the change no longer meets (``requirement_dequeues``), and which changes
need a change (``needing``: the gate enqueues them behind it); a change
entering a pipeline leaves those it ``supercedes`` (``supersede_dequeues``).
The review systems are the connections' ``ChangeSource``s
(``lockgate.drivers.base``); the cache is ``lockgate.zk.changes``.

Failures of a review system come back as ``ChangeQueryError`` /
``DependencyError`` with the change and why; the processor logs them and
goes on with the next event.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from lockgate.config.model import Pipeline
from lockgate.drivers.base import ChangeQueryError, ChangeSource, Connection, NeededBySource
from lockgate.model.change import Change, ChangeKey, change_key
from lockgate.model.events import TriggerEvent
from lockgate.scheduler.dependencies import DependencyGraph, resolve
from lockgate.scheduler.manager.snapshot import ChangeDequeue, PipelineEvent
from lockgate.scheduler.matching import Requirements
from lockgate.zk.changes import ChangeCache

log = logging.getLogger("lockgate.scheduler.changes")

# Event types (Gerrit's names; other drivers map theirs onto them) that
# remove items whatever the pipelines' triggers say.
NEW_PATCHSET = frozenset({"patchset-created"})
ABANDONED = frozenset({"change-abandoned"})


def dequeues_for(event: TriggerEvent) -> list[ChangeDequeue]:
    """The items ``event`` removes: older patchsets of a change that got a
    new one; every item of an abandoned change."""
    if event.change_number is None:
        return []
    key = change_key(event.connection, event.change_number, event.project, event.ref)
    if event.type in NEW_PATCHSET and event.patchset is not None:
        return [
            ChangeDequeue(
                key,
                f"patchset {event.patchset_id or event.patchset} of change "
                f"{event.change_number} was uploaded",
                below_patchset=event.patchset,
                new_patchset=True,
                event_id=event.event_id,
                patchset_id=event.patchset_id or "",
            )
        ]
    if event.type in ABANDONED:
        return [
            ChangeDequeue(
                key, f"change {event.change_number} was abandoned", event_id=event.event_id
            )
        ]
    return []


def requirement_dequeues(
    event: TriggerEvent, change: Change, requirements: Requirements, now: float
) -> list[ChangeDequeue]:
    """The pipelines whose requirements ``change`` (as just learnt, at the
    event's patchset) no longer meets: each gets a dequeue of the change's
    items at that patchset, naming what is missing.  Pipelines without
    such items ignore it (cheaper than loading them to look)."""
    out = []
    for pipeline in sorted(requirements):
        requirement = requirements[pipeline].get(change.connection)
        reason = requirement.check(change, now) if requirement is not None else None
        if reason:
            out.append(
                ChangeDequeue(
                    change.key,
                    f"change {change.describe()} no longer meets the requirements of "
                    f"pipeline {pipeline}: {reason}",
                    event_id=event.event_id,
                    pipelines=(pipeline,),
                    patchset=change.patchset,
                    patchset_id=change.patchset_id,
                )
            )
    return out


def supersede_dequeues(pev: PipelineEvent, pipeline: Pipeline | None) -> list[ChangeDequeue]:
    """A change entering ``pipeline`` (a ``lockgate.config.model.Pipeline``)
    leaves the pipelines it ``supercedes`` — a gate supersedes check: the
    same change need not be tested twice at once.  Only for an event that
    will enqueue its change (nothing it needs is missing or unmet); the
    items leave without a report to the review system, as in Zuul."""
    change = pev.change
    names = tuple(getattr(pipeline, "supercedes", ()) or ())
    if change is None or not names or pev.not_ready or pev.unmet:
        return []
    return [
        ChangeDequeue(
            change.key,
            f"change {change.describe()} entered pipeline {pev.target.pipeline}, "
            f"which supersedes {other}",
            event_id=pev.event.event_id,
            pipelines=(other,),
            patchset=change.patchset,
            patchset_id=change.patchset_id,
            report=False,
        )
        for other in names
        if other != pev.target.pipeline
    ]


class ChangeRegistry:
    def __init__(self, connections: Mapping[str, Connection], cache: ChangeCache | None) -> None:
        self.connections = connections
        self.cache = cache

    def source(self, connection: str) -> ChangeSource | None:
        conn = self.connections.get(connection)
        if conn is None:
            return None
        source = conn.source()
        return source if isinstance(source, ChangeSource) else None

    def get(
        self,
        connection: str,
        number: int,
        patchset: int | str | None = None,
        *,
        project: str = "",
    ) -> Change:
        """The change (at ``patchset``; None: current) as its review system
        says now; the current patchset is written to the cache.  ``project``
        for systems that number changes per repository (``ChangeKey.project``;
        their sources take ``get_change(..., project=)``)."""
        source = self.source(connection)
        if source is None:
            raise ChangeQueryError(f"connection '{connection}' has no changes")
        change = source.get_change(number, patchset, project=project or None)
        if self.cache is not None and change.is_current_patchset:
            self.cache.put(change)
        return change

    def for_event(self, event: TriggerEvent) -> Change | None:
        """The change ``event`` is about (at its patchset), or None for a
        ref event or a connection without changes."""
        if event.change_number is None or self.source(event.connection) is None:
            return None
        # A pull request's patchset is its head sha (``patchset_id``).
        patchset = event.patchset_id or event.patchset
        key = change_key(event.connection, event.change_number, event.project, event.ref)
        return self.get(key.connection, key.number, patchset, project=key.project)

    # --- dependencies (the resolver's Lookup) ------------------------------------------

    def by_url(self, url: str) -> Change | None:
        """The change a ``Depends-On:`` URL names: as the change cache has it
        (every event about a change refreshes its entry, and the drivers
        catch up on events they missed), else asked of its review system."""
        for name in sorted(self.connections):
            source = self.source(name)
            if source is None:
                continue
            # Pull request URLs name their repository (numbers are per repository).
            locate = getattr(source, "change_location_from_url", None)
            if callable(locate):
                found = locate(url)
                if found is not None:
                    project, number = found
                    key = ChangeKey(name, number, project)
                    hit = self.cache.get(key) if self.cache is not None else None
                    return hit if hit is not None else self.get(name, number, project=project)
                continue
            number = source.change_number_from_url(url)
            if number is None:
                continue
            cached = self.cache.get(ChangeKey(name, number)) if self.cache is not None else None
            return cached if cached is not None else self.get(name, number)
        return None

    def git_parents(self, change: Change) -> list[Change]:
        source = self.source(change.connection)
        if source is None or not change.parents:
            return []
        return source.open_changes_by_commit(change.project, list(change.parents))

    def resolve_dependencies(
        self, change: Change, *, max_dependencies: int | None = None
    ) -> DependencyGraph:
        return resolve(change, self, max_dependencies=max_dependencies)

    def needing(self, change: Change) -> list[Change]:
        """Open changes that need ``change`` (git children, ``Depends-On:``),
        asked of every review system that can say (``NeededBySource``);
        each found is written to the cache.  Raises ``ChangeQueryError``."""
        found: dict[ChangeKey, Change] = {}
        for name in sorted(self.connections):
            conn = self.connections[name]
            source = conn.source()
            if not isinstance(source, NeededBySource):
                continue
            for other in source.changes_needing(change):
                if other.key not in found:
                    found[other.key] = other
                    if self.cache is not None and other.is_current_patchset:
                        self.cache.put(other)
        return list(found.values())
