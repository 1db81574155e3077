"""The REST API a driver reads: repository, branches and protection, pull
request with files/commits/reviews, statuses (combined), check runs, comments,
labels, collaborator permissions, search, pagination."""

from __future__ import annotations

from typing import Any

import requests

from tests.fixtures.github import GitHubEmulator
from tests.integration.github_emulator.scenario import installation_headers

REPO = "acme/widget"


class Api:
    def __init__(self, gh: GitHubEmulator, headers: dict[str, str] | None = None):
        self.base = gh.api_url
        self.headers = headers or {"Authorization": f"token {gh.api_token}"}

    def __call__(
        self, method: str, path: str, json: Any = None, params: dict[str, Any] | None = None
    ) -> requests.Response:
        return requests.request(
            method, self.base + path, json=json, params=params, headers=self.headers, timeout=10
        )


def make_pull(gh: GitHubEmulator, **protection: Any) -> dict[str, Any]:
    gh.control.create_repo(
        REPO,
        {"README.md": "hello\n", "lib.py": "x = 1\n"},
        branches={"stable/1": {}},
        protection={"main": protection} if protection else None,
        collaborators={"lockgate-bot": "write", "alice": "maintain", "carol": "read"},
    )
    return gh.control.open_pull(
        REPO,
        "feature",
        {"lib.py": "x = 2\n", "new.txt": "n\n"},
        title="Change x",
        body="Depends-On: http://x/y/pull/9\n",
        author="bob",
    )


def test_repository_and_branches(github_emulator: GitHubEmulator) -> None:
    gh = github_emulator
    make_pull(gh, required_contexts=["lockgate/check"], required_approvals=2, strict=True)
    api = Api(gh)
    repo = api("GET", f"/repos/{REPO}").json()
    assert repo["full_name"] == REPO and repo["default_branch"] == "main"
    assert repo["clone_url"] == f"{gh.web_url}/{REPO}.git"
    assert repo["permissions"]["push"] is True and repo["permissions"]["admin"] is False
    branches = api("GET", f"/repos/{REPO}/branches").json()
    assert [(b["name"], b["protected"]) for b in branches] == [
        ("feature", False),
        ("main", True),
        ("stable/1", False),
    ]
    assert [
        b["name"]
        for b in api("GET", f"/repos/{REPO}/branches", params={"protected": "true"}).json()
    ] == ["main"]
    branch = api("GET", f"/repos/{REPO}/branches/stable/1").json()
    assert branch["name"] == "stable/1" and branch["protected"] is False
    assert len(branch["commit"]["sha"]) == 40
    protection = api("GET", f"/repos/{REPO}/branches/main/protection").json()
    assert protection["required_status_checks"]["contexts"] == ["lockgate/check"]
    assert protection["required_status_checks"]["strict"] is True
    reviews = protection["required_pull_request_reviews"]
    assert reviews["required_approving_review_count"] == 2
    missing = api("GET", f"/repos/{REPO}/branches/stable/1/protection")
    assert missing.status_code == 404 and missing.json()["message"] == "Branch not protected"
    assert api("GET", f"/repos/{REPO}/branches/nope").status_code == 404
    assert api("GET", "/repos/acme/nope").json()["message"] == "Not Found"


def test_pull_request_reads(github_emulator: GitHubEmulator) -> None:
    gh = github_emulator
    pr = make_pull(gh)
    api = Api(gh)
    got = api("GET", f"/repos/{REPO}/pulls/1").json()
    assert got["number"] == 1 and got["state"] == "open" and got["draft"] is False
    assert got["head"]["sha"] == pr["head_sha"] and got["head"]["ref"] == "feature"
    assert got["base"]["ref"] == "main" and got["user"]["login"] == "bob"
    assert got["html_url"] == f"{gh.web_url}/{REPO}/pull/1"
    assert got["mergeable"] is True and got["mergeable_state"] == "clean"
    assert (got["commits"], got["additions"], got["deletions"], got["changed_files"]) == (
        1,
        2,
        1,
        2,
    )
    files = api("GET", f"/repos/{REPO}/pulls/1/files").json()
    assert {(f["filename"], f["status"]) for f in files} == {
        ("lib.py", "modified"),
        ("new.txt", "added"),
    }
    commits = api("GET", f"/repos/{REPO}/pulls/1/commits").json()
    assert [c["sha"] for c in commits] == [pr["head_sha"]]
    assert commits[0]["commit"]["message"] == "Change x"
    listed = api("GET", f"/repos/{REPO}/pulls", params={"head": "acme:feature"}).json()
    assert [p["number"] for p in listed] == [1]
    assert api("GET", f"/repos/{REPO}/pulls", params={"state": "closed"}).json() == []
    assert api("GET", f"/repos/{REPO}/pulls/99").status_code == 404
    assert api("GET", f"/repos/{REPO}/pulls/1/merge").status_code == 404
    gh.control.mergeable_unknown(1)
    unknown = api("GET", f"/repos/{REPO}/pulls/1").json()
    assert unknown["mergeable"] is None and unknown["mergeable_state"] == "unknown"
    assert api("GET", f"/repos/{REPO}/pulls/1").json()["mergeable"] is True


