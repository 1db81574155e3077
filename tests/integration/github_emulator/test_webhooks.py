"""Webhook deliveries: GitHub's headers and HMAC signature over the exact body,
order, recorded response codes, redelivery with the same delivery id, and a
receiver that is down and comes back."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid

from tests.fixtures.github import GitHubEmulator
from tests.fixtures.network import free_port
from tests.fixtures.waiting import wait_for
from tests.integration.github_emulator.helpers import Receiver

REPO = "acme/widget"


def test_signed_deliveries_in_order(github_emulator: GitHubEmulator, receiver: Receiver) -> None:
    gh = github_emulator
    gh.control.set_webhook(url=receiver.url)
    gh.control.create_repo(REPO)
    gh.control.open_pull(REPO, "feature", {"a.txt": "a\n"}, author="bob")
    gh.control.comment(REPO, 1, "recheck", user="alice")
    got = wait_for(lambda: receiver.events("issue_comment"), 10, "the comment webhook")
    events = [(r.event, r.payload.get("action")) for r in receiver.received]
    assert events == [("push", None), ("pull_request", "opened"), ("issue_comment", "created")]
    for r in receiver.received:
        expected = (
            "sha256=" + hmac.new(gh.webhook_secret.encode(), r.body, hashlib.sha256).hexdigest()
        )
        assert hmac.compare_digest(r.headers["X-Hub-Signature-256"], expected)
        assert r.headers["Content-Type"] == "application/json"
        assert r.headers["User-Agent"].startswith("GitHub-Hookshot/")
        assert str(uuid.UUID(r.headers["X-GitHub-Delivery"])) == r.headers["X-GitHub-Delivery"]
        assert r.headers["X-GitHub-Hook-Installation-Target-Type"] == "integration"
    payload = got[0].payload
    assert payload["comment"]["body"] == "recheck" and payload["issue"]["number"] == 1
    assert payload["installation"]["id"] == gh.installation_id("acme")
    recorded = gh.control.delivery(3)
    assert recorded["body"].encode() == got[0].body
    assert recorded["guid"] == got[0].headers["X-GitHub-Delivery"]
    gh.control.wait_deliveries_done()
    assert [d["status_code"] for d in gh.control.deliveries()] == [200, 200, 200]


def test_redelivery_keeps_the_delivery_id(
    github_emulator: GitHubEmulator, receiver: Receiver
) -> None:
    gh = github_emulator
    gh.control.set_webhook(url=receiver.url)
    gh.control.create_repo(REPO)
    receiver.status = 500
    gh.control.push(REPO, "main", {"b.txt": "b\n"})
    gh.control.wait_deliveries_done()
    first = gh.control.deliveries()[0]
    assert first["status_code"] == 500 and first["delivered"] is False
    receiver.status = 202
    gh.control.redeliver(first["id"])
    wait_for(lambda: len(receiver.received) == 2, 10, "the redelivery")
    guids = [r.headers["X-GitHub-Delivery"] for r in receiver.received]
    assert guids[0] == guids[1] == first["guid"]
    assert receiver.received[0].body == receiver.received[1].body
    gh.control.wait_deliveries_done()
    again = gh.control.delivery(first["id"])
    assert [(a["status"], a["redelivery"]) for a in again["attempts"]] == [
        (500, False),
        (202, True),
    ]
    assert again["delivered"] is True


def test_receiver_down_then_up(github_emulator: GitHubEmulator, receiver: Receiver) -> None:
    gh = github_emulator
    gh.control.set_webhook(url=receiver.url)
    gh.control.create_repo(REPO)
    gh.control.receiver_down()
    gh.control.open_pull(REPO, "feature", {"a.txt": "a\n"}, author="bob")
    gh.control.label(REPO, 1, add=["gate"], user="alice")
    gh.control.wait_deliveries_done()
    assert receiver.received == []
    pending = gh.control.deliveries()
    assert [d["attempts"] for d in pending] == [[], [], []]
    assert gh.control.receiver_up() == 3
    wait_for(lambda: len(receiver.received) == 3, 10, "the held deliveries")
    assert [r.payload.get("action") for r in receiver.received] == [None, "opened", "labeled"]


def test_unreachable_receiver_is_recorded(github_emulator: GitHubEmulator) -> None:
    gh = github_emulator
    gh.control.set_webhook(url=f"http://127.0.0.1:{free_port()}/payload")
    gh.control.create_repo(REPO)
    gh.control.push(REPO, "main", {"b.txt": "b\n"})
    gh.control.wait_deliveries_done()
    attempt = gh.control.deliveries()[0]["attempts"][0]
    assert attempt["status"] is None and "Connect" in attempt["error"]
    body = json.loads(gh.control.delivery(1)["body"])
    assert body["ref"] == "refs/heads/main" and body["created"] is False
