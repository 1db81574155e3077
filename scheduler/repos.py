"""What the scheduler asks git: the state of an item's repositories, and
the files a ref update changed.

Who calls it: the tenant processor, to apply ``PrepareItem`` actions (the
result goes back to the decision core as a ``PrepareResult``) and to give
trigger events their changed files (for ``files``/``irrelevant-files``
matchers).  Heads come from one ``git ls-remote`` per repository (the
driver's clone URL); changed files from ``git diff`` in the scheduler's
local mirror (``lockgate.git.RepoCache``).  Git failures are returned as
errors, never raised into the loop: the decision core retries a few times,
then reports the item as an ERROR.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

from lockgate.drivers.base import Connection
from lockgate.git import ZERO_SHA, GitError, RepoCache, ls_remote, run_git
from lockgate.model.queue import ProjectRepo
from lockgate.scheduler.manager.snapshot import PrepareResult

log = logging.getLogger("lockgate.scheduler.repos")


def default_branch(heads: Mapping[str, str]) -> str:
    """Zuul's default ``default-branch`` is master; a repository without one
    falls back to main, then its first branch."""
    for name in ("master", "main"):
        if name in heads:
            return name
    return sorted(heads)[0] if heads else "master"


class RepoResolver:
    def __init__(self, connections: Mapping[str, Connection], repo_cache: RepoCache) -> None:
        self.connections = connections
        self.repo_cache = repo_cache

    def project_repo(self, connection_name: str, project: str) -> ProjectRepo:
        connection = self.connections.get(connection_name)
        if connection is None:
            raise GitError(f"project {project}: no connection '{connection_name}'")
        source = connection.source()
        url = source.clone_url(project)
        refs = ls_remote(url)
        heads = {
            r[len("refs/heads/") :]: sha for r, sha in refs.items() if r.startswith("refs/heads/")
        }
        return ProjectRepo(
            connection=connection_name,
            project=project,
            canonical_name=source.canonical_name(project),
            canonical_hostname=source.canonical_hostname,
            url=url,
            heads=heads,
            default_branch=default_branch(heads),
        )

    def prepare(self, projects: Sequence[tuple[str, str]]) -> PrepareResult:
        """The repository state of ``projects`` ((connection, project) pairs)."""
        repos: dict[str, ProjectRepo] = {}
        try:
            for connection_name, project in projects:
                repos[project] = self.project_repo(connection_name, project)
        except GitError as e:
            return PrepareResult(error=str(e))
        return PrepareResult(repos=repos)

    def changed_files(
        self, connection_name: str, project: str, oldrev: str | None, newrev: str | None
    ) -> tuple[str, ...] | None:
        """Files that differ between ``oldrev`` and ``newrev``; None when unknown
        (a new branch, a deletion, an unreachable server): file matchers are
        then not applied, as in Zuul."""
        if not oldrev or not newrev or ZERO_SHA in (oldrev, newrev):
            return None
        connection = self.connections.get(connection_name)
        if connection is None:
            return None
        url = connection.source().clone_url(project)
        try:
            path = self.repo_cache.update(url)
            out = run_git(["diff", "--name-only", "--no-renames", oldrev, newrev, "--"], path)
        except GitError as e:
            log.warning(
                "cannot list the files %s..%s changed in %s: %s",
                oldrev[:12],
                newrev[:12],
                project,
                e,
            )
            return None
        return tuple(line for line in out.splitlines() if line)
