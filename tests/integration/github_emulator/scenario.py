"""One pull request's life that makes the emulator send every webhook event and
action Lockgate's driver handles (and the ``created``/``completed`` check-run
events GitHub also sends), for the payload-shape tests.  Synthetic: built here,
not recorded from GitHub."""

from __future__ import annotations

import requests

from tests.fixtures.github import GitHubEmulator

REPO = "acme/widget"

EXPECTED = {
    ("push", None),
    ("pull_request", "opened"),
    ("pull_request", "synchronize"),
    ("pull_request", "edited"),
    ("pull_request", "labeled"),
    ("pull_request", "unlabeled"),
    ("pull_request", "converted_to_draft"),
    ("pull_request", "ready_for_review"),
    ("pull_request", "closed"),
    ("pull_request", "reopened"),
    ("pull_request_review", "submitted"),
    ("pull_request_review", "dismissed"),
    ("issue_comment", "created"),
    ("status", None),
    ("check_run", "created"),
    ("check_run", "completed"),
    ("check_run", "rerequested"),
    ("check_run", "requested_action"),
}


def installation_headers(gh: GitHubEmulator, account: str = "acme") -> dict[str, str]:
    iid = gh.installation_id(account)
    resp = requests.post(
        f"{gh.api_url}/app/installations/{iid}/access_tokens",
        headers={"Authorization": f"Bearer {gh.app_jwt()}"},
        timeout=10,
    )
    resp.raise_for_status()
    return {
        "Authorization": f"token {resp.json()['token']}",
        "Accept": "application/vnd.github+json",
    }


def run_everything(gh: GitHubEmulator) -> None:
    c = gh.control
    c.create_repo(REPO, {"README.md": "hello\n"}, collaborators={"alice": "write"})
    pr = c.open_pull(REPO, "feature", {"a.txt": "one\n"}, title="Add a", body="Body", author="bob")
    n = pr["number"]
    c.push_to_pull(REPO, n, {"a.txt": "two\n"}, "Second", author="bob")
    c.edit(REPO, n, user="bob", title="Add a, better", body="New body")
    c.label(REPO, n, add=["gate"], user="alice")
    c.label(REPO, n, remove=["gate"], user="alice")
    c.set_draft(REPO, n, True, user="bob")
    c.set_draft(REPO, n, False, user="bob")
    c.comment(REPO, n, "recheck", user="alice")
    review = c.review(REPO, n, "alice", "APPROVE", "LGTM")
    c.dismiss(REPO, n, review, user="alice", message="stale")
    head = c.pull(REPO, n)["head_sha"]
    h = installation_headers(gh)
    api = f"{gh.api_url}/repos/{REPO}"
    requests.post(
        f"{api}/statuses/{head}",
        headers=h,
        timeout=10,
        json={
            "state": "success",
            "context": "check",
            "target_url": "http://x/1",
            "description": "Build succeeded.",
        },
    ).raise_for_status()
    c.set_status(REPO, head, "pending", "other-ci")
    run = requests.post(
        f"{api}/check-runs",
        headers=h,
        timeout=10,
        json={
            "name": "check",
            "head_sha": head,
            "status": "in_progress",
            "details_url": "http://lockgate.test/buildset/1",
            "external_id": "bs-1",
            "output": {"title": "running", "summary": "Running"},
            "actions": [{"label": "Dequeue", "description": "Stop it", "identifier": "dequeue"}],
        },
    )
    run.raise_for_status()
    run_id = run.json()["id"]
    requests.patch(
        f"{api}/check-runs/{run_id}",
        headers=h,
        timeout=10,
        json={
            "conclusion": "success",
            "output": {
                "title": "ok",
                "summary": "Build succeeded",
                "text": "details",
                "annotations": [
                    {
                        "path": "a.txt",
                        "start_line": 1,
                        "end_line": 1,
                        "annotation_level": "warning",
                        "message": "hm",
                    }
                ],
            },
        },
    ).raise_for_status()
    c.rerequest_check_run(REPO, run_id, user="alice")
    c.request_check_action(REPO, run_id, "dequeue", user="alice")
    c.close(REPO, n, user="bob")
    c.reopen(REPO, n, user="bob")
    c.set_ref(REPO, "refs/tags/v1.0", head)
    c.set_ref(REPO, "refs/tags/v1.0", delete=True)
    c.push(REPO, "stable", {"s.txt": "s\n"})
    c.set_ref(REPO, "refs/heads/stable", delete=True)
    c.merge(REPO, n, "merge", user="alice")
