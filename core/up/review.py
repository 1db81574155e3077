"""The review system of ``lockgate up``: a Gerrit on one machine.

A real Gerrit cannot be installed from the package registries these machines
reach, so ``lockgate up`` runs the Gerrit emulator that Lockgate's tests use
(``tests/fixtures/gerrit`` in the source tree ``lockgate up`` already needs
for its stock configuration): a separate process speaking Gerrit's SSH
(``stream-events``, ``query``, ``review``, git) and REST protocols on
loopback.  Lockgate's Gerrit driver talks to it exactly as to a real Gerrit,
through a ``[connection gerrit]`` section; people use it as they would a
Gerrit — push to ``refs/for/<branch>`` to propose a change, vote with
Code-Review and Workflow — through git and its REST API.

Its changes live in the emulator's memory: each ``lockgate up`` starts it
afresh, with the demo projects' repositories seeded again.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any

from lockgate.up import seed

CONNECTION = "gerrit"


def _emulator_class() -> Any:
    root = str(seed.source_root())
    if root not in sys.path:
        sys.path.insert(0, root)
    from tests.fixtures.gerrit.fixture import GerritEmulator

    return GerritEmulator


class ReviewServer:
    """The emulator process and what Lockgate needs to know about it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.emulator: Any = None

    def start(self, projects: dict[str, dict[str, str | bytes]]) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
        self.emulator = _emulator_class()(self.root)
        self.emulator.start()
        for name, files in projects.items():
            text = {path: _text(content) for path, content in files.items()}
            self.emulator.control.create_project(name, text, branch="main")

    @property
    def control(self) -> Any:
        """The emulator's control client (create changes, vote, read reviews)."""
        return self.emulator.control

    @property
    def baseurl(self) -> str:
        return str(self.emulator.baseurl)

    def connection_section(self) -> str:
        """``[connection gerrit]`` as a Zuul user writes it for this server
        (plus no replication delay: the emulator has no replicas)."""
        keys = dict(self.emulator.zuul_conf_section(CONNECTION))
        keys["event_delay"] = "0"
        keys["canonical_hostname"] = "review.lockgate.local"
        lines = [f"[connection {CONNECTION}]"] + [f"{k} = {v}" for k, v in keys.items()]
        return "\n".join(lines) + "\n"

    def user_clone_url(self, project: str) -> str:
        """Where a person clones a project and pushes ``HEAD:refs/for/main``."""
        account = self.emulator.accounts["admin"]
        host = self.baseurl.split("://", 1)[1]
        return f"http://admin:{account.http_password}@{host}/a/{project}"

    def stop(self) -> None:
        if self.emulator is not None:
            self.emulator.stop(remove=False)
            self.emulator = None


def _text(content: str | bytes) -> str:
    return content.decode() if isinstance(content, bytes) else content
