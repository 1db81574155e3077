"""The timer driver's records.

``TimerTarget`` is what the timer event source fires: one project-branch
of one pipeline with one ``time`` value.  Zuul enqueues every
project-branch with jobs in a timer pipeline at each tick; the scheduler
knows which those are (its layouts) and hands them to the timer's event
source as it does to every event source (``EventSourceHooks.triggers``),
and ``lockgate.drivers.timer.driver.timer_targets`` makes one target per
project-branch and ``time`` value — which is also what lets a jitter spread
project-branches over time.
"""

from __future__ import annotations

from dataclasses import dataclass

# The trigger key a pipeline names (``trigger: {timer: [...]}``) and the
# ``connection`` of every timer event: the timer driver has no connection.
TIMER = "timer"


@dataclass(frozen=True)
class TimerTarget:
    tenant: str
    pipeline: str
    project: str  # the project's canonical name, as the scheduler knows it
    branch: str
    timespec: str  # the ``time`` value as written
    dereference: bool = False  # put the branch head's sha in the event's newrev
