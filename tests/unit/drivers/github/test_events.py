"""Every corpus webhook example -> the trigger events it means (or none)."""

from __future__ import annotations

import copy

import pytest
from lockgate.drivers.github.events import (
    EventParseError,
    InstallationRemoved,
    RepositoryRenamed,
    app_notice,
    events_from_delivery,
    ignored,
)
from lockgate.git import ZERO_SHA

from .corpus import AnsweringLookup, delivery, examples, load, pull

# What each corpus example maps to without any pull request behind it.
EXPECTED_TYPES = {
    ("pull_request", "opened"): ("patchset-created", "opened"),
    ("pull_request", "synchronize"): ("patchset-created", "changed"),
    ("pull_request", "reopened"): ("change-restored", "reopened"),
    ("pull_request", "labeled"): ("pull_request", "labeled"),
    ("pull_request", "unlabeled"): ("pull_request", "unlabeled"),
    ("pull_request", "ready_for_review"): ("pull_request", "ready_for_review"),
    ("pull_request", "converted_to_draft"): ("pull_request", "converted_to_draft"),
    ("pull_request_review", "submitted"): ("pull_request_review", "submitted"),
    ("pull_request_review", "dismissed"): ("pull_request_review", "dismissed"),
}
IGNORED_EVENTS = {"check_suite", "create", "delete", "merge_group", "ping", "release"}


@pytest.mark.parametrize(("event", "path"), examples(), ids=lambda v: getattr(v, "name", v))
def test_every_corpus_example_maps_or_is_ignored(event, path):
    import json

    payload = json.loads(path.read_text())
    action = payload.get("action")
    d = delivery(event, payload)
    pr = payload.get("pull_request")
    lookup = AnsweringLookup([pr] if isinstance(pr, dict) else [])
    if "check_run" in payload:
        run = payload["check_run"]
        project = payload["repository"]["full_name"]
        lookup.pulls.append(pull(project, 2, run["head_sha"]))
        lookup.pulls.append(pull(project, 26764, run["head_sha"]))
    if event == "status" and "repository" in payload:
        lookup.pulls.append(pull(payload["repository"]["full_name"], 7, payload["sha"]))
    events = events_from_delivery(d, lookup)
    if event in IGNORED_EVENTS:
        assert ignored(d) is not None and events == []
    elif event == "issue_comment":
        # The corpus's comments are all on issues, not pull requests.
        assert ignored(d) is not None and events == []
    elif event == "pull_request":
        if action == "closed":
            merged = payload["pull_request"]["merged"]
            assert [e.type for e in events] == ["change-merged" if merged else "change-abandoned"]
            assert events[0].extra["action"] == "closed"
        elif (event, action) in EXPECTED_TYPES:
            kind, zuul_action = EXPECTED_TYPES[(event, action)]
            assert [(e.type, e.extra["action"]) for e in events] == [(kind, zuul_action)]
        else:
            assert ignored(d) is not None and events == [], action
    elif event == "pull_request_review":
        kind, zuul_action = EXPECTED_TYPES[(event, action)]
        assert [(e.type, e.extra["action"]) for e in events] == [(kind, zuul_action)]
        assert events[0].extra["state"] == payload["review"]["state"].lower()
    elif event == "push":
        (e,) = events
        assert e.type == "ref-updated" and e.ref == payload["ref"]
        assert e.newrev == payload["after"] and e.oldrev == payload["before"]
        assert e.extra["event"] == "push" and e.change_number is None
    elif event == "check_run":
        if action in ("rerequested", "completed", "requested_action"):
            assert events and all(e.type == "check_run" for e in events)
            assert all(e.extra["action"] == action for e in events)
        else:
            assert ignored(d) is not None and events == []
    elif event == "status":
        if "repository" in payload:
            (e,) = events
            assert e.extra["status"].endswith(f":{payload['context']}:{payload['state']}")
    else:  # pragma: no cover - a new folder in the corpus
        pytest.fail(f"corpus has an event this test does not know: {event}")
    for index, e in enumerate(events):
        assert e.connection == "gh"
        assert e.dedup_key == f"github:gh:d-1:{index}"
        assert e.event_id == d.event_id
        if e.change_number is not None:
            assert e.ref == f"refs/pull/{e.change_number}/head"
            assert e.patchset_id and e.patchset is not None
            assert e.branch


