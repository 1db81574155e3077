"""The source, the reporter, App tokens and rate limits against the GitHub emulator."""

from __future__ import annotations

import time

import pytest
from lockgate.drivers.base import ReportError
from lockgate.model.change import ChangeStatus

REPO = "org/repo"


@pytest.fixture
def pull(github_emulator, connection):
    control = github_emulator.control
    control.create_repo(
        REPO,
        {"README": "hi\n"},
        collaborators={"alice": "write", "rob": "read"},
        labels=["gate", "lgtm"],
    )
    pr = control.open_pull(
        REPO, "topic", {"a.txt": "x\n"}, title="Add a", body="Depends-On: https://x/o/r/pull/1"
    )
    return pr["number"]


def test_get_change_reads_reviews_permissions_files_and_statuses(github_emulator, connection, pull):
    control = github_emulator.control
    control.review(REPO, pull, "alice")
    control.review(REPO, pull, "rob", "REQUEST_CHANGES", body="no")
    control.label(REPO, pull, add=["gate"])
    sha = control.pull(REPO, pull)["head_sha"]
    control.set_status(REPO, sha, "success", "other-ci")
    change = connection.source().get_pull(REPO, pull)
    assert (change.number, change.commit, change.branch) == (pull, sha, "main")
    assert {(a.label, a.value, a.by.username) for a in change.approvals} == {
        ("approved", 2, "alice"),
        ("changes_requested", 1, "rob"),
    }
    assert change.files == ["a.txt"] and change.labels == ["gate"]
    assert "other-ci[bot]:other-ci:success" in change.statuses
    assert change.depends_on == ["https://x/o/r/pull/1"]
    assert change.status is ChangeStatus.NEW and change.is_current_patchset
    url = f"{github_emulator.web_url}/{REPO}/pull/{pull}"
    assert change.url == url
    assert connection.source().change_number_from_url(url + "/files") == pull
    assert connection.source().change_number_from_url("https://github.com/o/r/pull/3") is None


def test_open_changes_by_commit_and_clone_url(github_emulator, connection, pull):
    from lockgate.git import ls_remote

    sha = github_emulator.control.pull(REPO, pull)["head_sha"]
    (found,) = connection.source().open_changes_by_commit(REPO, [sha, "0" * 40])
    assert found.number == pull
    url = connection.source().clone_url(REPO)
    assert url.startswith("http://x-access-token:ghs_")
    refs = ls_remote(url)
    assert refs[f"refs/pull/{pull}/head"] == sha
    assert connection.source().get_ref_sha(REPO, f"refs/pull/{pull}/head") == sha
    assert connection.source().get_ref_sha(REPO, "main") == refs["refs/heads/main"]


def test_status_check_run_comment_labels_and_review(github_emulator, connection, pull):
    control = github_emulator.control
    change = connection.source().get_pull(REPO, pull)
    reporter = connection.reporter()
    reporter.report(
        change,
        {"status": "pending", "check": "in_progress", "comment": False, "label": ["lgtm"]},
        "Starting check jobs.",
        context="tenant/check",
        details_url="http://lockgate.example/t/tenant/buildset/1",
    )
    reporter.report(
        change,
        {"status": "success", "check": "success", "unlabel": "lgtm", "review": "approve"},
        "Build succeeded.\n\n- noop SUCCESS",
        context="tenant/check",
        details_url="http://lockgate.example/t/tenant/buildset/1",
        comments={"a.txt": [{"line": 1, "message": "nice"}]},
    )
    statuses = control.statuses(REPO, pull)
    assert [(s["context"], s["state"]) for s in statuses][-1] == ("tenant/check", "success")
    runs = control.check_runs(REPO, pull)
    assert len(runs) == 1  # updated in place, not a second run
    (run,) = runs
    assert run["name"] == "tenant/check" and run["conclusion"] == "success"
    assert run["details_url"] == "http://lockgate.example/t/tenant/buildset/1"
    assert "noop SUCCESS" in run["output"]["summary"]
    comments = control.comments(REPO, pull)
    assert [c["body"] for c in comments] == ["Build succeeded.\n\n- noop SUCCESS"]
    assert control.pull(REPO, pull)["labels"] == []
    activity = control.activity(REPO, pull)
    assert any(r.get("state") == "APPROVED" for r in activity.get("reviews", []))


def test_merge_with_the_projects_merge_mode(github_emulator, connection, pull):
    change = connection.source().get_pull(REPO, pull)
    connection.reporter().submit(change, merge_mode="squash-merge")
    (merge,) = github_emulator.control.merges(REPO, pull)
    assert merge.get("method", merge.get("merge_method")) == "squash"
    assert connection.source().get_pull(REPO, pull).status is ChangeStatus.MERGED


def test_a_refused_merge_is_a_permanent_report_error_with_githubs_message(
    github_emulator, connection, pull
):
    github_emulator.control.refuse_merges(status=405, message="Required status check is expected")
    change = connection.source().get_pull(REPO, pull)
    with pytest.raises(ReportError) as info:
        connection.reporter().submit(change)
    assert info.value.permanent
    assert "HTTP 405: Required status check is expected" in str(info.value)
    with pytest.raises(ReportError, match="cherry-pick"):
        connection.reporter().submit(change, merge_mode="cherry-pick")


def test_a_moved_head_is_not_merged(github_emulator, connection, pull):
    change = connection.source().get_pull(REPO, pull)
    github_emulator.control.push_to_pull(REPO, pull, {"a.txt": "newer\n"})
    with pytest.raises(ReportError) as info:
        connection.reporter().submit(change)
    assert info.value.permanent
    assert github_emulator.control.merges(REPO, pull) == []


def access_token_requests(control, since=0):
    return [r for r in control.requests(since) if r["path"].endswith("/access_tokens")]


def test_app_installation_tokens_are_refreshed_before_expiry(github_emulator, connection, pull):
    control = github_emulator.control
    source = connection.source()
    source.get_branches(REPO)
    source.get_branches(REPO)
    assert len(access_token_requests(control)) == 1  # one token, reused
    # Tokens that live less than the refresh margin are fetched again each time.
    control.set_token_lifetime(60)
    connection.client().auth._tokens.clear()  # the next call asks for a short-lived one
    mark = len(control.requests())
    source.get_branches(REPO)
    source.get_branches(REPO)
    assert len(access_token_requests(control, mark)) == 2
    assert source.get_branches(REPO) == ["main", "topic"]


def test_rate_limits_are_waited_out(github_emulator, connection, pull):
    control = github_emulator.control
    source = connection.source()
    source.get_branches(REPO)  # token in hand
    control.rate_limit("secondary", count=1, status=429, retry_after=1)
    started = time.monotonic()
    assert source.get_branches(REPO) == ["main", "topic"]
    assert time.monotonic() - started >= 1.0
    control.rate_limit("primary", count=1, reset_in=1)
    assert source.get_branches(REPO) == ["main", "topic"]
    assert connection.client().rate_limit_waits == 2


def test_server_errors_are_retried(github_emulator, connection, pull):
    source = connection.source()
    source.get_branches(REPO)
    github_emulator.control.fail_requests(status=502, count=2, path="/branches")
    assert source.get_branches(REPO) == ["main", "topic"]
