"""Gerrit's REST API on the emulator through requests with HTTP basic auth."""

from __future__ import annotations

from urllib.parse import quote

from .helpers import XSSI, rest, rest_json


def _setup(gerrit):
    c = gerrit.control
    c.create_project("org/app", {"README": "hello\n", "old.txt": "a\nb\n"})
    first = c.create_change(
        "org/app", {"old.txt": "a\nc\n", "new.txt": "n\n"}, "First", owner="alice"
    )
    second = c.create_change(
        "org/app", {"more.txt": "m\n"}, "Second", owner="alice", parent_change=first["number"]
    )
    return c, first, second


def test_auth_401_and_xssi_prefix(gerrit):
    assert rest(gerrit, "GET", "/a/accounts/self", password="wrong").status_code == 401
    missing = rest(gerrit, "GET", "/a/accounts/self", user=None)
    assert missing.status_code == 401
    assert missing.headers["WWW-Authenticate"].startswith("Basic")
    me = rest(gerrit, "GET", "/a/accounts/self")
    assert me.text.startswith(XSSI)
    assert rest_json(me)["username"] == "lockgate"
    assert rest_json(rest(gerrit, "GET", "/a/config/server/version")).startswith("3.")
    # Anonymous reads work without /a/; writes do not.
    assert rest(gerrit, "GET", "/config/server/version", user=None).status_code == 200
    assert rest(gerrit, "POST", "/changes/1/submit", user=None).status_code == 401


def test_change_detail_with_options(gerrit):
    c, first, _ = _setup(gerrit)
    c.review(first["number"], "bob", labels={"Code-Review": 2}, message="LGTM")
    opts = [
        "CURRENT_REVISION",
        "CURRENT_COMMIT",
        "CURRENT_FILES",
        "LABELS",
        "DETAILED_LABELS",
        "DETAILED_ACCOUNTS",
        "MESSAGES",
        "SUBMITTABLE",
        "SUBMIT_REQUIREMENTS",
        "ALL_REVISIONS",
    ]
    info = rest_json(rest(gerrit, "GET", "/a/changes/1", params={"o": opts}))
    assert info["_number"] == 1 and info["change_id"] == first["change_id"]
    assert info["project"] == "org/app" and info["branch"] == "master"
    assert info["owner"] == {
        "_account_id": info["owner"]["_account_id"],
        "name": "Alice Developer",
        "email": "alice@example.com",
        "username": "alice",
    }
    assert info["current_revision"] == first["revision"]
    rev = info["revisions"][first["revision"]]
    assert rev["_number"] == 1 and rev["ref"] == "refs/changes/01/1/1" and rev["kind"] == "REWORK"
    assert rev["commit"]["message"].startswith("First\n\nChange-Id: ")
    assert len(rev["commit"]["parents"]) == 1 and "commit" in rev["commit"]["parents"][0]
    assert rev["files"] == {
        "new.txt": {
            "status": "A",
            "new_mode": 33188,
            "lines_inserted": 1,
            "size_delta": 2,
            "size": 2,
        },
        "old.txt": {
            "old_mode": 33188,
            "new_mode": 33188,
            "lines_inserted": 1,
            "lines_deleted": 1,
            "size_delta": 0,
            "size": 4,
        },
    }
    cr = info["labels"]["Code-Review"]
    assert cr["approved"]["username"] == "bob"
    assert [(a["username"], a["value"]) for a in cr["all"]] == [("bob", 2)]
    assert cr["values"][" 0"] == "No score" and "+2" in cr["values"]
    assert info["labels"]["Workflow"]["optional"] is True
    assert info["submittable"] is False
    reqs = {r["name"]: r["status"] for r in info["submit_requirements"]}
    assert reqs == {"Code-Review": "SATISFIED", "Verified": "UNSATISFIED"}
    assert info["messages"][-1]["message"] == "Patch Set 1: Code-Review+2\n\nLGTM"
    # Without options: no revisions, accounts by id only.
    bare = rest_json(rest(gerrit, "GET", "/a/changes/1"))
    assert "revisions" not in bare and set(bare["owner"]) == {"_account_id"}


def test_change_identifiers(gerrit):
    _, first, _ = _setup(gerrit)
    for ident in ("1", "org%2Fapp~1", f"org%2Fapp~master~{first['change_id']}", first["change_id"]):
        assert rest_json(rest(gerrit, "GET", f"/a/changes/{ident}/detail"))["_number"] == 1
    assert rest(gerrit, "GET", "/a/changes/99").status_code == 404