def test_pull_request_opened_fields():
    payload = load("pull_request", "opened.payload.json")
    (e,) = events_from_delivery(delivery("pull_request", payload), AnsweringLookup())
    pr = payload["pull_request"]
    assert e.project == payload["repository"]["full_name"]
    assert e.change_number == pr["number"]
    assert e.patchset_id == pr["head"]["sha"]
    assert e.branch == pr["base"]["ref"]
    assert e.change_url == pr["html_url"]
    assert e.account["username"] == payload["sender"]["login"]
    assert e.extra["event"] == "pull_request" and e.extra["title"] == pr["title"]


def test_synchronize_is_a_new_patchset_with_a_growing_number():
    payload = load("pull_request", "synchronize.payload.json")
    lookup = AnsweringLookup()
    (e,) = events_from_delivery(delivery("pull_request", payload), lookup)
    assert e.type == "patchset-created"
    assert e.patchset == lookup.patchset_number("", payload["pull_request"]["head"]["sha"])


def test_a_synchronize_of_the_current_head_is_a_new_patchset():
    payload = load("pull_request", "synchronize.payload.json")
    pr = payload["pull_request"]
    project = payload["repository"]["full_name"]
    lookup = AnsweringLookup([pull(project, pr["number"], pr["head"]["sha"])])
    (e,) = events_from_delivery(delivery("pull_request", payload), lookup)
    assert e.type == "patchset-created" and "stale_head" not in e.extra
    assert ("pull_request", pr["number"]) in lookup.asked


def test_a_synchronize_of_a_head_replaced_meanwhile_announces_no_new_patchset():
    """A delivery that came late (redelivered, or retried while GitHub was
    away) after a newer head was pushed: the pull request's head is another
    one, so it must not remove that head's items; triggers still see
    pull_request/changed."""
    payload = load("pull_request", "synchronize.payload.json")
    pr = payload["pull_request"]
    project = payload["repository"]["full_name"]
    lookup = AnsweringLookup([pull(project, pr["number"], "f" * 40)])
    (e,) = events_from_delivery(delivery("pull_request", payload), lookup)
    assert e.type == "pull_request" and e.extra["stale_head"] is True
    assert (e.extra["event"], e.extra["action"]) == ("pull_request", "changed")
    assert e.patchset_id == pr["head"]["sha"]


def test_labeled_carries_the_label():
    payload = load("pull_request", "labeled.payload.json")
    (e,) = events_from_delivery(delivery("pull_request", payload), AnsweringLookup())
    assert e.extra["label"] == payload["label"]["name"]


def test_comment_on_a_pull_request_is_comment_added_with_the_text():
    payload = copy.deepcopy(load("issue_comment", "created.payload.json"))
    number = payload["issue"]["number"]
    payload["issue"]["pull_request"] = {"url": "https://api.github.com/x"}
    project = payload["repository"]["full_name"]
    lookup = AnsweringLookup([pull(project, number, "c" * 40, branch="dev")])
    (e,) = events_from_delivery(delivery("issue_comment", payload), lookup)
    assert e.type == "comment-added" and e.extra["action"] == "comment"
    assert e.comment == payload["comment"]["body"]
    assert (e.change_number, e.patchset_id, e.branch) == (number, "c" * 40, "dev")


def test_comment_on_a_pull_request_gone_meanwhile_maps_to_nothing():
    payload = copy.deepcopy(load("issue_comment", "created.payload.json"))
    payload["issue"]["pull_request"] = {"url": "x"}
    assert events_from_delivery(delivery("issue_comment", payload), AnsweringLookup()) == []


def test_edited_and_deleted_comments_are_ignored():
    for name in ("edited.payload.json", "deleted.payload.json"):
        payload = copy.deepcopy(load("issue_comment", name))
        payload["issue"]["pull_request"] = {"url": "x"}
        assert "not used" in ignored(delivery("issue_comment", payload))


def test_status_event_per_open_pull_request_of_the_sha():
    payload = load("status", "payload.json")
    project = payload["repository"]["full_name"]
    lookup = AnsweringLookup([pull(project, 1, payload["sha"]), pull(project, 2, payload["sha"])])
    events = events_from_delivery(delivery("status", payload), lookup)
    assert [e.change_number for e in events] == [1, 2]
    assert {e.extra["status"] for e in events} == {f"{payload['sender']['login']}:default:success"}
    assert [e.dedup_key for e in events] == ["github:gh:d-1:0", "github:gh:d-1:1"]


def test_status_of_a_commit_in_no_pull_request_maps_to_nothing():
    payload = load("status", "payload.json")
    assert events_from_delivery(delivery("status", payload), AnsweringLookup()) == []


