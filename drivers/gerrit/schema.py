"""Voluptuous schemas of a pipeline's Gerrit sections, as Zuul writes them.

Four sections of a pipeline name a Gerrit connection; each has a schema
here, found by the config loader by name (``lockgate.config.schema.pipeline``
imports ``lockgate.drivers.<driver>.schema`` and calls):

- ``trigger_schema()``: one entry of ``pipeline.trigger.<connection>``;
- ``require_schema()`` / ``reject_schema()``: ``pipeline.require.<connection>``
  and ``pipeline.reject.<connection>`` (also a trigger entry's ``require`` and
  ``reject``);
- ``reporter_schema()``: what ``success:``, ``failure:``, ``start:``... hold
  for the connection: label votes, ``submit``, ``comment``, ``notify``.

The attributes are Zuul's.  Lockgate is stricter about values Zuul would
accept and then never match (a vote written ``true``, a ``status`` Gerrit
never reports, a time interval without a unit) and looser in one place:
besides Zuul's event types a trigger may name ``topic-changed``,
``reviewer-added`` and ``private-state-changed``, which Gerrit streams too.

``deprecations(spec)`` lists what a trigger entry spells in a form Zuul has
deprecated (the config check shows them as warnings).  ``check`` turns a
schema's complaints into one error message; ``lockgate.drivers.gerrit.trigger``
and ``lockgate.drivers.gerrit.requirements`` call it before compiling.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import voluptuous as vs
from lockgate.config.schema.validators import (
    Attrs,
    Bool,
    Dict,
    MissingAttribute,
    OneOf,
    OneOrList,
    Regexes,
    RegexItem,
    Str,
    UnknownAttribute,
    Validator,
    describe,
    suggest,
)

# Zuul's Gerrit trigger event types, then the stream events Lockgate also takes.
ZUUL_EVENTS = (
    "patchset-created",
    "draft-published",
    "change-abandoned",
    "change-restored",
    "change-merged",
    "comment-added",
    "ref-updated",
    "pending-check",
    "vote-deleted",
    "hashtags-changed",
    "wip-state-changed",
)
EXTRA_EVENTS = ("topic-changed", "reviewer-added", "private-state-changed")
EVENTS = ZUUL_EVENTS + EXTRA_EVENTS

# What Gerrit reports as a change's status (DRAFT went away in Gerrit 2.15).
STATUSES = ("NEW", "MERGED", "ABANDONED")
# The keys of an approval requirement that are not label names.
APPROVAL_ATTRIBUTES = ("username", "email", "newer-than", "older-than")
# Gerrit's notify levels for a review (NotifyHandling).
NOTIFY = ("NONE", "OWNER", "OWNER_REVIEWERS", "ALL")
# The reporter keys that are not label names.
REPORTER_ATTRIBUTES = ("submit", "comment", "notify", "checks-api")
CHECK_STATES = ("NOT_STARTED", "SCHEDULED", "RUNNING", "SUCCESSFUL", "FAILED", "NOT_RELEVANT")

_INTERVAL = re.compile(r"([0-9]+)([smhdw])")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_VOTE_TEXT = re.compile(r"[+-]?[0-9]+")


def parse_interval(text: Any) -> int:
    """Seconds in one of Zuul's intervals (``48h``, ``2d``, ``30m``, ``1w``,
    ``90s``); ``ValueError`` with a user-facing message otherwise."""
    match = _INTERVAL.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise ValueError(
            f"expected a time interval such as '48h' or '2d' (a number with one of the "
            f"units s, m, h, d, w), got {describe(text)}"
        )
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def vote_value(value: Any) -> int:
    """A label vote as an integer: ``2``, ``-1``, or the text ``'+2'``.

    A boolean is refused: ``Verified: true`` reads as a vote but Gerrit has
    no such value, and Zuul would quietly take it as 1.
    """
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ValueError(f"expected a vote (an integer such as 1 or -2), got {describe(value)}")
    if isinstance(value, str):
        if not _VOTE_TEXT.fullmatch(value.strip()):
            raise ValueError(f"expected a vote (an integer such as 1 or -2), got {describe(value)}")
        return int(value.strip())
    return value


def _as_invalid(func: Any) -> Validator:
    def check(value: Any) -> Any:
        try:
            func(value)
        except ValueError as exc:
            raise vs.Invalid(str(exc)) from None
        return value

    return check


Interval = _as_invalid(parse_interval)
Vote = _as_invalid(vote_value)
Votes = OneOrList(Vote, "votes")


def _event_type(value: Any) -> Any:
    if isinstance(value, str) and value in EVENTS:
        return value
    name = f"'{value}'" if isinstance(value, str) else describe(value)
    if (close := suggest(value, EVENTS)) is not None:
        raise vs.Invalid(f"unknown Gerrit event {name} (did you mean '{close}'?)")
    raise vs.Invalid(f"unknown Gerrit event {name}; expected one of {', '.join(EVENTS)}")


def _label_name(key: Any) -> str:
    if not isinstance(key, str) or not key:
        raise vs.Invalid(f"label names must be non-empty strings, got {describe(key)}")
    return key


def _event_approval(value: Any) -> Any:
    """``{Code-Review: 2, ...}``: votes the event must carry."""
    Dict(value)
    errors: list[vs.Invalid] = []
    for label, vote in value.items():
        try:
            _label_name(label)
            Vote(vote)
        except vs.Invalid as exc:
            exc.prepend([label])
            errors.append(exc)
    if errors:
        raise vs.MultipleInvalid(errors)
    return value


_APPROVAL_FIELDS: dict[str, Validator] = {
    "username": RegexItem,
    "email": RegexItem,
    "newer-than": Interval,
    "older-than": Interval,
}


def _approval_requirement(value: Any) -> Any:
    """One entry of ``approval``: username/email/newer-than/older-than, and
    every other key a label with a vote or a list of votes."""
    Dict(value)
    errors: list[vs.Invalid] = []
    for key, item in value.items():
        try:
            if isinstance(key, str) and key in _APPROVAL_FIELDS:
                _APPROVAL_FIELDS[key](item)
            else:
                _label_name(key)
                Votes(item)
        except vs.MultipleInvalid as exc:
            for err in exc.errors:
                err.prepend([key])
            errors.extend(exc.errors)
        except vs.Invalid as exc:
            exc.prepend([key])
            errors.append(exc)
    if errors:
        raise vs.MultipleInvalid(errors)
    return value


ApprovalRequirements = OneOrList(_approval_requirement, "approval requirements")


def _requirement_attrs() -> Attrs:
    return Attrs(
        {
            "approval": ApprovalRequirements,
            "open": Bool,
            "current-patchset": Bool,
            "wip": Bool,
            "status": OneOrList(OneOf(*STATUSES), "statuses"),
            "hashtags": Regexes,
        }
    )


def _optional_mapping(inner: Validator) -> Validator:
    """An empty section (``gerrit:`` with nothing under it) means no conditions."""

    def check(value: Any) -> Any:
        return value if value is None else inner(value)

    return check


def require_schema() -> Validator:
    return _optional_mapping(_requirement_attrs())


def reject_schema() -> Validator:
    return _optional_mapping(_requirement_attrs())


def trigger_schema() -> Validator:
    return Attrs(
        {
            vs.Required("event"): OneOrList(_event_type, "event types"),
            "uuid": Str,
            "scheme": Str,
            "branch": Regexes,
            "ref": Regexes,
            "ignore-deletes": Bool,
            "comment": Regexes,
            "comment_filter": Regexes,
            "email": Regexes,
            "email_filter": Regexes,
            "username": Regexes,
            "username_filter": Regexes,
            "approval": OneOrList(_event_approval, "approvals"),
            "approval-change": OneOrList(_event_approval, "approvals"),
            "added": Regexes,
            "removed": Regexes,
            "require-approval": ApprovalRequirements,
            "reject-approval": ApprovalRequirements,
            "require": require_schema(),
            "reject": reject_schema(),
        }
    )


def _reporter_label(key: Any, value: Any) -> None:
    try:
        _label_name(key)
        Vote(value)
    except vs.Invalid as exc:
        exc.prepend([key])
        raise


_CHECKS_API = Attrs(
    {"uuid": Str, "scheme": Str, "state": OneOf(*CHECK_STATES), "message": Str},
    exclusive=[("uuid", "scheme")],
)
_REPORTER = Attrs(
    {"submit": Bool, "comment": Bool, "notify": OneOf(*NOTIFY), "checks-api": _CHECKS_API},
    extra=_reporter_label,
)


def reporter_schema() -> Validator:
    """Label votes (``Verified: 1``) beside ``submit``, ``comment``, ``notify``
    and the deprecated ``checks-api``; an empty section reports a comment only."""
    return _optional_mapping(_REPORTER)


_DEPRECATED = {
    "require-approval": "'require-approval' is deprecated; use 'require' with 'approval' instead",
    "reject-approval": "'reject-approval' is deprecated; use 'reject' with 'approval' instead",
    "comment_filter": "'comment_filter' is deprecated; use 'comment' instead",
    "email_filter": "'email_filter' is deprecated; use 'email' instead",
    "username_filter": "'username_filter' is deprecated; use 'username' instead",
}
# A deprecated attribute Zuul ignores when its newer form is present too.
_SUPERSEDED_BY = {
    "require-approval": "require",
    "reject-approval": "reject",
    "comment_filter": "comment",
    "email_filter": "email",
    "username_filter": "username",
}


def deprecations(spec: Mapping[str, Any]) -> list[str]:
    """Warnings for one trigger entry's deprecated attributes (empty when none).

    Zuul still honours them, unless the newer attribute is also given, in
    which case the old one is ignored; the warning says so.
    """
    if not isinstance(spec, Mapping):
        return []
    out: list[str] = []
    for key, message in _DEPRECATED.items():
        if key in spec:
            newer = _SUPERSEDED_BY[key]
            if newer in spec:
                message += f" (it is ignored here because '{newer}' is also given)"
            out.append(message)
    return out


def format_path(path: list[Any]) -> str:
    text = ""
    for part in path:
        if isinstance(part, int) and not isinstance(part, bool):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + str(part)
    return text


def _flatten(exc: vs.Invalid) -> list[vs.Invalid]:
    if isinstance(exc, vs.MultipleInvalid):
        return [leaf for err in exc.errors for leaf in _flatten(err)]
    return [exc]


def describe_problem(err: vs.Invalid) -> str:
    """One schema complaint in a user's words, with where it is."""
    path = list(err.path)
    if isinstance(err, UnknownAttribute):
        at = f" in {format_path(path)}" if path else ""
        hint = f" (did you mean '{err.suggestion}'?)" if err.suggestion else ""
        return f"unknown attribute '{err.key}'{at}{hint}"
    if isinstance(err, MissingAttribute):
        at = f" in {format_path(path)}" if path else ""
        return f"{err.error_message}{at}"
    return f"{format_path(path)}: {err.error_message}" if path else err.error_message


def check(validator: Validator, spec: Any, what: str, error: type[Exception]) -> Any:
    """Apply ``validator``; raise ``error`` naming ``what`` and every problem."""
    try:
        validator(spec)
    except vs.Invalid as exc:
        problems = [describe_problem(err) for err in _flatten(exc)]
        raise error(f"{what}: " + "; ".join(problems)) from None
    return spec


__all__ = [
    "EVENTS",
    "EXTRA_EVENTS",
    "STATUSES",
    "ZUUL_EVENTS",
    "check",
    "deprecations",
    "parse_interval",
    "reject_schema",
    "reporter_schema",
    "require_schema",
    "trigger_schema",
    "vote_value",
]
