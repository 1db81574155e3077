"""Authentication as GitHub does it: personal tokens, app JWTs verified with the
app's public key, installation tokens that expire and die with their
installation; GitHub's 401 messages."""

from __future__ import annotations

import time

import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.fixtures.github import GitHubEmulator

REPO = "acme/widget"


def get(gh: GitHubEmulator, path: str, auth: str | None) -> requests.Response:
    headers = {"Authorization": auth} if auth else {}
    return requests.get(f"{gh.api_url}{path}", headers=headers, timeout=10)


def test_personal_token_and_missing_or_bad_credentials(github_emulator: GitHubEmulator) -> None:
    gh = github_emulator
    gh.control.create_repo(REPO)
    assert get(gh, f"/repos/{REPO}", f"token {gh.api_token}").status_code == 200
    assert get(gh, f"/repos/{REPO}", f"Bearer {gh.api_token}").status_code == 200
    missing = get(gh, f"/repos/{REPO}", None)
    assert missing.status_code == 401
    assert missing.json()["message"] == "Requires authentication"
    bad = get(gh, f"/repos/{REPO}", "token ghp_nope")
    assert bad.status_code == 401
    assert bad.json() == {
        "message": "Bad credentials",
        "documentation_url": "https://docs.github.com/rest",
        "status": "401",
    }
    assert "X-RateLimit-Remaining" in bad.headers


def test_app_jwt_is_verified(github_emulator: GitHubEmulator) -> None:
    gh = github_emulator
    gh.control.create_repo(REPO)
    good = get(gh, "/app", f"Bearer {gh.app_jwt()}")
    assert good.status_code == 200
    assert good.json()["id"] == gh.app_id and good.json()["slug"] == "lockgate-test"
    now = int(time.time())
    expired = get(gh, "/app", f"Bearer {gh.app_jwt(iat=now - 700, exp=now - 60)}")
    assert expired.status_code == 401
    assert "'Expiration time' claim ('exp')" in expired.json()["message"]
    too_long = get(gh, "/app", f"Bearer {gh.app_jwt(iat=now, exp=now + 3600)}")
    assert too_long.status_code == 401 and "too far in the future" in too_long.json()["message"]
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    forged = get(gh, "/app", f"Bearer {gh.app_jwt(key_pem=other_key)}")
    assert forged.status_code == 401
    assert forged.json()["message"] == "A JSON web token could not be decoded"
    wrong_app = get(gh, "/app", f"Bearer {gh.app_jwt(iss=gh.app_id + 1)}")
    assert wrong_app.status_code == 401
    # An installation token is no JWT for the app endpoints.
    token = installation_token(gh, "acme")
    assert get(gh, "/app", f"token {token}").status_code == 401


def installation_token(gh: GitHubEmulator, account: str) -> str:
    jwt = gh.app_jwt()
    inst = get(gh, f"/repos/{account}/widget/installation", f"Bearer {jwt}").json()
    resp = requests.post(
        f"{gh.api_url}/app/installations/{inst['id']}/access_tokens",
        headers={"Authorization": f"Bearer {jwt}"},
        timeout=10,
    )
    assert resp.status_code == 201
    body = resp.json()
    assert body["token"].startswith("ghs_")
    assert body["expires_at"].endswith("Z")
    return body["token"]


def test_installation_tokens(github_emulator: GitHubEmulator) -> None:
    gh = github_emulator
    c = gh.control
    c.create_repo(REPO)
    c.create_repo("other/widget", install=False)
    jwt = gh.app_jwt()
    installs = get(gh, "/app/installations", f"Bearer {jwt}").json()
    assert [i["account"]["login"] for i in installs] == ["acme"]
    assert get(gh, "/repos/other/widget/installation", f"Bearer {jwt}").status_code == 404
    token = installation_token(gh, "acme")
    assert get(gh, f"/repos/{REPO}", f"token {token}").status_code == 200
    # Scoped to its installation's account: another owner's repository is "missing".
    assert get(gh, "/repos/other/widget", f"token {token}").status_code == 404
    repos = get(gh, "/installation/repositories", f"token {token}").json()
    assert [r["full_name"] for r in repos["repositories"]] == [REPO]
    # Expiry: a token made with a zero lifetime is dead at once.
    c.set_token_lifetime(0)
    dead = installation_token(gh, "acme")
    assert get(gh, f"/repos/{REPO}", f"token {dead}").status_code == 401
    c.set_token_lifetime(3600)
    # Removing the installation revokes its tokens.
    c.uninstall(gh.installation_id("acme"))
    assert get(gh, f"/repos/{REPO}", f"token {token}").status_code == 401
    assert get(gh, f"/repos/{REPO}/installation", f"Bearer {jwt}").status_code == 404