def test_reviews_permissions_and_comments(github_emulator: GitHubEmulator) -> None:
    gh = github_emulator
    make_pull(gh)
    c = gh.control
    c.review(REPO, 1, "alice", "APPROVE")
    c.review(REPO, 1, "carol", "REQUEST_CHANGES", "no")
    api = Api(gh)
    reviews = api("GET", f"/repos/{REPO}/pulls/1/reviews").json()
    assert [(r["user"]["login"], r["state"]) for r in reviews] == [
        ("alice", "APPROVED"),
        ("carol", "CHANGES_REQUESTED"),
    ]
    perms = {
        u: api("GET", f"/repos/{REPO}/collaborators/{u}/permission").json()
        for u in ("acme", "alice", "carol", "lockgate-bot", "stranger")
    }
    assert {u: (p["permission"], p["role_name"]) for u, p in perms.items()} == {
        "acme": ("admin", "admin"),
        "alice": ("write", "maintain"),
        "carol": ("read", "read"),
        "lockgate-bot": ("write", "write"),
        "stranger": ("read", "read"),
    }
    made = api("POST", f"/repos/{REPO}/issues/1/comments", json={"body": "Build succeeded."})
    assert made.status_code == 201 and made.json()["user"]["login"] == "lockgate-bot"
    c.comment(REPO, 1, "recheck", user="alice")
    bodies = [x["body"] for x in api("GET", f"/repos/{REPO}/issues/1/comments").json()]
    assert bodies == ["Build succeeded.", "recheck"]
    assert api("GET", f"/repos/{REPO}/issues/1").json()["comments"] == 2
    empty = api("POST", f"/repos/{REPO}/issues/1/comments", json={})
    assert empty.status_code == 422


def test_labels(github_emulator: GitHubEmulator) -> None:
    gh = github_emulator
    make_pull(gh)
    api = Api(gh)
    added = api("POST", f"/repos/{REPO}/issues/1/labels", json={"labels": ["gate", "x"]})
    assert [lab["name"] for lab in added.json()] == ["gate", "x"]
    removed = api("DELETE", f"/repos/{REPO}/issues/1/labels/x")
    assert [lab["name"] for lab in removed.json()] == ["gate"]
    again = api("DELETE", f"/repos/{REPO}/issues/1/labels/x")
    assert again.status_code == 404 and again.json()["message"] == "Label does not exist"
    assert gh.control.pull(REPO, 1)["labels"] == ["gate"]
    assert api("POST", f"/repos/{REPO}/issues/1/labels", json={"labels": []}).status_code == 422


