"""Workspace preparation: every repository a build needs, checked out in its build directory.

The runner calls ``prepare_repos`` right after creating the ``JobDir``; a
repository with merge steps (a speculative state) is rebuilt by replaying
them with the merger's code and checked against the merger's commit;
``PlaybookProjects`` then tells it where each ``PlaybookRef``'s project lives.
Repositories come from a per-executor cache of bare mirrors
(``lockgate.git.RepoCache`` under ``<state_dir>/git``): a mirror is fetched
only when it does not yet hold the commit a build asks for, so repeated
builds of the same project cost one local clone each (hard links, no
network).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from lockgate.executor.jobdir import JobDir
from lockgate.git import GitError, RefNotFound, RepoCache, run_git
from lockgate.git.merger import replay
from lockgate.model.builds import BuildRequest, RepoState
from lockgate.model.jobs import PlaybookRef


class WorkspaceError(Exception):
    """A repository could not be prepared; ``str()`` names the repository and why."""


@dataclass(frozen=True)
class Checkout:
    repo: RepoState
    path: Path
    commit: str
    src_dir: str = ""  # relative to the work root, as in zuul.projects.*.src_dir


def src_dir(repo: RepoState, scheme: str = "golang") -> str:
    """Where a repository goes under ``work/``, by the job's ``workspace-scheme``.

    ``flat`` uses the project's last name component; ``golang`` (the
    default) and ``unique`` use the canonical name (hostname/project), which
    never collides.  The scheduler computes the same for ``zuul.projects``.
    """
    if scheme == "flat":
        return f"src/{repo.project.rsplit('/', 1)[-1]}"
    return f"src/{repo.canonical_name}"


_FULL_SHA = re.compile(r"[0-9a-f]{40}")


def _head(path: Path) -> str:
    return run_git(["rev-parse", "HEAD"], path).strip()


def _mirror_has(cache: RepoCache, url: str, sha: str) -> bool:
    try:
        cache.commit_sha(url, sha)
    except RefNotFound:
        return False
    return True


def _speculative_checkout(
    cache: RepoCache,
    repo: RepoState,
    dest: Path,
    fetch_env: Callable[[str], Mapping[str, str] | None] | None,
) -> str:
    """Check out ``repo.base`` and replay ``repo.steps`` (the merger's
    changes); the result must be ``repo.commit``.  The work tree ends on a
    local branch named as the item's branch, at the merged commit."""
    if not repo.base or not repo.branch:
        raise WorkspaceError(
            f"{repo.canonical_name}: merge steps need the branch and the base commit they "
            "apply to (the build request is malformed)"
        )
    # The mirror normally holds the base and the changes (a mirror fetches
    # Gerrit's change refs too); if not, one fetch brings them.
    wanted = [repo.base, *(step.commit for step in repo.steps)]
    if not all(_mirror_has(cache, repo.url, sha) for sha in wanted):
        cache.update(repo.url)
    cache.checkout(repo.url, repo.base, dest, branch=repo.branch)
    env = fetch_env(repo.connection) if fetch_env else None
    return replay(dest, repo.base, repo.steps, repo.commit, branch=repo.branch, fetch_env=env)


def prepare_repos(
    cache: RepoCache,
    jobdir: JobDir,
    request: BuildRequest,
    *,
    fetch_env: Callable[[str], Mapping[str, str] | None] | None = None,
) -> dict[str, Checkout]:
    """Check out every repository of ``request`` under ``work/src``; {canonical_name: Checkout}.

    The triggering project is always included, even if the scheduler left it
    out of ``request.repos``.  Two repositories that would land in the same
    directory (``flat`` scheme, same short name) are an error.  A repository
    with merge steps is rebuilt at the merger's speculative state, and it is
    an error if that does not give the commit the merger made;
    ``fetch_env(connection)`` helps fetch a change the mirror lacks.
    """
    scheme = request.job.workspace_scheme or "golang"
    repos = list(request.repos)
    if not any(r.canonical_name == request.project.canonical_name for r in repos):
        repos.insert(0, request.project)
    checkouts: dict[str, Checkout] = {}
    taken: dict[Path, str] = {}
    for repo in repos:
        rel = src_dir(repo, scheme)
        dest = jobdir.work_root / rel
        if not dest.resolve().is_relative_to(jobdir.src_root.resolve()) or dest == jobdir.src_root:
            raise WorkspaceError(f"{repo.canonical_name}: not a valid project name")
        if dest in taken:
            raise WorkspaceError(
                f"{repo.canonical_name} and {taken[dest]} would both be "
                f"checked out at {rel} (workspace-scheme {scheme})"
            )
        taken[dest] = repo.canonical_name
        dest.parent.mkdir(parents=True, exist_ok=True)
        rev = repo.commit or repo.ref
        try:
            if repo.steps:
                sha = _speculative_checkout(cache, repo, dest, fetch_env)
            else:
                try:
                    cache.checkout(repo.url, rev, dest, branch=repo.branch)
                except RefNotFound:
                    # The mirror is older than the commit: fetch once and retry.
                    cache.update(repo.url)
                    cache.checkout(repo.url, rev, dest, branch=repo.branch)
                sha = rev if _FULL_SHA.fullmatch(rev) else _head(dest)
        except GitError as e:
            raise WorkspaceError(f"preparing {repo.canonical_name} at {repo.commit}: {e}") from None
        checkouts[repo.canonical_name] = Checkout(repo=repo, path=dest, commit=sha, src_dir=rel)
    return checkouts