def test_check_run_rerequested_finds_the_pull_request_by_sha():
    payload = load("check_run", "rerequested.payload.json")
    run = payload["check_run"]
    project = payload["repository"]["full_name"]
    lookup = AnsweringLookup([pull(project, 9, run["head_sha"])])
    (e,) = events_from_delivery(delivery("check_run", payload), lookup)
    assert e.change_number == 9
    slug = run["app"].get("slug", "")
    assert e.extra["check"] == f"{slug}:{run['name']}:{run['conclusion'] or ''}"
    assert ("pulls_for_sha", run["head_sha"]) in lookup.asked


def test_requested_action_carries_the_identifier():
    payload = load("check_run", "requested_action.payload.json")
    run = payload["check_run"]
    lookup = AnsweringLookup([pull(payload["repository"]["full_name"], 26764, run["head_sha"])])
    (e,) = events_from_delivery(delivery("check_run", payload), lookup)
    assert e.extra["requested_action"] == payload["requested_action"]["identifier"]


def test_push_of_a_tag_and_a_deleted_branch():
    payload = copy.deepcopy(load("push", "payload.json"))
    payload["ref"] = "refs/tags/v1.0"
    (tag,) = events_from_delivery(delivery("push", payload), AnsweringLookup())
    assert tag.branch is None and tag.extra["tag"] == "v1.0"
    payload = copy.deepcopy(load("push", "with-new-branch.payload.json"))
    payload.update(after=ZERO_SHA, deleted=True, created=False)
    (gone,) = events_from_delivery(delivery("push", payload), AnsweringLookup())
    assert gone.newrev == ZERO_SHA and gone.extra["deleted"] is True
    assert gone.branch == payload["ref"].split("/", 2)[2]


def test_push_of_a_new_branch_says_created():
    payload = load("push", "with-new-branch.payload.json")
    (e,) = events_from_delivery(delivery("push", payload), AnsweringLookup())
    assert e.extra["created"] is True and e.oldrev == ZERO_SHA


def test_redelivery_has_the_same_dedup_keys():
    payload = load("pull_request", "opened.payload.json")
    first = events_from_delivery(delivery("pull_request", payload, "abc"), AnsweringLookup())
    again = events_from_delivery(delivery("pull_request", payload, "abc"), AnsweringLookup())
    other = events_from_delivery(delivery("pull_request", payload, "xyz"), AnsweringLookup())
    assert [e.dedup_key for e in first] == [e.dedup_key for e in again]
    assert first[0].dedup_key != other[0].dedup_key


def test_a_pull_request_without_head_is_an_error_naming_it():
    payload = copy.deepcopy(load("pull_request", "opened.payload.json"))
    del payload["pull_request"]["head"]
    with pytest.raises(EventParseError, match="head.sha"):
        events_from_delivery(delivery("pull_request", payload), AnsweringLookup())


def test_push_without_a_ref_is_an_error():
    payload = copy.deepcopy(load("push", "payload.json"))
    del payload["ref"]
    with pytest.raises(EventParseError, match="ref"):
        events_from_delivery(delivery("push", payload), AnsweringLookup())


def test_unknown_events_and_actions_say_why_they_are_ignored():
    assert "'ping' events" in ignored(delivery("ping", load("ping", "payload.json")))
    assert "assigned" in ignored(
        delivery("pull_request", load("pull_request", "assigned.payload.json"))
    )
    assert "no repository" in ignored(delivery("push", {"ref": "refs/heads/x"}))


def test_installation_deleted_is_kept_as_a_notice_naming_its_repositories():
    payload = {
        "action": "deleted",
        "installation": {"id": 42, "account": {"login": "acme"}},
        "repositories": [{"full_name": "acme/app"}, {"full_name": "acme/lib"}],
        "sender": {"login": "acme"},
    }
    d = delivery("installation", payload)
    assert ignored(d) is None  # the web stores it
    assert events_from_delivery(d, AnsweringLookup()) == []
    assert app_notice(d) == InstallationRemoved(42, "acme", ("acme/app", "acme/lib"), "deleted")
    created = delivery("installation", {**payload, "action": "created"})
    assert ignored(created) and app_notice(created) is None


def test_repository_renamed_and_transferred_name_the_old_and_new_names():
    renamed = {
        "action": "renamed",
        "changes": {"repository": {"name": {"from": "app"}}},
        "repository": {"full_name": "acme/app2"},
    }
    assert app_notice(delivery("repository", renamed)) == RepositoryRenamed("acme/app", "acme/app2")
    moved = {
        "action": "transferred",
        "changes": {"owner": {"from": {"organization": {"login": "old-org"}}}},
        "repository": {"full_name": "acme/app"},
    }
    assert app_notice(delivery("repository", moved)) == RepositoryRenamed("old-org/app", "acme/app")
    assert ignored(delivery("repository", {**renamed, "action": "created"}))
