"""The timer driver: pipelines that run on a schedule (Zuul's ``timer``).

It has no connection: a pipeline names ``timer`` directly under ``trigger``.
Registered as ``timer`` in ``lockgate.drivers.registry``, which lists the
driver itself among the scheduler's event producers
(``event_producers``): the scheduler runs its event source as it runs a
connection's, with the same ``EventSourceHooks``.  The timer reads
``hooks.triggers()`` (the timer pipelines of every tenant, with their
project-branches; ``timer_targets`` makes them ``TimerTarget``s) and sends
each event to its own tenant with ``hooks.tenant_sink``; with
``dereference`` the event carries the branch head's sha, which
``hooks.branch_head`` resolves (the scheduler: ``git ls-remote``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import tzinfo
from typing import Any, NoReturn

import voluptuous as vs
from lockgate.clock import Clock
from lockgate.drivers.base import EventSourceHooks, PipelineTrigger
from lockgate.drivers.timer import schema, trigger
from lockgate.drivers.timer.event_source import TimerEventSource
from lockgate.drivers.timer.model import TimerTarget
from lockgate.service_config import Section


class TimerDriver:
    name = "timer"

    def make_connection(self, name: str, section: Section) -> NoReturn:
        raise section.error(
            "driver",
            "the timer driver takes no connection; name 'timer' directly under a "
            "pipeline's trigger",
        )

    def trigger_schema(self) -> vs.Schema:
        return schema.trigger_schema()

    def make_trigger_filter(
        self, connection_name: str, spec: Mapping[str, Any]
    ) -> trigger.TimerTriggerFilter:
        return trigger.make_trigger_filter(spec)

    def event_source(
        self,
        hooks: EventSourceHooks,
        *,
        clock: Clock | None = None,
        tz: tzinfo | None = None,
        branch_sha: Callable[[TimerTarget], str | None] | None = None,
    ) -> TimerEventSource:
        """The timer's event source, not started: it fires for
        ``timer_targets(hooks.triggers())``, read again at every wake-up; a
        ``dereference`` target's event names the branch head that
        ``hooks.branch_head`` resolves (``branch_sha`` overrides it: tests)."""

        def head(target: TimerTarget) -> str | None:
            return hooks.branch_head(target.tenant, target.project, target.branch)

        return TimerEventSource(
            lambda: list(timer_targets(hooks.triggers())),
            hooks.tenant_sink,
            clock=clock,
            tz=tz,
            branch_sha=branch_sha or head,
        )


def timer_targets(triggers: Iterable[PipelineTrigger]) -> Iterator[TimerTarget]:
    """Per pipeline, per timer entry, per project-branch with jobs in the
    pipeline, per ``time`` value: one target (other filters are skipped)."""
    for pipeline_trigger in triggers:
        for flt in pipeline_trigger.filters:
            if not isinstance(flt, trigger.TimerTriggerFilter):
                continue
            for project, branch in pipeline_trigger.project_branches:
                for timespec in flt.timespecs:
                    yield TimerTarget(
                        pipeline_trigger.tenant,
                        pipeline_trigger.pipeline,
                        project,
                        branch,
                        timespec,
                        flt.dereference,
                    )
