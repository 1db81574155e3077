"""The Gerrit pipeline schemas: trigger entries, require/reject, reporters,
deprecations; and the config loader finding them for a Gerrit connection."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from lockgate.config.schema import validate
from lockgate.drivers.base import TriggerFilterError
from lockgate.drivers.gerrit.schema import (
    EVENTS,
    ZUUL_EVENTS,
    check,
    deprecations,
    parse_interval,
    reject_schema,
    reporter_schema,
    require_schema,
    trigger_schema,
    vote_value,
)

PIPELINES = Path("/work/shared/corpus/zuul-config/project-config/zuul.d/pipelines.yaml")
CONNECTIONS = {"gerrit": "gerrit", "github": "github", "smtp": "smtp"}


def problems(validator, spec) -> str:
    with pytest.raises(TriggerFilterError) as info:
        check(validator, spec, "x", TriggerFilterError)
    return str(info.value)


def ok(validator, spec) -> None:
    check(validator, spec, "x", TriggerFilterError)


# --- trigger entries ---------------------------------------------------------------


@pytest.mark.parametrize("event", EVENTS)
def test_every_event_type_is_accepted(event):
    ok(trigger_schema(), {"event": event})


def test_zuul_event_list_is_zuuls():
    assert set(ZUUL_EVENTS) == {
        "patchset-created",
        "draft-published",
        "change-abandoned",
        "change-restored",
        "change-merged",
        "comment-added",
        "ref-updated",
        "pending-check",
        "vote-deleted",
        "hashtags-changed",
        "wip-state-changed",
    }


def test_event_is_required_and_may_be_a_list():
    assert problems(trigger_schema(), {"branch": "master"}) == (
        "x: missing required attribute 'event'"
    )
    ok(trigger_schema(), {"event": ["patchset-created", "change-restored"]})


def test_unknown_event_suggests_the_close_one():
    message = problems(trigger_schema(), {"event": "comment-add"})
    assert message == "x: event: unknown Gerrit event 'comment-add' (did you mean 'comment-added'?)"
    listed = problems(trigger_schema(), {"event": ["patchset-created", "xyzzy"]})
    assert "event[1]: unknown Gerrit event 'xyzzy'; expected one of patchset-created," in listed


def test_every_zuul_attribute_is_accepted():
    ok(
        trigger_schema(),
        {
            "event": "comment-added",
            "uuid": "zuul:check",
            "scheme": "zuul_check",
            "branch": ["master", {"regex": "^stable/", "negate": True}],
            "ref": "^refs/heads/",
            "ignore-deletes": False,
            "comment": "(?i)recheck",
            "comment_filter": "recheck",
            "email": r"^.*?@example\.org$",
            "email_filter": "x",
            "username": {"regex": "^zuul$", "negate": True},
            "username_filter": "zuul",
            "approval": [{"Workflow": 1}, {"Code-Review": "+2"}],
            "approval-change": {"Workflow": 1},
            "added": "ready",
            "removed": ["wip", "hold"],
            "require-approval": [{"Verified": [1, 2], "username": "zuul"}],
            "reject-approval": {"Code-Review": -2},
            "require": {"open": True, "approval": {"Verified": [-1, -2], "username": "zuul"}},
            "reject": {"wip": True, "status": "MERGED", "hashtags": "hold"},
        },
    )


def test_unknown_attribute_is_named_with_a_suggestion():
    assert problems(trigger_schema(), {"event": "comment-added", "commnt": "recheck"}) == (
        "x: unknown attribute 'commnt' (did you mean 'comment'?)"
    )
    # Lockgate's git trigger takes 'debug'; Zuul's Gerrit trigger does not.
    assert "unknown attribute 'debug'" in problems(
        trigger_schema(), {"event": "ref-updated", "debug": True}
    )


def test_every_problem_of_an_entry_is_reported():
    message = problems(
        trigger_schema(),
        {"event": "patchset-created", "branch": "(", "ignore-deletes": "yes", "nope": 1},
    )
    assert "branch: invalid regular expression '('" in message
    assert "ignore-deletes: expected a boolean" in message
    assert "unknown attribute 'nope'" in message


def test_trigger_approval_takes_votes_only():
    assert "approval[0].Workflow: expected a vote" in problems(
        trigger_schema(), {"event": "comment-added", "approval": [{"Workflow": True}]}
    )
    assert "approval.Workflow: expected a vote" in problems(
        trigger_schema(), {"event": "comment-added", "approval": {"Workflow": "yes"}}
    )
    assert "approval: expected a mapping" in problems(
        trigger_schema(), {"event": "comment-added", "approval": "Workflow"}
    )


def test_trigger_require_has_the_requirement_attributes():
    assert "unknown attribute 'opn' in require (did you mean 'open'?)" in problems(
        trigger_schema(), {"event": "comment-added", "require": {"opn": True}}
    )
    assert "reject.status[0]: expected one of 'NEW', 'MERGED', 'ABANDONED'" in problems(
        trigger_schema(), {"event": "comment-added", "reject": {"status": ["merged"]}}
    )


# --- require / reject --------------------------------------------------------------


@pytest.mark.parametrize("factory", [require_schema, reject_schema])
def test_requirement_attributes(factory):
    ok(
        factory(),
        {
            "approval": [
                {"Verified": [1, 2], "username": "zuul"},
                {"Code-Review": 2, "email": r"@example\.org$", "newer-than": "48h"},
                {"Workflow": 1, "older-than": "2d"},
                {"username": {"regex": "^bot$", "negate": True}},
            ],
            "open": True,
            "current-patchset": True,
            "wip": False,
            "status": ["NEW", "MERGED"],
            "hashtags": ["^ready$"],
        },
    )
    ok(factory(), {"approval": {"Code-Review": 2}, "status": "ABANDONED"})
    ok(factory(), None)  # an empty section: no conditions


def test_requirement_errors_name_the_place():
    message = problems(
        require_schema(),
        {
            "approval": [{"Verified": [1, "x"]}, {"newer-than": "48"}],
            "open": "true",
            "current_patchset": True,
        },
    )
    assert "approval[0].Verified[1]: expected a vote" in message
    assert "approval[1].newer-than: expected a time interval such as '48h'" in message
    assert "open: expected a boolean" in message
    assert "unknown attribute 'current_patchset' (did you mean 'current-patchset'?)" in message


def test_approval_username_is_one_regex():
    assert "approval.username" in problems(require_schema(), {"approval": {"username": ["a", "b"]}})
    assert "invalid regular expression" in problems(
        require_schema(), {"approval": {"email": "(unclosed"}}
    )


def test_requirement_must_be_a_mapping():
    assert problems(require_schema(), ["open"]) == "x: expected a mapping, got a list"


# --- reporters ---------------------------------------------------------------------


def test_reporter_takes_labels_submit_comment_notify():
    ok(reporter_schema(), {"Verified": 1, "Code-Review": "-1", "submit": True, "comment": False})
    ok(reporter_schema(), {"notify": "OWNER_REVIEWERS", "PTL-Approved": 0})
    ok(reporter_schema(), {})
    ok(reporter_schema(), None)
    ok(reporter_schema(), {"checks-api": {"uuid": "zuul:check", "state": "RUNNING"}})


def test_reporter_errors():
    assert "Verified: expected a vote" in problems(reporter_schema(), {"Verified": True})
    assert "submit: expected a boolean" in problems(reporter_schema(), {"submit": "yes"})
    assert "notify: expected one of 'NONE'" in problems(reporter_schema(), {"notify": "some"})
    assert "expected a mapping" in problems(reporter_schema(), "Verified")
    assert "mutually exclusive" in problems(
        reporter_schema(), {"checks-api": {"uuid": "a:b", "scheme": "a"}}
    )


# --- helpers -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90s", 90), ("30m", 1800), ("48h", 172800), ("2d", 172800), ("1w", 604800)],
)
def test_intervals(text, seconds):
    assert parse_interval(text) == seconds


@pytest.mark.parametrize("text", ["48", "h", "2 d", "-1h", "1.5h", "2y", 48, None])
def test_bad_intervals(text):
    with pytest.raises(ValueError, match="time interval"):
        parse_interval(text)


def test_votes():
    assert [vote_value(v) for v in (2, -1, 0, "+2", "-1", " 1 ")] == [2, -1, 0, 2, -1, 1]
    for bad in (True, 1.5, "x", None, [1]):
        with pytest.raises(ValueError):
            vote_value(bad)


def test_deprecations():
    assert deprecations({"event": "comment-added"}) == []
    found = deprecations(
        {
            "event": "comment-added",
            "require-approval": {"Verified": 1},
            "reject-approval": {"Verified": -1},
            "reject": {"open": False},
            "email_filter": "x",
        }
    )
    assert found == [
        "'require-approval' is deprecated; use 'require' with 'approval' instead",
        "'reject-approval' is deprecated; use 'reject' with 'approval' instead "
        "(it is ignored here because 'reject' is also given)",
        "'email_filter' is deprecated; use 'email' instead",
    ]


# --- the config loader uses these schemas for a Gerrit connection -------------------


def opendev_pipelines() -> list[dict]:
    return [obj["pipeline"] for obj in yaml.safe_load(PIPELINES.read_text()) if "pipeline" in obj]


def test_every_opendev_pipeline_validates_with_the_gerrit_schemas():
    pipelines = opendev_pipelines()
    assert len(pipelines) >= 15
    gerrit_sections = 0
    for body in pipelines:
        assert validate("pipeline", body, connections=CONNECTIONS) == [], body["name"]
        for value in body.values():
            if isinstance(value, dict) and "gerrit" in value:
                gerrit_sections += 1
    assert gerrit_sections >= 30


def test_config_check_reports_gerrit_problems_in_a_pipeline():
    body = {
        "name": "check",
        "manager": "independent",
        "trigger": {"gerrit": [{"event": "comment-added", "coment": "recheck"}]},
        "require": {"gerrit": {"approval": [{"Verified": [1, 2], "newer-than": "2 days"}]}},
        "success": {"gerrit": {"Verified": True}},
    }
    messages = [p.message for p in validate("pipeline", body, connections=CONNECTIONS)]
    assert any(
        "unknown attribute 'coment'" in m and "did you mean 'comment'" in m for m in messages
    )
    assert any("require.gerrit.approval[0].newer-than" in m for m in messages)
    assert any("success.gerrit.Verified" in m and "expected a vote" in m for m in messages)
    assert len(messages) == 3
