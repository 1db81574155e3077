"""Workspace preparation: every repository a build needs, checked out in its build directory.

The runner calls ``prepare_repos`` right after creating the ``JobDir``;
``playbook_source`` then tells it where each ``PlaybookRef``'s project lives.
Repositories come from a per-executor cache of bare mirrors
(``lockgate.git.RepoCache`` under ``<state_dir>/git``): a mirror is fetched
only when it does not yet hold the commit a build asks for, so repeated
builds of the same project cost one local clone each (hard links, no
network).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from lockgate.executor.jobdir import JobDir
from lockgate.git import GitError, RefNotFound, RepoCache, run_git
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


def _ensure_commit(cache: RepoCache, repo: RepoState, rev: str) -> str:
    """The sha of ``rev`` in the mirror, fetching once if the mirror lacks it."""
    try:
        return cache.commit_sha(repo.url, rev)
    except RefNotFound:
        cache.update(repo.url)
        return cache.commit_sha(repo.url, rev)


_FULL_SHA = re.compile(r"[0-9a-f]{40}")


def _head(path: Path) -> str:
    return run_git(["rev-parse", "HEAD"], path).strip()


def prepare_repos(cache: RepoCache, jobdir: JobDir, request: BuildRequest) -> dict[str, Checkout]:
    """Check out every repository of ``request`` under ``work/src``; {canonical_name: Checkout}.

    The triggering project is always included, even if the scheduler left it
    out of ``request.repos``.  Two repositories that would land in the same
    directory (``flat`` scheme, same short name) are an error.
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


def find_checkout(checkouts: dict[str, Checkout], connection: str, project: str) -> Checkout:
    """The checkout of a project named as in the tenant config (``demo/app``)."""
    for checkout in checkouts.values():
        repo = checkout.repo
        if repo.project == project and (not connection or repo.connection == connection):
            return checkout
    for checkout in checkouts.values():
        if checkout.repo.canonical_name == project:
            return checkout
    raise WorkspaceError(
        f"project {project!r} (connection {connection!r}) is not among the build's repositories"
    )


def playbook_source(
    cache: RepoCache, jobdir: JobDir, checkouts: dict[str, Checkout], ref: PlaybookRef
) -> Path:
    """The file a playbook reference points to.

    A playbook comes from its project's checkout in ``work/src`` when that
    checkout is on the playbook's branch (the common case: the triggering
    project at the item's commit, or a config project at its branch head).
    A playbook from another branch of the same project gets its own checkout
    of that branch's head under ``ansible/projects``.
    """
    checkout = find_checkout(checkouts, ref.connection, ref.project)
    root = checkout.path
    if ref.branch and checkout.repo.branch and ref.branch != checkout.repo.branch:
        dest = jobdir.playbook_root / f"{checkout.repo.canonical_name}@{ref.branch}"
        if not dest.exists():
            try:
                sha = _ensure_commit(cache, checkout.repo, f"refs/heads/{ref.branch}")
                dest.parent.mkdir(parents=True, exist_ok=True)
                cache.checkout(checkout.repo.url, sha, dest, branch=ref.branch)
            except GitError as e:
                raise WorkspaceError(
                    f"preparing {ref.project} branch {ref.branch} for playbooks: {e}"
                ) from None
        root = dest
    path = (root / ref.path).resolve()
    if not path.is_relative_to(root.resolve()):
        raise WorkspaceError(f"playbook {ref.path!r} of {ref.project} is outside its repository")
    if not path.is_file():
        # Zuul accepts a playbook name without its extension.
        for suffix in (".yaml", ".yml"):
            if path.with_name(path.name + suffix).is_file():
                return path.with_name(path.name + suffix)
        raise WorkspaceError(
            f"playbook {ref.path!r} not found in {ref.project}"
            + (f" branch {ref.branch}" if ref.branch else "")
        )
    return path


def prepare_roles(
    jobdir: JobDir, checkouts: dict[str, Checkout], ref: PlaybookRef, index: int
) -> list[Path]:
    """Roles path entries for a playbook's ``roles`` (Zuul's ``{zuul: project, name}``).

    A project with a ``roles/`` directory contributes that directory; a
    project that *is* a role is linked under its role name (its ``name``, or
    the project's last path component).
    """
    paths: list[Path] = []
    for role in ref.roles:
        project = role.get("zuul") or role.get("project")
        if not project:
            continue  # galaxy roles are not supported (no network at build time)
        checkout = find_checkout(checkouts, role.get("connection", ""), project)
        if (checkout.path / "roles").is_dir():
            paths.append(checkout.path / "roles")
            continue
        name = role.get("name") or project.rsplit("/", 1)[-1]
        holder = jobdir.roles_root / str(index)
        holder.mkdir(parents=True, exist_ok=True)
        link = holder / name
        if not link.exists():
            link.symlink_to(checkout.path)
        paths.append(holder)
    return list(dict.fromkeys(paths))
