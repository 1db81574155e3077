"""The minimal HTML pages: tenants at ``/``, recent builds at ``/t/{tenant}/builds``."""

from __future__ import annotations

from collections.abc import Callable

from lockgate.db import Database, RefInfo

from tests.fixtures.web import WebHarness

REF = RefInfo(project="demo/app", ref="refs/heads/main", branch="main", newrev="abcdef1234567")


def test_index_lists_tenants(web: WebHarness, publish: Callable[..., object]) -> None:
    assert "No tenant" in web.get("/").text
    publish("demo")
    publish("a&b")
    reply = web.get("/")
    assert reply.status == 200 and reply.headers["Content-Type"].startswith("text/html")
    assert "href='/t/demo/builds'" in reply.text
    assert "href='/t/a%26b/builds'" in reply.text and ">a&amp;b<" in reply.text


def test_builds_page(web: WebHarness, sqlite_db: Database, publish: Callable[..., object]) -> None:
    publish("demo")
    sqlite_db.create_buildset("bs1", "demo", "post", [REF])
    sqlite_db.create_build("b1", "bs1", "hello-<script>", start_time=1_700_000_000)
    sqlite_db.update_build(
        "b1", result="SUCCESS", end_time=1_700_000_012, log_url="http://127.0.0.1:9000/logs/b1/"
    )
    sqlite_db.create_build("b2", "bs1", "running-job")
    sqlite_db.create_build("b3", "bs1", "evil-link")
    sqlite_db.update_build("b3", result="FAILURE", log_url="javascript:alert(1)")
    page = web.get("/t/demo/builds")
    assert page.status == 200
    text = page.text
    assert "hello-&lt;script&gt;" in text and "<script>" not in text
    assert "href='http://127.0.0.1:9000/logs/b1/'" in text
    assert "javascript:" not in text
    assert "class='SUCCESS'>SUCCESS" in text and "class='running'>running" in text
    assert "12s" in text and "abcdef1234" in text and "2023-11-14T22:13:20" in text
    assert "href='/api/tenant/demo/build/b1'" in text
    filtered = web.get("/t/demo/builds?result=FAILURE").text
    assert "evil-link" in filtered and "running-job" not in filtered


def test_builds_page_pages(
    web: WebHarness, sqlite_db: Database, publish: Callable[..., object]
) -> None:
    publish("demo")
    sqlite_db.create_buildset("bs1", "demo", "check", [REF])
    for i in range(55):
        sqlite_db.create_build(f"b{i:02d}", "bs1", f"job-{i:02d}")
    first = web.get("/t/demo/builds").text
    assert "job-54" in first and "job-05" in first and "job-04" not in first
    assert "skip=50" in first and "newer" not in first
    second = web.get("/t/demo/builds?skip=50").text
    assert "job-04" in second and "job-05" not in second
    assert "newer" in second and "older" not in second


def test_unknown_tenant_page_is_html_404(web: WebHarness) -> None:
    reply = web.get("/t/nope/builds")
    assert reply.status == 404
    assert reply.headers["Content-Type"].startswith("text/html")
    assert "Unknown tenant: nope" in reply.text
