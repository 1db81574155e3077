"""Zuul's timer ``time`` value: cron syntax, optional seconds, optional jitter.

``MINUTE HOUR DAY MONTH DAY_OF_WEEK [SECOND [JITTER]]``, exactly as Zuul
reads it (Zuul hands the fields to APScheduler's ``CronTrigger``):

- five fields fire at second 0; a sixth field is the seconds;
- a seventh field is a jitter in whole seconds: every project-branch fires
  a fixed, pseudo-random 0..JITTER seconds after the scheduled time (the
  same offset on every scheduler, derived from tenant, project and branch);
- day of week counts from **Monday = 0** to Sunday = 6 (APScheduler's rule,
  which Zuul's documentation warns differs from cron's Sunday = 0); names
  ``mon``..``sun`` mean what they say;
- day of month and day of week must *both* match when both are restricted
  (cron would fire when either does; APScheduler, and so Zuul, when both do).

We compute fire times with ``croniter``: the day-of-week field is rewritten
into cron's numbering and the rest is passed through, so any field syntax
croniter does not know is reported when the pipeline is loaded.

Who calls it: ``lockgate.drivers.timer.trigger`` (validation at load time)
and ``lockgate.drivers.timer.event_source`` (next fire times).
"""

from __future__ import annotations

import json
import os
import random
import re
from dataclasses import dataclass
from datetime import datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

_DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # index = Zuul's number
_DOW_ITEM = re.compile(r"^(\*|[a-z0-9]+(?:-[a-z0-9]+)?)(?:/(\d+))?$")


class TimespecError(ValueError):
    """A ``time`` value that cannot be scheduled; ``str()`` is user-facing."""


@dataclass(frozen=True)
class Timespec:
    text: str  # as written in the pipeline; events carry it so filters can match
    cron: str  # croniter's six-field form (seconds last), day of week in cron numbering
    jitter: int  # seconds; 0 for none

    def jitter_offset(self, tenant: str, project: str, branch: str) -> float:
        """The fixed delay of one project-branch, in [0, jitter]; the same on every scheduler."""
        if not self.jitter:
            return 0.0
        seed = json.dumps([tenant, project, branch])
        return random.Random(seed).uniform(0, self.jitter)

    def next_fire(self, after: float, offset: float = 0.0, tz: tzinfo | None = None) -> float:
        """The first fire time strictly after ``after`` (epoch seconds) for a delay of ``offset``.

        A fire time is a cron time plus ``offset``; starting the cron search
        at ``after - offset`` means a process started between a cron time
        and its delayed fire time still fires it rather than skipping it.
        """
        zone = tz or local_timezone()
        start = datetime.fromtimestamp(after - offset, zone)
        nxt = croniter(self.cron, start, day_or=False).get_next(datetime)
        return float(nxt.timestamp()) + offset


def parse_timespec(text: str) -> Timespec:
    if not isinstance(text, str):
        raise TimespecError(f"time must be a string, got {text!r}")
    parts = text.split()
    if not 5 <= len(parts) <= 7:
        raise TimespecError(
            f"time '{text}': expected 5 fields (minute hour day month day-of-week), "
            f"optionally seconds and jitter; got {len(parts)}"
        )
    minute, hour, day, month, dow = parts[:5]
    second = parts[5] if len(parts) > 5 else "0"
    jitter = 0
    if len(parts) > 6:
        if not parts[6].isdigit():
            raise TimespecError(
                f"time '{text}': jitter must be a whole number of seconds, got '{parts[6]}'"
            )
        jitter = int(parts[6])
    cron = " ".join([minute, hour, day, month, _cron_day_of_week(text, dow), second])
    try:
        croniter(cron, datetime(2000, 1, 1), day_or=False).get_next(datetime)
    except Exception as e:  # noqa: BLE001 - croniter raises several unrelated types
        raise TimespecError(f"time '{text}': {e}") from None
    return Timespec(text=text, cron=cron, jitter=jitter)


def _cron_day_of_week(text: str, field: str) -> str:
    """Rewrite a Monday=0 day-of-week field as an explicit cron (Sunday=0) list."""
    days: set[int] = set()
    for item in field.lower().split(","):
        m = _DOW_ITEM.match(item)
        if not m:
            raise TimespecError(f"time '{text}': cannot read day of week '{field}'")
        span, step_s = m.group(1), m.group(2)
        if span == "*":
            first, last = 0, 6
        elif "-" in span:
            a, b = span.split("-")
            first, last = _day(text, a), _day(text, b)
        else:
            first = last = _day(text, span)
            if step_s:  # "3/2" means from 3 to the end, as in APScheduler
                last = 6
        step = int(step_s) if step_s else 1
        if step < 1 or first > last:
            raise TimespecError(f"time '{text}': cannot read day of week '{field}'")
        days.update(range(first, last + 1, step))
    if days == set(range(7)):
        return "*"
    return ",".join(str((d + 1) % 7) for d in sorted(days, key=lambda d: (d + 1) % 7))


def _day(text: str, token: str) -> int:
    if token.isdigit() and int(token) <= 6:
        return int(token)
    if token in _DAY_NAMES:
        return _DAY_NAMES.index(token)
    raise TimespecError(
        f"time '{text}': day of week '{token}' must be 0 (Monday) to 6 (Sunday) or mon..sun"
    )


def local_timezone() -> tzinfo:
    """The host's time zone (Zuul schedules timers in local time), UTC if unknown."""
    name = os.environ.get("TZ", "").lstrip(":")
    if name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    try:
        with open("/etc/localtime", "rb") as f:
            return ZoneInfo.from_file(f, key="localtime")
    except OSError:
        return ZoneInfo("UTC")
