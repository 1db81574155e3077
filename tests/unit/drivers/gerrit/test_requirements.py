"""Pipeline requirements on Gerrit changes: each rule, and the reasons given."""

from __future__ import annotations

import dataclasses

import pytest
from lockgate.drivers.gerrit.requirements import RequirementError, current_votes, make_requirement
from lockgate.model.change import Account, Approval, Change, ChangeStatus

NOW = 1_700_000_000.0
HOUR = 3600.0
ZUUL = Account(name="Zuul", email="zuul@opendev.org", username="zuul")
JANE = Account(name="Jane Doe", email="jane@example.org", username="jane")
JOE = Account(name="Joe", email="joe@example.com")


def vote(label: str, value: int, by: Account = JANE, age_hours: float = 1.0) -> Approval:
    return Approval(label, value, by, NOW - age_hours * HOUR)


def change(*approvals: Approval, **kw) -> Change:
    fields = dict(
        connection="gerrit",
        project="org/p",
        branch="master",
        number=12345,
        patchset=3,
        commit="c" * 40,
        approvals=list(approvals),
    )
    fields.update(kw)
    return Change(**fields)


def req(require=None, reject=None):
    return make_requirement("gerrit", require, reject)


# --- state conditions --------------------------------------------------------------


def test_open():
    r = req({"open": True})
    assert r.check(change(), NOW) is None
    assert r.check(change(status=ChangeStatus.MERGED), NOW) == (
        "the change is not open (it is merged)"
    )
    closed = req({"open": False})
    assert closed.check(change(), NOW) == "the change is open"
    assert closed.check(change(status=ChangeStatus.ABANDONED), NOW) is None


def test_reject_open_is_the_mirror():
    r = req(reject={"open": True})
    assert r.check(change(), NOW) == "the change is open, which the pipeline rejects"
    assert r.check(change(status=ChangeStatus.MERGED), NOW) is None


def test_current_patchset():
    r = req({"current-patchset": True})
    assert r.check(change(), NOW) is None
    assert r.check(change(is_current_patchset=False), NOW) == (
        "patchset 3 is not the current patchset"
    )
    rejected = req(reject={"current-patchset": False})
    assert rejected.check(change(is_current_patchset=False), NOW) == (
        "patchset 3 is not the current patchset, which the pipeline rejects"
    )


def test_wip():
    r = req({"wip": False})
    assert r.check(change(), NOW) is None
    assert r.check(change(wip=True), NOW) == "the change is work in progress"
    rejected = req(reject={"wip": True})
    assert rejected.check(change(wip=True), NOW) == (
        "the change is work in progress, which the pipeline rejects"
    )
    assert rejected.check(change(), NOW) is None


def test_status():
    r = req({"status": ["NEW", "MERGED"]})
    assert r.check(change(), NOW) is None
    assert r.check(change(status=ChangeStatus.MERGED), NOW) is None
    assert r.check(change(status=ChangeStatus.ABANDONED), NOW) == (
        "the change's status is ABANDONED, not NEW or MERGED"
    )
    rejected = req(reject={"status": "ABANDONED"})
    assert rejected.check(change(status=ChangeStatus.ABANDONED), NOW) == (
        "the change's status is ABANDONED, which the pipeline rejects"
    )
    assert rejected.check(change(), NOW) is None


def test_hashtags_each_required_regex_needs_a_tag_and_any_rejected_one_rejects():
    r = req({"hashtags": ["ready", "^team-"]})
    assert r.check(change(hashtags=["team-a", "is-ready"]), NOW) is None
    assert r.check(change(hashtags=["is-ready"]), NOW) == "a hashtag matching '^team-' is required"
    rejected = req(reject={"hashtags": "hold"})
    assert rejected.check(change(hashtags=["on-hold"]), NOW) == (
        "hashtag 'on-hold' matching 'hold' is rejected"
    )
    assert rejected.check(change(hashtags=["ready"]), NOW) is None


# --- approvals ---------------------------------------------------------------------


