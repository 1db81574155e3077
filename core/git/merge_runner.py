"""``MergeRunner``: serving one ``MergeRequest`` with real git, no ZooKeeper.

Who calls it: the executor's merge thread (``lockgate.executor.merger``),
which is also what ``lockgate merger`` runs, and the benchmark.  What comes
next: the caller stores the ``MergeResult`` in the request and puts a
``merge-completed`` event.

Where the git work happens: each project has a *work repository* under
``work_root``, a non-bare repository whose object store borrows the
project's mirror in the ``RepoCache`` (git alternates: no copy, no fetch --
whatever the mirror holds, the work repository sees).  A work repository is
used by one request at a time (an ``flock`` beside it, so threads and
processes sharing a state directory are both serialised); a request takes
the locks of every project it merges, in sorted order, so requests over the
same projects never deadlock and requests over different ones run in
parallel.

Where the heads come from: the request's ``repo_state`` for every project it
gives (never re-read: the item tests what it was enqueued against); for the
others, now -- a fetch of the mirror for projects with steps (the merge needs
their objects), ``git ls-remote`` for the rest (only their heads are needed).

Merging and what it is checked against: ``lockgate.git.merger``.  Conflicts
and errors are results (``ok`` False), never exceptions.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from lockgate.config.limits import DEFAULT_LIMITS
from lockgate.git import merger
from lockgate.git.cmd import GitError, ls_remote
from lockgate.git.repo_cache import RepoCache
from lockgate.model.merges import MergeRequest, MergeResult, MergeStep

# A proposed change's configuration files are read no larger than the
# parser reads them (``lockgate.config.limits``): a huge blob is never loaded.
CONFIG_FILE_BYTES = DEFAULT_LIMITS.max_file_bytes

log = logging.getLogger("lockgate.git.merge_runner")


@dataclass
class _Project:
    name: str
    url: str  # the mirror's key (the RepoSpec's URL; a step's URL if none)
    has_steps: bool = False


def _heads(refs: dict[str, str]) -> dict[str, str]:
    return {r[len("refs/heads/") :]: s for r, s in refs.items() if r.startswith("refs/heads/")}


class MergeRunner:
    """Serves merge requests with the mirrors of ``cache`` and work
    repositories under ``work_root``; safe to call from several threads."""

    def __init__(
        self,
        cache: RepoCache,
        work_root: str | os.PathLike[str],
        *,
        fetch_env: Callable[[str], Mapping[str, str] | None] | None = None,
    ):
        # ``fetch_env(connection)``: extra environment to fetch a step's ref
        # from its URL (a Gerrit connection's ``GIT_SSH_COMMAND``).
        self.fetch_env = fetch_env or (lambda _connection: None)
        self.cache = cache
        self.work_root = Path(work_root)
        self.work_root.mkdir(parents=True, exist_ok=True)

    # ------------------------------------------------------------------

    def run(self, request: MergeRequest) -> MergeResult:
        """Merge ``request``'s steps; conflicts and git errors are results."""
        result = MergeResult(ok=False)
        try:
            self._run(request, result)
        except merger.StepConflict as e:
            result.ok = False
            result.conflict = str(e)
            result.commits = {}
            result.config = {}
            result.files = {}
        except GitError as e:
            result.ok = False
            result.error = str(e)
            result.commits = {}
            result.config = {}
            result.files = {}
        return result

    def _projects(self, request: MergeRequest) -> dict[str, _Project]:
        projects: dict[str, _Project] = {}
        for spec in request.repos:
            projects.setdefault(spec.project, _Project(spec.project, spec.url))
        for step in request.steps:
            project = projects.setdefault(step.project, _Project(step.project, step.url))
            project.has_steps = True
        return projects

    def _run(self, request: MergeRequest, result: MergeResult) -> None:
        projects = self._projects(request)
        given = request.repo_state or {}
        fetched: set[str] = set()  # mirrors updated during this request
        for name, project in projects.items():
            if name in given:
                result.repo_state[name] = dict(given[name])
            elif project.has_steps:
                self.cache.update(project.url)
                fetched.add(project.url)
                result.repo_state[name] = _heads(self.cache.refs(project.url))
            else:
                result.repo_state[name] = _heads(ls_remote(project.url))
        state = {(p, b): sha for p, heads in result.repo_state.items() for b, sha in heads.items()}
        for step in request.steps:
            if (step.project, step.branch) not in state:
                raise merger.StepError(
                    f"change {step.describe()} of {step.project}: the project has no branch "
                    f"{step.branch!r}"
                    + (" in the item's repository state" if step.project in given else "")
                )
        result.step_files = [[] for _ in request.steps]
        stepped = sorted({p.url for p in projects.values() if p.has_steps})
        with self._locked(stepped):
            works = {name: self._work_repo(p.url) for name, p in projects.items() if p.has_steps}
            at: dict[str, str | None] = dict.fromkeys(works)  # each work tree's HEAD
            times: dict[str, int] = {}
            moves: dict[str, list[tuple[int, str, str]]] = {}  # project -> (step, old, new)
            for name, work in works.items():
                times.update(self._ensure(work, projects[name], request.steps, state, fetched))
            for index, step in enumerate(request.steps):
                work = works[step.project]
                current = state[(step.project, step.branch)]
                if merger.is_ancestor(work, step.commit, current):
                    result.skipped.append(index)
                    continue
                if at[step.project] != current:
                    merger.checkout_detached(work, current)
                try:
                    new = merger.apply_step(work, current, step, timestamp=times.get(step.commit))
                except merger.StepConflict:
                    at[step.project] = current
                    result.conflict_step = index
                    raise
                moves.setdefault(step.project, []).append((index, current, new))
                state[(step.project, step.branch)] = at[step.project] = new
            for project_name, done in moves.items():
                pairs = [(old, new) for _, old, new in done]
                changed = merger.changed_files_many(works[project_name], pairs)
                for (index, _, _), files in zip(done, changed, strict=True):
                    result.step_files[index] = files
            touched = {(s.project, s.branch) for s in request.steps}
            for project_name, branch in sorted(touched):
                work = works[project_name]
                sha = state[(project_name, branch)]
                base = result.repo_state[project_name][branch]
                files = result.files.setdefault(project_name, [])
                files.extend(merger.changed_files(work, base, sha))
                result.config.setdefault(project_name, {})[branch] = merger.read_files_at(
                    work, sha, request.config_files, max_bytes=CONFIG_FILE_BYTES
                )
        result.files = {p: sorted(set(f)) for p, f in result.files.items()}
        for (project_name, branch), sha in state.items():
            result.commits.setdefault(project_name, {})[branch] = sha
        result.ok = True

    def _ensure(
        self,
        work: Path,
        project: _Project,
        steps: list[MergeStep],
        state: dict[tuple[str, str], str],
        fetched: set[str],
    ) -> dict[str, int]:
        """Every commit the project's steps need in ``work`` -- the heads
        they start from and their own -- from the mirror (fetched once per
        request when it lacks one), else each step's ref from its URL.
        Returns the steps' commit dates."""
        mine = [s for s in steps if s.project == project.name]
        starts = {state[(s.project, s.branch)] for s in mine}
        missing = merger.missing_commits(work, [*starts, *(s.commit for s in mine)])
        if missing and project.url not in fetched:
            self.cache.update(project.url)
            fetched.add(project.url)
            missing = merger.missing_commits(work, missing)
        for start in sorted(starts & missing):
            branch = next(s.branch for s in mine if state[(s.project, s.branch)] == start)
            raise merger.StepError(
                f"{project.name}: the head {start[:12]} of branch {branch} is not in the "
                "repository (force-pushed away?)"
            )
        for step in mine:
            if step.commit in missing:
                merger.fetch_commit(work, step, self.fetch_env(step.connection))
                missing.discard(step.commit)
        return merger.commit_times(work, [s.commit for s in mine])

    # ------------------------------------------------------------------
    # Work repositories

    def work_path(self, url: str) -> Path:
        return self.work_root / (self.cache.mirror_path(url).stem + ".work")

    def _work_repo(self, url: str) -> Path:
        """The project's work repository (made on first use); the caller
        holds its lock.  Anything an interrupted merge left is cleared."""
        path = self.work_path(url)
        if not self.cache.has(url):
            self.cache.update(url)
        objects = (self.cache.mirror_path(url) / "objects").absolute()
        if not (path / ".git" / "HEAD").exists():
            tmp = Path(tempfile.mkdtemp(prefix=".init-", dir=self.work_root))
            try:
                merger.git(None, "init", "--quiet", str(tmp / "w"))
                (tmp / "w" / ".git" / "objects" / "info" / "alternates").write_text(f"{objects}\n")
                if path.exists():
                    shutil.rmtree(path)
                os.rename(tmp / "w", path)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
        elif merger.needs_recovery(path):
            log.info("clearing an interrupted merge in %s", path)
            merger.recover(path)
        return path

    @contextlib.contextmanager
    def _locked(self, urls: list[str]) -> Iterator[None]:
        fds: list[int] = []
        try:
            for url in urls:  # sorted by the caller: no deadlock between requests
                lock_path = self.work_path(url).with_suffix(".lock")
                fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
                fds.append(fd)
                fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            for fd in reversed(fds):
                os.close(fd)
