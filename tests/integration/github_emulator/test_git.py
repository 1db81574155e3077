"""Git over smart HTTP: clones, ``refs/pull/N/head`` and ``refs/pull/N/merge``,
and pushes with a token that synchronize pull requests and send ``push``."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.fixtures.github import GitHubEmulator
from tests.fixtures.waiting import wait_for
from tests.integration.github_emulator.helpers import Receiver

REPO = "acme/widget"


def git(*args: str, cwd: Path | None = None, check: bool = True) -> str:
    env = {
        "GIT_TERMINAL_PROMPT": "0",
        "HOME": "/tmp",
        "PATH": "/usr/bin:/bin",
        "GIT_AUTHOR_NAME": "Bob",
        "GIT_AUTHOR_EMAIL": "bob@example.com",
        "GIT_COMMITTER_NAME": "Bob",
        "GIT_COMMITTER_EMAIL": "bob@example.com",
    }
    proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, env=env)
    if check and proc.returncode != 0:
        raise AssertionError(f"git {args}: {proc.stderr}")
    return proc.stdout + proc.stderr


def test_pull_refs(github_emulator: GitHubEmulator, tmp_path: Path) -> None:
    gh = github_emulator
    gh.control.create_repo(REPO, {"a.txt": "a\n"})
    one = gh.control.open_pull(REPO, "one", {"b.txt": "b\n"}, author="bob")
    gh.control.open_pull(REPO, "two", {"a.txt": "conflict\n"}, author="bob")
    gh.control.push(REPO, "main", {"a.txt": "moved\n"})
    work = tmp_path / "w"
    git("clone", "-q", gh.clone_url(REPO), str(work))
    git("fetch", "-q", "origin", "+refs/pull/*:refs/remotes/pull/*", cwd=work)
    refs = git("for-each-ref", "--format=%(refname)", "refs/remotes/pull", cwd=work).split()
    assert refs == [
        "refs/remotes/pull/1/head",
        "refs/remotes/pull/1/merge",
        "refs/remotes/pull/2/head",
    ]
    assert git("rev-parse", "pull/1/head", cwd=work).strip() == one["head_sha"]
    parents = git("log", "-1", "--format=%P", "pull/1/merge", cwd=work).split()
    assert parents == [git("rev-parse", "origin/main", cwd=work).strip(), one["head_sha"]]
    assert git("show", "pull/1/merge:a.txt", cwd=work) == "moved\n"


def test_push_over_http_synchronizes(
    github_emulator: GitHubEmulator, receiver: Receiver, tmp_path: Path
) -> None:
    gh = github_emulator
    gh.control.set_webhook(url=receiver.url)
    gh.control.create_repo(REPO, collaborators={"lockgate-bot": "write"})
    gh.control.open_pull(REPO, "feature", {"b.txt": "b\n"}, author="bob")
    work = tmp_path / "w"
    git("clone", "-q", "-b", "feature", gh.clone_url(REPO), str(work))
    (work / "c.txt").write_text("c\n")
    git("add", "c.txt", cwd=work)
    git("commit", "-q", "-m", "More", cwd=work)
    refused = git("push", "origin", "feature", cwd=work, check=False)
    assert "Authentication" in refused or "could not read Username" in refused
    git("push", "-q", gh.clone_url(REPO, gh.api_token), "feature", cwd=work)
    new = git("rev-parse", "HEAD", cwd=work).strip()
    sync = wait_for(
        lambda: receiver.events("pull_request", "synchronize"), 10, "the synchronize webhook"
    )[0].payload
    assert sync["after"] == new and sync["pull_request"]["head"]["sha"] == new
    pushes = receiver.events("push")
    assert pushes[-1].payload["after"] == new
    assert pushes[-1].payload["commits"][0]["added"] == ["c.txt"]
    assert gh.control.pull(REPO, 1)["head_sha"] == new
