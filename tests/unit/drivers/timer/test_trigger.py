"""Timer trigger filters: schema, validation of every time value, matching."""

from __future__ import annotations

import pytest
from lockgate.drivers.base import TriggerFilterError
from lockgate.drivers.timer import TimerDriver
from lockgate.model.events import TriggerEvent


def tick(timespec: str, connection: str = "timer") -> TriggerEvent:
    return TriggerEvent(
        type="timer",
        connection=connection,
        project="org/a",
        branch="master",
        ref="refs/heads/master",
        pipeline="periodic",
        timespec=timespec,
    )


def test_matches_its_own_time_values():
    f = TimerDriver().make_trigger_filter("timer", {"time": ["0 0 * * *", "0 12 * * * 30"]})
    assert f.matches(tick("0 0 * * *"))
    assert f.matches(tick("0 12 * * * 30"))
    assert not f.matches(tick("0 6 * * *"))
    assert not f.matches(tick("0 0 * * *", connection="src"))
    assert not f.dereference


def test_single_value_and_dereference():
    f = TimerDriver().make_trigger_filter("timer", {"time": "*/5 * * * *", "dereference": True})
    assert f.timespecs == ("*/5 * * * *",) and f.dereference


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({}, "trigger 'timer': missing required attribute 'time'"),
        ({"time": "0 0 * * 7"}, "trigger 'timer': time '0 0 * * 7': day of week '7'"),
        ({"time": ["0 0 * * *", "soon"]}, "trigger 'timer': time 'soon': expected 5 fields"),
        ({"time": "0 0 * * *", "jitter": 5}, "trigger 'timer': unknown attribute 'jitter'"),
        ({"time": 5}, "trigger 'timer': time: expected str"),
    ],
)
def test_errors(spec, message):
    with pytest.raises(TriggerFilterError) as info:
        TimerDriver().make_trigger_filter("timer", spec)
    assert str(info.value).startswith(message)
