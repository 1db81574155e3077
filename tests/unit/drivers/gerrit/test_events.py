"""Stream-events lines -> TriggerEvents: every corpus sample, the webhooks
form, malformed lines, and dedup keys shared with catch-up synthesis.

Samples of wip-state-changed, private-state-changed, reviewer-deleted and a
3.x comment-added with oldValue do not exist in the corpus (see its
FORMAT.md); those tests build events from FORMAT.md's field tables and say so.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from lockgate.drivers.gerrit.events import (
    ChangeMessage,
    EventParseError,
    catch_up_events,
    decode_line,
    event_from_payload,
    events_from_payload,
    parse_line,
)
from lockgate.git import ZERO_SHA
from lockgate.model.change import Account, Approval, Change, ChangeStatus

from tests.fixtures.corpus import corpus_root

CORPUS = corpus_root() / "gerrit-events"
SAMPLES = sorted(p for p in CORPUS.rglob("*.json"))
NOT_STRICT_JSON = {"DeserializeHashtagsChangedTest.json"}  # trailing comma (corpus README)
UNKNOWN = {"unhandled-event.json", "user-defined-event.json"}


def one_line(path: Path) -> str:
    return json.dumps(json.loads(path.read_text()))


def test_corpus_is_there():
    assert len(SAMPLES) == 16


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.name)
def test_every_corpus_sample(path: Path):
    if path.name in NOT_STRICT_JSON:
        with pytest.raises(EventParseError, match="invalid JSON"):
            parse_line("review", path.read_text().replace("\n", " "))
        return
    events = parse_line("review", one_line(path), received=1000.0)
    if path.name in UNKNOWN:
        assert events == []
        return
    assert len(events) == 1
    event = events[0]
    raw = json.loads(path.read_text())
    assert event.type == raw["type"]
    assert event.connection == "review"
    assert event.dedup_key.startswith(f"gerrit:review:{event.type}:")
    if "change" in raw:
        assert event.change_number == int(raw["change"]["number"])
        assert event.project == raw["change"]["project"]
        assert event.branch == raw["change"]["branch"]
        assert event.change_url == raw["change"]["url"]
        assert event.extra["change_id"] == raw["change"]["id"]
    if "patchSet" in raw:
        assert event.patchset == int(raw["patchSet"]["number"])
        assert event.ref == raw["patchSet"]["ref"]
    assert event.timestamp == float(raw.get("eventCreatedOn", 1000.0))


def test_patchset_created_pygerrit():
    event = parse_line("gerrit", one_line(CORPUS / "pygerrit/patchset-created-event.json"))[0]
    assert (event.change_number, event.patchset) == (123456, 4)
    assert event.ref == "refs/changes/56/123456/4"
    assert event.account == {"name": "Uploader Name", "email": "uploader@example.com"}
    assert event.extra["topic"] == "topic-name"
    assert event.extra["commit"] == "deadbeef" * 5
    assert event.dedup_key == "gerrit:gerrit:patchset-created:123456:4"


def test_comment_added_old_labels_and_comment():
    event = parse_line("gerrit", one_line(CORPUS / "pygerrit/comment-added-event.json"))[0]
    assert event.comment == "Review comment"
    assert [(a["label"], a["value"], a["old_value"]) for a in event.approvals] == [
        ("CRVW", 1, None),
        ("VRIF", 1, None),
    ]
    assert event.account["email"] == "author@example.com"


def test_change_merged_key_is_the_change():
    event = parse_line("g", one_line(CORPUS / "pygerrit/change-merged-event.json"))[0]
    assert event.dedup_key == "gerrit:g:change-merged:123456"
    assert event.account["name"] == "Submitter Name"


def test_abandoned_restored_reason():
    abandoned = parse_line("g", one_line(CORPUS / "pygerrit/change-abandoned-event.json"))[0]
    assert abandoned.extra["reason"] == "Abandon reason"
    assert abandoned.patchset is None
    restored = parse_line(
        "g", one_line(CORPUS / "gerrit-events-java/DeserializeEventCreatedOnTest.json")
    )[0]
    assert restored.type == "change-restored" and restored.timestamp == 1418133772
    assert restored.dedup_key == "gerrit:g:change-restored:654:1:1418133772"


def test_ref_updated_tag_and_old_short_branch():
    event = parse_line("g", one_line(CORPUS / "pygerrit/ref-updated-event.json"))[0]
    assert event.ref == "refs/tags/refname" and event.branch is None
    assert event.oldrev == ZERO_SHA and event.newrev == "deadbeef" * 5
    assert event.project == "project-name" and event.change_number is None
    short = {
        "type": "ref-updated",
        "refUpdate": {"oldRev": "a" * 40, "newRev": "b" * 40, "refName": "master", "project": "p"},
    }
    event = event_from_payload("g", short)
    assert event.ref == "refs/heads/master" and event.branch == "master"
    assert event.dedup_key == f"gerrit:g:ref-updated:p:refs/heads/master:{'a' * 40}:{'b' * 40}"


def test_notedb_meta_ref_is_not_a_branch():
    event = event_from_payload(
        "g",
        {
            "type": "ref-updated",
            "refUpdate": {
                "oldRev": "a" * 40,
                "newRev": "b" * 40,
                "refName": "refs/changes/45/12345/meta",
                "project": "p",
            },
        },
    )
    assert event.branch is None


def test_vote_deleted_old_value_and_remover():
    event = parse_line(
        "g", one_line(CORPUS / "gerrit-events-java/DeserializeVoteDeletedTest.json")
    )[0]
    assert event.approvals[0]["label"] == "Validated"
    assert (event.approvals[0]["value"], event.approvals[0]["old_value"]) == (0, -2)
    assert event.account["username"] == "evil" and event.comment == "Removed Validated"


def test_change_deleted_3x_ints_and_change_key():
    event = parse_line(
        "g", one_line(CORPUS / "gerrit-events-java/DeserializeChangeDeletedTest.json")
    )[0]
    assert event.change_number == 3 and event.branch == "main"
    assert event.change_url == "http://testGerrit/c/bwnUVH/+/3"


def test_hashtags_changed_when_strict():
    # The corpus sample has a trailing comma; this is the same event made strict.
    text = (CORPUS / "gerrit-events-java/DeserializeHashtagsChangedTest.json").read_text()
    text = text.replace('"newtag2",', '"newtag2"')
    event = parse_line("g", json.dumps(json.loads(text)))[0]
    assert event.extra["added"] == ["newtag", "newtag2"]
    assert event.extra["removed"] == ["oldtag", "oldtag2"]
    assert event.extra["hashtags"] == ["works", "yolo"]
    assert event.account["username"] == "defer"


def test_topic_changed_old_topic():
    event = parse_line("g", one_line(CORPUS / "pygerrit/topic-changed-event.json"))[0]
    assert event.extra["topic"] == "topic-name" and event.extra["old_topic"] == "old-topic"


CHANGE = {
    "project": "org/p",
    "branch": "main",
    "id": "I" + "1" * 40,
    "number": 77,
    "subject": "s",
    "url": "https://g/c/org/p/+/77",
    "status": "NEW",
}
PATCHSET = {"number": 2, "revision": "c" * 40, "ref": "refs/changes/77/77/2"}


def test_wip_and_private_state_changed_from_format_tables():
    # No captured sample exists; built from FORMAT.md's field table.
    wip = event_from_payload(
        "g",
        {
            "type": "wip-state-changed",
            "change": {**CHANGE, "wip": True},
            "patchSet": PATCHSET,
            "changer": {"username": "u"},
            "eventCreatedOn": 50,
        },
    )
    assert wip.extra["wip"] is True and wip.account == {"username": "u"}
    private = event_from_payload(
        "g",
        {
            "type": "private-state-changed",
            "change": CHANGE,
            "patchSet": PATCHSET,
            "changer": {"username": "u"},
        },
    )
    # wip/private are "typically omitted when false".
    assert private.extra["private"] is False and private.extra["wip"] is False


def test_reviewer_added_and_comment_added_with_old_value_from_format_tables():
    # Built from FORMAT.md (no 3.x comment-added with oldValue was captured).
    event = event_from_payload(
        "g",
        {
            "type": "comment-added",
            "change": CHANGE,
            "patchSet": PATCHSET,
            "author": {"username": "core"},
            "approvals": [
                {"type": "Workflow", "value": "1", "oldValue": "0"},
                {"type": "Code-Review", "value": "2"},
            ],
            "comment": "Patch Set 2: Workflow+1",
            "patchSetComments": {"/PATCHSET_LEVEL": [{"message": "recheck", "line": 0}]},
            "eventCreatedOn": 1700000000,
        },
    )
    assert event.extra["patchset_comments"] == ["recheck"]
    assert event.approvals == [
        {"label": "Workflow", "value": 1, "old_value": 0},
        {"label": "Code-Review", "value": 2, "old_value": None},
    ]
    assert event.dedup_key.startswith("gerrit:g:comment-added:77:2:core:1700000000:")
    added = event_from_payload(
        "g",
        {
            "type": "reviewer-added",
            "change": CHANGE,
            "patchSet": PATCHSET,
            "reviewer": {"username": "r"},
            "adder": {"username": "a"},
        },
    )
    assert added.extra["reviewer"] == {"username": "r"} and added.account == {"username": "a"}


def test_webhooks_plugin_form():
    payload = {
        "type": "patchset-created",
        "project": {"name": "org/p"},
        "changeKey": {"key": "I" + "2" * 40},
        "refName": "refs/heads/main",
        "change": {"number": 5, "branch": "main"},
        "patchSet": {"number": 1, "revision": "d" * 40},
        "uploader": {"username": "u"},
        "eventCreatedOn": 10,
    }
    event = event_from_payload("g", payload)
    assert event.project == "org/p"
    assert event.extra["change_id"] == "I" + "2" * 40
    assert event.ref == "refs/changes/05/5/1"


def test_batch_ref_updated_gives_one_event_per_ref():
    events = events_from_payload(
        "g",
        {
            "type": "batch-ref-updated",
            "refUpdates": [
                {"oldRev": ZERO_SHA, "newRev": "a" * 40, "refName": "refs/heads/x", "project": "p"},
                {"oldRev": "a" * 40, "newRev": ZERO_SHA, "refName": "refs/tags/v", "project": "p"},
            ],
        },
    )
    assert [(e.type, e.ref) for e in events] == [
        ("ref-updated", "refs/heads/x"),
        ("ref-updated", "refs/tags/v"),
    ]


def test_unknown_fields_ignored_unknown_types_none():
    event = event_from_payload(
        "g",
        {"type": "patchset-created", "change": CHANGE, "patchSet": PATCHSET, "shiny": {"new": 1}},
    )
    assert event is not None
    assert event_from_payload("g", {"type": "pending-check", "change": CHANGE}) is None


@pytest.mark.parametrize(
    "line, message",
    [
        ('{"type": "patchset-created", "change": {"numb', "truncated JSON"),
        ("not json at all", "invalid JSON"),
        ("[1, 2]", "expected a JSON object, got list"),
        ('{"change": {}}', "no 'type'"),
        ("   ", "empty line"),
        (b'{"type": "x\xff"}', "not UTF-8"),
        ('{"type": "patchset-created", "patchSet": {}}', "patchset-created: no 'change' object"),
        ('{"type": "comment-added", "change": {"project": "p"}}', "change has no 'number'"),
        ('{"type": "comment-added", "change": {"number": "x1"}}', "change.number: not a number"),
        ('{"type": "ref-updated", "refUpdate": {"project": "p"}}', "has no 'refName'"),
        (
            '{"type": "comment-added", "change": {"number": 1, "project": "p"}, '
            '"approvals": [{"type": "Verified", "value": "yes"}]}',
            "approvals[0].value: not a vote",
        ),
    ],
)
def test_malformed_lines_say_what_is_wrong(line, message):
    with pytest.raises(EventParseError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_line("g", line)


def test_dropped_output_decodes_as_control():
    assert decode_line('{"type":"dropped-output"}') == {"type": "dropped-output"}
    assert parse_line("g", '{"type":"dropped-output"}') == []


# --- catch-up synthesis: the same keys as the streamed events ------------------------


def change(**kw) -> Change:
    base = dict(
        connection="g",
        project="org/p",
        branch="main",
        number=77,
        patchset=2,
        commit="c" * 40,
        uploader=Account(username="u"),
        created=1000.0,
        updated=1000.0,
        url="https://g/c/org/p/+/77",
    )
    base.update(kw)
    return Change(**base)


def test_catch_up_patchset_key_equals_streamed_key():
    streamed = event_from_payload(
        "g", {"type": "patchset-created", "change": CHANGE, "patchSet": PATCHSET}
    )
    found = catch_up_events("g", change(), since=900.0)
    assert [e.type for e in found] == ["patchset-created"]
    assert found[0].dedup_key == streamed.dedup_key
    assert found[0].extra["synthesized"] is True
    assert catch_up_events("g", change(), since=1001.0) == []


def test_catch_up_votes_group_by_reviewer_and_time():
    votes = [
        Approval("Code-Review", 2, Account(username="core"), 1700000000.4),
        Approval("Workflow", 1, Account(username="core"), 1700000000.4),
        Approval("Verified", 1, Account(username="ci"), 1500.0),
        Approval("Code-Review", 1, Account(username="old"), 10.0),
    ]
    found = catch_up_events("g", change(approvals=votes, created=10.0), since=1000.0)
    assert [(e.type, e.account["username"]) for e in found] == [
        ("comment-added", "ci"),
        ("comment-added", "core"),
    ]
    core = found[1]
    assert core.dedup_key.startswith("gerrit:g:comment-added:77:2:core:1700000000:")
    assert {a["label"]: (a["value"], a["old_value"]) for a in core.approvals} == {
        "Code-Review": (2, 0),
        "Workflow": (1, 0),
    }


def test_catch_up_merge_and_abandon():
    merged = catch_up_events("g", change(status=ChangeStatus.MERGED, updated=2000.0), 1500.0)
    assert [e.dedup_key for e in merged] == ["gerrit:g:change-merged:77"]
    abandoned = catch_up_events("g", change(status=ChangeStatus.ABANDONED, updated=2000.5), 1500.0)
    streamed = event_from_payload(
        "g",
        {
            "type": "change-abandoned",
            "change": CHANGE,
            "patchSet": PATCHSET,
            "eventCreatedOn": 2000,
        },
    )
    assert [e.dedup_key for e in abandoned] == [streamed.dedup_key]


def test_catch_up_reviews_from_messages_match_streamed_keys():
    text = "Patch Set 2: Code-Review+2 Workflow+1\n\nLooks good"
    streamed = event_from_payload(
        "g",
        {
            "type": "comment-added",
            "change": CHANGE,
            "patchSet": PATCHSET,
            "author": {"name": "Core", "username": "core"},
            "approvals": [{"type": "Code-Review", "value": "2", "oldValue": "0"}],
            "comment": text,
            "eventCreatedOn": 1700000000,
        },
    )
    votes = [
        Approval("Code-Review", 2, Account(name="Core", username="core"), 1700000000.0),
        Approval("Workflow", 1, Account(name="Core", username="core"), 1700000000.0),
    ]
    messages = [
        ChangeMessage(
            Account(username="owner"),
            999.0,
            "Uploaded patch set 2.",
            2,
            "autogenerated:gerrit:newPatchSet",
        ),
        ChangeMessage(Account(name="Core", username="core"), 1700000000.2, text),
        ChangeMessage(Account(username="bot"), 1700000005.0, "Patch Set 1:\n\nrecheck"),
    ]
    found = catch_up_events("g", change(approvals=votes, created=10.0), 1000.0, messages)
    assert [(e.type, e.patchset, e.comment) for e in found] == [
        ("comment-added", 2, text),
        ("comment-added", 1, "Patch Set 1:\n\nrecheck"),
    ]
    assert found[0].dedup_key == streamed.dedup_key
    assert {a["label"] for a in found[0].approvals} == {"Code-Review", "Workflow"}
    assert found[1].approvals == [] and found[1].ref == "refs/changes/77/77/1"
