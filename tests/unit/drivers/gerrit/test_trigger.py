"""Gerrit trigger filters: each of Zuul's rules, the change state the
trigger's require/reject see, and OpenDev's real pipeline triggers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from lockgate.drivers.base import TriggerFilterError
from lockgate.drivers.gerrit.events import events_from_payload
from lockgate.drivers.gerrit.requirements import make_requirement
from lockgate.drivers.gerrit.trigger import (
    GerritTriggerFilter,
    event_view,
    make_trigger_filter,
)
from lockgate.git import ZERO_SHA
from lockgate.model.change import Account, Approval, Change, ChangeStatus
from lockgate.model.events import TriggerEvent

CORPUS = Path("/work/shared/corpus")
PIPELINES = CORPUS / "zuul-config/project-config/zuul.d/pipelines.yaml"
NOW = 1_700_000_000.0
ZUUL = {"name": "Zuul", "email": "zuul@opendev.org", "username": "zuul"}
JANE = {"name": "Jane Doe", "email": "jane@example.org", "username": "jane"}


def event(type_: str = "comment-added", **kw) -> TriggerEvent:
    fields = dict(
        type=type_,
        connection="gerrit",
        project="org/p",
        branch="master",
        ref="refs/changes/45/12345/3",
        change_number=12345,
        patchset=3,
        account=JANE,
        timestamp=NOW,
    )
    fields.update(kw)
    return TriggerEvent(**fields)


def votes(*pairs, old=None) -> list[dict]:
    return [{"label": label, "value": value, "old_value": old} for label, value in pairs]


def change(*approvals: Approval, **kw) -> Change:
    fields = dict(
        connection="gerrit",
        project="org/p",
        branch="master",
        number=12345,
        patchset=3,
        commit="c" * 40,
        approvals=list(approvals),
        updated=NOW - 60,
    )
    fields.update(kw)
    return Change(**fields)


def vote(label: str, value: int, by: dict = JANE, at: float = NOW - 3600) -> Approval:
    return Approval(label, value, Account.from_dict(by), at)


def make(spec) -> GerritTriggerFilter:
    return make_trigger_filter("gerrit", spec)


# --- event type, connection, branch, ref -------------------------------------------


def test_connection_and_event_types():
    f = make({"event": ["patchset-created", "change-restored"]})
    assert f.matches(event("patchset-created"))
    assert f.matches(event("change-restored"))
    assert not f.matches(event("comment-added"))
    assert not f.matches(event("patchset-created", connection="other"))
    assert f.mismatch(event("comment-added")) == (
        "event type 'comment-added' is not patchset-created or change-restored"
    )


def test_branch_regexes_match_at_the_start():
    f = make({"event": "patchset-created", "branch": ["^master$", "stable/"]})
    assert f.matches(event("patchset-created"))
    assert f.matches(event("patchset-created", branch="stable/2024.1"))
    assert not f.matches(event("patchset-created", branch="feature/stable/x"))
    assert not f.matches(event("patchset-created", branch=None))
    negated = make({"event": "patchset-created", "branch": {"regex": "^stable/", "negate": True}})
    assert negated.matches(event("patchset-created"))
    assert not negated.matches(event("patchset-created", branch="stable/x"))


def ref_updated(ref: str, newrev: str = "b" * 40) -> TriggerEvent:
    branch = ref[len("refs/heads/") :] if ref.startswith("refs/heads/") else None
    return event(
        "ref-updated",
        ref=ref,
        branch=branch,
        oldrev="a" * 40,
        newrev=newrev,
        change_number=None,
        patchset=None,
    )


def test_ref_regexes_and_ignore_deletes():
    f = make({"event": "ref-updated", "ref": "^refs/tags/"})
    assert f.matches(ref_updated("refs/tags/1.0"))
    assert not f.matches(ref_updated("refs/heads/master"))
    assert not f.matches(ref_updated("refs/tags/1.0", newrev=ZERO_SHA))
    keep = make({"event": "ref-updated", "ref": "^refs/tags/", "ignore-deletes": False})
    assert keep.matches(ref_updated("refs/tags/1.0", newrev=ZERO_SHA))
    assert not f.matches(ref_updated(""))


# --- comments, accounts -------------------------------------------------------------


def test_comment_is_searched_anywhere_in_the_message():
    f = make({"event": "comment-added", "comment": "retrigger"})
    assert f.matches(event(comment="Patch Set 3:\n\nplease retrigger this"))
    assert not f.matches(event(comment="Patch Set 3: Code-Review+1"))
    assert not f.matches(event(comment=None))


def test_comment_matches_a_patchset_level_comment():
    f = make({"event": "comment-added", "comment": "^recheck$"})
    e = event(comment="Patch Set 3:\n\n(1 comment)", extra={"patchset_comments": ["recheck"]})
    assert f.matches(e)
    assert not f.matches(event(comment="x", extra={"patchset_comments": ["no recheck"]}))


def test_comment_filter_is_the_old_spelling_and_comment_wins():
    old = make({"event": "comment-added", "comment_filter": "recheck"})
    assert old.matches(event(comment="recheck"))
    assert old.deprecations == ("'comment_filter' is deprecated; use 'comment' instead",)
    both = make({"event": "comment-added", "comment": "rebuild", "comment_filter": "recheck"})
    assert both.matches(event(comment="rebuild"))
    assert not both.matches(event(comment="recheck"))


def test_email_and_username_are_searched_and_any_of_a_list_matches():
    f = make({"event": "comment-added", "email": [r"@example\.org$", "^ops@"]})
    assert f.matches(event())
    assert not f.matches(event(account={"email": "jane@example.com"}))
    u = make({"event": "comment-added", "username": "^zuul$"})
    assert u.matches(event(account=ZUUL))
    assert not u.matches(event(account=JANE))
    assert not u.matches(event(account={"name": "No Username"}))
    assert u.mismatch(event(account=JANE)) == "username 'jane' does not match '^zuul$'"


def test_account_filters_are_skipped_without_an_account_as_in_zuul():
    f = make({"event": "wip-state-changed", "username": "^zuul$"})
    assert f.matches(event("wip-state-changed", account=None))


def test_username_filter_old_spelling():
    f = make({"event": "comment-added", "username_filter": "^zuul$"})
    assert f.matches(event(account=ZUUL)) and not f.matches(event())


# --- approvals on the event ---------------------------------------------------------


def test_approval_needs_every_vote_listed_on_the_event():
    f = make({"event": "comment-added", "approval": [{"Workflow": 1}, {"Code-Review": "+2"}]})
    assert f.approvals == (("Workflow", 1), ("Code-Review", 2))
    assert f.matches(event(approvals=votes(("Code-Review", 2), ("Workflow", 1))))
    assert not f.matches(event(approvals=votes(("Workflow", 1))))
    assert not f.matches(event(approvals=votes(("Workflow", 1), ("Code-Review", 1))))
    assert f.mismatch(event()) == "the event carries no Workflow +1"


def test_approval_values_from_the_wire_may_be_strings():
    f = make({"event": "comment-added", "approval": {"Verified": -1}})
    assert f.matches(event(approvals=[{"label": "Verified", "value": "-1"}]))


def test_approval_change_needs_the_vote_to_have_changed():
    f = make({"event": "comment-added", "approval-change": {"Workflow": 1}})
    assert f.matches(event(approvals=votes(("Workflow", 1), old=0)))
    assert not f.matches(event(approvals=votes(("Workflow", 1))))  # unchanged: no old value
    assert not f.matches(event(approvals=votes(("Workflow", 1), old=1)))
    assert not f.matches(event(approvals=votes(("Workflow", 0), old=1)))


# --- hashtags ----------------------------------------------------------------------


def test_added_and_removed_hashtags_are_searched():
    added = make({"event": "hashtags-changed", "added": "^ready"})
    e = event("hashtags-changed", extra={"added": ["ready-to-go"], "removed": ["wip"]})
    assert added.matches(e)
    assert not added.matches(event("hashtags-changed", extra={"added": ["not-ready"]}))
    assert not added.matches(event("hashtags-changed"))
    removed = make({"event": "hashtags-changed", "removed": ["hold", "wip"]})
    assert removed.matches(e)
    assert not removed.matches(event("hashtags-changed", extra={"added": ["wip"]}))


# --- pending-check -----------------------------------------------------------------


def test_pending_check_uuid_and_scheme():
    by_uuid = make({"event": "pending-check", "uuid": "zuul:check"})
    assert by_uuid.matches(event("pending-check", account=None, extra={"uuid": "zuul:check"}))
    assert not by_uuid.matches(event("pending-check", extra={"uuid": "zuul:gate"}))
    by_scheme = make({"event": "pending-check", "scheme": "zuul_check"})
    assert by_scheme.matches(event("pending-check", extra={"uuid": "zuul_check:org-p"}))
    assert not by_scheme.matches(event("pending-check", extra={"uuid": "zuul_gate:org-p"}))


# --- require / reject on the trigger ------------------------------------------------


def test_require_needs_the_change():
    f = make({"event": "comment-added", "require": {"open": True}})
    assert f.needs_change and not make({"event": "comment-added"}).needs_change
    assert not f.matches(event())
    assert f.mismatch(event()) == "the trigger's require/reject need the change, which is not known"
    assert f.matches(event(), change())
    assert not f.matches(event(), change(status=ChangeStatus.MERGED))


def test_reject_on_the_trigger():
    f = make({"event": "comment-added", "reject": {"approval": {"Code-Review": -2}}})
    assert f.matches(event(), change(vote("Code-Review", 1)))
    assert not f.matches(event(), change(vote("Code-Review", -2)))


def test_require_approval_is_the_deprecated_form_and_require_wins():
    old = make({"event": "comment-added", "require-approval": {"Verified": 1, "username": "zuul"}})
    assert old.deprecations[0].startswith("'require-approval' is deprecated")
    assert old.matches(event(), change(vote("Verified", 1, ZUUL)))
    assert not old.matches(event(), change(vote("Verified", 1, JANE)))
    both = make(
        {
            "event": "comment-added",
            "require-approval": {"Verified": 1},
            "require": {"approval": {"Code-Review": 2}},
        }
    )
    assert both.matches(event(), change(vote("Code-Review", 2)))
    rejected = make({"event": "comment-added", "reject-approval": [{"Code-Review": [-1, -2]}]})
    assert not rejected.matches(event(), change(vote("Code-Review", -1)))
    assert rejected.matches(event(), change(vote("Code-Review", 1)))


def test_newer_than_counts_back_from_the_event_or_the_given_time():
    f = make(
        {"event": "comment-added", "require": {"approval": {"Verified": 1, "newer-than": "1h"}}}
    )
    c = change(vote("Verified", 1, ZUUL, at=NOW - 1800))
    assert f.matches(event(timestamp=NOW), c)
    assert not f.matches(event(timestamp=NOW + 3600), c)
    assert f.matches(event(timestamp=NOW + 3600), c, now=NOW)


def test_the_events_own_votes_satisfy_require():
    """Zuul: the conditions "may be satisfied by the event in question"."""
    f = make({"event": "comment-added", "require": {"approval": {"Workflow": 1}}})
    stale = change(vote("Code-Review", 2))
    assert f.matches(event(approvals=votes(("Workflow", 1))), stale)
    assert not f.matches(event(approvals=votes(("Code-Review", 2))), stale)


def test_a_vote_reset_by_the_event_supersedes_the_cached_one():
    f = make({"event": "comment-added", "reject": {"approval": {"Code-Review": -2}}})
    vetoed = change(vote("Code-Review", -2, JANE))
    assert not f.matches(event(account=ZUUL, approvals=votes(("Code-Review", 0))), vetoed)
    assert f.matches(event(account=JANE, approvals=votes(("Code-Review", 0), old=-2)), vetoed)


def test_event_view():
    cached = change(vote("Code-Review", 2), hashtags=["a"], updated=NOW - 60)
    # The cache is behind the event: its votes and state win.
    e = event(
        approvals=votes(("Workflow", 1)),
        extra={"status": "MERGED", "wip": True, "hashtags": ["b"]},
    )
    view = event_view(cached, e)
    assert [(a.label, a.value, a.by.username) for a in view.approvals] == [
        ("Code-Review", 2, "jane"),
        ("Workflow", 1, "jane"),
    ]
    assert view.approvals[-1].granted_on == NOW
    assert view.status is ChangeStatus.MERGED and view.wip and view.hashtags == ["b"]
    assert cached.approvals == [vote("Code-Review", 2)]  # not modified
    # The cache already saw the event (and maybe later ones): it stands.
    newer = change(vote("Code-Review", 2), updated=NOW + 5)
    assert event_view(newer, e) is newer
    # An event about an older patchset: not current, only the event's votes known.
    older = event_view(change(vote("Code-Review", 2), patchset=4), e)
    assert (older.patchset, older.is_current_patchset, older.ref) == (
        3,
        False,
        "refs/changes/45/12345/3",
    )
    assert [a.label for a in older.approvals] == ["Workflow"]
    # An event about a newer patchset than the cache knows: it is current.
    ahead = event_view(change(patchset=2), e)
    assert ahead.patchset == 3 and ahead.is_current_patchset


def test_current_patchset_requirement_sees_an_outdated_patchset_event():
    f = make({"event": "comment-added", "require": {"current-patchset": True}})
    assert f.matches(event(patchset=3), change(patchset=3))
    assert not f.matches(event(patchset=2), change(patchset=3))


# --- errors ------------------------------------------------------------------------


def test_errors_name_the_connection_and_every_problem():
    with pytest.raises(TriggerFilterError) as info:
        make({"event": "comment-added", "approval": {"Workflow": "yes"}, "branchs": "master"})
    assert str(info.value) == (
        "trigger 'gerrit': approval.Workflow: expected a vote (an integer such as 1 or -2), "
        "got string 'yes'; unknown attribute 'branchs' (did you mean 'branch'?)"
    )
    with pytest.raises(TriggerFilterError, match="expected a mapping"):
        make(["comment-added"])
    with pytest.raises(TriggerFilterError, match="invalid regular expression"):
        make({"event": "comment-added", "comment": "(unclosed"})


# --- OpenDev's pipelines ------------------------------------------------------------


def opendev() -> dict[str, dict]:
    objects = yaml.safe_load(PIPELINES.read_text())
    return {o["pipeline"]["name"]: o["pipeline"] for o in objects if "pipeline" in o}


def filters(pipeline: dict) -> list[GerritTriggerFilter]:
    return [make(spec) for spec in pipeline["trigger"].get("gerrit", [])]


def takes(pipeline: dict, e: TriggerEvent, c: Change | None = None) -> bool:
    return any(f.matches(e, c) for f in filters(pipeline))


def test_every_opendev_gerrit_section_compiles():
    compiled = 0
    for pipeline in opendev().values():
        compiled += len(filters(pipeline))
        requirement = make_requirement(
            "gerrit",
            (pipeline.get("require") or {}).get("gerrit"),
            (pipeline.get("reject") or {}).get("gerrit"),
        )
        assert requirement.connection_name == "gerrit"
    assert compiled >= 20


def test_opendev_check():
    check = opendev()["check"]
    assert takes(check, event("patchset-created"))
    assert takes(check, event("change-restored"))
    for text in (
        "recheck",
        "Patch Set 3:\n\nrecheck",
        "Patch Set 3: Code-Review+1\n\nrecheck",
        "Patch Set 3:\n\nRECHECK please, the mirror was down",
    ):
        assert takes(check, event(comment=text)), text
    for text in (
        "Patch Set 3:\n\nI will not recheck this",
        "looks good",
        "Patch Set 3: Workflow+1",
    ):
        assert not takes(check, event(comment=text)), text
    # A core reviewer approves a change Zuul voted against: it goes back to check.
    approved = event(
        account=JANE, approvals=votes(("Workflow", 1)), comment="Patch Set 3: Workflow+1"
    )
    assert takes(check, approved, change(vote("Verified", -1, ZUUL)))
    assert not takes(check, approved, change(vote("Verified", 1, ZUUL)))
    assert not takes(check, approved, None)


def test_opendev_gate():
    gate = opendev()["gate"]
    workflow = event(approvals=votes(("Code-Review", 2), ("Workflow", 1)))
    assert takes(gate, workflow)
    assert not takes(gate, event(approvals=votes(("Code-Review", 2))))
    assert not takes(gate, event(comment="recheck"))
    zuul_verified = event(account=ZUUL, approvals=votes(("Verified", 1)))
    assert takes(gate, zuul_verified)
    assert not takes(gate, event(account=JANE, approvals=votes(("Verified", 1))))
    require = make_requirement("gerrit", gate["require"]["gerrit"], None)
    ready = change(vote("Verified", 1, ZUUL), vote("Code-Review", 2), vote("Workflow", 1))
    assert require.check(ready, NOW) is None
    assert require.check(change(vote("Verified", 1, ZUUL), vote("Code-Review", 2)), NOW) == (
        "Workflow +1 is required"
    )
    assert require.check(change(vote("Workflow", 1)), NOW) == (
        "Verified +1 or +2 by a username matching 'zuul' is required"
    )


def test_opendev_post_release_and_pre_release_refs():
    p = opendev()
    assert takes(p["post"], ref_updated("refs/heads/master"))
    assert not takes(p["post"], ref_updated("refs/tags/1.0"))
    assert not takes(p["post"], ref_updated("refs/heads/gone", newrev=ZERO_SHA))
    assert takes(p["release"], ref_updated("refs/tags/1.2.3"))
    assert not takes(p["release"], ref_updated("refs/tags/1.2.3rc1"))
    assert takes(p["pre-release"], ref_updated("refs/tags/1.2.3rc1"))
    assert not takes(p["pre-release"], ref_updated("refs/tags/1.2.3"))
    assert takes(p["tag"], ref_updated("refs/tags/anything"))
    assert takes(p["promote"], event("change-merged"))


def test_opendev_release_approval_skips_zuuls_own_comments():
    p = opendev()["release-approval"]
    assert takes(p, event(account=JANE, comment="Patch Set 3: Code-Review+1"))
    assert not takes(p, event(account=ZUUL, comment="Build succeeded."))


def test_opendev_experimental():
    p = opendev()["experimental"]
    assert takes(p, event(comment="Patch Set 3:\n\ncheck experimental"))
    assert not takes(p, event(comment="Patch Set 3:\n\ncheck experimental jobs"))
    assert not takes(p, event(comment="recheck"))


# --- events parsed from Gerrit's JSON -----------------------------------------------


def corpus_event(path: str) -> TriggerEvent:
    data = json.loads((CORPUS / "gerrit-events" / path).read_text())
    (parsed,) = events_from_payload("gerrit", data, received=NOW)
    return parsed


def test_filters_on_parsed_stream_events():
    comment = corpus_event("pygerrit/comment-added-event.json")
    assert make({"event": "comment-added", "comment": "^Review"}).matches(comment)
    assert make({"event": "comment-added", "email": "^author@"}).matches(comment)
    assert make({"event": "comment-added", "approval": {"VRIF": 1}}).matches(comment)
    assert not make({"event": "comment-added", "approval": {"VRIF": 2}}).matches(comment)
    assert make({"event": "comment-added", "branch": "^branch-name$"}).matches(comment)
    deleted = corpus_event("gerrit-events-java/DeserializeVoteDeletedTest.json")
    assert make({"event": "vote-deleted", "username": "^evil$"}).matches(deleted)
    # The deleted vote (-2 -> 0) is gone from the change the trigger's reject sees.
    reject = make({"event": "vote-deleted", "reject": {"approval": {"Validated": -2}}})
    vetoed = change(
        vote("Validated", -2, {"username": "builder"}, at=deleted.timestamp - 100),
        number=654,
        patchset=1,
        updated=deleted.timestamp - 10,
    )
    no_votes = event("vote-deleted", change_number=654, patchset=1, timestamp=deleted.timestamp)
    assert not reject.matches(no_votes, vetoed)
    assert reject.matches(deleted, vetoed)
    ref = corpus_event("pygerrit/ref-updated-event.json")
    assert make({"event": "ref-updated", "ref": "^refs/tags/"}).matches(ref)
    assert not make({"event": "ref-updated", "ref": "^refs/heads/"}).matches(ref)
    assert not make({"event": "ref-updated", "branch": "^master$"}).matches(ref)
