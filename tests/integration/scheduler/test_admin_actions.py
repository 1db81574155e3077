"""Admin actions end to end: a token, the web's admin API, the management
queue in ZooKeeper, the real scheduler and merger, the Gerrit emulator.

- Promote (issue 7, scenario 23): three approved changes in the gate; the
  third is promoted to the head; it is then tested alone, and the builds of
  the other two restart behind it (their old builds canceled); all three
  merge, the promoted one first.
- zuul-client 14.x admin commands with a token: enqueue of an unapproved
  change (an admin skips the pipeline's requirements), dequeue, enqueue-ref
  and dequeue of a ref, autohold create/list/info/delete, and a refusal
  (403) for a token that no admin-rule matches.

The launcher and executor are played by hand (``harness``)."""

from __future__ import annotations

import asyncio
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests
from lockgate.db import Database
from lockgate.service_config import ServiceConfig
from lockgate.web.server import WebServer
from lockgate.zk.client import ZKClient

from tests.fixtures.auth import HS256Realm
from tests.fixtures.gerrit.fixture import gerrit  # noqa: F401
from tests.fixtures.waiting import wait_for
from tests.integration.scheduler.harness import (
    build_requests,
    complete_build,
    fulfil_node_requests,
    review_site_config,
    scheduler_with_merger,
)
from tests.integration.scheduler.test_gerrit_gate import APP, CONFIG

ZUUL_CLIENT = Path("/opt/lockgate/bin/zuul-client")
MAIN_YAML = """
- authorization-rule:
    name: gate-keepers
    conditions:
      - groups: "{tenant.name}-gatekeepers"
- tenant:
    name: demo
    admin-rules: [gate-keepers]
    source:
      git:
        config-projects: [config]
      gerrit:
        untrusted-projects: [org/app]
"""
OPERATOR = HS256Realm(
    "operator",
    "lockgate.example.com",
    "lockgate-admin",
    "admin-actions-secret-long-enough-for-hs256",
)
AUTH = OPERATOR.section()


def token(sub: str = "ops", groups: tuple[str, ...] = ("demo-gatekeepers",)) -> str:
    return OPERATOR.token(sub, lifetime=3600, groups=list(groups))


@contextmanager
def running_web(config: ServiceConfig, client: ZKClient, root: Path) -> Iterator[str]:
    """The web service in a thread of its own, sharing the test's ZooKeeper client."""
    db = Database(f"sqlite:///{root}/lockgate.db")
    server = WebServer(config, zk=client, db=db)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="web", daemon=True)
    thread.start()
    try:
        asyncio.run_coroutine_threadsafe(server.start(), loop).result(60)
        yield server.url
    finally:
        asyncio.run_coroutine_threadsafe(server.stop(), loop).result(60)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(30)
        loop.close()
        db.close()


@pytest.fixture
def system(tmp_path, upstream, zk_server, zk_chroot, zk_client, gerrit):  # noqa: F811
    (tmp_path / "main.yaml").write_text(MAIN_YAML)
    upstream.create("config", {"zuul.yaml": CONFIG, "playbooks/base.yaml": "- hosts: all\n"})
    gerrit.control.create_project("org/app", {".zuul.yaml": APP, "README": "app\n"})
    connection = gerrit.zuul_conf_text().replace("keepalive=0", "keepalive=0\nevent_delay=0")
    web = f"\n[web]\nlisten_address = 127.0.0.1\nport = 0\n{AUTH}"
    config = review_site_config(tmp_path, zk_server, zk_chroot, upstream, connection + web)
    with scheduler_with_merger(tmp_path, config, zk_client):
        wait_for(lambda: gerrit.control.stream_status()["subscribers"], 30, "the event stream")
        with running_web(config, zk_client, tmp_path) as url:
            wait_for(
                lambda: requests.get(f"{url}/api/tenant/demo/info", timeout=5).ok,
                60,
                "the tenant published",
            )
            yield zk_client, gerrit, url


def requested(client):  # noqa: ANN001, ANN201
    fulfil_node_requests(client)
    return {
        r.zuul_vars["change"]: r
        for r in build_requests(client)
        if r.state.value == "requested" and "change" in r.zuul_vars and not r.cancel_requested
    }


def steps(build) -> list[int]:  # noqa: ANN001
    return [s.number for s in build.project.steps]


def admin(url: str, method: str, path: str, body: dict | None = None, tok: str | None = None):  # noqa: ANN201
    headers = {"Authorization": f"Bearer {tok or token()}"}
    return requests.request(method, url + path, json=body, headers=headers, timeout=30)


