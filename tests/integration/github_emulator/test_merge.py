"""``PUT /pulls/{n}/merge``: merge, squash and rebase on real git; refusals for
conflicts, stale heads, disallowed methods, branch protection (statuses,
reviews by writers only) and injected faults; the base branch moves and the
other pull requests are recomputed."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.fixtures.github import GitHubEmulator
from tests.integration.github_emulator.scenario import installation_headers
from tests.integration.github_emulator.test_rest import Api

REPO = "acme/widget"


def setup(gh: GitHubEmulator, **repo_kw) -> Api:
    gh.control.create_repo(
        REPO,
        {"README.md": "hello\n", "a.txt": "a\n"},
        collaborators={"lockgate-bot": "write", "alice": "write", "carol": "read"},
        **repo_kw,
    )
    return Api(gh)


def git_log(gh: GitHubEmulator, tmp: Path, branch: str = "main") -> list[str]:
    work = tmp / "clone"
    if not work.exists():
        subprocess.run(["git", "clone", "-q", gh.clone_url(REPO), str(work)], check=True)
    subprocess.run(["git", "-C", str(work), "fetch", "-q", "origin"], check=True)
    out = subprocess.run(
        ["git", "-C", str(work), "log", "--format=%P|%s", f"origin/{branch}"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return out.splitlines()


def test_three_methods(github_emulator: GitHubEmulator, tmp_path: Path) -> None:
    gh = github_emulator
    api = setup(gh)
    c = gh.control
    for n, head in enumerate(("m", "s", "r"), start=1):
        c.open_pull(REPO, head, {f"{head}.txt": "x\n"}, title=f"PR {head}", author="bob")
        c.push_to_pull(REPO, n, {f"{head}2.txt": "y\n"}, f"PR {head} part 2", author="bob")
    merged = api("PUT", f"/repos/{REPO}/pulls/1/merge", json={"merge_method": "merge"})
    assert merged.status_code == 200, merged.text
    assert merged.json()["merged"] is True
    squashed = api("PUT", f"/repos/{REPO}/pulls/2/merge", json={"merge_method": "squash"})
    rebased = api("PUT", f"/repos/{REPO}/pulls/3/merge", json={"merge_method": "rebase"})
    assert squashed.status_code == rebased.status_code == 200
    log = git_log(gh, tmp_path)
    subjects = [line.split("|", 1)[1] for line in log]
    assert subjects[:4] == ["PR r part 2", "PR r", "PR s (#2)", "Merge pull request #1 from acme/m"]
    assert len(log[3].split("|")[0].split()) == 2  # the merge commit has two parents
    assert len(log[2].split("|")[0].split()) == 1  # the squash commit one
    pr = api("GET", f"/repos/{REPO}/pulls/3").json()
    assert pr["merged"] is True and pr["state"] == "closed"
    assert pr["merge_commit_sha"] == rebased.json()["sha"]
    assert pr["merged_by"]["login"] == "lockgate-bot"
    assert api("GET", f"/repos/{REPO}/pulls/3/merge").status_code == 204
    assert [m["method"] for m in c.merges(REPO)] == ["merge", "squash", "rebase"]
    again = api("PUT", f"/repos/{REPO}/pulls/3/merge", json={})
    assert again.status_code == 405
    assert again.json()["message"] == "Pull Request is not mergeable"


def test_refusals(github_emulator: GitHubEmulator) -> None:
    gh = github_emulator
    api = setup(gh, merge_methods=["squash", "rebase"])
    c = gh.control
    first = c.open_pull(REPO, "one", {"a.txt": "one\n"}, author="bob")
    c.open_pull(REPO, "two", {"a.txt": "two\n"}, author="bob")
    no_merge = api("PUT", f"/repos/{REPO}/pulls/1/merge", json={"merge_method": "merge"})
    assert no_merge.status_code == 405
    assert no_merge.json()["message"] == "Merge commits are not allowed on this repository."
    stale = api(
        "PUT", f"/repos/{REPO}/pulls/1/merge", json={"merge_method": "squash", "sha": "0" * 40}
    )
    assert stale.status_code == 409
    assert stale.json()["message"] == "Head branch was modified. Review and try the merge again."
    bad = api("PUT", f"/repos/{REPO}/pulls/1/merge", json={"merge_method": "octopus"})
    assert bad.status_code == 422
    c.refuse_merges(1, 405, "Base branch was modified. Review and try the merge again.")
    refused = api("PUT", f"/repos/{REPO}/pulls/1/merge", json={"merge_method": "squash"})
    assert refused.status_code == 405 and refused.json()["message"].startswith("Base branch")
    ok = api(
        "PUT",
        f"/repos/{REPO}/pulls/1/merge",
        json={"merge_method": "squash", "sha": first["head_sha"]},
    )
    assert ok.status_code == 200
    # The other pull request now conflicts with its base.
    view = api("GET", f"/repos/{REPO}/pulls/2").json()
    assert view["mergeable"] is False and view["mergeable_state"] == "dirty"
    conflict = api("PUT", f"/repos/{REPO}/pulls/2/merge", json={"merge_method": "rebase"})
    assert conflict.status_code == 405
    assert conflict.json()["message"] == "Pull Request is not mergeable"
    c.open_pull(REPO, "draft", {"d.txt": "d\n"}, author="bob", draft=True)
    draft = api("PUT", f"/repos/{REPO}/pulls/3/merge", json={"merge_method": "squash"})
    assert draft.status_code == 405 and "draft" in draft.json()["message"]


def test_branch_protection(github_emulator: GitHubEmulator) -> None:
    gh = github_emulator
    api = setup(
        gh,
        protection={
            "main": {
                "required_contexts": ["lockgate/gate", "lockgate/check"],
                "required_approvals": 1,
                "dismiss_stale_reviews": True,
            }
        },
    )
    c = gh.control
    pr = c.open_pull(REPO, "feature", {"f.txt": "f\n"}, author="bob")
    sha = pr["head_sha"]

    def attempt() -> tuple[int, str]:
        resp = api("PUT", f"/repos/{REPO}/pulls/1/merge", json={"merge_method": "merge"})
        return resp.status_code, resp.json()["message"]

    assert attempt() == (405, 'Required status check "lockgate/gate" is expected.')
    assert api("GET", f"/repos/{REPO}/pulls/1").json()["mergeable_state"] == "blocked"
    c.set_status(REPO, sha, "failure", "lockgate/gate", creator="lockgate-bot")
    assert attempt() == (405, 'Required status check "lockgate/gate" is failing.')
    c.set_status(REPO, sha, "success", "lockgate/gate", creator="lockgate-bot")
    assert attempt()[1] == 'Required status check "lockgate/check" is expected.'
    app = Api(gh, installation_headers(gh))
    app(
        "POST",
        f"/repos/{REPO}/check-runs",
        json={"name": "lockgate/check", "head_sha": sha, "conclusion": "success"},
    )
    assert attempt()[1] == (
        "At least 1 approving review is required by reviewers with write access."
    )
    c.review(REPO, 1, "carol", "APPROVE")  # read access: does not count
    assert attempt()[0] == 405
    review = c.review(REPO, 1, "alice", "APPROVE")
    assert review > 0
    # A push dismisses the stale approval (and needs a new status).
    new = c.push_to_pull(REPO, 1, {"f.txt": "g\n"}, "Fix", author="bob")
    reviews = api("GET", f"/repos/{REPO}/pulls/1/reviews").json()
    assert [r["state"] for r in reviews if r["user"]["login"] == "alice"] == ["DISMISSED"]
    c.set_status(REPO, new, "success", "lockgate/gate", creator="lockgate-bot")
    assert attempt()[0] == 405
    c.review(REPO, 1, "alice", "APPROVE")
    assert attempt()[1] == 'Required status check "lockgate/check" is expected.'
    app(
        "POST",
        f"/repos/{REPO}/check-runs",
        json={"name": "lockgate/check", "head_sha": new, "conclusion": "success"},
    )
    assert api("GET", f"/repos/{REPO}/pulls/1").json()["mergeable_state"] == "clean"
    status, message = attempt()
    assert (status, message) == (200, "Pull Request successfully merged")
