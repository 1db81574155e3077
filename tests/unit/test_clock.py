"""lockgate.clock: the manual clock wakes waiters when it passes their deadline."""

from __future__ import annotations

import threading

from lockgate.clock import ManualClock, SystemClock

from tests.fixtures.waiting import wait_for


def test_manual_clock_wakes_a_waiter_at_its_deadline_only():
    clock = ManualClock(100.0)
    wake = threading.Event()
    done = threading.Event()

    def waiter() -> None:
        clock.wait_until(110.0, wake)
        done.set()

    thread = threading.Thread(target=waiter)
    thread.start()
    wait_for(lambda: clock.waiting == 1, 10, "the waiter")
    clock.advance(5)
    assert clock.now() == 105.0
    assert not done.is_set() and clock.waiting == 1
    clock.set(110.0)
    wait_for(done.is_set, 10, "the waiter to wake")
    thread.join(10)
    assert clock.waiting == 0


def test_manual_clock_returns_at_once_for_a_past_deadline_or_a_set_event():
    clock = ManualClock(100.0)
    clock.wait_until(99.0, threading.Event())
    woken = threading.Event()
    woken.set()
    clock.wait_until(1e12, woken)
    assert clock.waiting == 0


def test_system_clock_wakes_early_on_the_event():
    wake = threading.Event()
    wake.set()
    clock = SystemClock()
    clock.wait_until(clock.now() + 3600, wake)  # returns at once: the event is set
    assert clock.now() > 0
