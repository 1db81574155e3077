"""Applying changes onto a branch, deterministically: the merger's git work.

Functions over one *working repository* (a non-bare repository whose work
tree this caller owns for the duration: no other process runs git in it).
Who calls them:

- ``lockgate.git.merge_runner.MergeRunner`` serves a ``MergeRequest``: for
  each step it ``ensure_commit``s, skips a step already ``is_ancestor`` of
  its branch, and ``apply_step``s the rest; then ``changed_files`` and
  ``read_files_at`` describe the result;
- the executor (``lockgate.executor.repos``) calls ``replay`` in a build's
  checkout to rebuild the merger's speculative state, and gets an error if
  the commit it makes is not the one the merger made.

Determinism is the contract that makes ``replay`` possible: a commit made
here has a fixed author and committer (``MERGER_NAME``/``MERGER_EMAIL``) and
dates taken from the commit being applied (its committer date, in UTC), a
message made only from the step, and no user or system git configuration
(no signing, no merge log, no hooks).  The same start commit and steps give
the same shas on any machine running this code with the same git.

What each merge mode runs (Zuul's modes): ``merge`` -- ``git merge --no-ff``;
``merge-resolve`` -- the same with ``-s resolve``; ``cherry-pick`` --
``git cherry-pick`` (``-m 1`` for a merge commit; an already-applied change
gives an empty commit); ``squash-merge`` -- ``git merge --squash`` and a
commit with the change's own message and author; ``rebase`` -- the change's
commits rebased onto the branch (the branch then fast-forwards to them).

A step that does not apply raises ``StepConflict`` after the repository is
put back to where the step started; anything else (a ref that does not exist,
a ref that is not the expected commit, an unknown merge mode) raises
``StepError``.  Both messages name the step as users know it (``12345,3``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from lockgate.git import tree_files
from lockgate.git.cmd import DEFAULT_TIMEOUT, GitError, check_url, git_env, mask, remote_env
from lockgate.model.merges import MERGE_MODES, MergeStep

MERGER_NAME = "Lockgate Merger"
MERGER_EMAIL = "merger@lockgate.invalid"


class StepError(GitError):
    """A step could not be tried (missing ref, wrong commit, bad mode)."""


class StepConflict(GitError):
    """A step does not apply onto its branch's state; the repository was reset."""

    def __init__(self, message: str, step: MergeStep, files: list[str]):
        super().__init__(message)
        self.step = step
        self.files = files


class ReplayMismatch(GitError):
    """A replay produced a different commit than the merger announced."""


@dataclass
class Applied:
    """What ``apply_steps`` did to one branch."""

    head: str  # the resulting commit
    skipped: list[int] = field(default_factory=list)  # indices of steps already contained
    step_files: dict[int, list[str]] = field(default_factory=dict)


# ----------------------------------------------------------------------
# Running git


