"""A git connection: ``[connection NAME]`` with ``driver=git``.

Keys, as in Zuul's git driver:

- ``baseurl`` (required): a URL (``https://``, ``git://``, ``ssh://``,
  ``file://``) or a local path; a project's clone URL is
  ``baseurl + "/" + project``;
- ``poll_delay`` (default 7200): seconds between two polls of every
  project's refs; fractional values are accepted (tests and demos poll
  several times a second);
- ``canonical_hostname`` (default: the host of ``baseurl``, or
  ``localhost`` for a path): the first part of a project's canonical name;
- ``poll_workers`` (Lockgate's, default 16): how many projects one poll
  round asks at once (``git ls-remote`` each), so that a round over many
  projects costs about one ``ls-remote``, not one per project.

Built by ``GitDriver.make_connection`` from the service config; the
scheduler asks it for a ``GitSource`` and a ``GitPoller``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from urllib.parse import urlsplit

from lockgate.drivers.base import EventSourceHooks
from lockgate.drivers.git.event_source import GitPoller
from lockgate.drivers.git.source import GitSource
from lockgate.service_config import Section

DEFAULT_POLL_DELAY = 7200.0
DEFAULT_POLL_WORKERS = 16
# ``name`` is accepted (and ignored) because older ``zuul.conf`` files repeat
# the section's name inside it.
KEYS = {"driver", "name", "baseurl", "poll_delay", "canonical_hostname", "poll_workers"}


@dataclass(frozen=True)
class GitConnection:
    name: str
    baseurl: str
    poll_delay: float = DEFAULT_POLL_DELAY
    canonical_hostname: str = "localhost"
    poll_workers: int = DEFAULT_POLL_WORKERS

    @property
    def driver_name(self) -> str:
        return "git"

    @classmethod
    def from_section(cls, name: str, section: Section) -> GitConnection:
        section.known(KEYS)
        baseurl = section.require("baseurl").strip().rstrip("/")
        if not baseurl or baseurl.startswith("-"):
            raise section.error("baseurl", f"not a URL or path: {section.get('baseurl')!r}")
        poll_delay = section.get_float("poll_delay", DEFAULT_POLL_DELAY)
        assert poll_delay is not None
        if not math.isfinite(poll_delay) or poll_delay <= 0:
            raise section.error(
                "poll_delay",
                f"must be a positive number of seconds, got {section.get('poll_delay')!r}",
            )
        hostname = section.get("canonical_hostname") or urlsplit(baseurl).hostname or "localhost"
        workers = section.get_int("poll_workers", DEFAULT_POLL_WORKERS)
        if workers is None or workers < 1:
            raise section.error("poll_workers", f"must be at least 1, got {workers}")
        return cls(
            name=name,
            baseurl=baseurl,
            poll_delay=poll_delay,
            canonical_hostname=hostname,
            poll_workers=workers,
        )

    def clone_url(self, project: str) -> str:
        return f"{self.baseurl}/{project.strip('/')}"

    def source(self) -> GitSource:
        return GitSource(self)

    def event_source(self, hooks: EventSourceHooks) -> GitPoller:
        return GitPoller(self, hooks)
