"""``lockgate merger``: a process that only serves merge requests.

Run for scale: every executor serves merge requests too (``[executor]
merge_jobs``), but a busy gate asks for many merges and few builds, so
operators add mergers.  ``lockgate merger`` calls ``main(config)``; tests make
a ``Merger(config)`` and call ``start()`` / ``stop()``.

Settings (``[merger]``): ``state_dir`` (mirrors under ``git_dir``, default
``<state_dir>/git``, and work repositories under ``<state_dir>/work``),
``hostname``, ``max_merges`` (default 4).  Zuul's ``git_user_name`` and
``git_user_email`` are accepted and ignored: merge commits have a fixed
identity, which is what lets an executor rebuild exactly the same commits.

Registration: a ``merger`` component (``lockgate.zk.components``).
Stopping (SIGTERM, SIGINT): no new claims; merges under way are finished and
stored, for at most ``STOP_TIMEOUT`` seconds (the process exits within
``lockgate.lifecycle``'s deadline whatever ZooKeeper does).  Killed: its
claims vanish with its session and other mergers serve the requests.
"""

from __future__ import annotations

import logging
import socket
from dataclasses import dataclass
from pathlib import Path

from lockgate.executor.merger import MergeServer, fetch_env_of, sources_of
from lockgate.git.merge_runner import MergeRunner
from lockgate.git.repo_cache import RepoCache
from lockgate.lifecycle import serve
from lockgate.metrics import Metrics
from lockgate.service_config import ServiceConfig
from lockgate.zk import Component, ZKClient, ZKError, register
from lockgate.zk.client import client_from_config

log = logging.getLogger("lockgate.merger")

# Seconds ``stop`` waits for merges under way.
STOP_TIMEOUT = 5.0
UNHURRIED_STOP_TIMEOUT = 60.0  # a stop() not asked for by a signal


@dataclass
class MergerSettings:
    state_dir: Path
    git_dir: Path
    hostname: str
    max_merges: int

    @classmethod
    def from_config(cls, config: ServiceConfig) -> MergerSettings:
        section = config.section("merger")
        state_dir = Path(section.get_path("state_dir") or "/var/lib/lockgate/merger").absolute()
        git_dir = section.get_path("git_dir")
        max_merges = section.get_int("max_merges", 4) or 0
        if max_merges < 1:
            raise section.error("max_merges", "must be at least 1")
        return cls(
            state_dir=state_dir,
            git_dir=Path(git_dir).absolute() if git_dir else state_dir / "git",
            hostname=section.get("hostname") or socket.gethostname(),
            max_merges=max_merges,
        )


class Merger:
    def __init__(self, config: ServiceConfig, *, client: ZKClient | None = None):
        self.config = config
        self.settings = MergerSettings.from_config(config)
        self._own_client = client is None
        self.client = client
        self.fetch_env = fetch_env_of(sources_of(config))
        self.component: Component | None = None
        self.server: MergeServer | None = None
        self._stop_timeout = UNHURRIED_STOP_TIMEOUT  # STOP_TIMEOUT once a signal asks
        self.metrics = Metrics.for_component(config, "merger", self.settings.hostname)

    def start(self) -> None:
        self.settings.state_dir.mkdir(parents=True, exist_ok=True)
        if self.client is None:
            self.client = client_from_config(self.config.require_section("zookeeper").values)
        if not self.client.connected:
            self.client.connect()
        self.metrics.start(self.client)
        self.component = register(
            self.client,
            "merger",
            {"state": "running", "max_merges": self.settings.max_merges},
            hostname=self.settings.hostname,
        )
        runner = MergeRunner(
            RepoCache(self.settings.git_dir),
            self.settings.state_dir / "work",
            fetch_env=self.fetch_env,
        )
        self.server = MergeServer(
            self.client,
            runner,
            self.component.name,
            max_merges=self.settings.max_merges,
            metrics=self.metrics,
        )
        self.server.start()
        self.metrics.ready()
        log.info("merger %s started", self.component.name)

    def request_stop(self) -> None:
        """The process is stopping: no ZooKeeper call waits for a lost connection."""
        if self._own_client and self.client is not None:
            self.client.begin_shutdown()
        self._stop_timeout = STOP_TIMEOUT

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop(self._stop_timeout)
        if self.component is not None:
            try:
                self.component.unregister()
            except ZKError:
                pass
        if self._own_client and self.client is not None:
            self.client.disconnect()
        self.metrics.stop()
        log.info("merger stopped")


def main(config: ServiceConfig) -> int:
    """Run a merger until SIGTERM or SIGINT; the exit status for ``lockgate merger``."""
    return serve("merger", lambda: Merger(config), log)