def test_query_paging_and_more_changes(gerrit):
    _setup(gerrit)
    page = rest_json(
        rest(
            gerrit,
            "GET",
            "/a/changes/",
            params={
                "q": "status:open project:org/app",
                "n": 1,
                "o": ["CURRENT_REVISION", "CURRENT_COMMIT"],
            },
        )
    )
    assert [c["_number"] for c in page] == [2] and page[-1]["_more_changes"] is True
    assert "commit" in page[0]["revisions"][page[0]["current_revision"]]
    rest_page = rest_json(
        rest(
            gerrit,
            "GET",
            "/a/changes/",
            params={"q": "status:open project:org/app", "n": 1, "S": 1},
        )
    )
    assert [c["_number"] for c in rest_page] == [1] and "_more_changes" not in rest_page[-1]
    assert rest(gerrit, "GET", "/a/changes/", params={"q": "bogus:1"}).status_code == 400
    assert (
        rest(gerrit, "GET", "/a/changes/", params={"q": "is:open", "o": "NOPE"}).status_code == 400
    )


def test_files_and_related(gerrit):
    _, first, second = _setup(gerrit)
    files = rest_json(rest(gerrit, "GET", f"/a/changes/1/revisions/{first['revision']}/files"))
    assert set(files) == {"/COMMIT_MSG", "new.txt", "old.txt"}
    related = rest_json(rest(gerrit, "GET", "/a/changes/2/revisions/current/related"))
    assert [r["_change_number"] for r in related["changes"]] == [2, 1]
    assert related["changes"][0]["commit"]["parents"][0]["commit"] == first["revision"]
    assert rest_json(rest(gerrit, "GET", "/a/changes/2/submitted_together")) != []


def test_review_post_and_read_back(gerrit):
    c, first, _ = _setup(gerrit)
    project = quote("org/app", safe="")
    ident = f"{project}~master~{first['change_id']}"
    body = {
        "message": "Build succeeded.\n\n- unit http://logs/1 : SUCCESS",
        "labels": {"Verified": 1},
        "tag": "autogenerated:zuul:check",
        "comments": {"old.txt": [{"line": 2, "message": "here"}]},
    }
    response = rest(
        gerrit, "POST", f"/a/changes/{ident}/revisions/{first['revision']}/review", json=body
    )
    assert rest_json(response) == {"labels": {"Verified": 1}}
    [posted] = c.reviews(change=1, account="lockgate")
    assert posted["via"] == "rest" and posted["labels"] == {"Verified": 1}
    assert posted["message"].startswith("Build succeeded.")
    assert posted["comments"] == {"old.txt": [{"line": 2, "message": "here"}]}
    assert c.change(1)["messages"][-1]["message"].startswith(
        "Patch Set 1: Verified+1\n\n(1 comment)\n\nBuild succeeded."
    )
    bad = rest(
        gerrit, "POST", "/a/changes/1/revisions/current/review", json={"labels": {"Verified": 7}}
    )
    assert bad.status_code == 400 and "restricted" in bad.text
    unknown = rest(
        gerrit,
        "POST",
        "/a/changes/1/revisions/current/review",
        json={"labels": {"Nope": 1}, "strict_labels": False},
    )
    assert unknown.status_code == 200


def test_submit_409_then_merges(gerrit):
    c, first, _ = _setup(gerrit)
    refused = rest(gerrit, "POST", "/a/changes/1/submit")
    assert refused.status_code == 409
    assert "submit requirement 'Code-Review' is unsatisfied" in refused.text
    c.review(1, "bob", labels={"Code-Review": 2})
    rest_json(
        rest(
            gerrit,
            "POST",
            "/a/changes/1/revisions/current/review",
            json={"labels": {"Verified": 1}},
        )
    )
    merged = rest_json(rest(gerrit, "POST", "/a/changes/1/submit"))
    assert merged["status"] == "MERGED"
    branches = rest_json(rest(gerrit, "GET", f"/a/projects/{quote('org/app', safe='')}/branches/"))
    assert {"ref": "refs/heads/master", "revision": first["revision"]} in branches
    again = rest(gerrit, "POST", "/a/changes/1/submit")
    assert again.status_code == 409 and "change is merged" in again.text


def test_change_edits_over_rest(gerrit):
    c, _, _ = _setup(gerrit)
    assert rest_json(rest(gerrit, "PUT", "/a/changes/1/topic", json={"topic": "t"})) == "t"
    assert rest(gerrit, "POST", "/a/changes/1/wip").status_code == 200
    assert rest_json(rest(gerrit, "POST", "/a/changes/1/hashtags", json={"add": ["x"]})) == ["x"]
    rest_json(rest(gerrit, "POST", "/a/changes/1/abandon", json={"message": "no"}))
    summary = c.change(1)
    assert (summary["topic"], summary["wip"], summary["hashtags"], summary["status"]) == (
        "t",
        True,
        ["x"],
        "ABANDONED",
    )
    assert rest(gerrit, "POST", "/a/changes/1/abandon").status_code == 409