def _run(
    repo: str | os.PathLike[str] | None,
    args: Sequence[str],
    *,
    env: dict[str, str] | None = None,
    input: bytes | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(
            ["git", *args],
            cwd=repo,
            input=input,
            capture_output=True,
            env=env or git_env(),
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise GitError(f"git {args[0]}: timed out after {timeout:g}s") from None
    except OSError as e:
        raise GitError(f"git {args[0]}: cannot run git: {e.strerror or e}") from None


def _why(proc: subprocess.CompletedProcess[bytes]) -> str:
    text = proc.stderr.decode("utf-8", "replace") + proc.stdout.decode("utf-8", "replace")
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    hints = [ln for ln in lines if not ln.startswith("hint:")]
    return mask((hints or lines or [f"exit status {proc.returncode}"])[-1])


def git(
    repo: str | os.PathLike[str] | None,
    *args: str,
    env: dict[str, str] | None = None,
    input: bytes | None = None,
) -> str:
    """``git ARGS`` in ``repo``; its output, or ``GitError`` quoting git."""
    proc = _run(repo, args, env=env, input=input)
    if proc.returncode != 0:
        shown = " ".join(args[:3]) + (" ..." if len(args) > 3 else "")
        raise GitError(mask(f"git {shown}: {_why(proc)}"))
    return proc.stdout.decode("utf-8", "replace")


def merge_env(timestamp: int) -> dict[str, str]:
    """The environment of every command that makes a commit: fixed identity
    and date, no global or system configuration (signing, merge.log, hooks
    templates, rerere would all change or break the result)."""
    env = git_env()
    date = f"@{int(timestamp)} +0000"
    env.update(
        {
            "GIT_AUTHOR_NAME": MERGER_NAME,
            "GIT_AUTHOR_EMAIL": MERGER_EMAIL,
            "GIT_AUTHOR_DATE": date,
            "GIT_COMMITTER_NAME": MERGER_NAME,
            "GIT_COMMITTER_EMAIL": MERGER_EMAIL,
            "GIT_COMMITTER_DATE": date,
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": os.devnull,
        }
    )
    return env


# Options given before every commit-making command: the repository's own
# config may not change the result either.
_PINNED = (
    "-c", "core.hooksPath=" + os.devnull,
    "-c", "commit.gpgSign=false",
    "-c", "merge.log=false",
    "-c", "merge.conflictStyle=merge",
    "-c", "rerere.enabled=false",
    "-c", "core.autocrlf=false",
    "-c", "advice.detachedHead=false",
    "-c", "core.logAllRefUpdates=false",
)  # fmt: skip


# ----------------------------------------------------------------------
# Objects and refs


def has_commit(repo: str | os.PathLike[str], sha: str) -> bool:
    """Whether ``repo`` (or its alternates) holds the commit ``sha``."""
    if not sha or sha.startswith("-"):
        return False
    return _run(repo, ["cat-file", "-e", f"{sha}^{{commit}}"]).returncode == 0


def missing_commits(repo: str | os.PathLike[str], shas: Iterable[str]) -> set[str]:
    """Which of ``shas`` are not commits in ``repo`` (one ``cat-file`` for all)."""
    wanted = [sha for sha in dict.fromkeys(shas) if sha]
    bad = {sha for sha in wanted if sha.startswith("-") or "\n" in sha}
    wanted = [sha for sha in wanted if sha not in bad]
    if not wanted:
        return bad
    proc = _run(
        repo,
        ["cat-file", "--batch-check=%(objecttype)"],
        input="".join(f"{sha}^{{commit}}\n" for sha in wanted).encode(),
    )
    if proc.returncode != 0:
        raise GitError(f"git cat-file --batch-check: {_why(proc)}")
    answers = proc.stdout.decode("utf-8", "replace").splitlines()
    return bad | {sha for sha, kind in zip(wanted, answers, strict=False) if kind != "commit"}


def commit_times(repo: str | os.PathLike[str], shas: Iterable[str]) -> dict[str, int]:
    """Committer dates of commits in ``repo`` (one ``git log`` for all)."""
    wanted = list(dict.fromkeys(shas))
    if not wanted:
        return {}
    out = git(repo, "log", "--no-walk=unsorted", "--format=%H %ct", *wanted, "--")
    times = {}
    for line in out.splitlines():
        sha, _, when = line.partition(" ")
        times[sha] = int(when)
    return times


def head(repo: str | os.PathLike[str]) -> str:
    """The commit HEAD is at (a detached HEAD is read from its file: no git process)."""
    try:
        text = (Path(repo) / ".git" / "HEAD").read_text().strip()
    except OSError:
        text = ""
    if len(text) == 40 and all(c in "0123456789abcdef" for c in text):
        return text
    return git(repo, "rev-parse", "HEAD").strip()


def is_ancestor(repo: str | os.PathLike[str], ancestor: str, descendant: str) -> bool:
    proc = _run(repo, ["merge-base", "--is-ancestor", ancestor, descendant])
    if proc.returncode in (0, 1):
        return proc.returncode == 0
    raise GitError(f"git merge-base {ancestor[:12]} {descendant[:12]}: {_why(proc)}")


def commit_time(repo: str | os.PathLike[str], sha: str) -> int:
    """The committer date of ``sha`` (seconds): the date of what it merges."""
    return int(git(repo, "show", "-s", "--format=%ct", sha, "--").strip() or 0)


def fetch_commit(
    repo: str | os.PathLike[str], step: MergeStep, env: Mapping[str, str] | None = None
) -> None:
    """Fetch ``step.ref`` from ``step.url`` into ``repo``; it must be ``step.commit``.
    ``env``: extra environment for reaching the URL (a connection's
    ``GIT_SSH_COMMAND``)."""
    check_url(step.url)
    full_env = git_env()
    full_env.update(env or remote_env(step.url) or {})
    if not step.ref or step.ref.startswith("-"):
        raise StepError(f"change {step.describe()} of {step.project}: invalid ref {step.ref!r}")
    proc = _run(repo, ["fetch", "--quiet", "--no-tags", "--no-write-fetch-head", step.url,
                       f"+{step.ref}:refs/lockgate/fetched"], env=full_env)  # fmt: skip
    if proc.returncode != 0:
        raise StepError(
            f"change {step.describe()} of {step.project}: cannot fetch {step.ref} "
            f"from {mask(step.url)}: {_why(proc)}"
        )
    got = git(repo, "rev-parse", "refs/lockgate/fetched^{commit}").strip()
    git(repo, "update-ref", "-d", "refs/lockgate/fetched")
    if got != step.commit:
        raise StepError(
            f"change {step.describe()} of {step.project}: {step.ref} is {got[:12]}, "
            f"not the expected commit {step.commit[:12]} (a newer patchset?)"
        )


def ensure_commit(
    repo: str | os.PathLike[str], step: MergeStep, env: Mapping[str, str] | None = None
) -> None:
    """The step's commit in ``repo``: already there (objects are named by
    their content, so a present commit is the right one), or fetched."""
    if not has_commit(repo, step.commit):
        fetch_commit(repo, step, env)


# ----------------------------------------------------------------------
# The work tree


def checkout_detached(repo: str | os.PathLike[str], sha: str) -> None:
    """Put the work tree at ``sha`` (detached), discarding local changes."""
    git(repo, *_PINNED, "checkout", "--quiet", "--force", "--detach", sha)


def recover(repo: str | os.PathLike[str]) -> None:
    """Clear what an interrupted merge left (a killed process, a conflict):
    rebase state, a stale index lock, merge heads, changed and untracked files.
    Only call while no other git process runs in ``repo``."""
    gitdir = Path(repo) / ".git"
    for name in ("rebase-merge", "rebase-apply", "sequencer"):
        shutil.rmtree(gitdir / name, ignore_errors=True)
    for name in ("index.lock", "SQUASH_MSG", "MERGE_MSG"):
        (gitdir / name).unlink(missing_ok=True)
    if (gitdir / "HEAD").exists() and _run(
        repo, ["rev-parse", "--verify", "-q", "HEAD"]
    ).returncode == 0:
        git(repo, "reset", "--quiet", "--hard")
    git(repo, "clean", "-ffdxq")


def needs_recovery(repo: str | os.PathLike[str]) -> bool:
    gitdir = Path(repo) / ".git"
    markers = ("MERGE_HEAD", "CHERRY_PICK_HEAD", "rebase-merge", "rebase-apply", "index.lock")
    return any((gitdir / name).exists() for name in markers)


def _unmerged(repo: str | os.PathLike[str]) -> list[str]:
    proc = _run(repo, ["diff", "--name-only", "--diff-filter=U", "-z"])
    if proc.returncode != 0:
        return []
    return sorted({p.decode("utf-8", "replace") for p in proc.stdout.split(b"\0") if p})


def _parents(repo: str | os.PathLike[str], sha: str) -> list[str]:
    return git(repo, "show", "-s", "--format=%P", sha, "--").split()


def apply_step(
    repo: str | os.PathLike[str], start: str, step: MergeStep, *, timestamp: int | None = None
) -> str:
    """Apply ``step`` onto ``start`` (where the work tree must be, clean);
    return the new commit.  The step's commit must be in ``repo``;
    ``timestamp`` is its committer date, if the caller already read it.

    On a conflict the work tree is put back at ``start`` and ``StepConflict``
    raised with the conflicting files."""
    mode = step.merge_mode
    if mode not in MERGE_MODES:
        raise StepError(
            f"change {step.describe()} of {step.project}: unknown merge mode {mode!r} "
            f"(one of {', '.join(MERGE_MODES)})"
        )
    env = merge_env(commit_time(repo, step.commit) if timestamp is None else timestamp)
    message = f"Merge {step.describe()} into {step.branch}"
    if mode in ("merge", "merge-resolve"):
        strategy = ["-s", "resolve"] if mode == "merge-resolve" else []
        cmds = [["merge", "--quiet", "--no-ff", "--no-edit", "--no-log", "-m", message,
                 *strategy, step.commit]]  # fmt: skip
    elif mode == "cherry-pick":
        mainline = ["-m", "1"] if len(_parents(repo, step.commit)) > 1 else []
        cmds = [["cherry-pick", "--allow-empty", "--keep-redundant-commits", *mainline,
                 step.commit]]  # fmt: skip
    elif mode == "squash-merge":
        cmds = [
            ["merge", "--quiet", "--squash", "--no-log", step.commit],
            ["commit", "--quiet", "--allow-empty", "--no-verify", "-C", step.commit],
        ]
    else:  # rebase: the change's commits onto ``start``; HEAD ends at the result
        cmds = [["rebase", "--quiet", "--no-autosquash", start, step.commit]]
    for args in cmds:
        proc = _run(repo, [*_PINNED, *args], env=env)
        if proc.returncode != 0:
            files = _unmerged(repo)
            why = _why(proc)
            recover(repo)
            checkout_detached(repo, start)
            detail = f"conflicting files: {', '.join(files)}" if files else f"git says: {why}"
            raise StepConflict(
                f"change {step.describe()} of {step.project} does not merge into branch "
                f"{step.branch} ({mode}): {detail}",
                step,
                files,
            )
    return head(repo)


def apply_steps(
    repo: str | os.PathLike[str],
    start: str,
    steps: Sequence[MergeStep],
    *,
    first_index: int = 0,
    fetch_env: Mapping[str, str] | None = None,
) -> Applied:
    """Apply ``steps`` (all of one project-branch, in order) from ``start``.

    Fetches what is missing (``ensure_commit``), skips steps already in the
    branch, and records each applied step's files.  Indices in the result
    count from ``first_index``.  ``StepConflict``/``StepError`` propagate.
    """
    checkout_detached(repo, start)
    missing = missing_commits(repo, [step.commit for step in steps])
    for step in steps:
        if step.commit in missing:
            fetch_commit(repo, step, fetch_env)
            missing.discard(step.commit)
    times = commit_times(repo, [step.commit for step in steps])
    current = start
    applied = Applied(head=start)
    moves: list[tuple[int, str, str]] = []
    for offset, step in enumerate(steps):
        index = first_index + offset
        if is_ancestor(repo, step.commit, current):
            applied.skipped.append(index)
            applied.step_files[index] = []
            continue
        new = apply_step(repo, current, step, timestamp=times.get(step.commit))
        moves.append((index, current, new))
        current = new
    for (index, _, _), files in zip(
        moves, changed_files_many(repo, [(old, new) for _, old, new in moves]), strict=True
    ):
        applied.step_files[index] = files
    applied.head = current
    return applied


def replay(
    repo: str | os.PathLike[str],
    base: str,
    steps: Sequence[MergeStep],
    expected: str,
    *,
    branch: str | None = None,
    fetch_env: Mapping[str, str] | None = None,
) -> str:
    """Rebuild a merger's speculative state in a checkout: ``steps`` from
    ``base`` must give ``expected``, else ``ReplayMismatch``.  With ``branch``
    the checkout ends on a local branch of that name at the result (what
    ``git log`` on a node should show); returns the result."""
    try:
        got = apply_steps(repo, base, steps, fetch_env=fetch_env).head
    except StepConflict as e:
        raise ReplayMismatch(f"the merger's state could not be rebuilt: {e}") from None
    if got != expected:
        raise ReplayMismatch(
            f"replaying {len(steps)} change(s) onto {base[:12]} gave {got[:12]}, "
            f"but the merger made {expected[:12]} (a different git version or merge code?)"
        )
    if branch:
        if branch.startswith("-"):
            raise GitError(f"invalid branch name {branch!r}")
        git(repo, *_PINNED, "checkout", "--quiet", "-B", branch, got)
    return got


# ----------------------------------------------------------------------
# Describing a state


def changed_files(repo: str | os.PathLike[str], old: str, new: str) -> list[str]:
    """Files that differ between two commits, sorted (renames as delete + add)."""
    if old == new:
        return []
    out = _run(repo, ["diff", "--name-only", "--no-renames", "-z", old, new, "--"])
    if out.returncode != 0:
        raise GitError(f"git diff {old[:12]} {new[:12]}: {_why(out)}")
    return sorted({p.decode("utf-8", "surrogateescape") for p in out.stdout.split(b"\0") if p})


def changed_files_many(
    repo: str | os.PathLike[str], pairs: Sequence[tuple[str, str]]
) -> list[list[str]]:
    """``changed_files`` of many (old, new) pairs with one ``git diff-tree``.

    git's answer names a pair by its ``new`` commit, so pairs sharing one are
    asked one by one; ``old == new`` pairs are answered without asking git."""
    out: list[list[str]] = [[] for _ in pairs]
    news = Counter(new for old, new in pairs if old != new)
    asked = []
    for i, (old, new) in enumerate(pairs):
        if old == new:
            continue
        if news[new] > 1:
            out[i] = changed_files(repo, old, new)
        else:
            asked.append((i, new, old))
    if not asked:
        return out
    # Each --stdin line is "<commit> <parent>": the diff from parent to commit.
    proc = _run(
        repo,
        ["diff-tree", "-r", "--raw", "-z", "--no-renames", "--stdin"],
        input="".join(f"{new} {old}\n" for _, new, old in asked).encode(),
    )
    if proc.returncode != 0:
        raise GitError(f"git diff-tree --stdin: {_why(proc)}")
    # The answer: for each pair that differs, its commit's name, then
    # ``:<modes> <shas> <status>`` records each followed by a path (a
    # record's leading ":" tells it from a name).
    tokens = proc.stdout.split(b"\0")
    position, k = -1, 0
    while k < len(tokens):
        token = tokens[k]
        if token.startswith(b":") and position >= 0 and k + 1 < len(tokens):
            out[asked[position][0]].append(tokens[k + 1].decode("utf-8", "surrogateescape"))
            k += 2
            continue
        name = token.decode("ascii", "replace").strip()
        if name:
            later = [p for p in range(position + 1, len(asked)) if asked[p][1] == name]
            if not later:
                raise GitError(f"git diff-tree --stdin: unexpected answer {name[:50]!r}")
            position = later[0]
        k += 1
    return [sorted(set(files)) for files in out]


def read_files_at(
    repo: str | os.PathLike[str],
    commit: str,
    entries: Iterable[str],
    max_bytes: int | None = None,
) -> dict[str, str]:
    """Text of files at ``commit``: ``entries`` are file paths, or
    directories ending with ``/`` (read recursively).  Missing paths are
    absent; only regular files are read, none over ``max_bytes``
    (``lockgate.git.tree_files``)."""
    entries = list(entries)
    exact, dirs = tree_files.wanted(
        [e for e in entries if not e.endswith("/")], [e for e in entries if e.endswith("/")]
    )
    if not exact and not dirs:
        return {}
    listing = _run(repo, tree_files.ls_tree_args(commit, exact, dirs))
    if listing.returncode != 0:
        raise GitError(f"git ls-tree {commit[:12]}: {_why(listing)}")
    files = tree_files.parse_listing(listing.stdout, exact, dirs)
    shas = tree_files.to_read(files, max_bytes)
    blobs: dict[str, bytes] = {}
    if shas:
        proc = _run(repo, ["cat-file", "--batch"], input=("\n".join(shas) + "\n").encode())
        if proc.returncode != 0:
            raise GitError(f"git cat-file --batch: {_why(proc)}")
        blobs = tree_files.parse_batch(proc.stdout, len(shas))
    return tree_files.texts(files, blobs, max_bytes)
