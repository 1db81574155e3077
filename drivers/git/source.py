"""The git driver's ``Source``: what a plain git server tells us about a project.

A git server knows only refs, so everything here is one ``git ls-remote``
of the project's clone URL.  Called by the scheduler (which branches does a
project have, where is a branch's head) and by the executor (where to clone
from).  ``GitError`` from an unreachable server propagates to the caller,
which decides whether to retry.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lockgate.git import ls_remote

if TYPE_CHECKING:
    from lockgate.drivers.git.connection import GitConnection


class GitSource:
    def __init__(self, connection: GitConnection):
        self.connection = connection

    @property
    def connection_name(self) -> str:
        return self.connection.name

    @property
    def canonical_hostname(self) -> str:
        return self.connection.canonical_hostname

    def clone_url(self, project: str) -> str:
        return self.connection.clone_url(project)

    def canonical_name(self, project: str) -> str:
        return f"{self.canonical_hostname}/{project.strip('/')}"

    def get_branches(self, project: str) -> list[str]:
        refs = ls_remote(self.clone_url(project))
        return sorted(r[len("refs/heads/") :] for r in refs if r.startswith("refs/heads/"))

    def get_ref_sha(self, project: str, ref: str) -> str | None:
        """The sha of ``ref``: a full ref (``refs/tags/v1``) or a branch name."""
        full = ref if ref.startswith("refs/") else f"refs/heads/{ref}"
        return ls_remote(self.clone_url(project)).get(full)
