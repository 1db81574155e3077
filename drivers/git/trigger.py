"""The git driver's trigger filter: which ``ref-updated`` events a pipeline takes.

Built once per trigger entry when a layout is loaded
(``GitDriver.make_trigger_filter``); ``matches`` is then pure and cheap,
called by the scheduler for every event from the connection.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lockgate.config.matchers import Regex, RegexError, parse_regexes
from lockgate.drivers.base import TriggerFilterError, as_list, validate
from lockgate.drivers.git.schema import trigger_schema
from lockgate.git import ZERO_SHA
from lockgate.model.events import TriggerEvent


@dataclass(frozen=True)
class GitTriggerFilter:
    connection_name: str
    types: tuple[str, ...]
    refs: tuple[Regex, ...] = ()
    branches: tuple[Regex, ...] = ()
    ignore_deletes: bool = True
    debug: bool = False

    def matches(self, event: TriggerEvent, change: object = None) -> bool:
        if event.connection != self.connection_name or event.type not in self.types:
            return False
        if self.ignore_deletes and event.newrev == ZERO_SHA:
            return False
        if self.refs and not any(r.matches(event.ref) for r in self.refs):
            return False
        if self.branches:
            if event.branch is None or not any(b.matches(event.branch) for b in self.branches):
                return False
        return True


def make_trigger_filter(connection_name: str, spec: Mapping[str, Any]) -> GitTriggerFilter:
    what = f"trigger '{connection_name}'"
    spec = validate(trigger_schema(), dict(spec) if isinstance(spec, Mapping) else spec, what)
    try:
        refs = parse_regexes(spec["ref"]) if "ref" in spec else ()
        branches = parse_regexes(spec["branch"]) if "branch" in spec else ()
    except RegexError as e:
        raise TriggerFilterError(f"{what}: {e}") from None
    return GitTriggerFilter(
        connection_name=connection_name,
        types=tuple(as_list(spec["event"])),
        refs=refs,
        branches=branches,
        ignore_deletes=spec.get("ignore-deletes", True),
        debug=spec.get("debug", False),
    )
