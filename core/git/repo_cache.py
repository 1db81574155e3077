"""``RepoCache``: one bare mirror per repository, on local disk.

Who calls it:

- the scheduler, to read a project's configuration (``zuul.yaml``,
  ``zuul.d/``, ``.zuul.yaml``, ``.zuul.d/``) at a branch head: ``update`` then
  ``read_files``, which reads blobs straight from git objects with one
  ``ls-tree`` and one ``cat-file --batch`` — no working tree is written;
- the executor, to give a job a working tree at a commit: ``checkout``,
  a local clone of the mirror (hard links, no network) followed by a
  checkout; the result does not depend on the mirror afterwards, so the
  mirror may be fetched or garbage-collected while the job runs.

A mirror is keyed by the repository's URL (a driver's ``clone_url``, which is
unique per connection and project).  Each mirror has a lock file next to it:
``update`` takes it exclusively, reads and checkouts take it shared.  The
lock is ``flock`` on a freshly opened descriptor, so it serializes threads
of one process and separate processes (a scheduler and an executor sharing a
state directory) alike.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

from lockgate.git import tree_files
from lockgate.git.cmd import (
    DEFAULT_TIMEOUT,
    GitError,
    RefNotFound,
    check_url,
    mask,
    remote_env,
    run_git,
    run_git_bytes,
)

# Modes of regular files in a git tree (symlinks, submodules and trees are
# not files a configuration loader can read).


class RepoCache:
    """Bare mirrors under ``root``; safe for concurrent use by threads and processes."""

    def __init__(self, root: str | os.PathLike[str], *, timeout: float = DEFAULT_TIMEOUT):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.timeout = timeout

    # ------------------------------------------------------------------
    # Where things live

    def mirror_path(self, url: str) -> Path:
        """The mirror's directory: a readable slug of the URL plus a hash of it."""
        check_url(url)
        parts = urlsplit(url)
        shown = url
        if parts.scheme and parts.netloc:
            host = parts.hostname or ""
            if parts.port:
                host += f"_{parts.port}"
            shown = f"{host}{parts.path}"
        slug = re.sub(r"[^A-Za-z0-9._-]+", "_", shown).strip("_.")[-80:] or "repo"
        digest = hashlib.sha256(url.encode()).hexdigest()[:12]
        return self.root / f"{slug}-{digest}.git"

    def has(self, url: str) -> bool:
        return (self.mirror_path(url) / "HEAD").exists()

    # ------------------------------------------------------------------
    # Writing the mirror

    def update(self, url: str) -> Path:
        """Fetch ``url`` into its mirror (cloning it the first time); return the path.

        Refs deleted upstream are pruned, so ``branches`` and ``read_files``
        see exactly the remote's state as of this call.
        """
        path = self.mirror_path(url)
        with self._lock(path, exclusive=True):
            if (path / "HEAD").exists():
                run_git(
                    ["fetch", "--quiet", "--prune", "origin"],
                    path,
                    timeout=self.timeout,
                    env=remote_env(url),
                )
            else:
                self._clone_mirror(url, path)
        return path

    def _clone_mirror(self, url: str, path: Path) -> None:
        # Clone beside the final place and rename, so a clone that dies half
        # way never leaves a directory that looks like a mirror.
        tmp = Path(tempfile.mkdtemp(prefix=".clone-", dir=self.root))
        try:
            run_git(
                ["clone", "--quiet", "--mirror", check_url(url), str(tmp / "m")],
                timeout=self.timeout,
                env=remote_env(url),
            )
            if path.exists():
                shutil.rmtree(path)
            os.rename(tmp / "m", path)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def _ensure(self, url: str) -> Path:
        """The mirror, cloned first if this cache has never seen ``url``."""
        path = self.mirror_path(url)
        if not (path / "HEAD").exists():
            with self._lock(path, exclusive=True):
                if not (path / "HEAD").exists():
                    self._clone_mirror(url, path)
        return path

    # ------------------------------------------------------------------
    # Reading the mirror (as of the last ``update``)

    def refs(self, url: str) -> dict[str, str]:
        """Every ref in the mirror: {ref: sha}."""
        path = self._ensure(url)
        with self._lock(path, exclusive=False):
            out = run_git(
                ["for-each-ref", "--format=%(objectname) %(refname)"], path, timeout=self.timeout
            )
        refs: dict[str, str] = {}
        for line in out.splitlines():
            sha, _, ref = line.partition(" ")
            refs[ref] = sha
        return refs

    def branches(self, url: str) -> list[str]:
        """Branch names (``refs/heads/*`` without the prefix), sorted."""
        return sorted(
            ref[len("refs/heads/") :] for ref in self.refs(url) if ref.startswith("refs/heads/")
        )

    def commit_sha(self, url: str, ref: str) -> str:
        """The commit ``ref`` (a branch, full ref, tag or sha) points at.

        Raises ``RefNotFound`` if there is no such ref or commit.
        """
        path = self._ensure(url)
        with self._lock(path, exclusive=False):
            return self._resolve(url, path, ref)

    def _resolve(self, url: str, path: Path, ref: str) -> str:
        if not ref or ref.startswith("-"):
            raise RefNotFound(f"{mask(url)}: invalid ref {ref!r}")
        try:
            out = run_git(
                ["rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"],
                path,
                timeout=self.timeout,
            )
        except GitError:
            raise RefNotFound(f"{mask(url)}: no branch, ref or commit {ref!r}") from None
        return out.strip()

    def read_files(
        self,
        url: str,
        ref: str,
        paths: Iterable[str] = (),
        prefixes: Iterable[str] = (),
        max_bytes: int | None = None,
    ) -> dict[str, str]:
        """Text of files at ``ref``, read from git objects: {path: text}.

        ``paths`` are exact file names (``zuul.yaml``); ``prefixes`` are
        directories whose files are read recursively (``zuul.d/``).  Missing
        paths are simply absent from the result; only regular files are read
        (a symlink or submodule named ``zuul.yaml`` is not configuration); a
        file over ``max_bytes`` is not read (``lockgate.git.tree_files``).
        Raises ``RefNotFound`` for an unknown ref.
        """
        exact, dirs = tree_files.wanted(paths, prefixes)
        if not exact and not dirs:
            return {}
        path = self._ensure(url)
        with self._lock(path, exclusive=False):
            commit = self._resolve(url, path, ref)
            listing = run_git_bytes(
                tree_files.ls_tree_args(commit, exact, dirs), path, timeout=self.timeout
            )
            files = tree_files.parse_listing(listing, exact, dirs)
            shas = tree_files.to_read(files, max_bytes)
            blobs = self._cat_blobs(path, shas) if shas else {}
        return tree_files.texts(files, blobs, max_bytes)

    def _cat_blobs(self, path: Path, shas: list[str]) -> dict[str, bytes]:
        """Read many blobs with one ``git cat-file --batch``."""
        out = run_git_bytes(
            ["cat-file", "--batch"],
            path,
            input=("\n".join(shas) + "\n").encode(),
            timeout=self.timeout,
        )
        return tree_files.parse_batch(out, len(shas))

    # ------------------------------------------------------------------
    # Working trees

    def checkout(
        self,
        url: str,
        commit: str,
        dest: str | os.PathLike[str],
        *,
        branch: str | None = None,
    ) -> Path:
        """A working tree of ``url`` at ``commit`` in ``dest`` (which must not exist or be empty).

        The clone is local from the mirror (objects hard-linked when on the
        same file system) and independent of it afterwards.  With ``branch``
        the tree is on a local branch of that name at ``commit`` (what a job
        expects to see); otherwise HEAD is detached.  ``origin`` points at
        ``url``, not at the cache.  The mirror must already hold ``commit``:
        call ``update`` first if it may be newer than the last fetch.
        """
        mirror = self._ensure(url)
        dest = Path(dest)
        with self._lock(mirror, exclusive=False):
            sha = self._resolve(url, mirror, commit)
            run_git(
                ["clone", "--quiet", "--no-checkout", str(mirror), str(dest)],
                timeout=self.timeout,
            )
        run_git(["remote", "set-url", "origin", url], dest, timeout=self.timeout)
        if branch:
            if branch.startswith("-"):
                raise GitError(f"invalid branch name {branch!r}")
            run_git(["checkout", "--quiet", "-B", branch, sha], dest, timeout=self.timeout)
        else:
            run_git(["checkout", "--quiet", "--detach", sha], dest, timeout=self.timeout)
        return dest

    # ------------------------------------------------------------------

    @contextlib.contextmanager
    def _lock(self, mirror: Path, *, exclusive: bool) -> Iterator[None]:
        lock_path = mirror.with_name(mirror.name + ".lock")
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            yield
        finally:
            os.close(fd)  # closing the descriptor releases the lock