def test_promote_moves_the_third_change_to_the_head_and_the_others_restart_behind(system):
    client, gerrit_, url = system
    c = gerrit_.control
    changes = [
        c.create_change("org/app", {f"p{i}.txt": f"{i}\n"}, f"Change {i}") for i in (1, 2, 3)
    ]
    a, b, third = (int(ch["number"]) for ch in changes)
    for ch in changes:
        c.approve(ch["number"])
    before = wait_for(
        lambda: (r := requested(client)) and {str(a), str(b), str(third)} <= set(r) and r,
        90,
        "three builds",
    )
    assert steps(before[str(third)]) == [a, b, third]
    reply = admin(
        url, "POST", "/api/tenant/demo/promote", {"pipeline": "gate", "changes": [f"{third},1"]}
    )
    assert reply.status_code == 200 and reply.json() is True

    def restarted():  # noqa: ANN202
        now = requested(client)
        fresh = {n: r for n, r in now.items() if r.uuid != before[n].uuid}
        return fresh if set(fresh) == {str(a), str(b), str(third)} else None

    after = wait_for(restarted, 90, "every build restarted behind the promoted change")
    # The promoted change is tested alone at the head; the others behind it.
    assert steps(after[str(third)]) == [third]
    assert steps(after[str(a)]) == [third, a]
    assert steps(after[str(b)]) == [third, a, b]
    old = {r.uuid: r for r in build_requests(client)}
    for n in map(str, (a, b, third)):
        gone = old.get(before[n].uuid)
        assert gone is None or gone.cancel_requested, f"the old build of {n} still runs"
    for n in (str(b), str(a), str(third)):  # finishing order does not matter
        complete_build(client, after[n].uuid, "SUCCESS")
    for n in (a, b, third):
        wait_for(lambda n=n: c.change(n)["status"] == "MERGED", 60, f"{n} merged")
    submits = [
        r["change"] for r in c.reviews() if r["account"] == "lockgate" and r["kind"] == "submit"
    ]
    assert submits == [third, a, b]


def zuul_client(url: str, *args: str, tok: str | None = None) -> subprocess.CompletedProcess[str]:
    command = [str(ZUUL_CLIENT), "--zuul-url", url]
    if tok is not False:
        command += ["--auth-token", tok or token()]
    return subprocess.run(command + list(args), capture_output=True, text=True, timeout=120)


@pytest.mark.skipif(
    not ZUUL_CLIENT.exists(), reason="zuul-client is not installed in /opt/lockgate"
)
def test_zuul_client_admin_commands(system):
    client, gerrit_, url = system
    c = gerrit_.control
    number = int(c.create_change("org/app", {"z.txt": "z\n"}, "Not approved")["number"])
    t = ["--tenant", "demo"]
    # Refused: a valid token that no admin-rule matches.
    refused = zuul_client(
        url,
        "enqueue",
        *t,
        "--pipeline",
        "gate",
        "--project",
        "org/app",
        "--change",
        f"{number},1",
        tok=token("eve", ("readers",)),
    )
    assert refused.returncode != 0
    assert "AuthTokenForbiddenException" in refused.stdout + refused.stderr
    # An admin enqueues it although it is not approved.
    done = zuul_client(
        url, "enqueue", *t, "--pipeline", "gate", "--project", "org/app", "--change", f"{number},1"
    )
    assert done.returncode == 0, done.stderr
    build = wait_for(lambda: requested(client).get(str(number)), 90, "the enqueued change's build")
    assert steps(build) == [number]
    done = zuul_client(
        url, "dequeue", *t, "--pipeline", "gate", "--project", "org/app", "--change", f"{number},1"
    )
    assert done.returncode == 0, done.stderr

    def canceled() -> bool:
        found = {r.uuid: r for r in build_requests(client)}.get(build.uuid)
        return found is None or found.cancel_requested

    wait_for(canceled, 60, "the dequeued change's build canceled")
    assert c.change(number)["status"] == "NEW"
    # A ref into the gate (replaying a ref update), then out again.
    branch_ref = f"refs/heads/{c.change(number)['branch']}"
    args = ["--pipeline", "gate", "--project", "org/app", "--ref", branch_ref]
    done = zuul_client(url, "enqueue-ref", *t, *args)
    assert done.returncode == 0, done.stderr

    def ref_build():  # noqa: ANN202
        fulfil_node_requests(client)
        return next(
            (
                r
                for r in build_requests(client)
                if r.project.ref == branch_ref and not r.cancel_requested
            ),
            None,
        )

    ref_req = wait_for(ref_build, 90, "the ref's build")
    done = zuul_client(
        url, "dequeue", *t, "--pipeline", "gate", "--project", "org/app", "--ref", branch_ref
    )
    assert done.returncode == 0, done.stderr
    wait_for(
        lambda: (
            (f := {r.uuid: r for r in build_requests(client)}.get(ref_req.uuid)) is None
            or f.cancel_requested
        ),
        60,
        "the ref's build canceled",
    )
    # Autohold: create, list, info, delete.
    done = zuul_client(
        url,
        "autohold",
        *t,
        "--project",
        "org/app",
        "--job",
        "unit",
        "--reason",
        "debugging",
        "--count",
        "1",
        "--node-hold-expiration",
        "300",
    )
    assert done.returncode == 0, done.stderr
    listed = requests.get(f"{url}/api/tenant/demo/autohold", timeout=30).json()
    assert [(h["job"], h["reason"], h["node_expiration"]) for h in listed] == [
        ("unit", "debugging", 300)
    ]
    hold_id = listed[0]["id"]
    done = zuul_client(url, "autohold-list", *t, tok=False)
    assert done.returncode == 0 and "debugging" in done.stdout
    done = zuul_client(url, "autohold-info", *t, hold_id, tok=False)
    assert done.returncode == 0 and "Reason: debugging" in done.stdout
    done = zuul_client(url, "autohold-delete", *t, hold_id)
    assert done.returncode == 0, done.stderr
    assert requests.get(f"{url}/api/tenant/demo/autohold", timeout=30).json() == []
    # The admin's token says so.
    auth = admin(url, "GET", "/api/tenant/demo/authorizations").json()
    assert auth == {"zuul": {"admin": True, "scope": ["demo"]}}
