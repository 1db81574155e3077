"""TimerEventSource with a ManualClock: fire times, events, reconfiguration,
failures; and the source the driver makes from the scheduler's hooks."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from lockgate.clock import ManualClock
from lockgate.drivers.base import EventSourceHooks, PipelineTrigger
from lockgate.drivers.git.trigger import GitTriggerFilter
from lockgate.drivers.timer import TimerDriver, TimerEventSource, TimerTarget
from lockgate.drivers.timer.driver import timer_targets
from lockgate.model.events import TriggerEvent

from tests.fixtures.waiting import wait_for


def ts(*args: int) -> float:
    return datetime(*args, tzinfo=UTC).timestamp()


class Harness:
    def __init__(self, targets: list[TimerTarget], start: float):
        self.targets = targets
        self.clock = ManualClock(start)
        self.events: list[tuple[str, TriggerEvent]] = []
        self.lock = threading.Lock()
        self.fail_sink = 0

    def sink(self, tenant: str, event: TriggerEvent) -> None:
        with self.lock:
            if self.fail_sink:
                self.fail_sink -= 1
                raise RuntimeError("trigger queue unavailable")
            self.events.append((tenant, event))

    def source(self, **kw) -> TimerEventSource:
        return TimerEventSource(
            lambda: list(self.targets), self.sink, clock=self.clock, tz=UTC, **kw
        )


HOURLY = TimerTarget("t1", "periodic", "example.org/org/a", "master", "0 * * * *")
EVERY_10S = TimerTarget("t2", "fast", "example.org/org/b", "main", "* * * * * */10")


def test_fires_at_the_scheduled_times_only():
    h = Harness([HOURLY], ts(2024, 1, 1, 0, 30))
    source = h.source()
    assert source.run_due() == []
    assert source.next_fire_times() == {HOURLY: ts(2024, 1, 1, 1, 0)}
    h.clock.set(ts(2024, 1, 1, 0, 59, 59))
    assert source.run_due() == []
    h.clock.set(ts(2024, 1, 1, 1, 0))
    [event] = source.run_due()
    assert h.events == [("t1", event)]
    assert (event.type, event.connection, event.pipeline, event.timespec) == (
        "timer",
        "timer",
        "periodic",
        "0 * * * *",
    )
    assert (event.project, event.branch, event.ref, event.newrev) == (
        "example.org/org/a",
        "master",
        "refs/heads/master",
        None,
    )
    assert event.timestamp == ts(2024, 1, 1, 1, 0)
    assert source.run_due() == []  # fired once, not again at the same instant
    assert source.next_fire_times() == {HOURLY: ts(2024, 1, 1, 2, 0)}


def test_each_target_fires_on_its_own_schedule():
    h = Harness([HOURLY, EVERY_10S], ts(2024, 1, 1, 0, 59, 55))
    source = h.source()
    source.run_due()
    h.clock.set(ts(2024, 1, 1, 1, 0, 0))
    assert sorted(e.pipeline for e in source.run_due()) == ["fast", "periodic"]
    h.clock.set(ts(2024, 1, 1, 1, 0, 10))
    assert [(t, e.pipeline) for t, e in h.events[2:]] == []
    assert [e.pipeline for e in source.run_due()] == ["fast"]


def test_missed_ticks_fire_once():
    h = Harness([EVERY_10S], ts(2024, 1, 1))
    source = h.source()
    source.run_due()
    h.clock.set(ts(2024, 1, 1, 0, 5))  # 30 ticks passed while busy
    assert len(source.run_due()) == 1
    assert source.next_fire_times()[EVERY_10S] == ts(2024, 1, 1, 0, 5, 10)


def test_event_ids_are_the_same_for_the_same_tick_on_two_schedulers():
    one, two = Harness([HOURLY], ts(2024, 1, 1)), Harness([HOURLY], ts(2024, 1, 1))
    a, b = one.source(), two.source()
    a.run_due(), b.run_due()
    one.clock.set(ts(2024, 1, 1, 1))
    two.clock.set(ts(2024, 1, 1, 1, 0, 2))  # a little late: still the same tick
    [ea], [eb] = a.run_due(), b.run_due()
    assert ea.event_id == eb.event_id
    one.clock.set(ts(2024, 1, 1, 2))
    [later] = a.run_due()
    assert later.event_id != ea.event_id


def test_reconfiguration_adds_and_removes_targets():
    h = Harness([HOURLY], ts(2024, 1, 1, 0, 30))
    source = h.source()
    source.run_due()
    h.targets[:] = [EVERY_10S]
    h.clock.set(ts(2024, 1, 1, 1, 0))
    assert [e.pipeline for e in source.run_due()] == []  # new target: first tick is in the future
    assert set(source.next_fire_times()) == {EVERY_10S}
    h.clock.set(ts(2024, 1, 1, 1, 0, 10))
    assert [e.pipeline for e in source.run_due()] == ["fast"]


def test_jitter_delays_each_project_branch_by_its_own_offset():
    targets = [TimerTarget("t", "p", f"org/{n}", "master", "0 0 * * * 0 600") for n in range(5)]
    h = Harness(targets, ts(2024, 1, 1, 12))
    source = h.source()
    source.run_due()
    times = source.next_fire_times()
    midnight = ts(2024, 1, 2)
    assert all(midnight <= times[t] <= midnight + 600 for t in targets)
    assert len(set(times.values())) == 5
    h.clock.set(midnight + 600)
    assert len(source.run_due()) == 5


def test_dereference_puts_the_branch_head_in_newrev():
    target = TimerTarget("t", "p", "org/a", "master", "* * * * * */10", dereference=True)
    h = Harness([target], ts(2024, 1, 1))
    asked: list[TimerTarget] = []

    def branch_sha(t: TimerTarget) -> str:
        asked.append(t)
        return "c" * 40

    source = h.source(branch_sha=branch_sha)
    source.run_due()
    h.clock.set(ts(2024, 1, 1, 0, 0, 10))
    [event] = source.run_due()
    assert event.newrev == "c" * 40 and asked == [target]


def test_sink_failure_keeps_the_tick_until_it_succeeds():
    h = Harness([HOURLY], ts(2024, 1, 1, 0, 30))
    source = h.source()
    source.run_due()
    h.fail_sink = 1
    h.clock.set(ts(2024, 1, 1, 1, 0))
    assert source.run_due() == []
    h.clock.set(ts(2024, 1, 1, 1, 0, 5))
    [event] = source.run_due()
    assert event.event_id and len(h.events) == 1
    assert source.next_fire_times()[HOURLY] == ts(2024, 1, 1, 2, 0)


def test_a_bad_time_value_is_skipped_and_the_rest_fires():
    bad = TimerTarget("t", "p", "org/a", "master", "every hour")
    h = Harness([bad, EVERY_10S], ts(2024, 1, 1))
    source = h.source()
    source.run_due()
    assert set(source.next_fire_times()) == {EVERY_10S}
    h.clock.set(ts(2024, 1, 1, 0, 0, 10))
    assert [e.pipeline for e in source.run_due()] == ["fast"]


def test_thread_waits_on_the_clock_and_stops():
    h = Harness([EVERY_10S], ts(2024, 1, 1, 0, 0, 1))
    source = h.source()
    source.start()
    try:
        wait_for(lambda: h.clock.waiting == 1, 10, "the timer thread to wait")
        assert h.events == []
        h.clock.set(ts(2024, 1, 1, 0, 0, 10))
        wait_for(lambda: len(h.events) == 1, 10, "the first tick")
        h.clock.set(ts(2024, 1, 1, 0, 0, 20))
        wait_for(lambda: len(h.events) == 2, 10, "the second tick")
        # A reconfiguration is picked up without waiting for the next tick.
        h.targets.append(HOURLY)
        source.refresh()
        wait_for(lambda: HOURLY in source.next_fire_times(), 10, "the new target")
    finally:
        source.stop()
    assert not any(t.name == "timer" and t.is_alive() for t in threading.enumerate())
    assert [e.branch for _, e in h.events] == ["main", "main"]


def timer_filter(*times: str, dereference: bool = False):
    spec = {"time": list(times), "dereference": dereference}
    return TimerDriver().make_trigger_filter("timer", spec)


def test_targets_from_the_pipeline_triggers():
    """One target per pipeline, timer entry, project-branch and time value,
    in that order; other drivers' filters give none."""
    triggers = [
        PipelineTrigger(
            "t1",
            "periodic",
            (timer_filter("0 * * * *", "30 * * * *"), timer_filter("0 0 * * *", dereference=True)),
            (("example.org/org/a", "master"), ("example.org/org/a", "stable")),
        ),
        PipelineTrigger("t2", "post", (GitTriggerFilter("git", ("ref-updated",)),), (("p", "m"),)),
        PipelineTrigger("t2", "nightly", (timer_filter("0 3 * * *"),), ()),
    ]
    a = "example.org/org/a"
    assert list(timer_targets(triggers)) == [
        TimerTarget("t1", "periodic", a, "master", "0 * * * *"),
        TimerTarget("t1", "periodic", a, "master", "30 * * * *"),
        TimerTarget("t1", "periodic", a, "stable", "0 * * * *"),
        TimerTarget("t1", "periodic", a, "stable", "30 * * * *"),
        TimerTarget("t1", "periodic", a, "master", "0 0 * * *", dereference=True),
        TimerTarget("t1", "periodic", a, "stable", "0 0 * * *", dereference=True),
    ]


