"""Injected faults: GitHub's primary and secondary rate limits, server errors,
and the API request log that shows what a client did."""

from __future__ import annotations

import time

from tests.fixtures.github import GitHubEmulator
from tests.integration.github_emulator.test_rest import Api

REPO = "acme/widget"


def test_primary_rate_limit(github_emulator: GitHubEmulator) -> None:
    gh = github_emulator
    gh.control.create_repo(REPO)
    api = Api(gh)
    before = api("GET", f"/repos/{REPO}")
    assert int(before.headers["X-RateLimit-Limit"]) == 5000
    remaining = int(before.headers["X-RateLimit-Remaining"])
    after = api("GET", f"/repos/{REPO}")
    assert int(after.headers["X-RateLimit-Remaining"]) == remaining - 1
    gh.control.rate_limit("primary", count=2, reset_in=30)
    for _ in range(2):
        limited = api("GET", f"/repos/{REPO}")
        assert limited.status_code == 403
        assert limited.headers["X-RateLimit-Remaining"] == "0"
        assert abs(int(limited.headers["X-RateLimit-Reset"]) - (time.time() + 30)) < 5
        assert limited.json()["message"].startswith("API rate limit exceeded for user ID")
    assert api("GET", f"/repos/{REPO}").status_code == 200


def test_secondary_rate_limit(github_emulator: GitHubEmulator) -> None:
    gh = github_emulator
    gh.control.create_repo(REPO)
    api = Api(gh)
    gh.control.rate_limit("secondary", count=1, status=429, retry_after=7)
    limited = api("GET", f"/repos/{REPO}")
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "7"
    assert "secondary rate limit" in limited.json()["message"]
    gh.control.rate_limit("secondary", count=1, retry_after=3)
    assert api("GET", f"/repos/{REPO}").status_code == 403
    assert api("GET", f"/repos/{REPO}").status_code == 200


def test_server_errors_and_request_log(github_emulator: GitHubEmulator) -> None:
    gh = github_emulator
    gh.control.create_repo(REPO)
    gh.control.open_pull(REPO, "feature", {"a.txt": "a\n"}, author="bob")
    api = Api(gh)
    start = len(gh.control.requests())
    gh.control.fail_requests(502, count=2, path="/pulls/")
    assert api("GET", f"/repos/{REPO}").status_code == 200
    failed = api("GET", f"/repos/{REPO}/pulls/1")
    assert failed.status_code == 502 and failed.json()["message"] == "Server Error"
    assert api("GET", f"/repos/{REPO}/pulls/1").status_code == 502
    assert api("GET", f"/repos/{REPO}/pulls/1").status_code == 200
    log = gh.control.requests(since=start)
    assert [(r["method"], r["path"], r["status"], r["caller"]) for r in log] == [
        ("GET", f"/repos/{REPO}", 200, "personal"),
        ("GET", f"/repos/{REPO}/pulls/1", 502, "personal"),
        ("GET", f"/repos/{REPO}/pulls/1", 502, "personal"),
        ("GET", f"/repos/{REPO}/pulls/1", 200, "personal"),
    ]
    assert gh.control.rate_counts()["user:lockgate-bot"] >= 4
    gh.control.clear_faults()
