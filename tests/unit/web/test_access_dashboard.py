# ruff: noqa: F811  (fixtures imported by name and used as parameters)
"""The dashboard's login for a read-protected tenant, in a real browser
(Debian's Chromium through Playwright) against the web app with an HS256
realm: the login panel instead of a broken page, a pasted token kept and
sent (API calls, log files through the cookie), a refused token explained,
logging out; logging in from the header on a tenant anyone may read, and
what the header then says of the login (an admin of the tenant, or a token
the service refuses, in its words)."""

from __future__ import annotations

import json
import time
from typing import Any

from lockgate.db import Database

from tests.fixtures.browser import browser, page, screenshot  # noqa: F401
from tests.fixtures.web import WebHarness
from tests.unit.web.test_access import (  # noqa: F401
    ADMIN,
    BUILD,
    READER,
    STRANGER,
    logs,
    site,
    token,
)


def paste(page: Any, tok: str) -> None:
    page.fill("#login-token", tok)
    page.click("#login-submit")


def test_a_protected_tenant_asks_for_a_token_and_uses_it(
    site: WebHarness, sqlite_db: Database, page: Any
) -> None:
    page.goto(f"{site.url}/t/secret/status")
    page.wait_for_selector("#login")
    assert "Login required" in page.locator("#login h1").inner_text()
    assert "Tenant secret is read-protected" in page.locator("#login").inner_text()
    assert "sso.example.com" in page.locator("#login").inner_text()
    assert page.locator("#pipelines").count() == 0
    screenshot(page, "login-required")

    paste(page, "not a token")
    page.wait_for_selector("#login-problem .message")
    assert "not a JSON Web Token" in page.locator("#login-problem").inner_text()

    # A valid token that satisfies no access-rule: the server's reason.
    paste(page, STRANGER)
    page.wait_for_selector("#login h1:text('Not allowed')")
    assert "user 'sam' may not read tenant 'secret'" in page.locator("#login").inner_text()
    assert "sam" in page.locator("#login-user").inner_text()

    paste(page, READER)
    page.wait_for_selector("#status-updated[data-updated]")
    assert page.locator("#login").count() == 0
    assert "rita" in page.locator("#login-user").inner_text()
    screenshot(page, "login-done-status")

    # The build page: the API with the header, the log listing and files
    # through the cookie kept for /logs/.
    sqlite_db.update_build(
        BUILD, result="SUCCESS", end_time=time.time(), log_url=f"{site.url}/logs/{BUILD}/"
    )
    page.goto(f"{site.url}/t/secret/build/{BUILD}")
    page.wait_for_selector("#log-files li.file")
    assert "job-output.txt" in page.locator("#log-files").inner_text()
    cookies = {c["name"]: c for c in page.context.cookies()}
    assert cookies["lockgate_token"]["path"] == "/logs/"
    assert cookies["lockgate_token"]["value"] == READER
    page.goto(f"{site.url}/logs/{BUILD}/job-output.txt")
    assert page.locator("body").inner_text().strip() == f"the log of {BUILD}"

    # A tenant without access-rules never asks.
    page.goto(f"{site.url}/t/open/status")
    page.wait_for_selector("#status-updated[data-updated]")

    page.goto(f"{site.url}/t/secret/status")
    page.wait_for_selector("#status-updated[data-updated]")
    page.click("#logout")
    page.wait_for_selector("#login")
    assert page.locator("#login-open").count() == 1
    assert "lockgate_token" not in {c["name"] for c in page.context.cookies()}


def test_an_expired_stored_token_brings_the_login_back(site: WebHarness, page: Any) -> None:
    page.goto(f"{site.url}/t/secret/status")
    page.wait_for_selector("#login")
    # A token that expires while it is used: the next poll is refused.
    soon = token("rita", groups=["secret-readers"], exp=int(time.time()) + 4)
    paste(page, soon)
    page.wait_for_selector("#status-updated[data-updated]")
    page.wait_for_selector("#login", timeout=30_000)
    assert page.locator("#pipelines").count() == 0


def test_the_page_a_browser_gets_without_a_token_is_the_dashboard_without_data(
    site: WebHarness, page: Any
) -> None:
    reply = page.request.get(f"{site.url}/t/secret/builds")
    assert reply.status == 401
    assert "/static/js/app.js" in reply.text() and BUILD not in reply.text()
    # The JSON of the tenant's info tells the dashboard to ask.
    info = json.loads(page.request.get(f"{site.url}/api/tenant/secret/info").text())
    assert info["info"]["capabilities"]["auth"]["read_protected"] is True


def test_logging_in_from_the_header_on_a_tenant_anyone_may_read(
    site: WebHarness, page: Any
) -> None:
    page.goto(f"{site.url}/t/open/status")
    page.wait_for_selector("#status-updated[data-updated]")
    page.click("#login-open")
    page.wait_for_selector("#login")
    assert "act as an admin" in page.locator("#login").inner_text()
    page.click("#login-cancel")  # back to the page, nothing stored
    page.wait_for_selector("#status-updated[data-updated]")
    assert page.locator("#login-open").count() == 1

    # A token with a signature the service does not accept: reading a
    # tenant without access-rules ignores it, as Zuul does; the header says
    # it is refused, in the server's words.
    page.click("#login-open")
    paste(page, token("mallory", secret="not-the-secret-but-long-enough-anyway!!"))
    page.wait_for_selector("#status-updated[data-updated]")
    badge = page.locator("#admin-badge")
    badge.wait_for()
    assert badge.inner_text() == "token refused"
    assert "signature" in (badge.get_attribute("title") or "")

    # A valid token of no admin: logged in, no admin mark; of an admin of
    # "secret" (who may read it too): marked there, not on "open".
    page.click("#logout")
    page.click("#login-open")
    paste(page, STRANGER)
    page.wait_for_selector("#status-updated[data-updated]")
    assert "sam" in page.locator("#login-user").inner_text()
    page.click("#logout")
    page.click("#login-open")
    paste(page, ADMIN)
    page.wait_for_selector("#status-updated[data-updated]")
    page.goto(f"{site.url}/t/secret/status")
    page.wait_for_selector("#admin-badge")
    assert page.locator("#admin-badge").inner_text() == "admin"
    assert page.locator("#login").count() == 0
    page.goto(f"{site.url}/t/open/status")
    page.wait_for_selector("#status-updated[data-updated]")
    assert "oscar" in page.locator("#login-user").inner_text()
    assert page.locator("#admin-badge").count() == 0
