"""What jobs return (``zuul_return``) and who gets it, as Zuul hands it on.  Pure.

Called by ``jobs.py`` (a build's data arrives: which child jobs still run;
what a new build of a child job gets), ``build_request.py`` (the child's
variables and ``zuul.artifacts``) and ``items.py`` (file comments and
warnings in the item's report).  The data itself is recorded on the
``JobState`` (``result_data``, ``secret_result_data``, ``warnings``) when
the executor reports the build paused or completed.

Zuul's rules, kept here:

- ``zuul.child_jobs`` on a successful or paused build: an empty list skips
  every job that depends on it through hard dependencies; a list of names
  skips its direct children not named (and what depends on those through
  hard dependencies);
- a job gets the data of every job it depends on, directly or not, merged
  in the job graph's order (a later job's value wins), without ``zuul``,
  ``nodepool`` and ``unsafe_vars``; secret data merges the other way round
  (the first job's value wins);
- a job's ``zuul.artifacts`` are those of the jobs it requires (``requires``
  against ``provides`` of items ahead: ``provides.py``), then those of the
  jobs it depends on, each marked with the project, change and job that
  made it; a relative artifact URL is relative to the build's
  ``zuul.log_url``.
"""

from __future__ import annotations

import urllib.parse
from typing import Any

from lockgate.model.queue import JobState, QueueItem

_NOT_PASSED = ("zuul", "nodepool", "unsafe_vars")


def zuul_of(data: dict[str, Any]) -> dict[str, Any]:
    value = data.get("zuul") if isinstance(data, dict) else None
    return value if isinstance(value, dict) else {}


def children(item: QueueItem, name: str) -> list[JobState]:
    """The jobs of ``item`` that depend directly on job ``name``."""
    return [js for js in item.jobs if name in js.dependencies]


def is_soft(js: JobState, parent: str) -> bool:
    """Whether ``js`` depends on ``parent`` softly (it runs if ``parent`` is skipped)."""
    for dep in js.job.dependencies:
        if isinstance(dep, dict) and dep.get("name") == parent:
            return bool(dep.get("soft"))
    return False


def descendants(item: QueueItem, name: str) -> list[JobState]:
    """Every job of ``item`` that depends on ``name``, directly or not (graph order)."""
    found: set[str] = set()
    frontier = [name]
    while frontier:
        current = frontier.pop()
        for child in children(item, current):
            if child.name not in found:
                found.add(child.name)
                frontier.append(child.name)
    return [js for js in item.jobs if js.name in found]


def ancestors(item: QueueItem, js: JobState) -> list[JobState]:
    """Every job ``js`` depends on, directly or not, in the job graph's order."""
    found: set[str] = set()
    frontier = list(js.dependencies)
    while frontier:
        current = frontier.pop()
        if current in found:
            continue
        found.add(current)
        parent = item.job(current)
        if parent is not None:
            frontier.extend(parent.dependencies)
    return [other for other in item.jobs if other.name in found]


def children_to_skip(item: QueueItem, js: JobState) -> list[JobState]:
    """The direct children that ``js``'s ``zuul.child_jobs`` leaves out (they are
    then skipped; what depends on them follows the usual dependency rules)."""
    zuul = zuul_of(js.result_data)
    if "child_jobs" not in zuul:
        return []
    wanted = zuul.get("child_jobs") or []
    direct = children(item, js.name)
    if not wanted:
        return [c for c in direct if not is_soft(c, js.name)]
    return [c for c in direct if c.name not in wanted]


def deep_update(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``update`` merged in (nested mappings key by key); both unchanged."""
    out = {k: v for k, v in base.items() if k not in update}
    for key, value in update.items():
        old = base.get(key)
        out[key] = (
            deep_update(old, value) if isinstance(old, dict) and isinstance(value, dict) else value
        )
    return out


def parent_data(item: QueueItem, js: JobState) -> tuple[dict[str, Any], dict[str, Any]]:
    """(variables, secret variables) ``js`` gets from the jobs it depends on."""
    data: dict[str, Any] = {}
    secret: dict[str, Any] = {}
    for parent in ancestors(item, js):
        if parent.result_data:
            data = deep_update(data, parent.result_data)
        if parent.secret_result_data:
            secret = deep_update(parent.secret_result_data, secret)
    for key in _NOT_PASSED:
        data.pop(key, None)
    secret.pop("zuul", None)
    return data, secret


def origin(item: QueueItem, js: JobState) -> dict[str, Any]:
    """What an artifact of ``js`` is marked with: project, change or ref, job."""
    out: dict[str, Any] = {"project": item.project, "job": js.name}
    change = item.change
    if change is not None:
        out.update(
            branch=change.branch,
            change=str(change.number),
            patchset=change.patchset_id or str(change.patchset),
            project=change.project,
        )
    else:
        out.update(branch=item.branch, ref=item.ref, oldrev=item.oldrev, newrev=item.newrev)
    return out


def build_artifacts(data: dict[str, Any]) -> list[dict[str, Any]]:
    """A build's ``zuul.artifacts``, relative URLs resolved against its ``zuul.log_url``."""
    zuul = zuul_of(data)
    artifacts = zuul.get("artifacts")
    if not isinstance(artifacts, list):
        return []
    base = zuul.get("log_url") if isinstance(zuul.get("log_url"), str) else None
    if base and not base.endswith("/"):
        base += "/"
    out = []
    for artifact in artifacts:
        if not isinstance(artifact, dict) or "name" not in artifact or "url" not in artifact:
            continue
        entry = dict(artifact)
        if base:
            entry["url"] = urllib.parse.urljoin(base, str(artifact["url"]))
        out.append(entry)
    return out


def marked_artifacts(item: QueueItem, js: JobState) -> list[dict[str, Any]]:
    mark = origin(item, js)
    return [{**a, **mark} for a in build_artifacts(js.result_data)]


def artifacts_for(item: QueueItem, js: JobState) -> list[dict[str, Any]]:
    """``zuul.artifacts`` of a build of ``js``: required ones, then the parents'."""
    out = [dict(a) for a in js.requirement_artifacts or []]
    for parent in ancestors(item, js):
        for artifact in marked_artifacts(item, parent):
            if artifact not in out:
                out.append(artifact)
    return out


def file_comments(item: QueueItem) -> tuple[dict[str, list[dict[str, Any]]], list[str]]:
    """The file comments the item's builds returned, for the report, and
    warnings about comments on files the item's change does not touch
    (those are left out; Gerrit's special files such as ``/COMMIT_MSG`` stay)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for js in item.jobs:
        comments = zuul_of(js.result_data).get("file_comments")
        if not isinstance(comments, dict):
            continue
        for path, entries in comments.items():
            if isinstance(entries, list):
                out.setdefault(path, []).extend(e for e in entries if isinstance(e, dict))
    warnings = []
    if item.changed_files is not None:
        files = set(item.changed_files)
        for path in list(out):
            if path not in files and not path.startswith("/"):
                del out[path]
                warnings.append(f"Comments left for invalid file {path}")
    return out, warnings


def warnings(item: QueueItem) -> list[str]:
    """Every warning of the item's builds, then those about its file comments."""
    out = [w for js in item.jobs for w in js.warnings]
    out.extend(file_comments(item)[1])
    return out