def find_checkout(checkouts: dict[str, Checkout], connection: str, project: str) -> Checkout | None:
    """The checkout of a project named as in the tenant config (``demo/app``)."""
    for checkout in checkouts.values():
        repo = checkout.repo
        if repo.project == project and (not connection or repo.connection == connection):
            return checkout
    for checkout in checkouts.values():
        if checkout.repo.canonical_name == project:
            return checkout
    return None


class Sources(Protocol):
    """What the executor knows of a connection: where a project is cloned from."""

    def clone_url(self, project: str) -> str: ...

    def canonical_name(self, project: str) -> str: ...


class PlaybookProjects:
    """Where each playbook and role of a build comes from.

    A playbook is read from its project's checkout in ``work/src`` when that
    checkout is on the playbook's branch (the triggering project at the
    item's commit, a required project at its branch head).  Otherwise —
    another branch of a project of the build, or a project that is not one
    of the build's repositories at all, typically the config project holding
    the base job's playbooks — the project is fetched (so a branch head is
    current) and its branch head checked out once per build under
    ``ansible/projects/`` (read-only in the sandbox).  Projects outside the
    build are found through the executor's ``[connection NAME]`` sections.
    """

    def __init__(
        self,
        cache: RepoCache,
        jobdir: JobDir,
        checkouts: dict[str, Checkout],
        sources: Mapping[str, Sources] | None = None,
    ):
        self.cache = cache
        self.jobdir = jobdir
        self.checkouts = checkouts
        self.sources = sources or {}
        self._extra: dict[tuple[str, str, str | None], Path] = {}

    def project_root(self, connection: str, project: str, branch: str | None) -> Path:
        checkout = find_checkout(self.checkouts, connection, project)
        if checkout is not None and (
            not branch or not checkout.repo.branch or branch == checkout.repo.branch
        ):
            return checkout.path
        key = (connection, project, branch)
        if key not in self._extra:
            self._extra[key] = self._checkout_head(checkout, connection, project, branch)
        return self._extra[key]

    def _checkout_head(
        self, checkout: Checkout | None, connection: str, project: str, branch: str | None
    ) -> Path:
        if checkout is not None:
            url, canonical = checkout.repo.url, checkout.repo.canonical_name
        else:
            source = self.sources.get(connection)
            if source is None:
                raise WorkspaceError(
                    f"project {project!r} (connection {connection!r}) is not among the build's "
                    "repositories, and the executor has no such connection to fetch it from"
                )
            url, canonical = source.clone_url(project), source.canonical_name(project)
        dest = self.jobdir.playbook_root / f"{canonical}@{branch or 'HEAD'}"
        try:
            self.cache.update(url)
            rev = f"refs/heads/{branch}" if branch else "HEAD"
            sha = self.cache.commit_sha(url, rev)
            dest.parent.mkdir(parents=True, exist_ok=True)
            self.cache.checkout(url, sha, dest, branch=branch)
        except GitError as e:
            raise WorkspaceError(
                f"preparing {project}"
                + (f" branch {branch}" if branch else "")
                + f" for playbooks: {e}"
            ) from None
        return dest

    def playbook(self, ref: PlaybookRef) -> Path:
        """The file a playbook reference points to (Zuul accepts it without ``.yaml``)."""
        root = self.project_root(ref.connection, ref.project, ref.branch)
        path = (root / ref.path).resolve()
        if not path.is_relative_to(root.resolve()):
            raise WorkspaceError(
                f"playbook {ref.path!r} of {ref.project} is outside its repository"
            )
        if path.is_file():
            return path
        for suffix in (".yaml", ".yml"):
            if path.with_name(path.name + suffix).is_file():
                return path.with_name(path.name + suffix)
        raise WorkspaceError(
            f"playbook {ref.path!r} not found in {ref.project}"
            + (f" branch {ref.branch}" if ref.branch else "")
        )

    def roles(self, ref: PlaybookRef, index: int) -> list[Path]:
        """Roles path entries for a playbook's ``roles`` (Zuul's ``{zuul: project, name}``).

        A project that *is* a role (it has ``tasks/``) is linked under its
        role name (its ``name``, or the project's last path component); a
        project with a ``roles/`` directory contributes that directory.
        The implicit role (``implicit``: the project holding the playbook's
        job definition, added when the job is frozen, as Zuul does) is
        skipped when its project is neither.  Galaxy roles are not supported
        (builds have no network access to fetch them).
        """
        paths: list[Path] = []
        for role in ref.roles:
            project = role.get("zuul") or role.get("project")
            if not project:
                continue
            connection = role.get("connection") or ref.connection
            root = self.project_root(connection, project, role.get("branch") or None)
            bare = (root / "tasks").is_dir()
            if not bare and (root / "roles").is_dir():
                paths.append(root / "roles")
                continue
            if not bare and role.get("implicit"):
                continue
            name = role.get("name") or project.rsplit("/", 1)[-1]
            holder = self.jobdir.roles_root / str(index)
            holder.mkdir(parents=True, exist_ok=True)
            link = holder / name
            if not link.exists():
                link.symlink_to(root)
            paths.append(holder)
        return list(dict.fromkeys(paths))
