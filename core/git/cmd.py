"""Running the ``git`` binary: the one place that builds its environment.

Called by ``lockgate.git.repo_cache`` and by drivers (the git driver's source
and poller use ``ls_remote``).  Every call has a timeout and a clean
environment: git never prompts for credentials (a prompt would hang a
poller thread forever), and messages are in English so we can quote them.

Errors are ``GitError`` with a one-line message that names the command and
git's own complaint, with any credentials in URLs masked, so callers can log
it or show it to a user as is.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Mapping, Sequence

# The all-zero object name git and Zuul use for "no commit": the oldrev of a
# created ref and the newrev of a deleted one.
ZERO_SHA = "0" * 40

DEFAULT_TIMEOUT = 120.0

_CREDENTIALS = re.compile(r"(://)[^/@\s]+@")


class GitError(Exception):
    """A git command failed; ``str()`` is a one-line, user-presentable message."""


class RefNotFound(GitError):
    """A ref or commit that was asked for does not exist in the repository."""


def mask(text: str) -> str:
    """Hide ``user:password@`` in URLs before a message leaves this module."""
    return _CREDENTIALS.sub(r"\1***@", text)


# Remote URL prefix -> extra environment to reach it (a Gerrit connection's
# GIT_SSH_COMMAND with its key).  Set once per process from its connections
# (``lockgate.drivers.registry.make_connections``), like an ssh config: every
# git command on such a URL — a mirror's fetch, ls-remote, a merger's fetch —
# then finds its way without each caller passing it along.
_REMOTE_ENVS: dict[str, dict[str, str]] = {}


def set_remote_env(prefix: str, env: Mapping[str, str]) -> None:
    """Git commands on URLs starting with ``prefix`` run with ``env`` added."""
    if prefix:
        _REMOTE_ENVS[prefix] = dict(env)


def remote_env(url: str) -> dict[str, str] | None:
    """The extra environment for ``url`` (the longest matching prefix), if any."""
    best = ""
    for prefix in list(_REMOTE_ENVS):
        if url.startswith(prefix) and len(prefix) > len(best):
            best = prefix
    return dict(_REMOTE_ENVS[best]) if best else None


def git_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment every git command runs in; ``extra`` (a connection's
    ``GIT_SSH_COMMAND``, say) is added on top."""
    env = dict(os.environ)
    env.update(
        {
            "GIT_TERMINAL_PROMPT": "0",
            "LC_ALL": "C",
            "LANGUAGE": "C",
            # Never pick up a user's pager or editor in a server process.
            "GIT_PAGER": "cat",
            "GIT_EDITOR": "true",
        }
    )
    if extra:
        env.update(extra)
    return env


def check_url(url: str) -> str:
    """Refuse a URL git would read as an option (``--upload-pack=...``)."""
    if not url or url.startswith("-"):
        raise GitError(f"invalid repository URL {mask(url)!r}")
    return url


def run_git_bytes(
    args: Sequence[str],
    cwd: str | os.PathLike[str] | None = None,
    *,
    input: bytes | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    env: Mapping[str, str] | None = None,
) -> bytes:
    """Run ``git ARGS`` and return its standard output; raise ``GitError``.

    ``env``: extra environment (e.g. ``GIT_SSH_COMMAND`` with a key for a
    Gerrit connection: ``GerritSource.git_env()``)."""
    cmd = ["git", *args]
    try:
        proc = subprocess.run(
            cmd,
            cwd=cwd,
            input=input,
            capture_output=True,
            env=git_env(env),
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise GitError(f"git {args[0]}: timed out after {timeout:g}s") from None
    except OSError as e:
        raise GitError(f"git {args[0]}: cannot run git: {e.strerror or e}") from None
    if proc.returncode != 0:
        lines = [ln for ln in proc.stderr.decode("utf-8", "replace").splitlines() if ln.strip()]
        why = lines[-1].strip() if lines else f"exit status {proc.returncode}"
        raise GitError(mask(f"git {' '.join(_shown(args))}: {why}"))
    return proc.stdout


def run_git(
    args: Sequence[str],
    cwd: str | os.PathLike[str] | None = None,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    env: Mapping[str, str] | None = None,
) -> str:
    """``run_git_bytes`` decoded as UTF-8 (git's own output is ASCII here)."""
    return run_git_bytes(args, cwd, timeout=timeout, env=env).decode("utf-8", "replace")


def ls_remote(
    url: str, *, timeout: float = DEFAULT_TIMEOUT, env: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Every ref under ``refs/`` of the repository at ``url``: {ref: sha}.

    ``HEAD`` and the peeled ``^{}`` lines of annotated tags are left out:
    the tag's own object name is what moved, and it is what Zuul reports.
    """
    out = run_git(
        ["ls-remote", check_url(url)],
        timeout=timeout,
        env=env if env is not None else remote_env(url),
    )
    refs: dict[str, str] = {}
    for line in out.splitlines():
        sha, _, ref = line.partition("\t")
        if ref.startswith("refs/") and not ref.endswith("^{}"):
            refs[ref] = sha
    return refs


def _shown(args: Sequence[str]) -> list[str]:
    """The command as we quote it in errors: long argument lists shortened."""
    shown = list(args[:4])
    if len(args) > 4:
        shown.append("...")
    return shown
