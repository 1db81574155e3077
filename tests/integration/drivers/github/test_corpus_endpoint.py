"""Every webhook example of the corpus, signed, through the web's endpoint
(issue 8 §3.5): each is answered 200 (``accepted`` or ``ignored``), none
crashes the web, the accepted ones are stored in ZooKeeper byte for byte,
and the stored deliveries map to the trigger events their payloads mean."""

from __future__ import annotations

import json

import requests
from lockgate.drivers.github.event_source import delivery_queue
from lockgate.drivers.github.events import events_from_delivery, ignored
from lockgate.drivers.github.webhook import Delivery, sign

from tests.fixtures.network import http_get
from tests.unit.drivers.github.corpus import AnsweringLookup, examples, pull
from tests.unit.drivers.github.test_events import EXPECTED_TYPES, IGNORED_EVENTS


def lookup_for(event: str, payload: dict) -> AnsweringLookup:
    """GitHub's answers for what the payload lacks (as the unit test gives them)."""
    pr = payload.get("pull_request")
    lookup = AnsweringLookup([pr] if isinstance(pr, dict) else [])
    if "check_run" in payload:
        project = payload["repository"]["full_name"]
        lookup.pulls.append(pull(project, 2, payload["check_run"]["head_sha"]))
    if event == "status" and "repository" in payload:
        lookup.pulls.append(pull(payload["repository"]["full_name"], 7, payload["sha"]))
    return lookup


def test_every_corpus_payload_is_answered_200_and_maps_to_its_events(
    webhooks, github_emulator, zk_client
):
    secret = github_emulator.webhook_secret
    sent: dict[str, tuple[str, dict]] = {}
    answers: dict[str, str] = {}
    for index, (event, path) in enumerate(examples()):
        body = path.read_bytes()
        delivery_id = f"corpus-{index}"
        reply = requests.post(
            webhooks.payload_url(),
            data=body,
            headers={
                "X-GitHub-Event": event,
                "X-GitHub-Delivery": delivery_id,
                "X-Hub-Signature-256": sign(secret, body),
                "Content-Type": "application/json",
            },
            timeout=30,
        )
        assert reply.status_code == 200, (path.name, reply.status_code, reply.text)
        answers[delivery_id] = reply.json()["status"]
        sent[delivery_id] = (event, json.loads(body))
    assert len(sent) == len(examples()) > 50
    assert set(answers.values()) == {"accepted", "ignored"}
    # Still serving after all of them.
    assert http_get(webhooks.url + "/health/live")[0] == 200
    stored = {
        Delivery.from_dict(data).delivery: Delivery.from_dict(data)
        for _, data in delivery_queue(zk_client, "github").list()
    }
    accepted = {d for d, status in answers.items() if status == "accepted"}
    assert set(stored) == accepted
    mapped = 0
    for delivery_id, (event, payload) in sent.items():
        if delivery_id not in stored:
            # Ignored at the door: events Lockgate never uses, or actions it does not.
            assert event in IGNORED_EVENTS or ignored(
                Delivery("github", event, delivery_id, payload)
            ), delivery_id
            continue
        got = stored[delivery_id]
        assert (got.event, got.payload) == (event, payload)
        events = events_from_delivery(got, lookup_for(event, payload))
        action = payload.get("action")
        if (event, action) in EXPECTED_TYPES:
            want = EXPECTED_TYPES[(event, action)]
            assert [(e.type, e.extra["action"]) for e in events] == [want], delivery_id
        elif event == "pull_request" and action == "closed":
            merged = payload["pull_request"]["merged"]
            assert [e.type for e in events] == ["change-merged" if merged else "change-abandoned"]
        elif event == "push":
            assert [(e.type, e.ref) for e in events] == [("ref-updated", payload["ref"])]
        elif event == "check_run":
            assert events and {e.type for e in events} == {"check_run"}
        elif event == "status" and "repository" in payload:
            assert [e.extra["status"].rsplit(":", 1)[-1] for e in events] == [payload["state"]]
        for index, e in enumerate(events):
            assert e.event_id == got.event_id
            assert e.dedup_key == f"github:github:{delivery_id}:{index}"
        mapped += len(events)
    assert mapped >= 20