def test_the_driver_makes_its_source_from_the_hooks_every_source_gets():
    """``triggers()`` is read at every round (a reconfiguration needs no
    restart) and each event goes to its own tenant through ``tenant_sink``;
    the sink for every tenant with the project is not used."""
    clock = ManualClock(ts(2024, 1, 1, 0, 30))
    triggers: list[PipelineTrigger] = []
    sent: list[tuple[str, TriggerEvent]] = []

    def broadcast(event: TriggerEvent) -> None:
        raise AssertionError("a timer event is for one tenant")

    hooks = EventSourceHooks(
        sink=broadcast,
        projects=lambda: (),
        state_get=lambda key: None,
        state_set=lambda key, data: None,
        triggers=lambda: list(triggers),
        tenant_sink=lambda tenant, event: sent.append((tenant, event)),
    )
    source = TimerDriver().event_source(hooks, clock=clock, tz=UTC)
    assert source.run_due() == [] and source.next_fire_times() == {}
    triggers.append(PipelineTrigger("t1", "periodic", (timer_filter("0 * * * *"),), (("p", "m"),)))
    assert source.run_due() == []
    clock.set(ts(2024, 1, 1, 1, 0))
    [event] = source.run_due()
    assert sent == [("t1", event)]
    assert (event.pipeline, event.project, event.branch) == ("periodic", "p", "m")


