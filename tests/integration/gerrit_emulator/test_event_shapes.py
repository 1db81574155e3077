"""Every event type the emulator emits, read from a real ``gerrit stream-events``
session, against the corpus sample of that type: the same keys with the same
value types, recursively through the change, patchSet, account and approval
objects.

The samples are older than the Gerrit the emulator imitates (3.x), so some
differences are expected; each one allowed below is named with its reason,
and any other difference fails.  Three types have no public sample
(wip-state-changed, private-state-changed, dropped-output; see FORMAT.md):
those are checked against FORMAT.md's field table instead, with the change and
patchSet objects required to be the same shape as in patchset-created.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.fixtures.corpus import corpus_root
from tests.fixtures.gerrit.fixture import GerritEmulator
from tests.fixtures.waiting import wait_for

from .helpers import EventStream

EVENTS = corpus_root() / "gerrit-events"

SAMPLES = {
    "patchset-created": "pygerrit/patchset-created-event.json",
    "comment-added": "pygerrit/comment-added-event.json",
    "change-merged": "pygerrit/change-merged-event.json",
    "change-abandoned": "pygerrit/change-abandoned-event.json",
    "change-restored": "gerrit-events-java/DeserializeEventCreatedOnTest.json",
    "change-restored (2.x)": "pygerrit/change-restored-event.json",
    "ref-updated": "pygerrit/ref-updated-event.json",
    "reviewer-added": "pygerrit/reviewer-added-event.json",
    "topic-changed": "pygerrit/topic-changed-event.json",
    "hashtags-changed": "gerrit-events-java/DeserializeHashtagsChangedTest.json",
    "vote-deleted": "gerrit-events-java/DeserializeVoteDeletedTest.json",
}

# Sample keys the emulator does not send, and why.
ALLOWED_MISSING = {
    # Drafts were removed in Gerrit 2.15; 3.x patch sets have no isDraft.
    "patchSet.isDraft",
    # The vote-deleted sample is hand-edited (FORMAT.md): Gerrit 3.x builds its
    # approvals like comment-added's (type, description, value, oldValue).
    "approvals[].grantedOn",
    "approvals[].by",
}

# Keys the emulator sends that an older sample lacks; all are documented in
# FORMAT.md as fields of newer servers.
ENVELOPE = {"eventCreatedOn", "project", "refName", "changeKey", "changeKey.id"}
ALLOWED_EXTRA = ENVELOPE | {
    "newRev",  # change-merged, newer servers
    "adder",
    "adder.name",
    "adder.email",
    "adder.username",  # reviewer-added
    "patchSet",  # change-restored in pygerrit's 2.x sample has none; 3.x sends it
    "patchSet.parents",
    "patchSet.author",
    "patchSet.kind",
    "patchSet.sizeInsertions",
    "patchSet.sizeDeletions",
    "patchSet.number",
    "patchSet.revision",
    "patchSet.ref",
    "patchSet.uploader",
    "patchSet.createdOn",
    "change.commitMessage",
    "change.createdOn",
    "change.status",
    # change fields FORMAT.md lists, which the samples lack because their change
    # had no topic or was neither private nor work in progress
    "change.topic",
    "change.private",
    "change.wip",
    "change.hashtags",  # 3.x sends it when the change has hashtags
    "approvals[].oldValue",  # only on votes this event changed (FORMAT.md)
    "reason",  # change-restored: the 2.x sample has it, the local-server one (no reason given) not
}
ACCOUNT_FIELDS = {"name", "email", "username"}


def _load(relative: str) -> dict[str, Any]:
    text = (EVENTS / relative).read_text()
    # DeserializeHashtagsChangedTest.json has a trailing comma (corpus README).
    return json.loads(re.sub(r",(\s*[\]}])", r"\1", text))


def _is_account_path(path: str) -> bool:
    last = path.rsplit(".", 1)[-1].removesuffix("[]")
    return last in {
        "owner",
        "uploader",
        "author",
        "submitter",
        "abandoner",
        "restorer",
        "reviewer",
        "changer",
        "editor",
        "remover",
        "by",
        "adder",
    }


def shape_problems(sample: Any, actual: Any, path: str = "") -> list[str]:
    """How ``actual`` differs in keys or value types from ``sample``."""
    problems = []
    if isinstance(sample, dict):
        if not isinstance(actual, dict):
            return [f"{path or '.'}: expected an object, got {type(actual).__name__}"]
        for key, value in sample.items():
            sub = f"{path}.{key}" if path else key
            if key not in actual:
                if sub not in ALLOWED_MISSING:
                    problems.append(f"{sub}: missing")
                continue
            problems += shape_problems(value, actual[key], sub)
        for key in actual.keys() - sample.keys():
            sub = f"{path}.{key}" if path else key
            account_extra = _is_account_path(path) and key in ACCOUNT_FIELDS
            if sub not in ALLOWED_EXTRA and not account_extra:
                problems.append(f"{sub}: not in the sample and not a documented newer field")
        return problems
    if isinstance(sample, list):
        if not isinstance(actual, list):
            return [f"{path}: expected a list, got {type(actual).__name__}"]
        if sample and actual:
            # The element shaped most like the sample's first (approvals differ by
            # whether this event changed them: oldValue).
            found = [shape_problems(sample[0], item, f"{path}[]") for item in actual]
            problems += min(found, key=len)
        return problems
    if type(sample) is not type(actual):
        # change.number and patchSet.number were strings on 2.x, integers on 3.x.
        drift = (
            isinstance(sample, str)
            and sample.isdigit()
            and isinstance(actual, int)
            and path in ("change.number", "patchSet.number")
        )
        if not drift:
            problems.append(
                f"{path}: {type(sample).__name__} in the sample, {type(actual).__name__} here"
            )
    return problems


@pytest.fixture(scope="module")
def emitted(tmp_path_factory) -> Iterator[dict[str, list[dict[str, Any]]]]:
    """One of every event type, as a stream-events client received them (one
    emulator for the module: the events are only read)."""
    with GerritEmulator(tmp_path_factory.mktemp("shapes") / "gerrit") as gerrit:
        yield _emit_everything(gerrit)


def _emit_everything(gerrit: GerritEmulator) -> dict[str, list[dict[str, Any]]]:
    c = gerrit.control
    c.create_project("project-name")
    stream = EventStream(gerrit)
    try:
        wait_for(lambda: c.stream_status()["subscribers"] == 1, 10, "the stream session")
        n = c.create_change(
            "project-name",
            {"f.txt": "1\n"},
            "Commit message subject",
            owner="alice",
            topic="topic-name",
        )["number"]
        c.add_reviewer(n, "admin", account="alice")
        c.review(n, "bob", "Review comment", {"Code-Review": 1, "Verified": 1})
        c.set_topic(n, "new-topic", account="alice")
        c.hashtags(n, add=["oldtag"], account="alice")
        c.hashtags(n, add=["newtag"], remove=["oldtag"], account="alice")
        c.delete_vote(n, "Verified", "bob")
        c.set_wip(n, True, account="alice")
        c.set_wip(n, False, account="alice")
        c.set_private(n, True, account="alice")
        c.abandon(n, "Abandon reason", account="alice")
        c.restore(n, "Restore reason", account="alice")
        c.merge(n)
        c.dropped_output()
        seen: dict[str, list[dict[str, Any]]] = {}
        while "dropped-output" not in seen:
            event = stream.next(skip_meta=False)
            seen.setdefault(event["type"], []).append(event)
        return seen
    finally:
        stream.close()


@pytest.mark.parametrize("type_", sorted(SAMPLES))
def test_event_matches_corpus_sample(emitted, type_):
    sample = _load(SAMPLES[type_])
    type_ = type_.split()[0]
    assert sample["type"] == type_
    candidates = emitted[type_]
    if type_ == "ref-updated":
        candidates = [e for e in candidates if e["refUpdate"]["refName"] == "refs/heads/master"]
    if type_ == "hashtags-changed":
        candidates = [e for e in candidates if "removed" in e]
    assert candidates, f"the emulator emitted no {type_}"
    assert shape_problems(sample, candidates[-1]) == []


def test_types_without_sample_follow_format_table(emitted):
    """wip-state-changed and private-state-changed: change, patchSet, changer
    (FORMAT.md); dropped-output: no other fields.  No public sample exists."""
    reference = emitted["patchset-created"][0]
    for type_ in ("wip-state-changed", "private-state-changed"):
        for event in emitted[type_]:
            assert set(event) == {"changer", "patchSet", "change", "type"} | (
                ENVELOPE - {"changeKey.id"}
            )
            assert set(event["changer"]) == ACCOUNT_FIELDS
            assert set(event["patchSet"]) == set(reference["patchSet"])
            assert set(event["change"]) - {"wip", "private", "topic", "hashtags"} == set(
                reference["change"]
            ) - {"topic"}
    assert [e["change"].get("wip") for e in emitted["wip-state-changed"]] == [True, None]
    assert emitted["private-state-changed"][0]["change"]["private"] is True
    assert set(emitted["dropped-output"][0]) == {"type", "eventCreatedOn"}


def test_notedb_ref_updates_follow_change_events(emitted):
    """As on a 3.x (NoteDb) server: a meta ref update for each change event, and a
    ref update for the new patch set's ref (FORMAT.md, "Type drift")."""
    refs = [e["refUpdate"]["refName"] for e in emitted["ref-updated"]]
    assert "refs/changes/01/1/1" in refs
    assert refs.count("refs/changes/01/1/meta") >= 10
    assert refs.count("refs/heads/master") == 1


def test_shape_check_catches_differences():
    sample = {"change": {"number": "1", "owner": {"name": "x"}}, "type": "t"}
    assert (
        shape_problems(sample, {"change": {"number": 1, "owner": {"name": "x"}}, "type": "t"}) == []
    )
    assert shape_problems(
        sample, {"change": {"number": [1], "owner": {}}, "type": "t", "bogus": 1}
    ) == [
        "change.number: str in the sample, list here",
        "change.owner.name: missing",
        "bogus: not in the sample and not a documented newer field",
    ]
