"""Git trigger filters: schema errors and which ref-updated events match."""

from __future__ import annotations

import pytest
from lockgate.drivers.base import TriggerFilterError
from lockgate.drivers.git import GitDriver
from lockgate.git import ZERO_SHA
from lockgate.model.events import TriggerEvent

A, B = "a" * 40, "b" * 40


def update(ref: str, oldrev: str = A, newrev: str = B, connection: str = "src") -> TriggerEvent:
    branch = ref[len("refs/heads/") :] if ref.startswith("refs/heads/") else None
    return TriggerEvent(
        type="ref-updated",
        connection=connection,
        project="org/a",
        ref=ref,
        branch=branch,
        oldrev=oldrev,
        newrev=newrev,
    )


def make(spec):
    return GitDriver().make_trigger_filter("src", spec)


def test_event_only_matches_its_connection_and_type():
    f = make({"event": "ref-updated"})
    assert f.matches(update("refs/heads/master"))
    assert not f.matches(update("refs/heads/master", connection="other"))
    timer = TriggerEvent(type="timer", connection="src", project="org/a")
    assert not f.matches(timer)


def test_ref_regexes_match_at_the_start_any_of_a_list():
    f = make({"event": "ref-updated", "ref": ["^refs/tags/", "refs/heads/stable/"]})
    assert f.matches(update("refs/tags/v1"))
    assert f.matches(update("refs/heads/stable/2024"))
    assert not f.matches(update("refs/heads/master"))


def test_negated_ref():
    f = make({"event": "ref-updated", "ref": {"regex": "^refs/heads/wip/", "negate": True}})
    assert f.matches(update("refs/heads/master"))
    assert not f.matches(update("refs/heads/wip/x"))


def test_deletes_are_ignored_by_default_and_can_be_taken():
    deletion = update("refs/heads/gone", newrev=ZERO_SHA)
    creation = update("refs/heads/new", oldrev=ZERO_SHA)
    assert not make({"event": "ref-updated"}).matches(deletion)
    assert make({"event": "ref-updated"}).matches(creation)
    assert make({"event": "ref-updated", "ignore-deletes": False}).matches(deletion)


def test_branch_filter_needs_a_branch():
    f = make({"event": "ref-updated", "branch": ["^master$", "^stable/"]})
    assert f.matches(update("refs/heads/master"))
    assert f.matches(update("refs/heads/stable/1"))
    assert not f.matches(update("refs/heads/master2"))
    assert not f.matches(update("refs/tags/master"))


def test_schema_is_exposed_for_the_config_loader():
    schema = GitDriver().trigger_schema()
    assert schema({"event": ["ref-updated"], "ref": "x", "debug": True})
    with pytest.raises(Exception):  # noqa: B017 - voluptuous' own error type
        schema({"event": "ref-replicated"})


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({}, "trigger 'src': missing required attribute 'event'"),
        (
            {"event": "patchset-created"},
            "trigger 'src': event: the git driver's only event is 'ref-updated'",
        ),
        ({"event": "ref-updated", "refs": "x"}, "trigger 'src': unknown attribute 'refs'"),
        (
            {"event": "ref-updated", "ignore-deletes": "no"},
            "trigger 'src': ignore-deletes: expected bool",
        ),
        (
            {"event": "ref-updated", "ref": "refs/(heads"},
            "trigger 'src': invalid regular expression 'refs/(heads'",
        ),
        ("ref-updated", "trigger 'src': expected a dictionary"),
    ],
)
def test_errors_are_one_readable_line(spec, message):
    with pytest.raises(TriggerFilterError) as info:
        make(spec)
    assert str(info.value).startswith(message)
    assert "\n" not in str(info.value)
