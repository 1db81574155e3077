"""Schemas, trigger filters and requirements of GitHub pipelines (pure)."""

from __future__ import annotations

import dataclasses

import pytest
import voluptuous as vs
from lockgate.drivers.base import TriggerFilterError
from lockgate.drivers.github import schema
from lockgate.drivers.github.changes import pull_to_change
from lockgate.drivers.github.events import events_from_delivery
from lockgate.drivers.github.requirements import RequirementError, make_requirement
from lockgate.drivers.github.trigger import make_trigger_filter
from lockgate.git import ZERO_SHA
from lockgate.model.change import Account, Approval, ChangeStatus

from .corpus import AnsweringLookup, delivery, load, pull


def event(kind: str, name: str, **payload_changes):
    payload = {**load(kind, name), **payload_changes}
    (e,) = events_from_delivery(delivery(kind, payload), AnsweringLookup())
    return dataclasses.replace(e, connection="gh")


def flt(**spec):
    return make_trigger_filter("gh", spec)


# --- schemas ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "spec",
    [
        {"status": "pending", "comment": False},
        {"check": "in_progress"},
        {"status": "success", "status-url": "https://x", "merge": True, "label": ["ok"]},
        {"unlabel": "gate", "review": "approve", "review-body": "LGTM"},
        None,
    ],
)
def test_reporter_schema_accepts_zuuls_attributes(spec):
    vs.Schema(schema.reporter_schema())(spec)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"status": "passed"}, "status"),
        ({"check": "done"}, "check"),
        ({"merge": "yes"}, "merge"),
        ({"verified": 1}, "verified"),
        ({"review": "lgtm"}, "review"),
    ],
)
def test_reporter_schema_refuses_what_github_would_refuse(spec, message):
    with pytest.raises(vs.Invalid, match=message):
        vs.Schema(schema.reporter_schema())(spec)


def test_trigger_schema_errors_name_the_attribute():
    with pytest.raises(TriggerFilterError, match="did you mean 'pull_request'"):
        flt(event="pull-request")
    with pytest.raises(TriggerFilterError, match="unknown GitHub action 'synchronize'"):
        flt(event="pull_request", action="synchronize")
    with pytest.raises(TriggerFilterError, match="unknown attribute 'approval'"):
        flt(event="pull_request", approval={"Code-Review": 2})
    with pytest.raises(TriggerFilterError, match="permission"):
        flt(event="pull_request", require={"review": {"permission": "owner"}})


def test_deprecations_are_listed():
    found = schema.deprecations(
        {"event": ["pull_request"], "unlabel": "x", "require-status": ".*", "action": "requested"}
    )
    assert len(found) == 4


# --- triggers -----------------------------------------------------------------------


def test_check_pipeline_triggers_of_zuuls_docs():
    opened = event("pull_request", "opened.payload.json")
    changed = event("pull_request", "synchronize.payload.json")
    labeled = event("pull_request", "labeled.payload.json")
    check = flt(event="pull_request", action=["opened", "changed", "reopened"])
    assert check.matches(opened) and check.matches(changed)
    assert check.mismatch(labeled) == "action 'labeled' is not opened or changed or reopened"
    assert not flt(event="push").matches(opened)


def test_branch_and_ref():
    opened = event("pull_request", "opened.payload.json")
    assert flt(event="pull_request", branch=opened.branch).matches(opened)
    assert "does not match" in flt(event="pull_request", branch="^stable/").mismatch(opened)
    push = event("push", "with-new-branch.payload.json")
    assert flt(event="push", ref="refs/heads/.*").matches(push)
    assert not flt(event="push", ref="refs/tags/.*").matches(push)


def test_deleted_refs_are_ignored_unless_asked():
    push = dataclasses.replace(event("push", "with-new-branch.payload.json"), newrev=ZERO_SHA)
    assert "ignore-deletes" in flt(event="push").mismatch(push)
    assert flt(event="push", **{"ignore-deletes": False}).matches(push)


def test_recheck_comment():
    opened = event("pull_request", "opened.payload.json")
    comment = dataclasses.replace(
        opened,
        type="comment-added",
        comment="please recheck this",
        extra={**opened.extra, "action": "comment"},
    )
    recheck = flt(event="pull_request", action="comment", comment="(?i)^\\s*recheck|recheck")
    assert recheck.matches(comment)
    assert not recheck.matches(dataclasses.replace(comment, comment="looks good"))


