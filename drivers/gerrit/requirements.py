"""Pipeline requirements on Gerrit changes: ``pipeline.require.<gerrit>`` and
``pipeline.reject.<gerrit>``.

Compiled once per pipeline when a layout is loaded
(``make_requirement``); the scheduler then asks ``ChangeRequirement.check``
before it enqueues a change and again while the item waits, so an item whose
approval was removed is dequeued with the reason ``check`` gives ("Code-Review
+2 is required").  A trigger entry's own ``require``/``reject`` (and the
deprecated ``require-approval``/``reject-approval``) use the same records
through ``lockgate.drivers.gerrit.trigger``.

Zuul's rules: every required approval entry must be met by one vote, and
each key of the entry (label and accepted values, ``username``, ``email``,
``newer-than``, ``older-than``) must hold for that same vote; any vote that
meets a ``reject`` entry rejects.  Of several votes on one label by the same
account only the newest counts.  ``check`` is pure: the caller gives the
time (``now``) that ``newer-than``/``older-than`` count back from.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from lockgate.config.matchers import Regex, RegexError, parse_regexes
from lockgate.drivers.base import as_list
from lockgate.drivers.gerrit.schema import (
    APPROVAL_ATTRIBUTES,
    check,
    parse_interval,
    require_schema,
    vote_value,
)
from lockgate.model.change import Account, Approval, Change


class RequirementError(ValueError):
    """A ``require``/``reject`` section is invalid; ``str()`` is the user-facing message."""


def regex_search(regex: Regex, text: str) -> bool:
    """Zuul's ``search`` (anywhere in ``text``), honouring ``negate``."""
    found = regex.compiled.search(text) is not None
    return found != regex.negate


def format_vote(value: int) -> str:
    """``+2``, ``0``, ``-1``: how Gerrit shows a vote."""
    return f"+{value}" if value > 0 else str(value)


def account_label(account: Account) -> str:
    """Who voted, for a message: the username, else the name, else the email."""
    return account.username or account.name or account.email or "an unknown account"


def _regex_text(regex: Regex) -> str:
    return f"not matching '{regex.pattern}'" if regex.negate else f"matching '{regex.pattern}'"


@dataclass(frozen=True)
class ApprovalMatcher:
    """One entry of an ``approval`` list: the conditions one vote must meet.

    ``votes`` maps labels to the values accepted (in the order written); an entry with no label
    matches a vote on any label (by the given user, in the given time).
    An entry with two labels can match no single vote, as in Zuul.  A vote
    whose time is unknown meets neither ``newer-than`` nor ``older-than``.
    """

    votes: tuple[tuple[str, tuple[int, ...]], ...] = ()
    username: Regex | None = None
    email: Regex | None = None
    newer_than: int | None = None  # seconds
    older_than: int | None = None
    newer_than_text: str = ""
    older_than_text: str = ""

    def matches(self, approval: Approval, now: float) -> bool:
        by = approval.by
        if self.username is not None and not regex_search(self.username, by.username or ""):
            return False
        if self.email is not None and not regex_search(self.email, by.email or ""):
            return False
        if self.newer_than is not None:
            if approval.granted_on is None or approval.granted_on < now - self.newer_than:
                return False
        if self.older_than is not None:
            if approval.granted_on is None or approval.granted_on >= now - self.older_than:
                return False
        for label, values in self.votes:
            if approval.label != label or approval.value not in values:
                return False
        return True

    def describe(self) -> str:
        """``Verified +1 or +2 by a username matching 'zuul'``."""
        if self.votes:
            text = " and ".join(
                f"{label} " + " or ".join(format_vote(v) for v in values)
                for label, values in self.votes
            )
        else:
            text = "a vote"
        if self.username is not None:
            text += f" by a username {_regex_text(self.username)}"
        if self.email is not None:
            text += f" by an email {_regex_text(self.email)}"
        if self.newer_than is not None:
            text += f" newer than {self.newer_than_text}"
        if self.older_than is not None:
            text += f" older than {self.older_than_text}"
        return text


def _single_regex(value: Any) -> Regex:
    regexes = parse_regexes(value)
    if len(regexes) != 1:
        raise RegexError("expected one regular expression")
    return regexes[0]


def compile_approvals(specs: Any) -> tuple[ApprovalMatcher, ...]:
    """Matchers for a validated ``approval`` value (one mapping or a list).

    Raises ``RegexError`` for a pattern no engine compiles."""
    out: list[ApprovalMatcher] = []
    for spec in as_list(specs):
        votes = tuple(
            (label, tuple(dict.fromkeys(vote_value(v) for v in as_list(value))))
            for label, value in spec.items()
            if label not in APPROVAL_ATTRIBUTES
        )
        out.append(
            ApprovalMatcher(
                votes=votes,
                username=_single_regex(spec["username"]) if "username" in spec else None,
                email=_single_regex(spec["email"]) if "email" in spec else None,
                newer_than=parse_interval(spec["newer-than"]) if "newer-than" in spec else None,
                older_than=parse_interval(spec["older-than"]) if "older-than" in spec else None,
                newer_than_text=spec.get("newer-than", ""),
                older_than_text=spec.get("older-than", ""),
            )
        )
    return tuple(out)


def current_votes(approvals: Iterable[Approval]) -> list[Approval]:
    """The votes that count: of one account's votes on one label, the newest
    (by ``granted_on``; the later one in the list when equal).  Votes whose
    account is unknown are all kept."""
    newest: dict[tuple[str, str], int] = {}
    kept: list[Approval | None] = []
    for approval in approvals:
        who = approval.by.username or approval.by.email or approval.by.name
        if who is None:
            kept.append(approval)
            continue
        key = (approval.label, who)
        if key in newest:
            index = newest[key]
            earlier = kept[index]
            assert earlier is not None
            if (earlier.granted_on or 0.0) > (approval.granted_on or 0.0):
                continue
            kept[index] = None
        newest[key] = len(kept)
        kept.append(approval)
    return [a for a in kept if a is not None]


