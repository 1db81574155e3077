"""Bad input gets a 400 that names what is wrong, in Zuul's error shape:
integers beyond what the database holds, malformed HTTP; and the API's CORS
answers (headers on every answer, preflight requests)."""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Callable

import pytest

from tests.fixtures.web import WebHarness


@pytest.fixture
def tenant_t(web: WebHarness, publish: Callable[..., object]) -> WebHarness:
    publish("t", projects=["demo/app"], pipelines=["check"])
    return web


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("/api/tenant/t/builds?skip=" + "1" + "0" * 30, "skip"),
        ("/api/tenant/t/buildsets?skip=" + "1" + "0" * 30, "skip"),
        ("/api/tenant/t/builds?offset=" + "1" + "0" * 30, "offset"),
        ("/api/tenant/t/builds?change=" + str(2**63), "change"),
        ("/api/tenant/t/buildsets?change=" + str(2**63), "change"),
        ("/api/tenant/t/builds?change=" + str(2**31), "change"),
        ("/api/tenant/t/builds?idx_min=" + str(2**63), "idx_min"),
        ("/api/tenant/t/builds?idx_max=" + str(2**40), "idx_max"),
        ("/api/tenant/t/buildsets?idx_min=" + "9" * 5000, "idx_min"),
        ("/api/tenant/t/builds?limit=" + "9" * 40, "limit"),
        ("/api/tenant/t/build-times?skip=" + "9" * 40, "skip"),
        ("/api/tenant/t/config-errors?skip=" + "9" * 40, "skip"),
        ("/t/t/builds?skip=" + "1" + "0" * 30, "skip"),
    ],
)
def test_integers_beyond_the_database_are_400_naming_the_parameter(
    tenant_t: WebHarness, path: str, name: str
) -> None:
    reply = tenant_t.get(path)
    assert reply.status == 400, reply.text[:300]
    if path.startswith("/api"):
        body = reply.json()
        assert body["error"] == "Bad Request"
        assert f"'{name}'" in body["description"] and "at most" in body["description"]
    else:
        assert f"&#x27;{name}&#x27;" in reply.text or f"'{name}'" in reply.text


def test_largest_integers_the_database_holds_are_accepted(tenant_t: WebHarness) -> None:
    assert tenant_t.get_json(f"/api/tenant/t/builds?skip={2**63 - 1}") == []
    assert tenant_t.get_json(f"/api/tenant/t/builds?change={2**31 - 1}") == []
    assert tenant_t.get_json(f"/api/tenant/t/buildsets?idx_min={2**31 - 1}") == []


def _raw(harness: WebHarness, request: bytes) -> tuple[int, dict[str, str], bytes]:
    with socket.create_connection(("127.0.0.1", harness.port), timeout=30) as sock:
        sock.sendall(request)
        data = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return status, headers, body


@pytest.mark.parametrize(
    ("request_bytes", "words"),
    [
        (b"GET /api/tenants?q=" + b"a" * 100_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", "line"),
        (b"GET /api/tenants HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 20_000 + b"\r\n\r\n", ""),
        (b"GET /api/tenants HTTP/1.1\r\nBad Header: x\r\n\r\n", ""),
        (b"GET /api/tenants HTTP/1.1\r\nHost: x\r\nContent-Length: many\r\n\r\n", ""),
    ],
)
def test_malformed_http_is_a_json_400_and_one_log_line(
    web: WebHarness, caplog: pytest.LogCaptureFixture, request_bytes: bytes, words: str
) -> None:
    caplog.set_level(logging.DEBUG)
    status, headers, body = _raw(web, request_bytes)
    assert status == 400
    assert headers["content-type"].startswith("application/json")
    answer = json.loads(body)
    assert answer["error"] == "Bad Request"
    assert answer["description"].startswith("malformed HTTP request")
    assert words.lower() in answer["description"].lower()
    mine = [r for r in caplog.records if r.name == "lockgate.web.http"]
    assert len(mine) == 1 and mine[0].exc_info is None
    assert "\n" not in mine[0].getMessage()
    assert not [r for r in caplog.records if r.name.startswith("aiohttp") and r.exc_info]


def test_api_answers_carry_cors_headers(tenant_t: WebHarness) -> None:
    for path in ("/api/info", "/api/tenant/t/builds", "/api/tenant/nope/builds"):
        assert tenant_t.get(path).headers.get("Access-Control-Allow-Origin") == "*"


def _options(harness: WebHarness, path: str) -> tuple[int, dict[str, str]]:
    status, headers, _ = _raw(
        harness,
        f"OPTIONS {path} HTTP/1.1\r\nHost: x\r\nOrigin: http://elsewhere\r\n"
        "Access-Control-Request-Method: GET\r\nConnection: close\r\n\r\n".encode(),
    )
    return status, headers


def test_preflight_requests_are_answered_as_zuul_does(tenant_t: WebHarness) -> None:
    status, headers = _options(tenant_t, "/api/tenant/t/builds")
    assert status == 204
    assert headers["access-control-allow-origin"] == "*"
    assert headers["access-control-allow-headers"] == "Authorization, Content-Type"
    assert {"GET", "OPTIONS"} <= set(headers["access-control-allow-methods"].split(", "))
    assert headers["access-control-max-age"] == "86400"


def test_preflight_for_an_unknown_path_is_404(tenant_t: WebHarness) -> None:
    status, headers = _options(tenant_t, "/api/no/such/thing")
    assert status == 404
    assert headers.get("access-control-allow-origin") == "*"


def test_unknown_api_path_and_method_are_json_in_zuuls_shape(tenant_t: WebHarness) -> None:
    assert tenant_t.get_json("/api/nothing-here", status=404) == {
        "error": "Not Found",
        "description": "no such path: /api/nothing-here",
    }