def test_statuses_and_check_runs(github_emulator: GitHubEmulator) -> None:
    gh = github_emulator
    pr = make_pull(gh)
    sha = pr["head_sha"]
    api = Api(gh)
    assert api("GET", f"/repos/{REPO}/commits/{sha}/status").json()["state"] == "pending"
    made = api(
        "POST",
        f"/repos/{REPO}/statuses/{sha}",
        json={
            "state": "pending",
            "context": "lockgate/check",
            "target_url": "http://lockgate/b/1",
            "description": "Running",
        },
    )
    assert made.status_code == 201 and made.json()["creator"]["login"] == "lockgate-bot"
    api(
        "POST",
        f"/repos/{REPO}/statuses/{sha}",
        json={"state": "success", "context": "lockgate/check"},
    )
    gh.control.set_status(REPO, sha, "failure", "other/ci")
    combined = api("GET", f"/repos/{REPO}/commits/{sha}/status").json()
    assert combined["state"] == "failure" and combined["total_count"] == 2
    assert {s["context"]: s["state"] for s in combined["statuses"]} == {
        "lockgate/check": "success",
        "other/ci": "failure",
    }
    listed = api("GET", f"/repos/{REPO}/commits/{sha}/statuses").json()
    assert [s["state"] for s in listed] == ["failure", "success", "pending"]
    bad = api("POST", f"/repos/{REPO}/statuses/{sha}", json={"state": "great"})
    assert bad.status_code == 422
    # Check runs need a GitHub App; the personal token is refused as on GitHub.
    refused = api("POST", f"/repos/{REPO}/check-runs", json={"name": "c", "head_sha": sha})
    assert refused.status_code == 403
    app = Api(gh, installation_headers(gh))
    run = app(
        "POST",
        f"/repos/{REPO}/check-runs",
        json={
            "name": "lockgate/check",
            "head_sha": sha,
            "status": "in_progress",
            "details_url": "http://lockgate/bs/1",
            "output": {"title": "Running", "summary": "2 jobs"},
        },
    )
    assert run.status_code == 201
    run_id = run.json()["id"]
    done = app(
        "PATCH",
        f"/repos/{REPO}/check-runs/{run_id}",
        json={
            "conclusion": "failure",
            "output": {
                "title": "Failed",
                "summary": "1 failed",
                "annotations": [
                    {
                        "path": "lib.py",
                        "start_line": 1,
                        "end_line": 1,
                        "annotation_level": "failure",
                        "message": "syntax",
                    }
                ],
            },
        },
    )
    assert done.json()["status"] == "completed" and done.json()["conclusion"] == "failure"
    runs = api("GET", f"/repos/{REPO}/commits/{sha}/check-runs").json()
    assert runs["total_count"] == 1 and runs["check_runs"][0]["output"]["annotations_count"] == 1
    notes = api("GET", f"/repos/{REPO}/check-runs/{run_id}/annotations").json()
    assert notes[0]["message"] == "syntax"
    seen = gh.control.check_runs(REPO, 1)
    assert seen[0]["conclusion"] == "failure" and seen[0]["details_url"] == "http://lockgate/bs/1"


def test_search_for_depends_on(github_emulator: GitHubEmulator) -> None:
    gh = github_emulator
    pr = make_pull(gh)
    api = Api(gh)

    def numbers(q: str) -> list[int]:
        resp = api("GET", "/search/issues", params={"q": q})
        assert resp.status_code == 200, resp.text
        assert "X-RateLimit-Resource" in resp.headers
        assert resp.headers["X-RateLimit-Resource"] == "search"
        return [i["number"] for i in resp.json()["items"]]

    assert numbers('"http://x/y/pull/9" is:pr is:open in:body') == [1]
    assert numbers(f"is:pr sha:{pr['head_sha']}") == [1]
    assert numbers(f"is:pr sha:{pr['head_sha'][:10]} repo:{REPO}") == [1]
    assert numbers("is:pr is:closed") == []
    assert numbers("is:issue") == []
    assert numbers(f"repo:{REPO} label:gate") == []
    item = api("GET", "/search/issues", params={"q": "is:pr"}).json()["items"][0]
    assert item["pull_request"]["html_url"] == f"{gh.web_url}/{REPO}/pull/1"
    assert api("GET", "/search/issues", params={"q": "frobnicate:x"}).status_code == 422


def test_pagination_link_header(github_emulator: GitHubEmulator) -> None:
    gh = github_emulator
    gh.control.create_repo(REPO, branches={f"b{i:02d}": {} for i in range(5)})
    api = Api(gh)
    first = api("GET", f"/repos/{REPO}/branches", params={"per_page": 2})
    assert [b["name"] for b in first.json()] == ["b00", "b01"]
    assert 'rel="next"' in first.headers["Link"] and "page=2" in first.headers["Link"]
    last = api("GET", f"/repos/{REPO}/branches", params={"per_page": 2, "page": 3})
    assert [b["name"] for b in last.json()] == ["b04", "main"]
    assert 'rel="next"' not in last.headers["Link"]
