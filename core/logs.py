"""Log lines that carry their event: ``[e: 3f2a…] [build: …] message``.

Who calls it: every process, wherever it logs about something that came from
an event (STYLE 11).  An ``event_id`` is given where an event enters the
system (a ref poll, a timer tick, a webhook); every record derived from it
keeps it, and every log line about that record passes it here, so one
``grep`` of the id follows a change from the poll to its report.

``get_logger("lockgate.scheduler", event_id=..., build=...)`` returns a
``logging.LoggerAdapter``; tags with a value of None are left out, and the
event id always comes first.
"""

from __future__ import annotations

import logging
from collections.abc import MutableMapping
from typing import Any


def tag_prefix(event_id: str | None = None, **tags: object) -> str:
    """``"[e: ID] [key: value] "`` for the tags that have a value ("" if none)."""
    parts = []
    if event_id:
        parts.append(f"[e: {event_id}]")
    for key, value in tags.items():
        if value is not None and value != "":
            parts.append(f"[{key}: {value}]")
    return " ".join(parts) + " " if parts else ""


class EventLogger(logging.LoggerAdapter):  # type: ignore[type-arg]
    """A logger that prefixes every message with its event and other tags."""

    def __init__(self, logger: logging.Logger, event_id: str | None = None, **tags: object):
        super().__init__(logger, {"event_id": event_id, **tags})
        self.prefix = tag_prefix(event_id, **tags)

    def process(
        self, msg: Any, kwargs: MutableMapping[str, Any]
    ) -> tuple[Any, MutableMapping[str, Any]]:
        extra = dict(kwargs.get("extra") or {})
        extra.setdefault("event_id", self.extra.get("event_id") if self.extra else None)
        kwargs["extra"] = extra
        return f"{self.prefix}{msg}", kwargs

    def bind(self, **tags: object) -> EventLogger:
        """A logger with more tags (``log.bind(build=uuid)``)."""
        base = dict(self.extra or {})
        event_id = base.pop("event_id", None)
        base.update(tags)
        return EventLogger(self.logger, str(event_id) if event_id else None, **base)


def get_logger(name: str, event_id: str | None = None, **tags: object) -> EventLogger:
    """``logging.getLogger(name)`` whose lines start with ``[e: event_id]`` and ``tags``."""
    return EventLogger(logging.getLogger(name), event_id, **tags)
