"""``GithubReporter``: commit statuses, check runs, comments, labels, reviews
and merges on pull requests.

Who calls it: the scheduler's reporting, when an item starts and when its
result is known.  Two ways in:

- ``report(change, config, message, context=..., details_url=..., comments=...)``
  does what one pipeline reporter section for this connection says (Zuul's
  attributes, ``schema.reporter_schema``): ``status`` (a commit status whose
  context is ``context``, Zuul's ``<tenant>/<pipeline>``, linking
  ``status-url`` or ``details_url``), ``check`` (a check run named
  ``context`` with a summary, the details link and the file comments as
  annotations; updated in place when the item reports again), ``comment``
  (true by default: the message as a PR comment), ``review`` and
  ``review-body``, ``label``/``unlabel``, then ``merge``;
- ``review(change, message, labels, comments)`` and ``submit(change)``, the
  ``ChangeReporter`` protocol the scheduler uses today: a comment, and a
  merge.

Merges use the project's merge mode (``submit(change, merge_mode=...)``;
GitHub's ``merge``, ``squash`` or ``rebase``), with the head sha the item
tested, so a PR pushed to meanwhile is not merged.  A refusal (405 not
mergeable or blocked by branch protection, 409 head moved, 422) is
``ReportError(permanent=True)`` carrying GitHub's message, as is a
repository the App is not installed on, and GitHub failing or out of reach
for the client's whole retry budget (``api_retry_timeout``: the patience is
spent, so the item reports the error rather than wait on); the App's own key
refused is ``ReportError(permanent=False)`` (it works again once the key is
replaced).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from lockgate.drivers.base import ReportError
from lockgate.drivers.github.client import GithubAuthError, GithubHTTPError
from lockgate.model.change import Change

if TYPE_CHECKING:
    from lockgate.drivers.github.connection import GithubConnection

log = logging.getLogger("lockgate.drivers.github.reporter")

COMMENT_LIMIT = 65000  # GitHub refuses bodies over 65536 characters
SUMMARY_LIMIT = 65000
DESCRIPTION_LIMIT = 140
ANNOTATIONS_PER_CALL = 50
PERMANENT_STATUSES = frozenset({400, 401, 403, 404, 405, 409, 422})
# Zuul's merge modes -> GitHub's merge methods.
MERGE_METHODS = {
    "merge": "merge",
    "merge-resolve": "merge",
    "merge-recursive": "merge",
    "merge-ort": "merge",
    "squash-merge": "squash",
    "squash": "squash",
    "rebase": "rebase",
}
CHECK_CONCLUSIONS = frozenset({"cancelled", "failure", "neutral", "skipped", "success"})
REVIEW_EVENTS = {"approve": "APPROVE", "comment": "COMMENT", "request-changes": "REQUEST_CHANGES"}


def truncate(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[: limit - 20] + "\n... (truncated)"


def merge_method(mode: str | None) -> str:
    """GitHub's merge method for a project's ``merge-mode``; ``ReportError``
    for one GitHub cannot do (cherry-pick)."""
    if mode is None:
        return "merge"
    try:
        return MERGE_METHODS[mode]
    except KeyError:
        raise ReportError(
            f"merge-mode '{mode}' cannot be done by GitHub (use merge, squash-merge or rebase)",
            permanent=True,
        ) from None


def check_annotations(comments: Mapping[str, list[dict[str, Any]]] | None) -> list[dict[str, Any]]:
    """File comments (``{path: [{"line": 3, "message": ...}]}``) as check-run
    annotations."""
    out = []
    for path, items in (comments or {}).items():
        for item in items:
            line = int(item.get("line") or (item.get("range") or {}).get("start_line") or 1)
            end = int((item.get("range") or {}).get("end_line") or line)
            out.append(
                {
                    "path": path,
                    "start_line": line,
                    "end_line": max(end, line),
                    "annotation_level": item.get("level", "warning"),
                    "message": str(item.get("message", "")),
                }
            )
    return out


class GithubReporter:
    def __init__(self, connection: GithubConnection) -> None:
        self.connection = connection

    @property
    def connection_name(self) -> str:
        return self.connection.name

    # --- the ChangeReporter protocol -------------------------------------------------

    def review(
        self,
        change: Change,
        message: str,
        labels: Mapping[str, int] | None = None,
        comments: Mapping[str, list[dict[str, Any]]] | None = None,
    ) -> None:
        """A PR comment with ``message`` (GitHub has no label votes: ``labels``
        are ignored; file comments go in check runs, see ``report``)."""
        if message:
            self.comment(change, message)

    def submit(self, change: Change, merge_mode: str | None = None) -> None:
        self.merge(change, merge_mode=merge_mode)

    # --- the whole reporter section ---------------------------------------------------

    def report(
        self,
        change: Change,
        config: Mapping[str, Any] | None,
        message: str,
        *,
        context: str,
        details_url: str | None = None,
        comments: Mapping[str, list[dict[str, Any]]] | None = None,
        merge_mode: str | None = None,
    ) -> None:
        """Everything one reporter section asks, in Zuul's order; the first
        refusal stops the rest and is raised."""
        config = config or {}
        url = config.get("status-url") or details_url
        if config.get("status"):
            self.status(change, str(config["status"]), context=context, url=url, message=message)
        if config.get("check"):
            self.check_run(
                change,
                str(config["check"]),
                name=context,
                url=details_url or url,
                message=message,
                comments=comments,
            )
        if config.get("comment", True) and message:
            self.comment(change, message)
        if config.get("review"):
            self.pr_review(change, str(config["review"]), config.get("review-body") or "")
        for label in _names(config.get("label")):
            self.add_label(change, label)
        for label in _names(config.get("unlabel")):
            self.remove_label(change, label)
        if config.get("merge"):
            self.merge(change, merge_mode=merge_mode)

    # --- one call each -----------------------------------------------------------------

    def status(
        self, change: Change, state: str, *, context: str, url: str | None, message: str = ""
    ) -> None:
        first = (message.strip().splitlines() or [""])[0]
        description = truncate(first or f"{context}: {state}", DESCRIPTION_LIMIT)
        if len(description) > DESCRIPTION_LIMIT:
            description = description[: DESCRIPTION_LIMIT - 3] + "..."
        body = {"state": state, "context": context, "description": description}
        if url:
            body["target_url"] = url
        self._call(change, f"status {context}={state}", "POST", f"statuses/{change.commit}", body)

    def check_run(
        self,
        change: Change,
        state: str,
        *,
        name: str,
        url: str | None,
        message: str,
        comments: Mapping[str, list[dict[str, Any]]] | None = None,
    ) -> None:
        body: dict[str, Any] = {"name": name, "head_sha": change.commit}
        if state == "in_progress":
            body["status"] = "in_progress"
        else:
            body["status"] = "completed"
            body["conclusion"] = state if state in CHECK_CONCLUSIONS else "neutral"
        if url:
            body["details_url"] = url
        notes = check_annotations(comments)
        title = f"{name}: {state.replace('_', ' ')}"
        body["output"] = {
            "title": title,
            "summary": truncate(message or title, SUMMARY_LIMIT),
            "annotations": notes[:ANNOTATIONS_PER_CALL],
        }
        existing = self._find_check_run(change, name)
        if existing is None:
            run = self._call(change, f"check run {name}={state}", "POST", "check-runs", body)
            run_id = run.get("id") if isinstance(run, Mapping) else None
        else:
            run_id = existing
            self._call(
                change,
                f"check run {name}={state}",
                "PATCH",
                f"check-runs/{existing}",
                {k: v for k, v in body.items() if k != "head_sha"},
            )
        # GitHub takes 50 annotations a call; the rest go in further updates.
        for start in range(ANNOTATIONS_PER_CALL, len(notes), ANNOTATIONS_PER_CALL):
            if run_id is None:
                break
            more = {"output": {**body["output"], "annotations": notes[start : start + 50]}}
            self._call(
                change, f"check run {name} annotations", "PATCH", f"check-runs/{run_id}", more
            )

    def comment(self, change: Change, message: str) -> None:
        self._call(
            change,
            "comment",
            "POST",
            f"issues/{change.number}/comments",
            {"body": truncate(message, COMMENT_LIMIT)},
        )

    def pr_review(self, change: Change, kind: str, body: str) -> None:
        event = REVIEW_EVENTS.get(kind)
        if event is None:
            raise ReportError(f"unknown review '{kind}'", permanent=True)
        data: dict[str, Any] = {"event": event, "commit_id": change.commit}
        if body:
            data["body"] = truncate(body, COMMENT_LIMIT)
        self._call(change, f"review {kind}", "POST", f"pulls/{change.number}/reviews", data)

    def add_label(self, change: Change, label: str) -> None:
        self._call(
            change, f"label {label}", "POST", f"issues/{change.number}/labels", {"labels": [label]}
        )

    def remove_label(self, change: Change, label: str) -> None:
        try:
            self._call(
                change,
                f"unlabel {label}",
                "DELETE",
                f"issues/{change.number}/labels/{quote(label, safe='')}",
                None,
            )
        except ReportError as e:
            if "HTTP 404" not in str(e):
                raise  # a label that is not there is already removed

    def merge(self, change: Change, *, merge_mode: str | None = None) -> None:
        method = merge_method(merge_mode)
        data = {"sha": change.commit, "merge_method": method}
        result = self._call(
            change, f"merge ({method})", "PUT", f"pulls/{change.number}/merge", data
        )
        if isinstance(result, Mapping) and result.get("merged") is False:
            raise ReportError(
                f"GitHub {self.connection.name}: merge of {change.project}#{change.number}: "
                f"{result.get('message') or 'not merged'}",
                permanent=True,
            )

    # --- plumbing ---------------------------------------------------------------------

    def _find_check_run(self, change: Change, name: str) -> int | None:
        client = self.connection.client()
        try:
            for run in client.paginate(
                f"/repos/{change.project}/commits/{change.commit}/check-runs",
                project=change.project,
                key="check_runs",
                check_name=name,
            ):
                if run.get("name") == name and isinstance(run.get("id"), int):
                    return int(run["id"])
        except GithubHTTPError as e:
            if e.status == 404:
                return None
            raise ReportError(
                f"GitHub {self.connection.name}: check runs of {change.describe()}: {e}",
                permanent=permanent(e),
            ) from None
        return None

    def _call(self, change: Change, what: str, method: str, path: str, body: Any) -> Any:
        client = self.connection.client()
        full = f"GitHub {self.connection.name}: {what} on {change.project}#{change.number}"
        try:
            response = client.request(
                method, f"/repos/{change.project}/{path}", project=change.project, json=body
            )
        except GithubHTTPError as e:
            said = f"HTTP {e.status}: {e.message}" if e.status else e.message
            raise ReportError(f"{full}: {said}", permanent=permanent(e)) from None
        log.info("%s: done", full)
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            return None


def permanent(error: GithubHTTPError) -> bool:
    """Whether sending the same report again cannot help: GitHub refused it,
    the App is not installed on the repository, or GitHub failed for the
    whole retry budget already."""
    if isinstance(error, GithubAuthError):
        return error.project is not None
    return error.transient or error.status in PERMANENT_STATUSES


def _names(value: Any) -> list[str]:
    if value is None:
        return []
    return [str(v) for v in (value if isinstance(value, list) else [value])]
