"""Zuul's timer driver: cron-scheduled pipeline triggers, no connection.

Files by role: ``driver.py`` (the registry entry), ``timespec.py`` (the
``time`` syntax and next fire times), ``model.py`` (``TimerTarget``),
``event_source.py`` (the ticking thread), ``trigger.py`` and ``schema.py``
(pipeline trigger filters).  See ``doc/drivers.md``.
"""

from lockgate.drivers.timer.driver import TimerDriver
from lockgate.drivers.timer.event_source import TimerEventSource
from lockgate.drivers.timer.model import TIMER, TimerTarget
from lockgate.drivers.timer.timespec import Timespec, TimespecError, parse_timespec
from lockgate.drivers.timer.trigger import TimerTriggerFilter

__all__ = [
    "TIMER",
    "TimerDriver",
    "TimerEventSource",
    "TimerTarget",
    "TimerTriggerFilter",
    "Timespec",
    "TimespecError",
    "parse_timespec",
]
