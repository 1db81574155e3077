"""The timer driver's event source: fires ``timer`` events on cron schedules.

It takes two callbacks, which ``TimerDriver.event_source(hooks)`` makes from
the scheduler's ``EventSourceHooks``:

- ``targets()``: every (tenant, pipeline, project, branch, time) to fire —
  one ``TimerTarget`` per project-branch that has jobs in a pipeline with a
  timer trigger, per ``time`` value (``timer_targets(hooks.triggers())``);
  it is called on every wake-up (at least every ``refresh_interval``
  seconds, and at once after ``refresh()``), so a reconfiguration takes
  effect without a restart;
- ``sink(tenant, event)``: puts the event on that tenant's trigger queue
  (``hooks.tenant_sink``).

Each event: ``type="timer"``, ``connection="timer"``, ``project``,
``branch``, ``ref="refs/heads/<branch>"``, ``pipeline`` (the one pipeline it
is for), ``timespec`` (the ``time`` value, which the trigger filter checks),
and with ``dereference`` the branch head's sha in ``newrev`` (through the
optional ``branch_sha`` callback).  ``event_id`` is derived from the target
and the scheduled fire time, so two schedulers firing the same tick produce
the same id and the trigger queue can drop the duplicate.

Times come from an injected ``Clock`` (``lockgate.clock``): tests pass a
``ManualClock`` and move it instead of sleeping.  Like Zuul, ticks missed
while no scheduler ran are not replayed, and several ticks missed while
busy fire once.  A sink failure keeps the tick pending and retries it after
``retry_delay`` seconds.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import tzinfo

from lockgate.clock import Clock, SystemClock
from lockgate.drivers.base import TenantEventSink
from lockgate.drivers.rounds import RoundLoop
from lockgate.drivers.timer.model import TIMER, TimerTarget
from lockgate.drivers.timer.timespec import Timespec, TimespecError, parse_timespec
from lockgate.model.events import TriggerEvent

log = logging.getLogger("lockgate.drivers.timer")

TimerSink = TenantEventSink  # sink(tenant, event)
_EVENT_IDS = uuid.UUID("6f1c2a52-54a4-4f0e-9d7e-6c6f636b6774")  # uuid5 namespace


@dataclass
class _Scheduled:
    spec: Timespec
    offset: float  # this project-branch's jitter
    next_at: float  # epoch seconds


class TimerEventSource(RoundLoop):
    def __init__(
        self,
        targets: Callable[[], Iterable[TimerTarget]],
        sink: TimerSink,
        *,
        clock: Clock | None = None,
        tz: tzinfo | None = None,
        branch_sha: Callable[[TimerTarget], str | None] | None = None,
        refresh_interval: float = 60.0,
        retry_delay: float = 5.0,
    ):
        super().__init__("timer", log, "timer: round failed")
        self._targets = targets
        self._sink = sink
        self.clock: Clock = clock or SystemClock()
        self.tz = tz
        self._branch_sha = branch_sha
        self.refresh_interval = refresh_interval
        self.retry_delay = retry_delay
        self._scheduled: dict[TimerTarget, _Scheduled] = {}
        self._bad_specs: set[str] = set()
        self._pending_retry = False
        self._lock = threading.Lock()

    # ------------------------------------------------------------------
    # Thread control (``start``/``stop`` from ``RoundLoop``)

    def refresh(self) -> None:
        """Re-read the targets now (the scheduler calls this after a reconfiguration)."""
        self.wake()

    def _round(self) -> list[TriggerEvent]:
        return self.run_due()

    def _sleep(self, wake: threading.Event) -> None:
        self.clock.wait_until(self._next_wakeup(), wake)

    def _next_wakeup(self) -> float:
        now = self.clock.now()
        deadline = now + self.refresh_interval
        with self._lock:
            if self._scheduled:
                deadline = min(deadline, min(s.next_at for s in self._scheduled.values()))
            if self._pending_retry:
                deadline = min(deadline, now + self.retry_delay)
        return deadline

    # ------------------------------------------------------------------
    # Scheduling (also callable inline: tests, simulations)

    def next_fire_times(self) -> dict[TimerTarget, float]:
        with self._lock:
            return {t: s.next_at for t, s in self._scheduled.items()}

    def run_due(self) -> list[TriggerEvent]:
        """Re-read the targets, emit every event due at ``clock.now()``; returns what was emitted."""
        with self._lock:
            now = self.clock.now()
            self._sync(now)
            emitted: list[TriggerEvent] = []
            self._pending_retry = False
            due = sorted(
                ((t, s) for t, s in self._scheduled.items() if s.next_at <= now),
                key=lambda ts: (ts[1].next_at, ts[0].tenant, ts[0].pipeline, ts[0].project),
            )
            for target, scheduled in due:
                try:
                    event = self._event(target, scheduled.next_at, now)
                    self._sink(target.tenant, event)
                except Exception:  # noqa: BLE001 - keep the tick and retry it
                    self._pending_retry = True
                    log.exception(
                        "timer: %s/%s %s@%s: cannot emit event",
                        target.tenant,
                        target.pipeline,
                        target.project,
                        target.branch,
                    )
                    continue
                log.info(
                    "[e: %s] timer '%s': %s/%s %s@%s",
                    event.event_id,
                    target.timespec,
                    target.tenant,
                    target.pipeline,
                    target.project,
                    target.branch,
                )
                emitted.append(event)
                scheduled.next_at = scheduled.spec.next_fire(now, scheduled.offset, self.tz)
            return emitted

    def _sync(self, now: float) -> None:
        try:
            targets = list(self._targets())
        except Exception:  # noqa: BLE001 - the scheduler's callback; keep the old schedule
            log.exception("timer: cannot list targets; keeping the previous schedule")
            return
        specs: dict[str, Timespec | None] = {}
        fresh: dict[TimerTarget, _Scheduled] = {}
        for target in targets:
            if target in self._scheduled:
                fresh[target] = self._scheduled[target]
                continue
            if target.timespec not in specs:
                specs[target.timespec] = self._parse(target.timespec)
            spec = specs[target.timespec]
            if spec is None:
                continue
            offset = spec.jitter_offset(target.tenant, target.project, target.branch)
            fresh[target] = _Scheduled(spec, offset, spec.next_fire(now, offset, self.tz))
        self._scheduled = fresh

    def _parse(self, text: str) -> Timespec | None:
        try:
            return parse_timespec(text)
        except TimespecError as e:
            if text not in self._bad_specs:  # say it once, not every minute
                self._bad_specs.add(text)
                log.error("timer: %s (ignored)", e)
            return None

    def _event(self, target: TimerTarget, fire_at: float, now: float) -> TriggerEvent:
        newrev = None
        if target.dereference and self._branch_sha is not None:
            newrev = self._branch_sha(target)
        key = "\0".join(
            [
                target.tenant,
                target.pipeline,
                target.project,
                target.branch,
                target.timespec,
                f"{fire_at:.3f}",
            ]
        )
        return TriggerEvent(
            type=TIMER,
            connection=TIMER,
            project=target.project,
            ref=f"refs/heads/{target.branch}",
            branch=target.branch,
            newrev=newrev,
            pipeline=target.pipeline,
            timespec=target.timespec,
            event_id=uuid.uuid5(_EVENT_IDS, key).hex,
            timestamp=now,
        )