def test_required_approval_value_and_list():
    r = req({"approval": {"Code-Review": 2}})
    assert r.check(change(vote("Code-Review", 2)), NOW) is None
    assert r.check(change(vote("Code-Review", 1)), NOW) == "Code-Review +2 is required"
    assert r.check(change(), NOW) == "Code-Review +2 is required"
    either = req({"approval": {"Verified": [1, 2]}})
    assert either.check(change(vote("Verified", 1)), NOW) is None
    assert either.check(change(vote("Verified", 2)), NOW) is None
    assert either.check(change(vote("Verified", -1)), NOW) == "Verified +1 or +2 is required"


def test_labels_are_case_sensitive():
    r = req({"approval": {"Verified": 1}})
    assert r.check(change(vote("verified", 1)), NOW) == "Verified +1 is required"


def test_every_required_entry_needs_its_own_vote():
    r = req({"approval": [{"Verified": [1, 2], "username": "zuul"}, {"Workflow": 1}]})
    assert r.check(change(vote("Verified", 2, ZUUL), vote("Workflow", 1)), NOW) is None
    assert r.check(change(vote("Verified", 2, ZUUL)), NOW) == "Workflow +1 is required"
    assert r.check(change(vote("Verified", 2, JANE), vote("Workflow", 1)), NOW) == (
        "Verified +1 or +2 by a username matching 'zuul' is required"
    )


def test_username_and_email_are_searched_regexes():
    r = req({"approval": {"Code-Review": 2, "email": r"@example\.org$"}})
    assert r.check(change(vote("Code-Review", 2, JANE)), NOW) is None
    assert r.check(change(vote("Code-Review", 2, JOE)), NOW) is not None
    # Searched anywhere, as Zuul does: 'zu' finds 'zuul'.
    assert req({"approval": {"username": "zu"}}).check(change(vote("X", 0, ZUUL)), NOW) is None
    negated = req({"approval": {"Verified": 1, "username": {"regex": "^zuul$", "negate": True}}})
    assert negated.check(change(vote("Verified", 1, JANE)), NOW) is None
    assert negated.check(change(vote("Verified", 1, ZUUL)), NOW) == (
        "Verified +1 by a username not matching '^zuul$' is required"
    )
    # A vote by an account without a username searches the empty string.
    assert negated.check(change(vote("Verified", 1, JOE)), NOW) is None


def test_entry_without_a_label_matches_any_vote_by_that_user():
    r = req({"approval": {"username": "^zuul$"}})
    assert r.check(change(vote("Verified", -1, ZUUL)), NOW) is None
    assert r.check(change(vote("Verified", -1, JANE)), NOW) == (
        "a vote by a username matching '^zuul$' is required"
    )


def test_newer_than_and_older_than():
    newer = req({"approval": {"Code-Review": 2, "newer-than": "48h"}})
    assert newer.check(change(vote("Code-Review", 2, age_hours=47)), NOW) is None
    assert newer.check(change(vote("Code-Review", 2, age_hours=49)), NOW) == (
        "Code-Review +2 newer than 48h is required"
    )
    # Pure: the same vote is new enough at an earlier "now".
    assert newer.check(change(vote("Code-Review", 2, age_hours=49)), NOW - 2 * HOUR) is None
    older = req({"approval": {"Code-Review": 2, "older-than": "1d"}})
    assert older.check(change(vote("Code-Review", 2, age_hours=25)), NOW) is None
    assert older.check(change(vote("Code-Review", 2, age_hours=23)), NOW) == (
        "Code-Review +2 older than 1d is required"
    )
    unknown_time = Approval("Code-Review", 2, JANE, None)
    assert newer.check(change(unknown_time), NOW) is not None
    assert newer.time_dependent and not req({"approval": {"Code-Review": 2}}).time_dependent


