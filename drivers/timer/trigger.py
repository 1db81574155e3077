"""The timer driver's trigger filter: a timer event matches when its ``time`` is one of ours.

Built when a layout is loaded; every ``time`` value is parsed then, so a
bad cron line is a configuration error on the pipeline, never a surprise at
fire time.  A timer event targets one pipeline (``event.pipeline``); the
scheduler gives it only to that pipeline, and this filter checks the
``time`` value, as Zuul's does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lockgate.drivers.base import TriggerFilterError, as_list, validate
from lockgate.drivers.timer.model import TIMER
from lockgate.drivers.timer.schema import trigger_schema
from lockgate.drivers.timer.timespec import TimespecError, parse_timespec
from lockgate.model.events import TriggerEvent


@dataclass(frozen=True)
class TimerTriggerFilter:
    timespecs: tuple[str, ...]
    dereference: bool = False

    def matches(self, event: TriggerEvent, change: object = None) -> bool:
        return (
            event.type == TIMER and event.connection == TIMER and event.timespec in self.timespecs
        )


def make_trigger_filter(spec: Mapping[str, Any]) -> TimerTriggerFilter:
    what = "trigger 'timer'"
    spec = validate(trigger_schema(), dict(spec) if isinstance(spec, Mapping) else spec, what)
    times = tuple(as_list(spec["time"]))
    for text in times:
        try:
            parse_timespec(text)
        except TimespecError as e:
            raise TriggerFilterError(f"{what}: {e}") from None
    return TimerTriggerFilter(timespecs=times, dereference=spec.get("dereference", False))
