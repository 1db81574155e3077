"""Pull request JSON -> Change."""

from __future__ import annotations

from lockgate.drivers.github.changes import current_reviews, pull_to_change, status_strings
from lockgate.model.change import ChangeStatus

from .corpus import load, pull


def test_corpus_pull_request_as_a_change():
    payload = load("pull_request", "opened.payload.json")
    pr = payload["pull_request"]
    commit = {
        "commit": {"committer": {"date": "2024-05-01T12:00:00Z"}},
        "parents": [{"sha": "p" * 40}],
    }
    c = pull_to_change("gh", pr, commit=commit, files=["README.md"])
    assert (c.project, c.number, c.branch) == (
        pr["base"]["repo"]["full_name"],
        pr["number"],
        pr["base"]["ref"],
    )
    assert c.commit == c.patchset_id == pr["head"]["sha"]
    assert c.patchset == 1714564800 and c.parents == ["p" * 40]
    assert c.ref == f"refs/pull/{pr['number']}/head" and c.url == pr["html_url"]
    assert c.status is ChangeStatus.NEW and c.is_current_patchset
    assert c.describe() == f"{pr['number']},{pr['head']['sha']}"
    assert c.subject == pr["title"] and c.files == ["README.md"]


def test_status_draft_labels_and_depends_on():
    body = "Fixes it.\n\nDepends-On: https://github.com/org/lib/pull/3\n"
    c = pull_to_change(
        "gh", pull("org/repo", 1, "a" * 40, body=body, draft=True, labels=[{"name": "gate"}])
    )
    assert c.wip and c.labels == ["gate"]
    assert c.depends_on == ["https://github.com/org/lib/pull/3"]
    merged = pull_to_change("gh", pull("o/r", 1, "a" * 40, state="closed", merged=True))
    closed = pull_to_change("gh", pull("o/r", 1, "a" * 40, state="closed", merged=False))
    assert merged.status is ChangeStatus.MERGED and closed.status is ChangeStatus.ABANDONED


def test_an_older_head_is_not_current():
    c = pull_to_change("gh", pull("o/r", 1, "a" * 40), sha="b" * 40)
    assert c.commit == "b" * 40 and not c.is_current_patchset


def review(login, state, when):
    return {"user": {"login": login}, "state": state, "submitted_at": when}


def test_a_reviewers_latest_decisive_review_counts_and_a_later_comment_does_not_undo_it():
    reviews = [
        review("alice", "CHANGES_REQUESTED", "2024-01-01T00:00:00Z"),
        review("alice", "APPROVED", "2024-01-02T00:00:00Z"),
        review("alice", "COMMENTED", "2024-01-03T00:00:00Z"),
        review("bob", "COMMENTED", "2024-01-01T00:00:00Z"),
        review("carol", "PENDING", None),
    ]
    found = {r["user"]["login"]: r["state"] for r in current_reviews(reviews)}
    assert found == {"alice": "APPROVED", "bob": "COMMENTED"}
    c = pull_to_change(
        "gh",
        pull("o/r", 1, "a" * 40),
        reviews=reviews,
        permissions={"alice": "write", "bob": "read"},
    )
    assert [(a.label, a.value, a.by.username) for a in c.approvals] == [
        ("commented", 1, "bob"),
        ("approved", 2, "alice"),
    ]


def test_statuses_newest_per_context_and_check_runs():
    statuses = [
        {"creator": {"login": "ci"}, "context": "check", "state": "success"},
        {"creator": {"login": "ci"}, "context": "check", "state": "pending"},
    ]
    runs = [
        {
            "app": {"slug": "lockgate"},
            "name": "t/check",
            "conclusion": None,
            "status": "in_progress",
        }
    ]
    assert status_strings(statuses, runs) == ["ci:check:success", "lockgate:t/check:in_progress"]
