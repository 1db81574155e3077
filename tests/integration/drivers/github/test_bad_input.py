"""What GitHub does wrong, and what the driver makes of it, against the
emulator: an App uninstalled from a repository's owner, the App's key
rotated, GitHub failing or out of reach for a while, a repository renamed.
Each gives an error that names what and where, classified for the callers
(permanent for one repository, for the whole connection, or worth another
try later); nothing reaches GitHub's sender as a traceback."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from lockgate.drivers.base import ReportError
from lockgate.drivers.github.connection import GithubConnection
from lockgate.drivers.github.source import GithubQueryError
from lockgate.drivers.registry import make_connections
from lockgate.git import ls_remote
from lockgate.service_config import ServiceConfig

from tests.fixtures.github.fixture import GitHubEmulator

REPO = "org/repo"
OTHER = "else/repo"


def connect(emulator: GitHubEmulator, tmp_path: Path, **keys: str) -> GithubConnection:
    use_app = keys.pop("use_app", "true") == "true"
    text = "[zookeeper]\nhosts = unused:1\n" + emulator.zuul_conf_text(use_app=use_app)
    text += "".join(f"{k} = {v}\n" for k, v in keys.items())
    path = tmp_path / f"lockgate-{len(list(tmp_path.glob('lockgate-*.conf')))}.conf"
    path.write_text(text)
    conn = make_connections(ServiceConfig.load(path))["github"]
    assert isinstance(conn, GithubConnection)
    return conn


@pytest.fixture
def gh(github_emulator: GitHubEmulator) -> Iterator[GitHubEmulator]:
    github_emulator.control.create_repo(REPO, {"README": "hi\n"})
    github_emulator.control.create_repo(OTHER, {"README": "else\n"})
    yield github_emulator


def change_of(conn: GithubConnection, gh: GitHubEmulator, repo: str = REPO):  # noqa: ANN201
    pr = gh.control.open_pull(repo, "topic", {"a.txt": "x\n"}, title="A")
    return conn.source().get_pull(repo, pr["number"])


def test_an_uninstalled_owner_is_a_permanent_error_naming_the_repository(gh, tmp_path):
    conn = connect(gh, tmp_path)
    try:
        change = change_of(conn, gh)
        assert conn.source().get_branches(OTHER) == ["main"]
        gh.control.uninstall(gh.installation_id("org"))
        # The cached token died with the installation: refused, looked up again, gone.
        with pytest.raises(GithubQueryError) as info:
            conn.source().get_branches(REPO)
        assert info.value.permanent and not info.value.connection_wide
        assert "no longer installed on org/repo" in str(info.value)
        with pytest.raises(ReportError) as refused:
            conn.reporter().status(change, "success", context="t/check", url=None)
        assert refused.value.permanent and "org/repo" in str(refused.value)
        # The other owner's installation is untouched.
        assert conn.source().get_branches(OTHER) == ["main"]
        # Git: no token to give; the URL still comes, git says what it can reach.
        assert "x-access-token" not in conn.source().clone_url(REPO)
    finally:
        conn.close()


def test_a_rotated_app_key_is_an_error_for_the_whole_connection_only(gh, tmp_path):
    app = connect(gh, tmp_path)
    token = connect(gh, tmp_path, use_app="false")
    try:
        assert app.source().get_branches(REPO) == ["main"]
        gh.rotate_app_key(expire_tokens=True)
        for repo in (REPO, OTHER):
            with pytest.raises(GithubQueryError) as info:
                app.source().get_branches(repo)
            assert info.value.connection_wide and not info.value.permanent
            text = str(info.value)
            assert "refused the App's JWT" in text and "app_key" in text and "App 7" in text
        # Another connection (a personal token) keeps working.
        assert token.source().get_branches(REPO) == ["main"]
    finally:
        app.close()
        token.close()


def test_github_failing_longer_than_the_retry_budget_is_a_transient_error(gh, tmp_path):
    conn = connect(gh, tmp_path, api_retry_timeout="1.5")
    try:
        change = change_of(conn, gh)
        gh.control.outage(30, status=500)
        started = time.monotonic()
        with pytest.raises(GithubQueryError) as info:
            conn.source().get_branches(REPO)
        assert 1.4 <= time.monotonic() - started < 10  # the budget, spent
        assert not info.value.permanent and "HTTP 500" in str(info.value)
        assert "failing for" in str(info.value)
        # A report whose retry budget is spent: the item should report, not wait.
        with pytest.raises(ReportError) as spent:
            conn.reporter().status(change, "success", context="t/check", url=None)
        assert spent.value.permanent and "HTTP 500" in str(spent.value)
        # Out of reach altogether (no answer): the same.
        gh.control.outage(30, status=0)
        with pytest.raises(GithubQueryError) as info:
            conn.source().get_branches(REPO)
        assert "cannot reach GitHub" in str(info.value)
        gh.control.clear_faults()
        assert conn.source().get_branches(REPO) == ["main", "topic"]
    finally:
        conn.close()


def test_an_outage_shorter_than_the_retry_budget_is_waited_out(gh, tmp_path):
    conn = connect(gh, tmp_path, api_retry_timeout="30")
    try:
        change = change_of(conn, gh)
        retries = conn.client().server_retries
        gh.control.outage(2, status=503)
        conn.reporter().status(change, "success", context="t/check", url=None)
        assert conn.client().server_retries > retries
        states = [s["state"] for s in gh.control.statuses(REPO) if s["context"] == "t/check"]
        assert states == ["success"]  # sent once it answered
    finally:
        conn.close()


def test_a_renamed_repository_is_followed_and_reported(gh, tmp_path, caplog):
    conn = connect(gh, tmp_path)
    try:
        change = change_of(conn, gh)
        gh.control.rename_repo(REPO, "repo2")
        caplog.set_level(logging.WARNING, logger="lockgate.drivers.github.api")
        # GET: 301 to /repositories/{id}/..., followed.
        assert conn.source().get_branches(REPO) == ["main", "topic"]
        assert conn.client().renamed == {REPO: "org/repo2"}
        moved = [r.getMessage() for r in caplog.records if "has moved" in r.getMessage()]
        assert len(moved) == 1 and "org/repo has moved to org/repo2" in moved[0]
        assert "tenant configuration should name the repository org/repo2" in moved[0]
        # A write: 307 keeps the method and body.
        conn.reporter().status(change, "success", context="t/check", url=None)
        assert [s["state"] for s in gh.control.statuses("org/repo2")] == ["success"]
        # git follows GitHub's redirect of the old name too.
        refs = ls_remote(conn.source().clone_url(REPO))
        assert refs["refs/heads/main"] == gh.control.repo("org/repo2")["branches"]["main"]
        # Said once per repository.
        conn.source().get_branches(REPO)
        assert len([r for r in caplog.records if "has moved" in r.getMessage()]) == 1
    finally:
        conn.close()
