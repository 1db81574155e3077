"""The dashboard's page and files: one HTML page for every dashboard path,
the scripts and stylesheet, and the server-rendered tables of the tenants
and builds pages for browsers without JavaScript."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from lockgate.db import Database, RefInfo

from tests.fixtures.web import WebHarness

REF = RefInfo(project="demo/app", ref="refs/heads/main", branch="main", newrev="abcdef1234567")


def test_index_lists_tenants(web: WebHarness, publish: Callable[..., object]) -> None:
    assert "No tenant" in web.get("/").text
    publish("demo")
    publish("a&b")
    reply = web.get("/")
    assert reply.status == 200 and reply.headers["Content-Type"].startswith("text/html")
    assert "<script type='module' src='/static/js/boot.js'></script>" in reply.text
    assert "<link rel='modulepreload' href='/static/js/app.js'>" in reply.text
    assert "href='/t/demo/builds'" in reply.text
    assert "href='/t/a%26b/builds'" in reply.text and ">a&amp;b<" in reply.text
    csp = reply.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp


@pytest.mark.parametrize(
    "path",
    [
        "/t/demo",
        "/t/demo/",
        "/t/demo/status",
        "/t/demo/status/change/12,3",
        "/t/demo/stream/5a1e?logfile=console.log",
        "/t/demo/build/5a1e",
        "/t/demo/buildsets?project=demo/app",
        "/t/demo/project/org/app",
        "/t/demo/job/tox-py311",
        "/t/demo/config-errors",
        "/t/demo/nodes?filter=hold",
        "/t/demo/labels",
        "/t/demo/autoholds",
        "/t/demo/autohold/0000000003",
        "/t/demo/semaphores",
        "/t/demo/semaphore/db",
    ],
)
def test_every_dashboard_path_is_the_page(
    web: WebHarness, publish: Callable[..., object], path: str
) -> None:
    publish("demo")
    reply = web.get(path)
    assert reply.status == 200, reply.text
    assert "/static/js/boot.js" in reply.text and "<div id='app'>" in reply.text
    assert reply.headers["Cache-Control"] == "no-cache"


def test_builds_page_without_javascript(
    web: WebHarness, sqlite_db: Database, publish: Callable[..., object]
) -> None:
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
    assert "hello-&lt;script&gt;" in text and "hello-<script>" not in text
    assert "href='http://127.0.0.1:9000/logs/b1/'" in text
    assert "javascript:" not in text
    assert "class='SUCCESS'>SUCCESS" in text and "class='running'>running" in text
    assert "12s" in text and "abcdef1234" in text and "2023-11-14T22:13:20" in text
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


@pytest.mark.parametrize(
    ("query", "name"), [("skip=-1", "skip"), ("change=" + str(2**40), "change"), ("x=1", "x")]
)
def test_builds_page_bad_parameters(
    web: WebHarness, publish: Callable[..., object], query: str, name: str
) -> None:
    publish("demo")
    reply = web.get(f"/t/demo/builds?{query}")
    assert reply.status == 400 and f"&#x27;{name}&#x27;" in reply.text


@pytest.mark.parametrize("path", ["/t/nope/builds", "/t/nope/status", "/t/nope"])
def test_unknown_tenant_page_is_html_404(web: WebHarness, path: str) -> None:
    reply = web.get(path)
    assert reply.status == 404
    assert reply.headers["Content-Type"].startswith("text/html")
    assert "Unknown tenant: nope" in reply.text


def test_static_files(web: WebHarness) -> None:
    script = web.get("/static/js/app.js")
    assert script.status == 200
    assert script.headers["Content-Type"].startswith("text/javascript")
    assert "export function navigate" in script.text
    assert 'import("./app.js")' in web.get("/static/js/boot.js").text
    style = web.get("/static/lockgate.css")
    assert style.headers["Content-Type"].startswith("text/css")
    for path in ("/static/../pages.py", "/static/%2e%2e/pages.py", "/static/js/nope.js"):
        assert web.get(path).status == 404, path
