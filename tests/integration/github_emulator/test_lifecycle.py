"""The emulator as a process: starts fast, answers on loopback, stops by PID and
leaves nothing behind; its Zuul connection section."""

from __future__ import annotations

import os
import time
from pathlib import Path

import requests

from tests.fixtures.github import GitHubEmulator
from tests.fixtures.network import accepts


def test_start_under_two_seconds_and_stop_cleans_up(tmp_path: Path) -> None:
    root = tmp_path / "gh"
    started = time.monotonic()
    gh = GitHubEmulator(root).start()
    elapsed = time.monotonic() - started
    pid = gh.process.pid if gh.process else 0
    try:
        assert elapsed < 2.0, f"start-up took {elapsed:.2f}s"
        resp = requests.get(f"{gh.api_url}/rate_limit", timeout=10)
        assert resp.status_code == 200
        assert resp.json()["resources"]["core"]["limit"] == 5000
        assert (root / "state" / "server.pid").read_text() == str(pid)
    finally:
        gh.stop()
    assert not accepts(gh.port)
    assert not root.exists()
    try:
        os.kill(pid, 0)
        alive = True
    except ProcessLookupError:
        alive = False
    assert not alive


def test_zuul_conf_section(github_emulator: GitHubEmulator) -> None:
    gh = github_emulator
    app = gh.zuul_conf_section()
    assert app["driver"] == "github"
    assert app["server"] == f"127.0.0.1:{gh.port}"
    assert app["app_id"] == str(gh.app_id)
    assert Path(app["app_key"]).read_bytes().startswith(b"-----BEGIN RSA PRIVATE KEY-----")
    assert app["webhook_token"] == gh.webhook_secret
    assert "api_token" not in app
    token = gh.zuul_conf_section(use_app=False)
    assert token["api_token"] == gh.api_token and "app_id" not in token
    text = gh.zuul_conf_text("gh")
    assert text.startswith("[connection gh]\ndriver=github\n")
    # The token in the section works against the emulator.
    resp = requests.get(
        f"{gh.api_url}/user", timeout=10, headers={"Authorization": f"token {token['api_token']}"}
    )
    assert resp.status_code == 200 and resp.json()["login"] == "lockgate-bot"
    gh.control.create_repo("acme/widget")
    perm = requests.get(
        f"{gh.api_url}/repos/acme/widget/collaborators/lockgate-bot/permission",
        headers={"Authorization": f"token {token['api_token']}"},
        timeout=10,
    )
    assert perm.json()["permission"] == "write"


def test_bad_control_requests_say_what_is_wrong(github_emulator: GitHubEmulator) -> None:
    from tests.fixtures.github import ControlError

    c = github_emulator.control
    try:
        c.create_repo("acme/x", protection={"main": {"required_checks": ["a"]}})
    except ControlError as e:
        assert e.status == 400
        assert "unknown protection keys ['required_checks']" in e.message
    else:
        raise AssertionError("a bad protection key was accepted")
    c.create_repo("acme/x")
    try:
        c.create_repo("acme/x")
    except ControlError as e:
        assert "exists already" in e.message
    else:
        raise AssertionError("a repository was created twice")
