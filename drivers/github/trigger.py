"""The GitHub trigger filter: which pull request and push events a pipeline takes.

Built once per entry of ``pipeline.trigger.<github connection>`` when a
layout is loaded (``make_trigger_filter``, through the GitHub driver); the
scheduler calls ``matches(event, change)`` for each event of the connection.
Pure: ``change`` is the pull request as the scheduler read it after the
event.

Zuul's semantics: ``event`` is Zuul's GitHub event name, read from
``TriggerEvent.extra["event"]`` (``lockgate.drivers.github.events`` maps
GitHub's deliveries; a push is ``push``); ``action`` from ``extra["action"]``
(``requested`` is the deprecated name of ``rerequested``); ``branch`` and
``ref`` match at the start; ``ignore-deletes`` (true) skips pushes that
delete a ref; ``comment`` is searched in the comment; ``label`` is the
label a labeled/unlabeled action names (``unlabel``, deprecated, only on
unlabeled); ``state`` the review's state (``comment`` also names GitHub's
``commented``); ``status`` and ``check`` fully match ``user:context:state``
and ``app:name:conclusion``; ``require``/``reject`` (or the deprecated
``require-status``, used only without ``require``) check the change.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lockgate.config.matchers import Regex, RegexError, parse_regexes
from lockgate.drivers.base import TriggerFilterError, as_list
from lockgate.drivers.github.requirements import (
    ChangeRequirement,
    Conditions,
    compile_conditions,
    full_match,
)
from lockgate.drivers.github.schema import check, deprecations, trigger_schema
from lockgate.git import ZERO_SHA
from lockgate.model.change import Change
from lockgate.model.events import TriggerEvent


def _patterns(regexes: tuple[Regex, ...]) -> str:
    return ", ".join(repr(r.pattern) for r in regexes)


def _search(regex: Regex, text: str) -> bool:
    return (regex.compiled.search(text) is not None) != regex.negate


@dataclass(frozen=True)
class GithubTriggerFilter:
    connection_name: str
    events: tuple[str, ...]
    actions: tuple[str, ...] = ()
    branches: tuple[Regex, ...] = ()
    refs: tuple[Regex, ...] = ()
    ignore_deletes: bool = True
    comments: tuple[Regex, ...] = ()
    labels: tuple[str, ...] = ()
    unlabels: tuple[str, ...] = ()
    states: tuple[str, ...] = ()
    statuses: tuple[Regex, ...] = ()
    checks: tuple[Regex, ...] = ()
    requirement: ChangeRequirement | None = None
    deprecations: tuple[str, ...] = field(default=(), compare=False)

    @property
    def needs_change(self) -> bool:
        return self.requirement is not None

    def matches(
        self, event: TriggerEvent, change: Change | None = None, now: float | None = None
    ) -> bool:
        return self.mismatch(event, change, now) is None

    def mismatch(
        self, event: TriggerEvent, change: Change | None = None, now: float | None = None
    ) -> str | None:
        """None if the event matches; else the first reason it does not."""
        if event.connection != self.connection_name:
            return f"the event is from connection '{event.connection}'"
        kind = str(event.extra.get("event") or "")
        if kind not in self.events:
            return f"event '{kind}' is not {' or '.join(self.events)}"
        action = event.extra.get("action")
        if self.actions and action not in self.actions:
            return f"action '{action}' is not {' or '.join(self.actions)}"
        if self.branches:
            if event.branch is None or not any(b.matches(event.branch) for b in self.branches):
                return f"branch {event.branch!r} does not match {_patterns(self.branches)}"
        if self.refs:
            if not event.ref or not any(r.matches(event.ref) for r in self.refs):
                return f"ref {event.ref!r} does not match {_patterns(self.refs)}"
        if self.ignore_deletes and event.newrev == ZERO_SHA:
            return "the event deletes a ref (ignore-deletes)"
        if self.comments:
            text = event.comment or ""
            if event.comment is None or not any(_search(r, text) for r in self.comments):
                return f"no comment matches {_patterns(self.comments)}"
        label = event.extra.get("label")
        if self.labels and label not in self.labels:
            return f"label {label!r} is not {' or '.join(self.labels)}"
        if self.unlabels and (action != "unlabeled" or label not in self.unlabels):
            return f"no label of {' or '.join(self.unlabels)} was removed"
        state = event.extra.get("state")
        if self.states and state not in self.states:
            return f"review state {state!r} is not {' or '.join(self.states)}"
        for regexes, key in ((self.statuses, "status"), (self.checks, "check")):
            value = event.extra.get(key)
            if regexes and (
                not isinstance(value, str) or not any(full_match(r, value) for r in regexes)
            ):
                return f"{key} {value!r} does not match {_patterns(regexes)}"
        if self.requirement is not None:
            if change is None:
                return "the trigger's require/reject need the pull request, which is not known"
            when = event.timestamp if now is None else now
            return self.requirement.check(change, when)
        return None


def make_trigger_filter(connection_name: str, spec: Mapping[str, Any]) -> GithubTriggerFilter:
    """Validate and compile one trigger entry; ``TriggerFilterError`` naming
    the connection and every problem."""
    what = f"trigger '{connection_name}'"
    check(trigger_schema(), spec, what, TriggerFilterError)

    def regexes(name: str) -> tuple[Regex, ...]:
        return parse_regexes(spec[name]) if name in spec else ()

    try:
        require = compile_conditions(spec.get("require"))
        if "require" not in spec and "require-status" in spec:
            require = Conditions(statuses=parse_regexes(spec["require-status"]))
        reject = compile_conditions(spec.get("reject"))
        requirement = None
        if not (require.empty and reject.empty):
            requirement = ChangeRequirement(connection_name, require, reject)
        states = tuple(as_list(spec.get("state")))
        if "comment" in states or "commented" in states:
            states = tuple(dict.fromkeys((*states, "comment", "commented")))
        return GithubTriggerFilter(
            connection_name=connection_name,
            events=tuple(as_list(spec["event"])),
            actions=tuple(
                "rerequested" if a == "requested" else a for a in as_list(spec.get("action"))
            ),
            branches=regexes("branch"),
            refs=regexes("ref"),
            ignore_deletes=spec.get("ignore-deletes", True),
            comments=regexes("comment"),
            labels=tuple(str(x) for x in as_list(spec.get("label"))),
            unlabels=tuple(str(x) for x in as_list(spec.get("unlabel"))),
            states=states,
            statuses=regexes("status"),
            checks=regexes("check"),
            requirement=requirement,
            deprecations=tuple(deprecations(spec)),
        )
    except RegexError as exc:
        raise TriggerFilterError(f"{what}: {exc}") from None
