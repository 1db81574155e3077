"""Build logs under ``/logs/<uuid>/...``: files, listings, and no way out of the build's dir."""

from __future__ import annotations

import http.client
import os
from pathlib import Path

import pytest
from lockgate.db import Database
from lockgate.model.tenant_state import TenantLayoutState  # noqa: F401 - documents the record
from lockgate.web.logs import resolve
from lockgate.web.zkstate import ZKClusterState
from lockgate.zk.client import ZKClient

from tests.fixtures.web import WebHarness

SECRET = "TOP-SECRET-OUTSIDE-THE-LOG-ROOT"


@pytest.fixture
def logs(log_root: Path) -> Path:
    build = log_root / "b1"
    (build / "zuul-info").mkdir(parents=True)
    (build / "job-output.txt").write_text("PLAY [all]\nmarker: hello\n")
    (build / "job-output.json").write_text('[{"play": {}}]')
    (build / "zuul-info" / "inventory.yaml").write_text("all: {}\n")
    (build / "report.html").write_text("<script>alert(1)</script>")
    (build / "odd name & <b>.txt").write_text("odd\n")
    (log_root / "b2").mkdir()
    (log_root / "b2" / "other.txt").write_text("another build\n")
    (log_root.parent / "secret.txt").write_text(SECRET)
    os.symlink(log_root.parent / "secret.txt", build / "escape.txt")
    os.symlink(log_root / "b2", build / "sibling")
    return log_root


def raw_get(web: WebHarness, path: str) -> tuple[int, bytes]:
    """GET with the path sent byte for byte (no client-side normalisation)."""
    conn = http.client.HTTPConnection("127.0.0.1", web.port, timeout=30)
    try:
        conn.putrequest("GET", path, skip_accept_encoding=True)
        conn.endheaders()
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def test_serves_a_log_file_as_text(web: WebHarness, logs: Path) -> None:
    reply = web.get("/logs/b1/job-output.txt")
    assert reply.status == 200
    assert reply.text == "PLAY [all]\nmarker: hello\n"
    assert reply.headers["Content-Type"].startswith("text/plain")
    assert reply.headers["Content-Security-Policy"] == "sandbox"
    assert reply.headers["X-Content-Type-Options"] == "nosniff"
    assert web.get("/logs/b1/zuul-info/inventory.yaml").text == "all: {}\n"
    assert (
        web.get("/logs/b1/job-output.json").headers["Content-Type"].startswith("application/json")
    )


def test_html_a_job_wrote_cannot_script_the_api(web: WebHarness, logs: Path) -> None:
    reply = web.get("/logs/b1/report.html")
    assert reply.status == 200
    assert reply.headers["Content-Security-Policy"] == "sandbox"


def test_directory_listing(web: WebHarness, logs: Path) -> None:
    reply = web.get("/logs/b1/")
    assert reply.status == 200 and reply.headers["Content-Type"].startswith("text/html")
    for name in ("job-output.txt", "zuul-info/", "report.html"):
        assert name in reply.text
    assert "<b>" not in reply.text and "odd name &amp; &lt;b&gt;.txt" in reply.text
    assert "odd%20name%20%26%20%3Cb%3E.txt" in reply.text
    assert web.get("/logs/b1/odd%20name%20%26%20%3Cb%3E.txt").text == "odd\n"


def test_directory_without_slash_redirects(web: WebHarness, logs: Path) -> None:
    reply = web.get("/logs/b1/zuul-info", follow=False)
    assert reply.status == 301
    assert reply.headers["Location"] == "/logs/b1/zuul-info/"
    assert "inventory.yaml" in web.get("/logs/b1/zuul-info").text


@pytest.mark.parametrize(
    "path",
    [
        "/logs/b1/../../secret.txt",
        "/logs/b1/%2e%2e/%2e%2e/secret.txt",
        "/logs/b1/..%2f..%2fsecret.txt",
        "/logs/b1/%2E%2E%2F%2E%2E%2Fsecret.txt",
        "/logs/..%2fsecret.txt",
        "/logs/%2e%2e/secret.txt",
        "/logs/b1/escape.txt",  # a symlink out of the log root
        "/logs/b1/sibling/other.txt",  # a symlink into another build's logs
        "/logs/b1/../b2/other.txt",  # another build through '..'
        "/logs/b1/%00",
        "/logs/b1//etc/passwd",
        "/logs/no-such-build/job-output.txt",
        "/logs/b1/no-such-file.txt",
    ],
)
def test_nothing_outside_the_build_dir_is_served(web: WebHarness, logs: Path, path: str) -> None:
    status, body = raw_get(web, path)
    assert status in (400, 404), (path, status)
    assert SECRET.encode() not in body
    assert b"another build" not in body
    assert b"root:" not in body


def test_the_other_build_is_reachable_by_its_own_uuid(web: WebHarness, logs: Path) -> None:
    assert web.get("/logs/b2/other.txt").text == "another build\n"


def test_no_log_root_configured(sqlite_db: Database, zk_client: ZKClient) -> None:
    harness = WebHarness(sqlite_db, ZKClusterState(zk_client), log_root=None).start()
    try:
        reply = harness.get("/logs/b1/job-output.txt")
        assert reply.status == 404
        assert "log_root is not configured" in reply.json()["description"]
    finally:
        harness.stop()


@pytest.mark.parametrize(
    ("uuid", "relative"),
    [
        ("b1", "../../secret.txt"),
        ("b1", "../b2/other.txt"),
        ("b1", "zuul-info/../../b2/other.txt"),
        ("b1", "escape.txt"),
        ("b1", "sibling/other.txt"),
        ("..", "secret.txt"),
        (".", "b1/job-output.txt"),
        ("b1/..", "secret.txt"),
        ("b1", "a\x00b"),
    ],
)
def test_resolve_refuses_paths_out_of_the_build(logs: Path, uuid: str, relative: str) -> None:
    """The guard itself, whatever the HTTP layer did to the path before."""
    assert resolve(str(logs), uuid, relative) is None


def test_resolve_accepts_paths_inside(logs: Path) -> None:
    found = resolve(str(logs), "b1", "zuul-info/../job-output.txt")
    assert found == os.path.realpath(logs / "b1" / "job-output.txt")
    assert resolve(str(logs), "b1", "/job-output.txt") == found
