"""Voluptuous schemas of a pipeline's GitHub sections, as Zuul writes them.

Found by the config loader by name (``lockgate.config.schema.pipeline``
imports ``lockgate.drivers.github.schema``):

- ``trigger_schema()``: one entry of ``pipeline.trigger.<connection>``:
  ``event`` (pull_request, pull_request_review, push, check_run), ``action``,
  ``branch``, ``ref``, ``comment``, ``label``, ``unlabel`` (deprecated),
  ``state``, ``status``, ``check``, ``require-status`` (deprecated),
  ``require``, ``reject``;
- ``require_schema()`` / ``reject_schema()``: ``open``, ``merged``,
  ``current-patchset``, ``draft``, ``status``, ``review`` (``username``,
  ``email``, ``newer-than``, ``older-than``, ``type``, ``permission``),
  ``label``;
- ``reporter_schema()``: ``status``, ``status-url``, ``check``, ``comment``,
  ``review``, ``review-body``, ``merge``, ``label``, ``unlabel``.

Lockgate is stricter than Zuul where Zuul accepts what never matches (an
action the event never has, a review ``type`` or ``permission`` GitHub does
not know, a status state GitHub refuses) and says so with the accepted values.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import voluptuous as vs
from lockgate.config.schema.validators import (
    Attrs,
    Bool,
    OneOf,
    OneOrList,
    Regexes,
    RegexItem,
    Str,
    StrList,
    Validator,
    describe,
    suggest,
)
from lockgate.drivers.gerrit.schema import Interval, check  # noqa: F401 - shared helpers

EVENTS = ("pull_request", "pull_request_review", "push", "check_run")
# The actions each event can have, as Zuul names them (``changed`` is
# GitHub's synchronize; ``comment`` an issue comment on the PR; ``status`` a
# commit status on its head; ``requested`` the deprecated ``rerequested``).
ACTIONS = {
    "pull_request": (
        "opened",
        "changed",
        "closed",
        "reopened",
        "comment",
        "labeled",
        "unlabeled",
        "status",
        "edited",
        "ready_for_review",
        "converted_to_draft",
    ),
    "pull_request_review": ("submitted", "dismissed"),
    "check_run": ("requested", "rerequested", "completed", "requested_action"),
    "push": (),
}
ALL_ACTIONS = tuple(dict.fromkeys(a for actions in ACTIONS.values() for a in actions))
REVIEW_STATES = ("approved", "comment", "commented", "changes_requested", "dismissed", "pending")
PERMISSIONS = ("read", "write", "admin")
STATUS_STATES = ("pending", "success", "failure", "error")
CHECK_STATES = ("cancelled", "failure", "in_progress", "neutral", "skipped", "success")
REVIEWS = ("approve", "comment", "request-changes")


def _event(value: Any) -> Any:
    if isinstance(value, str) and value in EVENTS:
        return value
    name = f"'{value}'" if isinstance(value, str) else describe(value)
    close = suggest(value, EVENTS)
    hint = f" (did you mean '{close}'?)" if close else f"; expected one of {', '.join(EVENTS)}"
    raise vs.Invalid(f"unknown GitHub event {name}{hint}")


def _action(value: Any) -> Any:
    if isinstance(value, str) and value in ALL_ACTIONS:
        return value
    name = f"'{value}'" if isinstance(value, str) else describe(value)
    close = suggest(value, ALL_ACTIONS)
    hint = f" (did you mean '{close}'?)" if close else f"; expected one of {', '.join(ALL_ACTIONS)}"
    raise vs.Invalid(f"unknown GitHub action {name}{hint}")


_REVIEW = Attrs(
    {
        "username": RegexItem,
        "email": RegexItem,
        "newer-than": Interval,
        "older-than": Interval,
        "type": OneOrList(OneOf(*REVIEW_STATES), "review types"),
        "permission": OneOrList(OneOf(*PERMISSIONS), "permissions"),
    }
)


def _requirement_attrs() -> Attrs:
    return Attrs(
        {
            "review": OneOrList(_REVIEW, "review requirements"),
            "open": Bool,
            "merged": Bool,
            "current-patchset": Bool,
            "draft": Bool,
            "status": Regexes,
            "label": StrList,
        }
    )


def _optional_mapping(inner: Validator) -> Validator:
    """An empty section (``github:`` with nothing under it) means no conditions."""

    def check_mapping(value: Any) -> Any:
        return value if value is None else inner(value)

    return check_mapping


def require_schema() -> Validator:
    return _optional_mapping(_requirement_attrs())


def reject_schema() -> Validator:
    return _optional_mapping(_requirement_attrs())


def trigger_schema() -> Validator:
    return Attrs(
        {
            vs.Required("event"): OneOrList(_event, "GitHub events"),
            "action": OneOrList(_action, "actions"),
            "branch": Regexes,
            "ref": Regexes,
            "ignore-deletes": Bool,
            "comment": Regexes,
            "label": StrList,
            "unlabel": StrList,
            "state": OneOrList(OneOf(*REVIEW_STATES), "review states"),
            "status": Regexes,
            "check": Regexes,
            "require-status": Regexes,
            "require": require_schema(),
            "reject": reject_schema(),
        }
    )


_REPORTER = Attrs(
    {
        "status": OneOf(*STATUS_STATES),
        "status-url": Str,
        "check": OneOf(*CHECK_STATES),
        "comment": Bool,
        "review": OneOf(*REVIEWS),
        "review-body": Str,
        "merge": Bool,
        "label": StrList,
        "unlabel": StrList,
    }
)


def reporter_schema() -> Validator:
    """Zuul's GitHub reporter attributes; an empty section reports a comment only."""
    return _optional_mapping(_REPORTER)


_DEPRECATED = {
    "unlabel": "'unlabel' is deprecated; use 'label' with action 'unlabeled' instead",
    "require-status": "'require-status' is deprecated; use 'require' with 'status' instead",
}


def deprecations(spec: Mapping[str, Any]) -> list[str]:
    """Warnings for one trigger entry's deprecated forms (Zuul still honours them)."""
    if not isinstance(spec, Mapping):
        return []
    out = [message for key, message in _DEPRECATED.items() if key in spec]
    if isinstance(spec.get("event"), list):
        out.append("'event' as a list is deprecated; write one trigger entry per event")
    actions = spec.get("action")
    if actions == "requested" or (isinstance(actions, list) and "requested" in actions):
        out.append("action 'requested' is deprecated; use 'rerequested' instead")
    return out


__all__ = [
    "ACTIONS",
    "EVENTS",
    "check",
    "deprecations",
    "reject_schema",
    "reporter_schema",
    "require_schema",
    "trigger_schema",
]
