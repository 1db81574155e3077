"""Deprecated trigger attributes are warnings (as Zuul shows them), not errors."""

from __future__ import annotations

from dataclasses import dataclass

from lockgate.config.errors import Severity
from lockgate.config.parser import parse_project_files

PIPELINE = """
- pipeline:
    name: gate
    manager: dependent
    trigger:
      gerrit:
        - event: comment-added
          require-approval:
            - Verified: 1
              username: zuul
"""


@dataclass
class Project:
    name: str = "config"
    trusted: bool = True
    connection: str = "gerrit"

    def loads(self, kind: str) -> bool:
        return True


def test_require_approval_is_a_warning_naming_the_trigger():
    objects, errors = parse_project_files(
        {"zuul.yaml": PIPELINE}, Project(), "master", connections={"gerrit": "gerrit"}
    )
    assert [o.name for o in objects] == ["gate"]
    (warning,) = errors
    assert warning.severity is Severity.WARNING and warning.key == "deprecated"
    assert warning.message.startswith("trigger.gerrit[0]: ")
    assert "require-approval" in warning.message
    assert warning.context.line == 2


def test_no_warning_without_the_connections_drivers():
    objects, errors = parse_project_files({"zuul.yaml": PIPELINE}, Project(), "master")
    assert [o.name for o in objects] == ["gate"] and errors == []
