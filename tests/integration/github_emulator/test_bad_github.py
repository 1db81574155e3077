"""GitHub going wrong, as the emulator plays it: timed outages (5xx or no
answer), a repository renamed (GitHub's 301/307 and git redirect, the
``repository`` event), the App's key rotated, an installation removed (its
tokens die, the ``installation`` event), and a push that deletes a file."""

from __future__ import annotations

import subprocess

import pytest
import requests

from tests.fixtures.github import GitHubEmulator
from tests.fixtures.waiting import wait_for
from tests.integration.github_emulator.test_rest import Api

REPO = "acme/widget"


def test_a_timed_outage_answers_5xx_or_nothing_then_ends(github_emulator: GitHubEmulator) -> None:
    gh = github_emulator
    gh.control.create_repo(REPO)
    api = Api(gh)
    gh.control.outage(1.0, status=503, path="/branches")
    down = api("GET", f"/repos/{REPO}/branches")
    assert down.status_code == 503 and down.json()["message"] == "Server Error"
    assert api("GET", f"/repos/{REPO}").status_code == 200  # another path
    gh.control.outage(30, status=0)
    with pytest.raises(requests.ConnectionError):
        api("GET", f"/repos/{REPO}")
    gh.control.outage(0.3, status=500)
    assert api("GET", f"/repos/{REPO}").status_code == 500
    wait_for(lambda: api("GET", f"/repos/{REPO}").status_code == 200, 10, "the outage over")


def test_a_renamed_repository_redirects_its_old_name(github_emulator: GitHubEmulator) -> None:
    gh = github_emulator
    made = gh.control.create_repo(REPO, {"README.md": "hi\n"})
    pr = gh.control.open_pull(REPO, "topic", {"a.txt": "a\n"}, title="A")
    gh.control.rename_repo(REPO, "gadget")
    api = Api(gh)
    moved = requests.get(
        f"{gh.api_url}/repos/{REPO}/pulls/{pr['number']}",
        headers=api.headers,
        params={"x": "1"},
        allow_redirects=False,
        timeout=10,
    )
    target = f"{gh.api_url}/repositories/{made['id']}/pulls/{pr['number']}?x=1"
    assert moved.status_code == 301 and moved.headers["Location"] == target
    assert moved.json()["message"] == "Moved Permanently" and moved.json()["url"] == target
    write = requests.post(
        f"{gh.api_url}/repos/{REPO}/statuses/{pr['head_sha']}",
        headers=api.headers,
        json={"state": "success", "context": "ci"},
        allow_redirects=False,
        timeout=10,
    )
    assert write.status_code == 307
    followed = api("GET", f"/repos/{REPO}/pulls/{pr['number']}")
    assert followed.status_code == 200 and followed.json()["base"]["repo"]["full_name"] == (
        "acme/gadget"
    )
    git = subprocess.run(
        ["git", "ls-remote", f"{gh.web_url}/{REPO}.git"], capture_output=True, text=True
    )
    assert git.returncode == 0 and "refs/heads/main" in git.stdout
    renamed = gh.control.deliveries("repository", payloads=True)[-1]
    assert renamed["action"] == "renamed"
    assert renamed["payload"]["changes"]["repository"]["name"]["from"] == "widget"
    assert renamed["payload"]["repository"]["full_name"] == "acme/gadget"
    # A new repository of the old name takes it back.
    gh.control.create_repo(REPO)
    assert api("GET", f"/repos/{REPO}").json()["id"] != made["id"]


def test_a_rotated_key_refuses_old_jwts_and_can_expire_tokens(
    github_emulator: GitHubEmulator,
) -> None:
    gh = github_emulator
    gh.control.create_repo(REPO)
    inst = gh.installation_id("acme")
    old = Api(gh, {"Authorization": f"Bearer {gh.app_jwt()}"})
    token = old("POST", f"/app/installations/{inst}/access_tokens").json()["token"]
    new_key = gh.rotate_app_key(expire_tokens=True)
    refused = Api(gh, {"Authorization": f"Bearer {gh.app_jwt()}"})("GET", "/app")
    assert refused.status_code == 401
    assert refused.json()["message"] == "A JSON web token could not be decoded"
    fresh = Api(gh, {"Authorization": f"Bearer {gh.app_jwt(key_pem=new_key.read_bytes())}"})
    assert fresh("GET", "/app").status_code == 200
    expired = Api(gh, {"Authorization": f"token {token}"})("GET", f"/repos/{REPO}")
    assert expired.status_code == 401 and expired.json()["message"] == "Bad credentials"


def test_an_uninstall_kills_tokens_and_tells_the_app(github_emulator: GitHubEmulator) -> None:
    gh = github_emulator
    gh.control.create_repo(REPO)
    inst = gh.installation_id("acme")
    app = Api(gh, {"Authorization": f"Bearer {gh.app_jwt()}"})
    token = app("POST", f"/app/installations/{inst}/access_tokens").json()["token"]
    gh.control.uninstall(inst)
    assert Api(gh, {"Authorization": f"token {token}"})("GET", f"/repos/{REPO}").status_code == 401
    assert app("GET", f"/repos/{REPO}/installation").status_code == 404
    event = gh.control.deliveries("installation", payloads=True)[-1]
    assert event["action"] == "deleted" and event["payload"]["installation"]["id"] == inst
    assert [r["full_name"] for r in event["payload"]["repositories"]] == [REPO]


def test_a_push_may_delete_files(github_emulator: GitHubEmulator) -> None:
    gh = github_emulator
    gh.control.create_repo(REPO)
    pr = gh.control.open_pull(REPO, "topic", {"a.txt": "a\n", "b.txt": "b\n"}, title="AB")
    gh.control.push_to_pull(REPO, pr["number"], {"b.txt": None}, date=1_600_000_000)
    files = Api(gh)("GET", f"/repos/{REPO}/pulls/{pr['number']}/files").json()
    assert [f["filename"] for f in files] == ["a.txt"]
    head = gh.control.pull(REPO, pr["number"])["head_sha"]
    commit = Api(gh)("GET", f"/repos/{REPO}/commits/{head}").json()
    assert commit["commit"]["committer"]["date"] == "2020-09-13T12:26:40Z"
