"""Webhooks from the GitHub emulator into the web service and ZooKeeper, and on
through the driver's event source to trigger events."""

from __future__ import annotations

import json
import threading
from types import SimpleNamespace

import requests
from lockgate.drivers.github.event_source import GithubEventSource, delivery_queue
from lockgate.drivers.github.webhook import Delivery, sign
from lockgate.model.events import TriggerEvent

from tests.fixtures.waiting import wait_for

PR_BODY = json.dumps(
    {
        "action": "opened",
        "number": 1,
        "repository": {"full_name": "org/repo"},
        "pull_request": {"number": 1, "head": {"sha": "a" * 40}, "base": {"ref": "main"}},
    }
).encode()


def post(web, body: bytes, *, secret: str | None, delivery: str = "d-1", event="pull_request"):
    headers = {"X-GitHub-Event": event, "X-GitHub-Delivery": delivery}
    if secret is not None:
        headers["X-Hub-Signature-256"] = sign(secret, body)
    return requests.post(web.payload_url(), data=body, headers=headers, timeout=30)


def test_a_signed_delivery_is_in_zookeeper_when_the_200_comes(webhooks, github_emulator, zk_client):
    queue = delivery_queue(zk_client, "github")
    reply = post(webhooks, PR_BODY, secret=github_emulator.webhook_secret)
    # Read right after the answer: the entry must already be there.
    entries = queue.list()
    assert reply.status_code == 200 and reply.json()["status"] == "accepted"
    assert len(entries) == 1
    stored = Delivery.from_dict(entries[0][1])
    assert (stored.event, stored.delivery, stored.payload["number"]) == ("pull_request", "d-1", 1)
    assert stored.event_id == reply.json()["event_id"]


def test_bad_or_missing_signatures_are_401_and_nothing_is_stored(
    webhooks, github_emulator, zk_client
):
    queue = delivery_queue(zk_client, "github")
    assert post(webhooks, PR_BODY, secret="wrong").status_code == 401
    reply = post(webhooks, PR_BODY, secret=None)
    assert reply.status_code == 401 and "X-Hub-Signature-256" in reply.json()["error"]
    assert len(queue) == 0 and webhooks.receivers.refused == 2


def test_malformed_json_is_400_with_a_message(webhooks, github_emulator, zk_client):
    body = PR_BODY[:30]
    reply = post(webhooks, body, secret=github_emulator.webhook_secret)
    assert reply.status_code == 400 and "not JSON" in reply.json()["error"]
    assert len(delivery_queue(zk_client, "github")) == 0


def test_unknown_connection_is_404_and_ignored_events_are_200(webhooks, github_emulator, zk_client):
    reply = requests.post(webhooks.url + "/api/connection/nope/payload", data=b"{}", timeout=30)
    assert reply.status_code == 404 and "nope" in reply.json()["error"]
    ping = post(webhooks, b'{"zen": "hi"}', secret=github_emulator.webhook_secret, event="ping")
    assert ping.status_code == 200 and ping.json()["status"] == "ignored"
    assert len(delivery_queue(zk_client, "github")) == 0


def test_the_emulators_deliveries_are_accepted_and_a_redelivery_is_stored_once(
    webhooks, github_emulator, zk_client
):
    control = github_emulator.control
    control.create_repo("org/repo", {"README": "hi\n"})
    control.open_pull("org/repo", "topic", {"a.txt": "x\n"}, title="T")
    control.wait_deliveries_done()
    opened = [d for d in control.deliveries(event="pull_request") if d["action"] == "opened"]
    assert [d["status_code"] for d in opened] == [200]
    queue = delivery_queue(zk_client, "github")
    before = len(queue)
    control.redeliver(opened[0]["id"])
    control.wait_deliveries_done()
    assert len(queue) == before  # stored once
    assert webhooks.receivers.duplicates == 1


def test_a_wrong_secret_at_github_gets_401_from_the_web(webhooks, github_emulator, zk_client):
    control = github_emulator.control
    control.set_webhook(secret="not-the-secret")
    control.create_repo("org/repo", {"README": "hi\n"})
    control.push("org/repo", "main", {"b.txt": "b\n"})
    control.wait_deliveries_done()
    (push,) = control.deliveries(event="push")
    assert push["status_code"] == 401
    assert len(delivery_queue(zk_client, "github")) == 0


class Sink:
    def __init__(self, projects: set[str]) -> None:
        self.events: list[TriggerEvent] = []
        self.keys: set[str] = set()
        self.projects = projects
        self.lock = threading.Lock()

    def __call__(self, event: TriggerEvent) -> None:
        # As the scheduler's sink: the trigger queue keeps one per dedup key.
        with self.lock:
            if event.dedup_key not in self.keys:
                self.keys.add(event.dedup_key)
                self.events.append(event)

    def hooks(self):
        return SimpleNamespace(
            sink=self, projects=lambda: self.projects, state_get=None, state_set=None
        )


def test_deliveries_become_trigger_events_once(webhooks, github_emulator, connection, zk_client):
    control = github_emulator.control
    control.create_repo("org/repo", {"README": "hi\n"}, collaborators={"alice": "write"})
    control.create_repo("org/elsewhere", {"README": "hi\n"})
    sink = Sink({"org/repo"})
    source = GithubEventSource(connection, sink.hooks(), zk_client)  # type: ignore[arg-type]
    source.start()
    try:
        pr = control.open_pull("org/repo", "topic", {"a.txt": "x\n"}, title="T")
        control.open_pull("org/elsewhere", "topic", {"a.txt": "x\n"}, title="T")
        control.comment("org/repo", pr["number"], "recheck please", user="alice")
        new_head = control.push_to_pull("org/repo", pr["number"], {"a.txt": "y\n"})
        control.wait_deliveries_done()
        wait_for(lambda: len(delivery_queue(zk_client, "github")) == 0, 30, "deliveries read")
        (opened_id,) = [
            d["id"] for d in control.deliveries(event="pull_request") if d["action"] == "opened"
        ][:1]
        control.redeliver(opened_id)
        control.wait_deliveries_done()
        wait_for(lambda: len(delivery_queue(zk_client, "github")) == 0, 30, "deliveries read")
    finally:
        source.stop()
    kinds = [(e.type, e.extra.get("action"), e.project) for e in sink.events]
    assert ("ref-updated", None, "org/repo") in kinds
    assert kinds.count(("patchset-created", "opened", "org/repo")) == 1
    assert ("comment-added", "comment", "org/repo") in kinds
    assert all(p == "org/repo" for _, _, p in kinds)  # org/elsewhere is in no tenant
    opened, changed = [e for e in sink.events if e.type == "patchset-created"]
    assert changed.patchset_id == new_head and changed.extra["action"] == "changed"
    assert changed.patchset >= opened.patchset > 0
    comment = next(e for e in sink.events if e.type == "comment-added")
    assert comment.comment == "recheck please" and comment.account["username"] == "alice"
    # The scheduler asks the source for the change by number: the event taught it the repo.
    change = connection.source().get_change(pr["number"], changed.patchset_id)
    assert change.commit == new_head and change.is_current_patchset
    assert change.patchset == changed.patchset
