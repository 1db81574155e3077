"""Zuul's timer ``time`` syntax: 5-7 fields, Monday=0 weekdays, seconds, jitter."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from lockgate.drivers.timer import TimespecError, parse_timespec


def ts(*args: int) -> float:
    return datetime(*args, tzinfo=UTC).timestamp()


def at(when: float) -> datetime:
    return datetime.fromtimestamp(when, UTC)


def fires(text: str, start: float, count: int, offset: float = 0.0) -> list[datetime]:
    spec = parse_timespec(text)
    out, now = [], start
    for _ in range(count):
        now = spec.next_fire(now, offset, UTC)
        out.append(at(now))
    return out


def test_five_fields_fire_at_second_zero():
    assert fires("0 0 * * *", ts(2024, 1, 1, 0, 0, 30), 2) == [
        datetime(2024, 1, 2, tzinfo=UTC),
        datetime(2024, 1, 3, tzinfo=UTC),
    ]
    assert fires("*/15 * * * *", ts(2024, 1, 1, 0, 0, 0), 2) == [
        datetime(2024, 1, 1, 0, 15, tzinfo=UTC),
        datetime(2024, 1, 1, 0, 30, tzinfo=UTC),
    ]


def test_sixth_field_is_seconds():
    assert fires("* * * * * */20", ts(2024, 1, 1, 0, 0, 30), 3) == [
        datetime(2024, 1, 1, 0, 0, 40, tzinfo=UTC),
        datetime(2024, 1, 1, 0, 1, 0, tzinfo=UTC),
        datetime(2024, 1, 1, 0, 1, 20, tzinfo=UTC),
    ]
    assert fires("30 2 * * * 15", ts(2024, 1, 1), 1) == [
        datetime(2024, 1, 1, 2, 30, 15, tzinfo=UTC)
    ]


def test_next_fire_is_strictly_after():
    assert fires("0 0 * * *", ts(2024, 1, 2), 1) == [datetime(2024, 1, 3, tzinfo=UTC)]


def test_day_of_week_counts_from_monday_zero():
    # 2024-01-01 is a Monday.
    assert fires("0 0 * * 0", ts(2023, 12, 30), 1) == [datetime(2024, 1, 1, tzinfo=UTC)]
    assert fires("0 0 * * 6", ts(2024, 1, 1), 1) == [datetime(2024, 1, 7, tzinfo=UTC)]  # Sunday
    assert [d.weekday() for d in fires("0 0 * * 5-6", ts(2024, 1, 1), 4)] == [5, 6, 5, 6]
    assert [d.weekday() for d in fires("0 0 * * mon-wed", ts(2024, 1, 1), 3)] == [1, 2, 0]
    assert [d.weekday() for d in fires("0 0 * * */3", ts(2024, 1, 1), 3)] == [3, 6, 0]
    assert parse_timespec("0 0 * * 0-6").cron == "0 0 * * * 0"
    assert parse_timespec("0 0 * * 0,6").cron == "0 0 * * 0,1 0"  # Sunday and Monday in cron


def test_day_of_month_and_week_must_both_match():
    # Zuul's 4 is Friday: the next Friday the 13th after 2024-01-01 is 2024-09-13.
    assert fires("0 0 13 * 4", ts(2024, 1, 1), 1) == [datetime(2024, 9, 13, tzinfo=UTC)]


def test_jitter_is_a_fixed_per_project_branch_delay():
    spec = parse_timespec("0 0 * * * 0 60")
    assert spec.jitter == 60
    a = spec.jitter_offset("t", "org/a", "master")
    assert a == spec.jitter_offset("t", "org/a", "master")
    assert 0 <= a <= 60
    offsets = {spec.jitter_offset("t", f"org/{n}", "master") for n in range(20)}
    assert len(offsets) > 1 and all(0 <= o <= 60 for o in offsets)
    assert parse_timespec("0 0 * * *").jitter_offset("t", "p", "b") == 0.0


def test_jitter_does_not_skip_a_tick_started_inside_the_delay():
    # Started 10 s after midnight with a 30 s delay: midnight's tick is still due at 00:00:30.
    assert fires("0 0 * * * 0 60", ts(2024, 1, 1, 0, 0, 10), 2, offset=30) == [
        datetime(2024, 1, 1, 0, 0, 30, tzinfo=UTC),
        datetime(2024, 1, 2, 0, 0, 30, tzinfo=UTC),
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0 0 * *", "time '0 0 * *': expected 5 fields"),
        ("0 0 * * * 0 1 2", "expected 5 fields"),
        ("0 0 * * 7", "day of week '7' must be 0 (Monday) to 6 (Sunday)"),
        ("0 0 * * 3-1", "cannot read day of week '3-1'"),
        ("0 0 * * * * soon", "jitter must be a whole number of seconds, got 'soon'"),
        ("61 0 * * *", "time '61 0 * * *': "),
        ("0 0 * * * 75", "time '0 0 * * * 75': "),
    ],
)
def test_bad_values_say_what_is_wrong(text, message):
    with pytest.raises(TimespecError) as info:
        parse_timespec(text)
    assert message in str(info.value)
    assert "\n" not in str(info.value)
