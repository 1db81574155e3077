"""Pipeline requirements on pull requests: ``pipeline.require.<github>`` and
``pipeline.reject.<github>`` (and a trigger entry's ``require``/``reject``).

Compiled once per pipeline when a layout is loaded (``make_requirement``,
found by the scheduler as ``lockgate.drivers.github.requirements``); the
scheduler asks ``ChangeRequirement.check(change, now)`` before it enqueues a
pull request and while the item waits; the answer is None or why not
("an approved review by a writer is required").  Pure: the change is the
model's (``lockgate.drivers.github.changes`` says how reviews, labels and
statuses land in it) and ``now`` is the caller's.

Zuul's rules: ``open``/``merged``/``current-patchset``/``draft`` compare
with the change; ``status`` regexes (ORed) must fully match one of the
head's ``app:context:state`` strings; ``label`` lists labels that must all
be there (``reject``: none of them); each ``review`` entry must be met by
one review: ``type`` its state (``comment`` also names GitHub's
``commented``), ``permission`` the reviewer's at least (write includes
admin), ``username``/``email`` searched, ``newer-than``/``older-than`` its
age.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lockgate.config.matchers import Regex, RegexError, parse_regexes
from lockgate.drivers.base import as_list
from lockgate.drivers.gerrit.schema import check, parse_interval
from lockgate.drivers.github.changes import PERMISSION_RANK
from lockgate.drivers.github.schema import require_schema
from lockgate.model.change import Approval, Change, ChangeStatus


class RequirementError(ValueError):
    """A ``require``/``reject`` section is invalid; ``str()`` is the user-facing message."""


def _search(regex: Regex, text: str) -> bool:
    return (regex.compiled.search(text) is not None) != regex.negate


def full_match(regex: Regex, text: str) -> bool:
    return (regex.compiled.fullmatch(text) is not None) != regex.negate


def _review_type(name: str) -> str:
    return "commented" if name == "comment" else name


@dataclass(frozen=True)
class ReviewMatcher:
    """One ``review`` entry: the conditions one review must meet."""

    types: tuple[str, ...] = ()
    min_permission: int | None = None  # PERMISSION_RANK
    permission_text: str = ""
    username: Regex | None = None
    email: Regex | None = None
    newer_than: int | None = None
    older_than: int | None = None
    newer_than_text: str = ""
    older_than_text: str = ""

    def matches(self, review: Approval, now: float) -> bool:
        if self.types and review.label not in self.types:
            return False
        if self.min_permission is not None and review.value < self.min_permission:
            return False
        if self.username is not None and not _search(self.username, review.by.username or ""):
            return False
        if self.email is not None and not _search(self.email, review.by.email or ""):
            return False
        if self.newer_than is not None:
            if review.granted_on is None or review.granted_on < now - self.newer_than:
                return False
        if self.older_than is not None:
            if review.granted_on is None or review.granted_on >= now - self.older_than:
                return False
        return True

    def describe(self) -> str:
        text = (" or ".join(self.types) + " review") if self.types else "a review"
        if self.min_permission is not None:
            text += f" by someone with {self.permission_text} permission"
        if self.username is not None:
            text += f" by a username matching '{self.username.pattern}'"
        if self.email is not None:
            text += f" by an email matching '{self.email.pattern}'"
        if self.newer_than is not None:
            text += f" newer than {self.newer_than_text}"
        if self.older_than is not None:
            text += f" older than {self.older_than_text}"
        return text


@dataclass(frozen=True)
class Conditions:
    open: bool | None = None
    merged: bool | None = None
    current_patchset: bool | None = None
    draft: bool | None = None
    statuses: tuple[Regex, ...] = ()
    labels: tuple[str, ...] = ()
    reviews: tuple[ReviewMatcher, ...] = ()

    @property
    def empty(self) -> bool:
        return self == Conditions()


def _one_regex(value: Any) -> Regex:
    found = parse_regexes(value)
    if len(found) != 1:
        raise RegexError("expected one regular expression")
    return found[0]


def compile_reviews(specs: Any) -> tuple[ReviewMatcher, ...]:
    out = []
    for spec in as_list(specs):
        permissions = as_list(spec.get("permission"))
        ranks = [PERMISSION_RANK[p] for p in permissions]
        out.append(
            ReviewMatcher(
                types=tuple(_review_type(t) for t in as_list(spec.get("type"))),
                min_permission=min(ranks) if ranks else None,
                permission_text=" or ".join(permissions),
                username=_one_regex(spec["username"]) if "username" in spec else None,
                email=_one_regex(spec["email"]) if "email" in spec else None,
                newer_than=parse_interval(spec["newer-than"]) if "newer-than" in spec else None,
                older_than=parse_interval(spec["older-than"]) if "older-than" in spec else None,
                newer_than_text=spec.get("newer-than", ""),
                older_than_text=spec.get("older-than", ""),
            )
        )
    return tuple(out)


def compile_conditions(spec: Mapping[str, Any] | None) -> Conditions:
    if not spec:
        return Conditions()
    return Conditions(
        open=spec.get("open"),
        merged=spec.get("merged"),
        current_patchset=spec.get("current-patchset"),
        draft=spec.get("draft"),
        statuses=parse_regexes(spec["status"]) if "status" in spec else (),
        labels=tuple(str(x) for x in as_list(spec.get("label"))),
        reviews=compile_reviews(spec.get("review")),
    )


def _facts(change: Change) -> dict[str, tuple[bool, str]]:
    state = {
        ChangeStatus.NEW: "open",
        ChangeStatus.MERGED: "merged",
        ChangeStatus.ABANDONED: "closed",
    }[change.status]
    return {
        "open": (
            change.is_open,
            "the pull request is open" if change.is_open else f"the pull request is {state}",
        ),
        "merged": (
            change.is_merged,
            "the pull request is merged" if change.is_merged else "the pull request is not merged",
        ),
        "current_patchset": (
            change.is_current_patchset,
            f"{change.patchset_id[:12] or change.patchset} is the pull request's head"
            if change.is_current_patchset
            else f"{change.patchset_id[:12] or change.patchset} is no longer the pull request's head",
        ),
        "draft": (
            change.wip,
            "the pull request is a draft" if change.wip else "the pull request is not a draft",
        ),
    }


def _required(c: Conditions, change: Change, now: float) -> str | None:
    facts = _facts(change)
    for name in ("open", "merged", "current_patchset", "draft"):
        wanted = getattr(c, name)
        actual, fact = facts[name]
        if wanted is not None and wanted != actual:
            return fact
    if c.statuses and not any(full_match(r, s) for r in c.statuses for s in change.statuses):
        patterns = ", ".join(f"'{r.pattern}'" for r in c.statuses)
        return f"a status matching {patterns} is required"
    for label in c.labels:
        if label not in change.labels:
            return f"the label '{label}' is required"
    for matcher in c.reviews:
        if not any(matcher.matches(r, now) for r in change.approvals):
            return f"{matcher.describe()} is required"
    return None


def _rejected(c: Conditions, change: Change, now: float) -> str | None:
    facts = _facts(change)
    for name in ("open", "merged", "current_patchset", "draft"):
        unwanted = getattr(c, name)
        actual, fact = facts[name]
        if unwanted is not None and unwanted == actual:
            return f"{fact}, which the pipeline rejects"
    for regex in c.statuses:
        for status in change.statuses:
            if full_match(regex, status):
                return f"status '{status}' is rejected"
    for label in c.labels:
        if label in change.labels:
            return f"the label '{label}' is rejected"
    for matcher in c.reviews:
        for review in change.approvals:
            if matcher.matches(review, now):
                return f"the {review.label} review by {review.by.username} is rejected"
    return None


@dataclass(frozen=True)
class ChangeRequirement:
    """A pipeline's ``require`` and ``reject`` for one GitHub connection."""

    connection_name: str
    require: Conditions = field(default_factory=Conditions)
    reject: Conditions = field(default_factory=Conditions)

    @property
    def empty(self) -> bool:
        return self.require.empty and self.reject.empty

    @property
    def time_dependent(self) -> bool:
        matchers = self.require.reviews + self.reject.reviews
        return any(m.newer_than is not None or m.older_than is not None for m in matchers)

    def check(self, change: Change, now: float) -> str | None:
        """None when ``change`` may be (or stay) enqueued; else why not."""
        if change.connection != self.connection_name or self.empty:
            return None
        return _required(self.require, change, now) or _rejected(self.reject, change, now)


def make_requirement(
    connection_name: str,
    require: Mapping[str, Any] | None,
    reject: Mapping[str, Any] | None,
    *,
    what: str | None = None,
) -> ChangeRequirement:
    """Validate and compile the two sections; ``RequirementError`` naming
    the section and every problem."""
    compiled: dict[str, Conditions] = {}
    for section, spec in (("require", require), ("reject", reject)):
        where = f"{section} '{connection_name}'" if what is None else f"{what} {section}"
        check(require_schema(), spec, where, RequirementError)
        try:
            compiled[section] = compile_conditions(spec)
        except RegexError as exc:
            raise RequirementError(f"{where}: {exc}") from None
    return ChangeRequirement(connection_name, compiled["require"], compiled["reject"])
