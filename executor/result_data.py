"""What a build's playbooks returned with ``zuul_return``, read and checked.

The ``zuul_return`` action plugin (``ansible_plugins/action/zuul_return.py``)
merges each call into the build's result file (``work/results.json``,
``zuul.executor.result_data_file``).  The runner reads it with
``read_result_file`` after the run playbooks (is the job to pause? may a
failed pre-run be retried?) and once more at the end; ``BuildReturn`` is what
goes back to the scheduler with the result (``lockgate.model.builds``).

The file is written by untrusted playbooks (they may write it directly, not
only through the plugin), so nothing here trusts it: a file that is not JSON
or whose ``zuul`` values have the wrong shape gives warnings and the parts
that were usable, never an exception.  Top-level names must be usable as
Ansible variables (they become variables of child jobs), as Zuul requires.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# What Ansible accepts as a variable name.
_VARNAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_COMMENT_KEYS = {"line": int, "message": str, "level": str, "range": dict}
_RANGE_KEYS = ("start_line", "start_character", "end_line", "end_character")


@dataclass
class BuildReturn:
    """The checked ``zuul_return`` values of a build.

    ``data`` goes to child jobs as variables and is stored with the build
    (``zuul.*`` included: the scheduler reads ``child_jobs``, ``artifacts``,
    ``file_comments``, ``log_url`` from it); ``secret_data`` goes to child
    jobs only; ``warnings`` are the job's ``zuul.warnings`` plus what was
    wrong with the file.
    """

    data: dict[str, Any] = field(default_factory=dict)
    secret_data: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @property
    def zuul(self) -> dict[str, Any]:
        value = self.data.get("zuul")
        return value if isinstance(value, dict) else {}

    @property
    def pause(self) -> bool:
        return bool(self.zuul.get("pause"))

    @property
    def retry(self) -> bool | None:
        """``zuul.retry``: False forbids retrying a failed pre-run; None when not given."""
        value = self.zuul.get("retry")
        return None if value is None else bool(value)

    @property
    def log_url(self) -> str | None:
        value = self.zuul.get("log_url")
        return value if isinstance(value, str) and value else None


def read_result_file(path: Path, job: str) -> BuildReturn:
    """The result file at ``path`` as a ``BuildReturn`` (empty if there is none)."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return BuildReturn()
    except OSError as e:
        return BuildReturn(warnings=[f"Job {job}: cannot read the zuul_return data: {e}"])
    if not text.strip():
        return BuildReturn()
    try:
        loaded = json.loads(text)
    except ValueError as e:
        return BuildReturn(warnings=[f"Job {job}: the zuul_return data is not JSON: {e}"])
    if not isinstance(loaded, dict):
        return BuildReturn(warnings=[f"Job {job}: the zuul_return data is not a mapping"])
    return check_returned(loaded.get("data"), loaded.get("secret_data"), job)


def check_returned(data: Any, secret_data: Any, job: str) -> BuildReturn:
    """Keep the usable parts of ``data`` and ``secret_data``; say what was dropped."""
    out = BuildReturn()
    out.data = _check_vars(data, "data", job, out.warnings)
    out.secret_data = _check_vars(secret_data, "secret_data", job, out.warnings)
    out.secret_data.pop("zuul", None)
    zuul = out.data.get("zuul")
    if zuul is None:
        return out
    if not isinstance(zuul, dict):
        out.warnings.append(f"Job {job}: zuul_return: zuul must be a mapping; ignored")
        del out.data["zuul"]
        return out
    _check_zuul(zuul, job, out.warnings)
    out.warnings.extend(w for w in zuul.get("warnings", []))
    return out


def _check_vars(value: Any, what: str, job: str, warnings: list[str]) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        warnings.append(f"Job {job}: zuul_return {what} must be a mapping; ignored")
        return {}
    out = {}
    for key, item in value.items():
        if key != "zuul" and not (isinstance(key, str) and _VARNAME.match(key)):
            warnings.append(
                f"Job {job}: zuul_return {what}: {key!r} is not a valid variable name; ignored"
            )
            continue
        out[key] = item
    return out


def _check_zuul(zuul: dict[str, Any], job: str, warnings: list[str]) -> None:
    """Drop (with a warning) each ``zuul.*`` value of the wrong shape."""

    def drop(key: str, why: str) -> None:
        warnings.append(f"Job {job}: zuul_return zuul.{key} {why}; ignored")
        zuul.pop(key, None)

    if "log_url" in zuul and not isinstance(zuul["log_url"], str):
        drop("log_url", "must be a string")
    artifacts = zuul.get("artifacts")
    if artifacts is not None and not (
        isinstance(artifacts, list)
        and all(
            isinstance(a, dict)
            and isinstance(a.get("name"), str)
            and isinstance(a.get("url"), str)
            and isinstance(a.get("metadata", {}), dict)
            for a in artifacts
        )
    ):
        drop("artifacts", "must be a list of {name, url, metadata}")
    warns = zuul.get("warnings")
    if warns is not None and not (
        isinstance(warns, list) and all(isinstance(w, str) for w in warns)
    ):
        drop("warnings", "must be a list of strings")
    children = zuul.get("child_jobs")
    if children is not None and not (
        isinstance(children, list) and all(isinstance(c, str) for c in children)
    ):
        drop("child_jobs", "must be a list of job names")
    comments = zuul.get("file_comments")
    if comments is not None:
        problem = file_comments_problem(comments)
        if problem:
            drop("file_comments", f"is invalid ({problem})")


def file_comments_problem(comments: Any) -> str | None:
    """Why ``comments`` is not ``{path: [{line, message, range, level}]}`` (None if it is)."""
    if not isinstance(comments, dict):
        return "not a mapping of file names"
    for path, entries in comments.items():
        if not isinstance(path, str):
            return f"file name {path!r} is not a string"
        if not isinstance(entries, list):
            return f"{path}: not a list of comments"
        for i, entry in enumerate(entries):
            if not isinstance(entry, dict):
                return f"{path}[{i}]: not a mapping"
            for key, value in entry.items():
                kind = _COMMENT_KEYS.get(key)
                if kind is None:
                    return f"{path}[{i}]: unknown key {key!r}"
                if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
                    return f"{path}[{i}].{key}: expected {kind.__name__}"
            rng = entry.get("range")
            if rng is not None:
                for key, value in rng.items():
                    if key not in _RANGE_KEYS or not isinstance(value, int):
                        return f"{path}[{i}].range.{key}: expected one of {_RANGE_KEYS} (int)"
    return None
