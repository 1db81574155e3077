"""The Gerrit trigger filter: which Gerrit events a pipeline takes.

Built once per entry of ``pipeline.trigger.<gerrit connection>`` when a
layout is loaded (``make_trigger_filter``, through the Gerrit driver); the
scheduler then calls ``matches(event, change)`` for every event from the
connection.  Matching is pure: ``change`` is the change's state from the
change cache, and the time that ``newer-than``/``older-than`` count back
from is the event's (or the caller's ``now``).

Zuul's semantics, in Zuul's order: the connection and event type; a
pending-check's checker ``uuid``/``scheme``; ``branch`` and ``ref``
(matched at the start); ``ignore-deletes``; ``comment`` (searched anywhere
in the review message or a patchset-level comment); ``email`` and
``username`` of the account that caused the event (skipped, as in Zuul,
when the event names no account); ``approval`` (votes the event carries,
all of them needed) and ``approval-change`` (the same, and the vote
changed); ``added``/``removed`` (hashtags a hashtags-changed event added or
removed); then ``require``/``reject`` (or the deprecated
``require-approval``/``reject-approval``, used only without them) on the
change as it stands after the event (``event_view``).

What the filter reads from ``TriggerEvent.extra`` (filled by
``lockgate.drivers.gerrit.events``): ``added`` and ``removed`` (hashtags),
``patchset_comments`` (patchset-level comment texts), ``uuid`` (a
pending-check's checker), and ``status``/``wip``/``hashtags`` (the change's
state the event reports).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lockgate.config.matchers import Regex, RegexError, parse_regexes
from lockgate.drivers.base import TriggerFilterError, as_list
from lockgate.drivers.gerrit.requirements import (
    ChangeRequirement,
    Conditions,
    compile_approvals,
    compile_conditions,
    format_vote,
    regex_search,
)
from lockgate.drivers.gerrit.schema import check, deprecations, trigger_schema, vote_value
from lockgate.git import ZERO_SHA
from lockgate.model.change import Account, Approval, Change, ChangeStatus, change_ref
from lockgate.model.events import TriggerEvent

# Keys of ``TriggerEvent.extra`` this module reads.
EXTRA_ADDED = "added"
EXTRA_REMOVED = "removed"
EXTRA_PATCHSET_COMMENTS = "patchset_comments"
EXTRA_CHECKER_UUID = "uuid"


def _patterns(regexes: tuple[Regex, ...]) -> str:
    return ", ".join(repr(r.pattern) for r in regexes)


@dataclass(frozen=True)
class GerritTriggerFilter:
    """One trigger entry, compiled.  ``approvals``/``approval_changes`` are
    ``(label, vote)`` pairs; ``requirement`` holds ``require``/``reject``."""

    connection_name: str
    types: tuple[str, ...]
    branches: tuple[Regex, ...] = ()
    refs: tuple[Regex, ...] = ()
    ignore_deletes: bool = True
    comments: tuple[Regex, ...] = ()
    emails: tuple[Regex, ...] = ()
    usernames: tuple[Regex, ...] = ()
    approvals: tuple[tuple[str, int], ...] = ()
    approval_changes: tuple[tuple[str, int], ...] = ()
    added: tuple[Regex, ...] = ()
    removed: tuple[Regex, ...] = ()
    uuid: str | None = None
    scheme: str | None = None
    requirement: ChangeRequirement | None = None
    deprecations: tuple[str, ...] = field(default=(), compare=False)

    @property
    def needs_change(self) -> bool:
        """Whether matching needs the change's state (``require``/``reject``)."""
        return self.requirement is not None

    def matches(
        self, event: TriggerEvent, change: Change | None = None, now: float | None = None
    ) -> bool:
        return self.mismatch(event, change, now) is None

    def mismatch(
        self, event: TriggerEvent, change: Change | None = None, now: float | None = None
    ) -> str | None:
        """None if the event matches; else the first reason it does not (for
        debug logs, as Zuul's "false with reason")."""
        if event.connection != self.connection_name:
            return f"the event is from connection '{event.connection}'"
        if event.type not in self.types:
            return f"event type '{event.type}' is not {' or '.join(self.types)}"
        if event.type == "pending-check":
            checker = str(event.extra.get(EXTRA_CHECKER_UUID) or "")
            if self.uuid is not None and checker != self.uuid:
                return f"checker '{checker}' is not '{self.uuid}'"
            if self.scheme is not None and checker.split(":")[0] != self.scheme:
                return f"checker '{checker}' is not of scheme '{self.scheme}'"
        if self.branches:
            if event.branch is None or not any(b.matches(event.branch) for b in self.branches):
                return f"branch {event.branch!r} does not match {_patterns(self.branches)}"
        if self.refs:
            if not event.ref or not any(r.matches(event.ref) for r in self.refs):
                return f"ref {event.ref!r} does not match {_patterns(self.refs)}"
        if self.ignore_deletes and event.newrev == ZERO_SHA:
            return "the event deletes a ref (ignore-deletes)"
        reason = self._comment_mismatch(event) or self._account_mismatch(event)
        if reason:
            return reason
        reason = self._approval_mismatch(event) or self._hashtag_mismatch(event)
        if reason:
            return reason
        if self.requirement is not None:
            if change is None:
                return "the trigger's require/reject need the change, which is not known"
            view = event_view(change, event)
            when = event.timestamp if now is None else now
            return self.requirement.check(view, when)
        return None

    def _comment_mismatch(self, event: TriggerEvent) -> str | None:
        if not self.comments:
            return None
        texts = [event.comment] if event.comment is not None else []
        texts += [c for c in as_list(event.extra.get(EXTRA_PATCHSET_COMMENTS)) if c is not None]
        for regex in self.comments:
            if any(regex_search(regex, str(text)) for text in texts):
                return None
        return f"no comment matches {_patterns(self.comments)}"

    def _account_mismatch(self, event: TriggerEvent) -> str | None:
        if event.account is None:
            return None  # Zuul: without an account the filters are not applied
        for regexes, attr in ((self.emails, "email"), (self.usernames, "username")):
            if not regexes:
                continue
            value = event.account.get(attr)
            if value is None or not any(regex_search(r, str(value)) for r in regexes):
                return f"{attr} {value!r} does not match {_patterns(regexes)}"
        return None

    def _approval_mismatch(self, event: TriggerEvent) -> str | None:
        for label, vote in self.approvals:
            if not any(
                a.get("label") == label and _int(a.get("value")) == vote for a in event.approvals
            ):
                return f"the event carries no {label} {format_vote(vote)}"
        for label, vote in self.approval_changes:
            if not any(
                a.get("label") == label
                and _int(a.get("value")) == vote
                and a.get("old_value") is not None
                and _int(a.get("old_value")) != vote
                for a in event.approvals
            ):
                return f"the event does not change {label} to {format_vote(vote)}"
        return None

    def _hashtag_mismatch(self, event: TriggerEvent) -> str | None:
        for regexes, key in ((self.added, EXTRA_ADDED), (self.removed, EXTRA_REMOVED)):
            if not regexes:
                continue
            tags = [str(t) for t in as_list(event.extra.get(key))]
            if not any(regex_search(r, t) for r in regexes for t in tags):
                return f"no {key} hashtag matches {_patterns(regexes)}"
        return None


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _event_votes(event: TriggerEvent) -> list[Approval]:
    by = Account.from_dict(event.account) if event.account else Account()
    votes = []
    for entry in event.approvals:
        value = _int(entry.get("value"))
        if entry.get("label") and value is not None:
            voter = Account.from_dict(entry["by"]) if entry.get("by") else by
            votes.append(Approval(entry["label"], value, voter, event.timestamp))
    return votes


