"""File comments' line numbers, mapped back to the change's own commit.

A job comments on the files it tested: the speculative state, where the
changes ahead of the item may have moved lines.  A review system shows the
comments on the change's own commit, so, as Zuul does, the runner traces
each commented line back with ``git log -L`` from the tested commit: the
first hunk of the change's commit that touches the line gives its number
there.  A line the change did not touch keeps its number.  Called by the
runner at the end of a build of a change (``zuul.commit_id`` is set),
unless the job returned ``zuul.disable_file_comment_line_mapping``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from lockgate.executor.repos import Checkout
from lockgate.executor.result_data import BuildReturn
from lockgate.git import GitError, run_git
from lockgate.model.builds import BuildRequest

_HUNK = re.compile(r"^@@ -\d+(?:,\d+)? \+(\d+)(?:,\d+)? @@")


def commented_lines(comments: dict[str, list[dict[str, Any]]]) -> set[tuple[str, int]]:
    """Every (file, line) the comments name (``line`` and ``range`` ends)."""
    out = set()
    for path, entries in comments.items():
        for entry in entries:
            if isinstance(entry.get("line"), int):
                out.add((path, entry["line"]))
            for key in ("start_line", "end_line"):
                value = (entry.get("range") or {}).get(key)
                if isinstance(value, int):
                    out.add((path, value))
    return out


def trace_line(log_output: str, commit: str) -> int | None:
    """In ``git log -L`` output (``--format=commit %H``), the line's number in
    ``commit``; None when ``commit`` did not touch it."""
    seen = False
    for text in log_output.splitlines():
        if not seen:
            seen = text == f"commit {commit}"
            continue
        m = _HUNK.match(text)
        if m:
            return int(m.group(1))
        if text.startswith("commit "):
            return None
    return None


def map_lines(
    repo: Path, tested: str, commit: str, comments: dict[str, list[dict[str, Any]]], job: str
) -> list[str]:
    """Change the line numbers of ``comments`` (in place) from ``tested`` to
    ``commit``; returns warnings for lines that could not be traced."""
    mapping: dict[tuple[str, int], int] = {}
    warnings: list[str] = []
    for path, line in sorted(commented_lines(comments)):
        if path.startswith("/") or line < 1:
            continue  # Gerrit's special files (/COMMIT_MSG) have no history
        try:
            out = run_git(
                ["log", "--no-color", "--format=commit %H", f"-L{line},{line}:{path}", tested],
                repo,
            )
        except GitError as e:
            warnings.append(f"Job {job}: unable to map line for file comments: {e}")
            continue
        found = trace_line(out, commit)
        if found is not None:
            mapping[(path, line)] = found
    for path, entries in comments.items():
        for entry in entries:
            if isinstance(entry.get("line"), int):
                entry["line"] = mapping.get((path, entry["line"]), entry["line"])
            rng = entry.get("range")
            if isinstance(rng, dict):
                for key in ("start_line", "end_line"):
                    if isinstance(rng.get(key), int):
                        rng[key] = mapping.get((path, rng[key]), rng[key])
    return warnings


def map_returned_comments(
    request: BuildRequest, checkouts: dict[str, Checkout], returned: BuildReturn
) -> None:
    """Map the ``zuul.file_comments`` of ``returned`` (a ``BuildReturn``) of a
    build of a change in place; warnings go to ``returned.warnings``."""
    zuul = returned.zuul
    comments = zuul.get("file_comments")
    commit = request.zuul_vars.get("commit_id")
    if not comments or not commit or zuul.get("disable_file_comment_line_mapping"):
        return
    checkout = checkouts.get(request.project.canonical_name)
    if checkout is None:
        return
    returned.warnings.extend(
        map_lines(checkout.path, checkout.commit, commit, comments, request.job.name)
    )