def test_a_newer_vote_by_the_same_user_supersedes():
    r = req({"approval": {"Code-Review": 2}})
    removed = change(vote("Code-Review", 2, age_hours=5), vote("Code-Review", 0, age_hours=1))
    assert r.check(removed, NOW) == "Code-Review +2 is required"
    # Another user's +2 still counts.
    other = change(
        vote("Code-Review", 2, JANE, age_hours=5),
        vote("Code-Review", 0, JANE, age_hours=1),
        vote("Code-Review", 2, ZUUL, age_hours=3),
    )
    assert r.check(other, NOW) is None


def test_current_votes_keeps_the_newest_per_user_and_label():
    a = vote("Code-Review", 2, JANE, age_hours=1)
    b = vote("Code-Review", 1, JANE, age_hours=5)  # older, listed later
    c = vote("Verified", 1, JANE)
    d = vote("Code-Review", -1, Account(), age_hours=9)  # no account: kept
    assert current_votes([a, b, c, d]) == [a, c, d]
    same_time = vote("Code-Review", -2, JANE, age_hours=1)
    assert current_votes([a, same_time]) == [same_time]


def test_reject_approvals_any_match_rejects():
    r = req(reject={"approval": [{"Code-Review": [-1, -2]}, {"Verified": -1, "username": "zuul"}]})
    assert r.check(change(vote("Code-Review", 2)), NOW) is None
    assert r.check(change(vote("Code-Review", -2, JOE)), NOW) == (
        "Code-Review -2 by Joe is rejected (Code-Review -1 or -2)"
    )
    assert r.check(change(vote("Verified", -1, ZUUL)), NOW) == (
        "Verified -1 by zuul is rejected (Verified -1 by a username matching 'zuul')"
    )
    assert r.check(change(vote("Verified", -1, JANE)), NOW) is None


def test_require_is_checked_before_reject():
    r = req({"open": True}, {"approval": {"Code-Review": -2}})
    closed_and_vetoed = change(vote("Code-Review", -2), status=ChangeStatus.MERGED)
    assert r.check(closed_and_vetoed, NOW) == "the change is not open (it is merged)"
    assert r.check(change(vote("Code-Review", -2)), NOW).startswith("Code-Review -2 by jane")


def test_other_connections_changes_and_empty_requirements_pass():
    r = req({"open": True})
    assert r.check(change(status=ChangeStatus.MERGED, connection="other"), NOW) is None
    empty = req(None, None)
    assert empty.empty
    assert empty.check(change(status=ChangeStatus.MERGED), NOW) is None
    assert req({}, {}).empty and not r.empty


def test_opendev_gate_requirements():
    r = req(
        {
            "open": True,
            "current-patchset": True,
            "approval": [{"Verified": [1, 2], "username": "zuul"}, {"Workflow": 1}],
        }
    )
    approved = change(vote("Verified", 1, ZUUL), vote("Code-Review", 2), vote("Workflow", 1))
    assert r.check(approved, NOW) is None
    # The core reviewer withdraws Workflow: the item must leave the gate.
    withdrawn = change(
        vote("Verified", 1, ZUUL),
        vote("Code-Review", 2),
        vote("Workflow", 1, age_hours=2),
        vote("Workflow", 0, age_hours=0.5),
    )
    assert r.check(withdrawn, NOW) == "Workflow +1 is required"
    outdated = dataclasses.replace(approved, is_current_patchset=False)
    assert r.check(outdated, NOW) == "patchset 3 is not the current patchset"


def test_errors_name_the_section_and_problem():
    with pytest.raises(RequirementError) as info:
        make_requirement("gerrit", {"approval": {"Verified": "yes"}}, None)
    assert str(info.value) == (
        "require 'gerrit': approval.Verified: expected a vote (an integer such as 1 or -2), "
        "got string 'yes'"
    )
    with pytest.raises(RequirementError, match=r"^reject 'gerrit': unknown attribute 'opne'"):
        make_requirement("gerrit", None, {"opne": True})
    with pytest.raises(RequirementError, match=r"^pipeline 'gate' reject: status"):
        make_requirement("gerrit", None, {"status": "open"}, what="pipeline 'gate'")