def event_view(change: Change, event: TriggerEvent) -> Change:
    """The change as the event leaves it, for the trigger's ``require``/``reject``.

    Zuul's trigger conditions "may be satisfied by the event in question":
    the change it checks was read from Gerrit after the event.  The change
    cache may not have caught up, so:

    - an event about a patchset other than the cached one is judged on that
      patchset: current if newer than the cached one (the cache is behind),
      not current if older, and with only the event's votes (the others on
      that patchset are unknown here);
    - if the cached state is older than the event, the event's votes (a
      review's current votes, a deleted vote as 0) supersede the same
      account's on the same label, and the status, work-in-progress flag and
      hashtags the event reports replace the cached ones.
    """
    votes = _event_votes(event)
    if event.patchset is not None and event.patchset != change.patchset:
        return dataclasses.replace(
            change,
            patchset=event.patchset,
            ref=change_ref(change.number, event.patchset),
            is_current_patchset=event.patchset > change.patchset,
            approvals=votes,
        )
    if change.updated > event.timestamp:
        return change
    updates: dict[str, Any] = {}
    if votes:
        updates["approvals"] = [*change.approvals, *votes]
    status = event.extra.get("status")
    if isinstance(status, str) and status in ChangeStatus.__members__:
        updates["status"] = ChangeStatus(status)
    if isinstance(event.extra.get("wip"), bool):
        updates["wip"] = event.extra["wip"]
    if isinstance(event.extra.get("hashtags"), list):
        updates["hashtags"] = [str(t) for t in event.extra["hashtags"]]
    return dataclasses.replace(change, **updates) if updates else change


def _votes(specs: Any) -> tuple[tuple[str, int], ...]:
    """Zuul merges a list of ``{label: vote}`` mappings into one (a later
    mention of a label wins)."""
    merged: dict[str, int] = {}
    for spec in as_list(specs):
        for label, vote in spec.items():
            merged[label] = vote_value(vote)
    return tuple(merged.items())


def _conditions(spec: Mapping[str, Any], newer: str, older: str) -> Conditions:
    if newer in spec:
        return compile_conditions(spec[newer])
    if older in spec:
        return Conditions(approvals=compile_approvals(spec[older]))
    return Conditions()


def make_trigger_filter(connection_name: str, spec: Mapping[str, Any]) -> GerritTriggerFilter:
    """Validate and compile one trigger entry; raises ``TriggerFilterError``
    naming the connection and every problem."""
    what = f"trigger '{connection_name}'"
    check(trigger_schema(), spec, what, TriggerFilterError)

    def regexes(name: str, old: str | None = None) -> tuple[Regex, ...]:
        key = name if name in spec or old is None else old
        return parse_regexes(spec[key]) if key in spec else ()

    try:
        require = _conditions(spec, "require", "require-approval")
        reject = _conditions(spec, "reject", "reject-approval")
        requirement = None
        if not (require.empty and reject.empty):
            requirement = ChangeRequirement(connection_name, require, reject)
        return GerritTriggerFilter(
            connection_name=connection_name,
            types=tuple(as_list(spec["event"])),
            branches=regexes("branch"),
            refs=regexes("ref"),
            ignore_deletes=spec.get("ignore-deletes", True),
            comments=regexes("comment", "comment_filter"),
            emails=regexes("email", "email_filter"),
            usernames=regexes("username", "username_filter"),
            approvals=_votes(spec.get("approval")),
            approval_changes=_votes(spec.get("approval-change")),
            added=regexes("added"),
            removed=regexes("removed"),
            uuid=spec.get("uuid"),
            scheme=spec.get("scheme"),
            requirement=requirement,
            deprecations=tuple(deprecations(spec)),
        )
    except RegexError as exc:
        raise TriggerFilterError(f"{what}: {exc}") from None
