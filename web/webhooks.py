"""Webhook intake: ``POST /api/connection/{name}/payload`` (Zuul's path).

Who calls it: GitHub (or GitHub Enterprise), for every event the App or
repository webhook subscribes to.  The order is the contract:

1. the connection must be a GitHub connection with a ``webhook_token``
   (404 otherwise, naming it);
2. ``X-Hub-Signature-256`` is checked against the raw body before anything
   else is read: bad or missing -> 401, nothing stored;
3. the body must be a JSON object with ``X-GitHub-Event`` and
   ``X-GitHub-Delivery`` headers: else 400 saying what is wrong;
4. events Lockgate never uses (ping, release, ...) -> 200 ``ignored``,
   nothing stored;
5. the delivery is stored on the connection's event queue in ZooKeeper
   (``paths.connection_event_queue``), keyed by its delivery id, and only
   then is 200 ``accepted`` sent: an accepted delivery is never lost.  A
   redelivery with an id already stored (within the queue's dedup window,
   an hour) is 200 ``duplicate`` and stored once.  ZooKeeper away -> 503, so
   GitHub shows the delivery as failed and it can be redelivered.

What comes next: the scheduler holding the connection's event-source lock
maps stored deliveries to trigger events (``lockgate.drivers.github.
event_source``).  Nothing here sends a traceback to the sender.

``add_routes(app)`` registers the route (``lockgate.web.app``);
``configure(app, config, zk)`` gives it the connections' secrets and the
ZooKeeper client (``lockgate.web.server``).
"""

from __future__ import annotations

import asyncio
import functools
import logging
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from lockgate.drivers.github.event_source import delivery_queue
from lockgate.drivers.github.events import ignored
from lockgate.drivers.github.webhook import (
    SIGNATURE_HEADER,
    DeliveryError,
    SignatureError,
    decode_delivery,
    verify_signature,
)
from lockgate.service_config import ServiceConfig
from lockgate.zk.client import ZKClient
from lockgate.zk.errors import RecordTooLarge, ZKError
from lockgate.zk.queues import EventQueue

log = logging.getLogger("lockgate.web.webhooks")

# GitHub caps payloads at 25 MB.
MAX_BODY = 25 * 1024 * 1024


@dataclass
class WebhookReceivers:
    """The GitHub connections' webhook secrets, by connection name."""

    zk: ZKClient | None
    secrets: dict[str, str | None] = field(default_factory=dict)
    # Counters for observers and tests.
    accepted: int = 0
    duplicates: int = 0
    refused: int = 0
    # One queue object per connection, kept: a queue prunes its dedup markers
    # at most once a minute per object, and a fresh one prunes at its first
    # put (reading every marker): one per request made intake quadratic
    # (16 deliveries/s with a few hundred stored; bench/github_webhooks.py).
    queues: dict[str, EventQueue] = field(default_factory=dict)

    def queue(self, connection: str) -> EventQueue:
        assert self.zk is not None
        found = self.queues.get(connection)
        if found is None:
            found = self.queues[connection] = delivery_queue(self.zk, connection)
        return found


WEBHOOKS = web.AppKey("lockgate_webhooks", WebhookReceivers)


def receivers_from_config(config: ServiceConfig, zk: ZKClient | None) -> WebhookReceivers:
    """Every ``[connection NAME]`` with ``driver=github``: its ``webhook_token``
    (the rest of the section is the scheduler's business)."""
    secrets: dict[str, str | None] = {}
    for raw_name, section in config.connections.items():
        if (section.get("driver") or "").strip() == "github":
            secrets[raw_name.strip().strip("\"'")] = section.get("webhook_token") or None
    return WebhookReceivers(zk=zk, secrets=secrets)


def configure(app: web.Application, config: ServiceConfig, zk: ZKClient | None) -> None:
    app[WEBHOOKS] = receivers_from_config(config, zk)


def _answer(http_status: int, **body: Any) -> web.Response:
    return web.json_response(body, status=http_status)


async def payload(request: web.Request) -> web.Response:
    name = request.match_info["connection"]
    receivers = request.app.get(WEBHOOKS)
    if receivers is None or name not in receivers.secrets:
        return _answer(404, error=f"no GitHub connection '{name}' takes webhooks here")
    if request.content_length is not None and request.content_length > MAX_BODY:
        return _answer(413, error=f"payload over {MAX_BODY} bytes")
    body = await request.content.read(MAX_BODY + 1)
    if len(body) > MAX_BODY:
        return _answer(413, error=f"payload over {MAX_BODY} bytes")
    try:
        verify_signature(receivers.secrets[name], body, request.headers.get(SIGNATURE_HEADER))
    except SignatureError as e:
        receivers.refused += 1
        log.warning("webhook for %s from %s refused: %s", name, request.remote or "?", e)
        return _answer(401, error=f"signature check failed: {e}")
    try:
        delivery = decode_delivery(name, request.headers, body)
    except DeliveryError as e:
        log.warning("webhook for %s: bad delivery: %s", name, e)
        return _answer(400, error=f"bad delivery: {e}")
    prefix = f"[e: {delivery.event_id}] webhook {name} {delivery.event} {delivery.delivery}"
    why = ignored(delivery)
    if why is not None:
        log.info("%s: ignored (%s)", prefix, why)
        return _answer(200, status="ignored", reason=why, delivery=delivery.delivery)
    if receivers.zk is None:
        return _answer(503, error="ZooKeeper is not configured; the delivery was not stored")
    queue = receivers.queue(name)
    put = functools.partial(
        queue.put, delivery.to_dict(), dedup_key=f"delivery-{delivery.delivery}"
    )
    try:
        if not receivers.zk.connected:
            raise ZKError(f"ZooKeeper at {receivers.zk.hosts} is not connected")
        entry = await asyncio.get_running_loop().run_in_executor(None, put)
    except RecordTooLarge as e:
        log.error("%s: too large to store: %s", prefix, e)
        return _answer(413, error="the payload is too large to store")
    except Exception as e:  # noqa: BLE001 - ZooKeeper away: GitHub may redeliver
        log.error("%s: could not be stored: %s", prefix, e)
        return _answer(503, error="the delivery could not be stored; try again")
    if entry is None:
        receivers.duplicates += 1
        log.info("%s: already stored (a redelivery)", prefix)
        return _answer(200, status="duplicate", delivery=delivery.delivery)
    receivers.accepted += 1
    log.info("%s: stored", prefix)
    return _answer(200, status="accepted", delivery=delivery.delivery, event_id=delivery.event_id)


def add_routes(app: web.Application) -> None:
    app.router.add_post("/api/connection/{connection}/payload", payload)