def test_the_driver_s_source_dereferences_through_the_hooks():
    """``dereference``: the event names the commit ``hooks.branch_head``
    gives for the target's tenant, project and branch; without it, none."""
    clock = ManualClock(ts(2024, 1, 1, 0, 59))
    sent: list[TriggerEvent] = []
    asked: list[tuple[str, str, str]] = []

    def branch_head(tenant: str, project: str, branch: str) -> str:
        asked.append((tenant, project, branch))
        return "c0ffee"

    triggers = [
        PipelineTrigger(
            "t1", "deref", (timer_filter("0 * * * *", dereference=True),), (("p", "m"),)
        ),
        PipelineTrigger("t1", "plain", (timer_filter("0 * * * *"),), (("p", "m"),)),
    ]
    hooks = EventSourceHooks(
        sink=lambda event: None,
        projects=lambda: (),
        state_get=lambda key: None,
        state_set=lambda key, data: None,
        triggers=lambda: triggers,
        tenant_sink=lambda tenant, event: sent.append(event),
        branch_head=branch_head,
    )
    source = TimerDriver().event_source(hooks, clock=clock, tz=UTC)
    source.run_due()
    clock.set(ts(2024, 1, 1, 1, 0))
    source.run_due()
    assert {e.pipeline: e.newrev for e in sent} == {"deref": "c0ffee", "plain": None}
    assert asked == [("t1", "p", "m")]
