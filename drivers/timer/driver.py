"""The timer driver: pipelines that run on a schedule (Zuul's ``timer``).

It has no connection: a pipeline names ``timer`` directly under ``trigger``.
Registered as ``timer`` in ``lockgate.drivers.registry``.  The scheduler
makes one ``TimerEventSource`` (``event_source``) and feeds it the
project-branches of its timer pipelines.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import tzinfo
from typing import Any, NoReturn

import voluptuous as vs
from lockgate.clock import Clock
from lockgate.drivers.timer import schema, trigger
from lockgate.drivers.timer.event_source import TimerEventSource, TimerSink
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
        targets: Callable[[], Iterable[TimerTarget]],
        sink: TimerSink,
        *,
        clock: Clock | None = None,
        tz: tzinfo | None = None,
        branch_sha: Callable[[TimerTarget], str | None] | None = None,
    ) -> TimerEventSource:
        return TimerEventSource(targets, sink, clock=clock, tz=tz, branch_sha=branch_sha)
