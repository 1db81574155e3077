"""Configuration errors are data.

Every stage of loading (YAML, schema, tenant config, layout, freezing)
collects ``ConfigError`` records instead of raising, so that one load reports
every problem with its file and line, and a tenant with a broken object keeps
the rest of its layout.  The API serves these records, and
``lockgate config check`` prints them as ``path:line: object 'name': message``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


class Severity(str, enum.Enum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class SourceContext:
    """Where a configuration object came from."""

    project: str  # project name as in the tenant config
    branch: str | None
    path: str  # path inside the repository, e.g. "zuul.d/jobs.yaml"
    line: int | None = None  # 1-based line of the object's start
    trusted: bool = False  # defined in a config project
    connection: str | None = None

    def location(self) -> str:
        return f"{self.path}:{self.line}" if self.line else self.path


@dataclass(frozen=True)
class ConfigError:
    message: str
    context: SourceContext | None = None
    # The object the error is about: its type ("job", "project", ...) and name.
    object_type: str | None = None
    object_name: str | None = None
    severity: Severity = Severity.ERROR
    # A stable key (what kind of error), e.g. "unknown-parent", "schema".
    key: str = "error"
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    # Zuul's kind when the key alone does not decide it (a driver's
    # deprecation); otherwise it follows from the key (``name``).
    kind: str | None = None

    @property
    def name(self) -> str:
        """Zuul's kind of this error (``Job Not Found`` ...), the ``name`` the
        API gives it; ``key`` stays the finer ``detail``."""
        if self.kind is not None:
            return self.kind
        from lockgate.config.kinds import zuul_kind

        return zuul_kind(self.key, self.severity is Severity.WARNING)

    def format(self) -> str:
        """``path:line: object 'name': message`` (the check command's line)."""
        where = self.context.location() if self.context else "<tenant>"
        what = ""
        if self.object_type:
            what = (
                f"{self.object_type} '{self.object_name}': "
                if self.object_name
                else f"{self.object_type}: "
            )
        message = self.message
        # Messages name their object for the API ("job 'x' has unknown parent
        # 'y'"); the line already starts with it, so say it once.
        subject = what.rstrip(": ")
        if what:
            for repeated in (subject + ": ", subject + " "):
                if message.startswith(repeated):
                    message = message[len(repeated) :]
                    break
        return f"{where}: {what}{message}"

    def to_api(self) -> dict[str, Any]:
        """The shape of an entry in Zuul's ``/api/tenant/{t}/config-errors``."""
        ctx = self.context
        return {
            "source_context": None
            if ctx is None
            else {
                "project": ctx.project,
                "branch": ctx.branch,
                "path": ctx.path,
            },
            "error": self.message,
            "short_error": self.message.splitlines()[0] if self.message else "",
            "severity": self.severity.value,
            "name": self.name,
            "detail": self.key,
            "line": ctx.line if ctx else None,
            "object_type": self.object_type,
            "object_name": self.object_name,
        }
