"""The corpus's GitHub webhook examples, and a stand-in for GitHub's answers.

``examples()`` lists every ``examples/<event>/<name>.json`` with its event
type (the folder's name, as GitHub's ``X-GitHub-Event``).  ``AnsweringLookup``
is the ``PullLookup`` that the mapping asks what a payload lacks: it answers
from pull request JSON it was given, as GitHub's API would.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lockgate.drivers.github.webhook import Delivery

from tests.fixtures.corpus import corpus_root

EXAMPLES = corpus_root() / "github-webhooks" / "examples"


def examples() -> list[tuple[str, Path]]:
    return sorted((p.parent.name, p) for p in EXAMPLES.glob("*/*.json"))


def load(event: str, name: str) -> dict[str, Any]:
    return json.loads((EXAMPLES / event / name).read_text())


def delivery(event: str, payload: dict[str, Any], delivery_id: str = "d-1") -> Delivery:
    return Delivery(connection="gh", event=event, delivery=delivery_id, payload=payload)


def pull(project: str, number: int, head: str, *, branch: str = "main", **more: Any) -> dict:
    pr = {
        "number": number,
        "state": "open",
        "title": f"PR {number}",
        "body": None,
        "draft": False,
        "labels": [],
        "html_url": f"https://github.com/{project}/pull/{number}",
        "user": {"login": "author"},
        "head": {"sha": head, "ref": "topic"},
        "base": {"sha": "b" * 40, "ref": branch, "repo": {"full_name": project}},
        "updated_at": "2024-05-01T12:00:00Z",
    }
    pr.update(more)
    return pr


class AnsweringLookup:
    def __init__(self, pulls: list[Mapping[str, Any]] = ()) -> None:
        self.pulls = list(pulls)
        self.asked: list[tuple[str, Any]] = []

    def pull_request(self, project: str, number: int) -> Mapping[str, Any] | None:
        self.asked.append(("pull_request", number))
        return next((p for p in self.pulls if p["number"] == number), None)

    def pulls_for_sha(self, project: str, sha: str) -> list[Mapping[str, Any]]:
        self.asked.append(("pulls_for_sha", sha))
        return [p for p in self.pulls if p["head"]["sha"] == sha]

    def patchset_number(self, project: str, sha: str) -> int:
        return 1700000000 + int(sha[:4], 16)
