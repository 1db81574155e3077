"""``lockgate create-auth-token`` and ``lockgate client VERB`` against the
admin endpoints served for real: the token made for an HS256 realm is
accepted, each verb stores what the scheduler or launcher reads, refusals
come back as the web's ``error: description`` and exit status 1."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from lockgate import cli
from lockgate.model.management import ManagementKind
from lockgate.zk.holds import HoldRequestStore

from tests.fixtures.web import WebHarness
from tests.unit.web.test_api_admin import ADMINS, OPERATOR, SCHEDULER, harness, queued, token

OVERRIDE = OPERATOR.section(allow_authz_override="true") + SCHEDULER


@pytest.fixture
def site(tmp_path, sqlite_db, zk_client, publish) -> Iterator[tuple[WebHarness, Path]]:  # noqa: ANN001
    publish("demo", projects=["org/app"], pipelines=["check", "gate"], auth=ADMINS.to_dict())
    conf = tmp_path / "lockgate.conf"
    for h in harness(sqlite_db, zk_client, OVERRIDE):
        conf.write_text(OVERRIDE + f"\n[web]\nlisten_address = 127.0.0.1\nport = {h.port}\n")
        yield h, conf


def run(conf: Path, *argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    import contextlib

    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = cli.main(["-c", str(conf), *argv])
    return status, out.getvalue(), err.getvalue()


def test_a_made_token_drives_every_verb(site, zk_client, monkeypatch):
    _, conf = site
    status, out, err = run(
        conf, "create-auth-token", "--auth-config", "operator", "--user", "ops", "--tenant", "demo"
    )
    assert status == 0, err
    assert out.startswith("Bearer ")
    monkeypatch.setenv("LOCKGATE_AUTH_TOKEN", out.strip())
    monkeypatch.delenv("LOCKGATE_URL", raising=False)
    base = ["client"]
    t = ["--tenant", "demo"]
    assert (
        run(
            conf,
            *base,
            "enqueue",
            *t,
            "--pipeline",
            "gate",
            "--project",
            "org/app",
            "--change",
            "3,1",
        )[0]
        == 0
    )
    assert (
        run(
            conf,
            *base,
            "enqueue-ref",
            *t,
            "--pipeline",
            "check",
            "--project",
            "org/app",
            "--ref",
            "refs/heads/main",
        )[0]
        == 0
    )
    assert (
        run(
            conf,
            *base,
            "dequeue",
            *t,
            "--pipeline",
            "gate",
            "--project",
            "org/app",
            "--change",
            "3,1",
        )[0]
        == 0
    )
    assert run(conf, *base, "promote", *t, "--pipeline", "gate", "--changes", "4,1", "5,1")[0] == 0
    events = queued(zk_client)
    assert [e.kind for e in events] == [
        ManagementKind.ENQUEUE,
        ManagementKind.ENQUEUE_REF,
        ManagementKind.DEQUEUE,
        ManagementKind.PROMOTE,
    ]
    assert all(e.requested_by == "ops" for e in events)
    assert events[3].changes == ["4,1", "5,1"]
    status, _, err = run(
        conf,
        *base,
        "autohold",
        *t,
        "--project",
        "org/app",
        "--job",
        "unit",
        "--reason",
        "look",
        "--count",
        "2",
        "--node-hold-expiration",
        "120",
    )
    assert status == 0, err
    status, out, _ = run(conf, *base, "autohold-list", *t)
    assert status == 0 and "org/app" in out and "unit" in out and "0/2" in out
    [hold] = HoldRequestStore(zk_client).for_tenant("demo")
    status, out, _ = run(conf, *base, "--format", "json", "autohold-info", *t, hold.id)
    assert status == 0 and json.loads(out)["node_expiration"] == 120
    assert run(conf, *base, "autohold-delete", *t, hold.id)[0] == 0
    assert HoldRequestStore(zk_client).for_tenant("demo") == []


def test_refusals_are_the_webs_message_and_status_1(site, zk_client, monkeypatch):
    h, conf = site
    monkeypatch.delenv("LOCKGATE_AUTH_TOKEN", raising=False)
    args = [
        "enqueue",
        "--tenant",
        "demo",
        "--pipeline",
        "gate",
        "--project",
        "org/app",
        "--change",
        "3,1",
    ]
    status, _, err = run(conf, "client", *args)
    assert status == 1 and "needs a token" in err
    status, _, err = run(conf, "client", "--auth-token", token(sub="eve"), *args)
    assert status == 1
    assert "AuthTokenForbiddenException: user 'eve' is not an admin of tenant 'demo'" in err
    status, _, err = run(conf, "client", "--url", h.url, "--auth-token", "junk", *args)
    assert status == 1 and "AuthTokenUndecodedException" in err
    status, _, err = run(
        conf, "client", "dequeue", "--tenant", "demo", "--pipeline", "gate", "--project", "org/app"
    )
    assert status == 1 and "--change or --ref" in err
    assert queued(zk_client) == []


def test_create_auth_token_needs_an_hs256_section(site):
    _, conf = site
    status, _, err = run(conf, "create-auth-token", "--auth-config", "nope", "--user", "x")
    assert status == 2 and "no [auth nope] section" in err