@dataclass(frozen=True)
class Conditions:
    """One ``require`` or ``reject`` mapping, compiled."""

    open: bool | None = None
    current_patchset: bool | None = None
    wip: bool | None = None
    statuses: tuple[str, ...] = ()
    hashtags: tuple[Regex, ...] = ()
    approvals: tuple[ApprovalMatcher, ...] = ()

    @property
    def empty(self) -> bool:
        return self == Conditions()


def compile_conditions(spec: Mapping[str, Any] | None) -> Conditions:
    """A validated ``require``/``reject`` mapping as ``Conditions``.

    Raises ``RegexError`` for a pattern no engine compiles."""
    if not spec:
        return Conditions()
    return Conditions(
        open=spec.get("open"),
        current_patchset=spec.get("current-patchset"),
        wip=spec.get("wip"),
        statuses=tuple(as_list(spec.get("status"))),
        hashtags=parse_regexes(spec["hashtags"]) if "hashtags" in spec else (),
        approvals=compile_approvals(spec.get("approval")),
    )


def _state_facts(change: Change) -> dict[str, tuple[bool, str]]:
    """For each boolean condition: the change's value and the fact in words."""
    status = change.status.value.lower()
    return {
        "open": (
            change.is_open,
            "the change is open" if change.is_open else f"the change is not open (it is {status})",
        ),
        "current_patchset": (
            change.is_current_patchset,
            f"patchset {change.patchset} is the current patchset"
            if change.is_current_patchset
            else f"patchset {change.patchset} is not the current patchset",
        ),
        "wip": (
            change.wip,
            "the change is work in progress"
            if change.wip
            else "the change is not work in progress",
        ),
    }


def _required(
    conditions: Conditions, change: Change, votes: list[Approval], now: float
) -> str | None:
    facts = _state_facts(change)
    for name in ("open", "current_patchset", "wip"):
        wanted = getattr(conditions, name)
        actual, fact = facts[name]
        if wanted is not None and wanted != actual:
            return fact
    if conditions.statuses and change.status.value not in conditions.statuses:
        return (
            f"the change's status is {change.status.value}, not {' or '.join(conditions.statuses)}"
        )
    for regex in conditions.hashtags:
        if not any(regex_search(regex, tag) for tag in change.hashtags):
            return f"a hashtag {_regex_text(regex)} is required"
    for matcher in conditions.approvals:
        if not any(matcher.matches(a, now) for a in votes):
            return f"{matcher.describe()} is required"
    return None


def _rejected(
    conditions: Conditions, change: Change, votes: list[Approval], now: float
) -> str | None:
    facts = _state_facts(change)
    for name in ("open", "current_patchset", "wip"):
        unwanted = getattr(conditions, name)
        actual, fact = facts[name]
        if unwanted is not None and unwanted == actual:
            return f"{fact}, which the pipeline rejects"
    if change.status.value in conditions.statuses:
        return f"the change's status is {change.status.value}, which the pipeline rejects"
    for regex in conditions.hashtags:
        for tag in change.hashtags:
            if regex_search(regex, tag):
                return f"hashtag '{tag}' {_regex_text(regex)} is rejected"
    for matcher in conditions.approvals:
        for vote in votes:
            if matcher.matches(vote, now):
                return (
                    f"{vote.label} {format_vote(vote.value)} by {account_label(vote.by)} "
                    f"is rejected ({matcher.describe()})"
                )
    return None


@dataclass(frozen=True)
class ChangeRequirement:
    """A pipeline's ``require`` and ``reject`` for one Gerrit connection."""

    connection_name: str
    require: Conditions = field(default_factory=Conditions)
    reject: Conditions = field(default_factory=Conditions)

    @property
    def empty(self) -> bool:
        return self.require.empty and self.reject.empty

    @property
    def time_dependent(self) -> bool:
        """Whether the answer can change with time alone (``newer-than``/``older-than``)."""
        matchers = self.require.approvals + self.reject.approvals
        return any(m.newer_than is not None or m.older_than is not None for m in matchers)

    def check(self, change: Change, now: float) -> str | None:
        """None when ``change`` may be (or stay) enqueued; else why not.

        A change of another connection is not this requirement's business
        (a pipeline may take changes from several connections).
        """
        if change.connection != self.connection_name or self.empty:
            return None
        votes = current_votes(change.approvals)
        return _required(self.require, change, votes, now) or _rejected(
            self.reject, change, votes, now
        )


def make_requirement(
    connection_name: str,
    require: Mapping[str, Any] | None,
    reject: Mapping[str, Any] | None,
    *,
    what: str | None = None,
) -> ChangeRequirement:
    """Validate and compile ``pipeline.require.<connection>`` and
    ``pipeline.reject.<connection>`` (either may be None).

    Raises ``RequirementError`` naming the section and every problem.
    """
    compiled: dict[str, Conditions] = {}
    for section, spec in (("require", require), ("reject", reject)):
        where = f"{section} '{connection_name}'" if what is None else f"{what} {section}"
        check(require_schema(), spec, where, RequirementError)
        try:
            compiled[section] = compile_conditions(spec)
        except RegexError as exc:
            raise RequirementError(f"{where}: {exc}") from None
    return ChangeRequirement(connection_name, compiled["require"], compiled["reject"])
