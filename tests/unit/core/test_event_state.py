"""A tenant's ``manage-events`` state (``lockgate.model.event_state``): what
an admin's request body may say, and what a pass does with trigger events."""

from __future__ import annotations

import pytest
from lockgate.model.event_state import TenantEventState, TriggerHandling


def state(**body: object) -> TenantEventState:
    return TenantEventState.from_request("demo", body, set_by="ops", now=100.0)


# zuul-client 14's four states, as it sends them.
ZUUL_CLIENT = {
    "normal": (False, False, False),
    "discard-trigger": (True, False, False),
    "pause-trigger": (False, True, False),
    "pause-result": (False, True, True),
}


@pytest.mark.parametrize(
    ("name", "handling"),
    [
        ("normal", TriggerHandling.PROCESS),
        ("discard-trigger", TriggerHandling.DISCARD),
        ("pause-trigger", TriggerHandling.LEAVE),
        ("pause-result", TriggerHandling.LEAVE),
    ],
)
def test_zuul_clients_states(name: str, handling: TriggerHandling) -> None:
    discarding, trigger_paused, result_paused = ZUUL_CLIENT[name]
    s = state(
        trigger_queue_discarding=discarding,
        trigger_queue_paused=trigger_paused,
        result_queue_paused=result_paused,
        reason="upgrade" if name != "normal" else None,
    )
    assert s.triggers() is handling
    assert s.normal is (name == "normal")
    assert s.to_api() == {
        "trigger_queue_discarding": discarding,
        "trigger_queue_paused": trigger_paused,
        "result_queue_paused": result_paused,
        "reason": "upgrade" if name != "normal" else None,
        "last_modified": 100.0,
    }
    assert s.set_by == "ops"


def test_pausing_wins_over_discarding_and_paused_results_leave_triggers_too() -> None:
    assert state(trigger_queue_discarding=True, trigger_queue_paused=True).triggers() is (
        TriggerHandling.LEAVE
    )
    # Only results paused (possible through the API, not zuul-client): the
    # pass that would match trigger events does not run, so they wait too.
    assert state(result_queue_paused=True).triggers() is TriggerHandling.LEAVE


def test_describe_says_what_and_why() -> None:
    assert state().describe() == "events processed normally"
    assert state(trigger_queue_discarding=True, reason="flood").describe() == (
        "trigger events discarded: flood"
    )
    assert state(trigger_queue_paused=True, result_queue_paused=True).describe() == (
        "trigger and result events paused: no reason given"
    )


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"trigger_queue_paused": "yes"}, "'trigger_queue_paused' must be true or false"),
        ({"reason": 5}, "'reason' must be a string"),
        ({"reason": "x" * 1001}, "longer than 1000"),
        ({"pause": True}, "unknown key(s) 'pause'"),
    ],
)
def test_bad_bodies_say_which_key(body: dict[str, object], words: str) -> None:
    with pytest.raises(ValueError, match=None) as e:
        state(**body)
    assert words in str(e.value)


def test_round_trip_and_missing_flags_are_false() -> None:
    s = state(trigger_queue_paused=True, reason="")
    assert s.reason is None  # empty: no reason
    assert TenantEventState.from_dict(s.to_dict()) == s
    assert state(trigger_queue_paused=None).normal
