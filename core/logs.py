"""Log lines that carry their event: ``[e: 3f2a…] [build: …] message``.

Who calls it: every process, wherever it logs about something that came from
an event (STYLE 11).  An ``event_id`` is given where an event enters the
system (a ref poll, a timer tick, a webhook); every record derived from it
keeps it, and every log line about that record passes it here, so one
``grep`` of the id follows a change from the poll to its report.

``get_logger("lockgate.scheduler", event_id=..., build=...)`` returns a
``logging.LoggerAdapter``; tags with a value of None are left out, and the
event id always comes first.

Where the lines go: ``configure`` (called by the command line, ``lockgate
-d`` for DEBUG) writes them to stderr, as text (``2024-05-01 12:00:00,123
INFO lockgate.scheduler: [e: 3f2a] ...``) or, with ``[logging] format =
json`` in the service config, as one JSON object per line for log
shippers (``JsonFormatter``: ``time``, ``level``, ``logger``, ``event_id``,
each tag as its own key, ``message`` without the tags, ``exception``).
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import MutableMapping
from datetime import UTC, datetime
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lockgate.service_config import ServiceConfig

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
LOG_FORMATS = ("text", "json")
# The keys every JSON line has; a tag of the same name does not replace one.
_RESERVED = ("time", "level", "logger", "event_id", "message", "exception", "stack")
# Tags written by hand at the start of a message: "[e: 3f2a] [build: b1] ...".
_LEADING_TAG = re.compile(r"\[([A-Za-z_][\w-]*): ([^\]]*)\] ")


def tag_prefix(event_id: str | None = None, **tags: object) -> str:
    """``"[e: ID] [key: value] "`` for the tags that have a value ("" if none)."""
    parts = []
    if event_id:
        parts.append(f"[e: {event_id}]")
    for key, value in tags.items():
        if value is not None and value != "":
            parts.append(f"[{key}: {value}]")
    return " ".join(parts) + " " if parts else ""


class EventLogger(logging.LoggerAdapter[logging.Logger]):
    """A logger that prefixes every message with its event and other tags."""

    def __init__(self, logger: logging.Logger, event_id: str | None = None, **tags: object):
        super().__init__(logger, {"event_id": event_id, **tags})
        self.prefix = tag_prefix(event_id, **tags)

    def process(
        self, msg: Any, kwargs: MutableMapping[str, Any]
    ) -> tuple[Any, MutableMapping[str, Any]]:
        extra = dict(kwargs.get("extra") or {})
        bound = dict(self.extra or {})
        extra.setdefault("event_id", bound.pop("event_id", None))
        # For JsonFormatter: the tags as fields, and the prefix to take off.
        extra.setdefault("lockgate_tags", {k: v for k, v in bound.items() if v not in (None, "")})
        extra.setdefault("lockgate_prefix", self.prefix)
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


# --- where the lines go ------------------------------------------------------------------


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``time`` (UTC, ISO 8601), ``level``,
    ``logger``, ``event_id`` (null when the line is about no event), each
    tag (``build``, ``item``, ...) as a key, ``message`` without the
    ``[e: ...]`` prefix, and ``exception`` with the traceback if any."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        event_id = getattr(record, "event_id", None)
        tags: dict[str, Any] = dict(getattr(record, "lockgate_tags", None) or {})
        prefix = getattr(record, "lockgate_prefix", "")
        if prefix and message.startswith(prefix):
            message = message[len(prefix) :]
        else:
            # A line that wrote its tags by hand: read them back.
            written, message = split_tags(message)
            event_id = event_id or written.pop("e", None)
            for key, value in written.items():
                tags.setdefault(key, value)
        fields: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "event_id": event_id,
        }
        for key, value in tags.items():
            if key not in _RESERVED:
                fields[key] = value
        fields["message"] = message
        if record.exc_info:
            fields["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            fields["stack"] = self.formatStack(record.stack_info)
        return json.dumps(fields, default=str)


def split_tags(message: str) -> tuple[dict[str, str], str]:
    """``"[e: 3f2a] [build: b1] text"`` -> ``({"e": "3f2a", "build": "b1"}, "text")``."""
    tags: dict[str, str] = {}
    rest = message
    while True:
        match = _LEADING_TAG.match(rest)
        if match is None:
            return tags, rest
        tags.setdefault(match.group(1), match.group(2))
        rest = rest[match.end() :]


def log_format(config: ServiceConfig) -> str:
    """``[logging] format`` of the service config: ``text`` (default) or ``json``."""
    section = config.section("logging")
    value = (section.get("format") or "text").strip().lower()
    if value not in LOG_FORMATS:
        raise section.error("format", f"expected one of {', '.join(LOG_FORMATS)}, got {value!r}")
    return value


class _Handler(logging.StreamHandler[IO[str]]):
    """The handler ``configure`` installs (so that a second call replaces it)."""


def configure(*, debug: bool = False, fmt: str = "text", stream: IO[str] | None = None) -> None:
    """Send log lines to ``stream`` (stderr) as ``fmt`` (``text`` or ``json``),
    at DEBUG with ``debug``, else INFO.  Called again (once the service config
    is read) it replaces its own handler.  Like ``logging.basicConfig``, it
    leaves alone a root logger that someone else gave handlers (a test
    runner's capture)."""
    if fmt not in LOG_FORMATS:
        raise ValueError(f"log format {fmt!r}: expected one of {', '.join(LOG_FORMATS)}")
    root = logging.getLogger()
    ours = [h for h in root.handlers if isinstance(h, _Handler)]
    if len(ours) != len(root.handlers):
        return
    for handler in ours:
        root.removeHandler(handler)
    handler = _Handler(stream if stream is not None else sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if debug else logging.INFO)
    # kazoo's debug lines (one per ZooKeeper request) would drown Lockgate's own.
    logging.getLogger("kazoo").setLevel(logging.INFO)