def test_label_and_unlabel():
    labeled = event("pull_request", "labeled.payload.json")
    unlabeled = event("pull_request", "unlabeled.payload.json")
    name = labeled.extra["label"]
    assert flt(event="pull_request", action="labeled", label=name).matches(labeled)
    assert not flt(event="pull_request", action="labeled", label="other").matches(labeled)
    assert flt(event="pull_request", unlabel=unlabeled.extra["label"]).matches(unlabeled)
    assert not flt(event="pull_request", unlabel=name).matches(labeled)


def test_review_state():
    review = event("pull_request_review", "submitted.payload.json")  # commented
    assert flt(event="pull_request_review", state="comment").matches(review)
    assert not flt(event="pull_request_review", state="approved").matches(review)


def test_status_and_check_fully_match():
    e = event("pull_request", "opened.payload.json")
    status = dataclasses.replace(
        e, extra={**e.extra, "action": "status", "status": "zuul[bot]:check:success"}
    )
    assert flt(event="pull_request", status="zuul\\[bot\\]:check:success").matches(status)
    assert not flt(event="pull_request", status="zuul\\[bot\\]:check").matches(status)
    run = dataclasses.replace(
        e, extra={**e.extra, "event": "check_run", "action": "rerequested", "check": "lg:check:"}
    )
    assert flt(event="check_run", action="requested", check="lg:check:.*").matches(run)


# --- requirements -------------------------------------------------------------------


def change(**more):
    pr = pull("org/repo", 5, "a" * 40, labels=[{"name": "gate"}], **more)
    return pull_to_change(
        "gh",
        pr,
        statuses=[{"creator": {"login": "ci[bot]"}, "context": "check", "state": "success"}],
    )


def review(state: str, rank: int, who: str = "alice", when: float = 1000.0) -> Approval:
    return Approval(state, rank, Account(name=who, username=who), when)


def test_review_by_a_writer_is_required():
    req = make_requirement("gh", {"review": [{"type": "approved", "permission": "write"}]}, None)
    c = change()
    assert req.check(c, 2000) == "approved review by someone with write permission is required"
    c.approvals = [review("approved", 1)]  # a reader's approval does not count
    assert req.check(c, 2000) is not None
    c.approvals = [review("approved", 3)]  # admins have write
    assert req.check(c, 2000) is None


def test_open_merged_draft_current_label_status():
    req = make_requirement(
        "gh",
        {
            "open": True,
            "current-patchset": True,
            "draft": False,
            "label": "gate",
            "status": "ci\\[bot\\]:check:success",
        },
        {"merged": True},
    )
    c = change()
    assert req.check(c, 0) is None
    assert req.check(dataclasses.replace(c, wip=True), 0) == "the pull request is a draft"
    assert "label 'gate'" in req.check(dataclasses.replace(c, labels=[]), 0)
    assert "status matching" in req.check(
        dataclasses.replace(c, statuses=["ci[bot]:check:failure"]), 0
    )
    assert req.check(dataclasses.replace(c, status=ChangeStatus.MERGED), 0).startswith(
        "the pull request is merged"
    )
    assert "no longer" in req.check(dataclasses.replace(c, is_current_patchset=False), 0)


def test_reject_changes_requested_and_review_age():
    req = make_requirement(
        "gh", {"review": {"newer-than": "1h"}}, {"review": {"type": "changes_requested"}}
    )
    c = change()
    c.approvals = [review("approved", 2, when=10_000)]
    assert req.check(c, 10_000 + 60) is None
    assert req.check(c, 10_000 + 7200) is not None
    c.approvals.append(review("changes_requested", 2, who="bob", when=10_000))
    assert "changes_requested review by bob is rejected" in req.check(c, 10_060)
    assert req.time_dependent


def test_requirements_of_another_connection_do_not_apply():
    req = make_requirement("other", {"open": False}, None)
    assert req.check(change(), 0) is None


def test_bad_requirements_name_the_section():
    with pytest.raises(RequirementError, match="require 'gh'"):
        make_requirement("gh", {"approval": {"Verified": 1}}, None)


def test_trigger_require_uses_the_change():
    e = event("pull_request", "opened.payload.json")
    f = flt(event="pull_request", require={"label": "gate"})
    assert f.needs_change
    assert f.matches(e, change())
    assert not f.matches(e, dataclasses.replace(change(), labels=[]))
    assert "not known" in f.mismatch(e, None)
