"""A GitHub webhook delivery: signature check and decoding (pure, no I/O).

Who calls it: the web's webhook route (``lockgate.web.webhooks``) for every
``POST /api/connection/{name}/payload``, in this order: ``verify_signature``
first (nothing is read or stored before the HMAC of the body with the
connection's ``webhook_token`` matches ``X-Hub-Signature-256``), then
``decode_delivery``; what comes next: the web stores the ``Delivery`` in the
connection's event queue in ZooKeeper, keyed by its delivery id, and the
scheduler's ``GithubEventSource`` turns it into trigger events
(``lockgate.drivers.github.events``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lockgate.model.events import new_event_id
from lockgate.model.serial import from_dict, to_dict

SIGNATURE_HEADER = "X-Hub-Signature-256"
EVENT_HEADER = "X-GitHub-Event"
DELIVERY_HEADER = "X-GitHub-Delivery"


class SignatureError(Exception):
    """The delivery is not signed with the connection's secret."""


class DeliveryError(ValueError):
    """The delivery cannot be read; ``str()`` says what is wrong."""


def sign(secret: str, body: bytes) -> str:
    """``sha256=<hex>``: GitHub's ``X-Hub-Signature-256`` of ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify_signature(secret: str | None, body: bytes, header: str | None) -> None:
    """Raise ``SignatureError`` unless ``header`` is the HMAC-SHA256 of
    ``body`` with ``secret`` (compared in constant time)."""
    if not secret:
        raise SignatureError("this connection has no webhook_token; deliveries are refused")
    if not header:
        raise SignatureError(f"no {SIGNATURE_HEADER} header")
    if not header.startswith("sha256="):
        raise SignatureError(f"{SIGNATURE_HEADER} is not 'sha256=<hex>'")
    if not hmac.compare_digest(sign(secret, body), header.strip()):
        raise SignatureError(f"{SIGNATURE_HEADER} does not match the body")


@dataclass(frozen=True)
class Delivery:
    """One accepted delivery, as stored in the connection's event queue.

    ``event_id`` is Lockgate's id for everything derived from it (log lines
    say ``[e: ...]``); ``delivery`` is GitHub's ``X-GitHub-Delivery`` (a
    redelivery has the same one, which is what deduplicates it)."""

    connection: str
    event: str
    delivery: str
    payload: dict[str, Any]
    received: float = field(default_factory=time.time)
    event_id: str = field(default_factory=new_event_id)

    def to_dict(self) -> dict[str, Any]:
        return to_dict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Delivery:
        return from_dict(cls, data)


def decode_delivery(connection: str, headers: Mapping[str, str], body: bytes) -> Delivery:
    """The delivery's event type, id and JSON payload; ``DeliveryError`` for
    a body that is not a JSON object or a delivery without its headers."""
    event = (headers.get(EVENT_HEADER) or "").strip()
    if not event:
        raise DeliveryError(f"no {EVENT_HEADER} header")
    delivery = (headers.get(DELIVERY_HEADER) or "").strip()
    if not delivery:
        raise DeliveryError(f"no {DELIVERY_HEADER} header")
    try:
        payload = json.loads(body)
    except UnicodeDecodeError:
        raise DeliveryError("the body is not UTF-8 JSON") from None
    except json.JSONDecodeError as e:
        raise DeliveryError(
            f"the body is not JSON (line {e.lineno} column {e.colno}: {e.msg})"
            + (" — truncated?" if e.pos >= len(body.rstrip()) else "")
        ) from None
    if not isinstance(payload, dict):
        raise DeliveryError(f"the body is JSON but not an object ({type(payload).__name__})")
    return Delivery(connection=connection, event=event, delivery=delivery, payload=payload)
