"""Gerrit's event JSON -> ``TriggerEvent``: pure, no I/O.

Called by the event source for every ``gerrit stream-events`` line
(``decode_line`` then ``events_from_payload``) and by whoever takes
webhooks-plugin POSTs (same objects, except that ``project`` may be
``{"name": ...}`` and ``changeKey`` ``{"key": ...}``).  What comes next: the
event source hands each event to the scheduler's sink.

Gerrit documents that any field may be missing and that new types appear:
unknown types and fields are ignored (``None``, logged at debug), not
errors.  What *is* an error (``EventParseError``, one line naming what was
wrong) is a line that is not a JSON object, has no ``type``, or lacks what
its type cannot do without (a change event without a change number).

``dedup_key`` gives every event a name that the same happening found again
gets too — a redelivered line, or an event synthesized by a catch-up query
after a disconnect (``lockgate.drivers.gerrit.event_source``) — so the
trigger queue keeps one.  The keys, built by the ``*_key`` functions below
and shared with the catch-up code:

- patchset-created: connection, change, patchset (a patchset is created once);
- change-merged: connection, change (a change merges once);
- comment-added: connection, change, patchset, author, event time and the
  comment's text (a review's change message is dated, and its votes are
  granted, at the event's ``eventCreatedOn``; the event's ``comment`` is
  that message's text);
- change-abandoned / change-restored: connection, change, patchset, time;
- ref-updated: connection, project, ref, old and new sha;
- anything else: connection, type, change, patchset, account, time, or the
  line's own content when the server sends no time.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from lockgate.git import ZERO_SHA
from lockgate.model.change import Account, Approval, Change, ChangeStatus, change_ref
from lockgate.model.events import TriggerEvent

log = logging.getLogger("lockgate.drivers.gerrit.events")

# Types we turn into trigger events, and the field naming who caused each.
ACCOUNT_FIELD: dict[str, str | None] = {
    "patchset-created": "uploader",
    "draft-published": "uploader",
    "comment-added": "author",
    "change-merged": "submitter",
    "merge-failed": "submitter",
    "change-abandoned": "abandoner",
    "change-restored": "restorer",
    "change-deleted": "deleter",
    "ref-updated": "submitter",
    "batch-ref-updated": "submitter",
    "wip-state-changed": "changer",
    "private-state-changed": "changer",
    "topic-changed": "changer",
    "hashtags-changed": "editor",
    "vote-deleted": "remover",
    "reviewer-added": "adder",
    "reviewer-deleted": "remover",
    "assignee-changed": "changer",
    "project-created": None,
}
# Not events about the code: the stream's own control line.
DROPPED_OUTPUT = "dropped-output"


class EventParseError(ValueError):
    """A stream line or payload that cannot be read; ``str()`` says what was wrong."""


def decode_line(line: str | bytes) -> dict[str, Any]:
    """One stream line as a JSON object (with a ``type``)."""
    if isinstance(line, bytes):
        try:
            line = line.decode("utf-8")
        except UnicodeDecodeError as e:
            raise EventParseError(f"not UTF-8 at byte {e.start}: {_excerpt(line)}") from None
    text = line.strip()
    if not text:
        raise EventParseError("empty line")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        # The line ends before the object does: cut short (a dropped connection).
        cut = e.pos >= len(text) - 1 or e.msg.startswith("Unterminated string")
        what = "truncated JSON" if cut else "invalid JSON"
        raise EventParseError(f"{what} at column {e.colno}: {e.msg}: {_excerpt(text)}") from None
    if not isinstance(data, dict):
        raise EventParseError(f"expected a JSON object, got {type(data).__name__}")
    if not isinstance(data.get("type"), str) or not data["type"]:
        raise EventParseError(f"object has no 'type': {_excerpt(text)}")
    return data


def parse_line(
    connection: str, line: str | bytes, *, received: float | None = None
) -> list[TriggerEvent]:
    """Every trigger event one stream line carries (usually one; none for an
    unknown type or ``dropped-output``)."""
    return events_from_payload(connection, decode_line(line), received=received)


def event_from_payload(
    connection: str, data: Mapping[str, Any], *, received: float | None = None
) -> TriggerEvent | None:
    """The one trigger event of a payload, or None if its type is unknown."""
    events = events_from_payload(connection, data, received=received)
    return events[0] if events else None


def events_from_payload(
    connection: str, data: Mapping[str, Any], *, received: float | None = None
) -> list[TriggerEvent]:
    """The trigger events of one Gerrit event object (stream line or webhook
    body); ``received``: when we got it, the event's time if Gerrit gave none."""
    if not isinstance(data, Mapping):
        raise EventParseError(f"expected a JSON object, got {type(data).__name__}")
    kind = data.get("type")
    if not isinstance(kind, str) or not kind:
        raise EventParseError("event has no 'type'")
    if kind not in ACCOUNT_FIELD:
        log.debug("ignoring Gerrit event of unknown type %r", kind)
        return []
    created = _number(data, "eventCreatedOn", float)
    when = created if created is not None else received
    account = _account(data.get(ACCOUNT_FIELD[kind] or ""))
    base: dict[str, Any] = {"type": kind, "connection": connection, "account": account}
    if when is not None:
        base["timestamp"] = when
    if kind == "ref-updated":
        update = _object(data, "refUpdate")
        return [_ref_event(base, update, data, created)]
    if kind == "batch-ref-updated":
        updates = data.get("refUpdates")
        if not isinstance(updates, list):
            raise EventParseError("batch-ref-updated: 'refUpdates' is not a list")
        return [_ref_event(base, u, data, created) for u in updates if isinstance(u, Mapping)]
    if kind == "project-created":
        project = _name(data.get("projectName"))
        if not project:
            raise EventParseError("project-created: no 'projectName'")
        head = data.get("projectHead") or ""
        return [
            TriggerEvent(
                **base,
                project=project,
                ref=head,
                extra={"head": head},
                dedup_key=f"gerrit:{connection}:project-created:{project}",
            )
        ]
    return [_change_event(base, kind, data, created)]


# --- change events ------------------------------------------------------------------


def _change_event(
    base: dict[str, Any], kind: str, data: Mapping[str, Any], created: float | None
) -> TriggerEvent:
    change = _object(data, "change")
    number = _number(change, "number", int, where="change.number")
    if number is None:
        raise EventParseError(f"{kind}: change has no 'number'")
    project = _name(change.get("project")) or _name(data.get("project"))
    if not project:
        raise EventParseError(f"{kind}: change {number} has no 'project'")
    branch = change.get("branch")
    if not isinstance(branch, str) or not branch:
        ref_name = data.get("refName")
        branch = ref_name[len("refs/heads/") :] if isinstance(ref_name, str) else None
    patchset_data = data.get("patchSet")
    patchset = None
    ref = ""
    commit = None
    extra: dict[str, Any] = {}
    if isinstance(patchset_data, Mapping):
        patchset = _number(patchset_data, "number", int, where="patchSet.number")
        ref = patchset_data.get("ref") or ""
        commit = patchset_data.get("revision")
        if patchset_data.get("kind"):
            extra["patchset_kind"] = patchset_data["kind"]
        if isinstance(patchset_data.get("parents"), list):
            extra["parents"] = list(patchset_data["parents"])
    if not ref and patchset is not None:
        ref = f"refs/changes/{number % 100:02d}/{number}/{patchset}"
    change_id = change.get("id") or _change_key(data.get("changeKey"))
    if change_id:
        extra["change_id"] = change_id
    for source, target in (
        ("subject", "subject"),
        ("status", "status"),
        ("topic", "topic"),
    ):
        if change.get(source) is not None:
            extra[target] = change[source]
    extra["wip"] = bool(change.get("wip", False))
    extra["private"] = bool(change.get("private", False))
    if isinstance(change.get("hashtags"), list):
        extra["hashtags"] = list(change["hashtags"])
    if commit:
        extra["commit"] = commit
    if isinstance(change.get("owner"), Mapping):
        extra["owner"] = _account(change["owner"])
    if kind == "topic-changed":
        extra["old_topic"] = data.get("oldTopic")
    if kind == "hashtags-changed":
        extra["added"] = _strings(data.get("added"))
        extra["removed"] = _strings(data.get("removed"))
        if isinstance(data.get("hashtags"), list):
            extra["hashtags"] = _strings(data["hashtags"])
    if data.get("reason") is not None:
        extra["reason"] = data["reason"]
    # Gerrit 3.x: a review's patchset-level comments, beside its message.
    level = data.get("patchSetComments")
    if isinstance(level, Mapping) and isinstance(level.get("/PATCHSET_LEVEL"), list):
        extra["patchset_comments"] = [
            c["message"]
            for c in level["/PATCHSET_LEVEL"]
            if isinstance(c, Mapping) and isinstance(c.get("message"), str)
        ]
    for field_name in ("reviewer", "adder", "remover", "deleter", "oldAssignee"):
        if isinstance(data.get(field_name), Mapping):
            extra[_snake(field_name)] = _account(data[field_name])
    newrev = data.get("newRev") if kind == "change-merged" else None
    approvals = _approvals(data.get("approvals"), kind)
    comment = data.get("comment") if isinstance(data.get("comment"), str) else None
    event = TriggerEvent(
        **base,
        project=project,
        branch=branch,
        ref=ref,
        newrev=newrev,
        change_number=number,
        patchset=patchset,
        change_url=change.get("url"),
        comment=comment,
        approvals=approvals,
        extra=extra,
    )
    key = dedup_key_for(event, created=created, raw=data)
    return _with_key(event, key)


def _approvals(raw: Any, kind: str) -> list[dict[str, Any]]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise EventParseError(f"{kind}: 'approvals' is not a list")
    out = []
    for i, item in enumerate(raw):
        if not isinstance(item, Mapping):
            raise EventParseError(f"{kind}: approvals[{i}] is not an object")
        label = item.get("type")
        if not isinstance(label, str) or not label:
            raise EventParseError(f"{kind}: approvals[{i}] has no 'type' (label)")
        value = _vote(item.get("value"), f"{kind}: approvals[{i}].value")
        old = item.get("oldValue")
        entry: dict[str, Any] = {
            "label": label,
            "value": value if value is not None else 0,
            "old_value": _vote(old, f"{kind}: approvals[{i}].oldValue")
            if old is not None
            else None,
        }
        if item.get("description"):
            entry["description"] = item["description"]
        if isinstance(item.get("by"), Mapping):
            entry["by"] = _account(item["by"])
        out.append(entry)
    return out


def _vote(raw: Any, where: str) -> int | None:
    if raw is None or raw == "":
        return None
    try:
        return int(str(raw).strip())
    except ValueError:
        raise EventParseError(f"{where}: not a vote: {raw!r}") from None


# --- ref events ---------------------------------------------------------------------


def _ref_event(
    base: dict[str, Any], update: Mapping[str, Any], data: Mapping[str, Any], created: float | None
) -> TriggerEvent:
    project = _name(update.get("project")) or _name(data.get("project"))
    if not project:
        raise EventParseError("ref-updated: refUpdate has no 'project'")
    ref = update.get("refName")
    if not isinstance(ref, str) or not ref:
        raise EventParseError(f"ref-updated: {project}: refUpdate has no 'refName'")
    if not ref.startswith("refs/"):
        # Very old servers sent a short branch name.
        ref = f"refs/heads/{ref}"
    branch = ref[len("refs/heads/") :] if ref.startswith("refs/heads/") else None
    oldrev = update.get("oldRev") or ZERO_SHA
    newrev = update.get("newRev") or ZERO_SHA
    event = TriggerEvent(
        **{**base, "type": "ref-updated"},
        project=project,
        ref=ref,
        branch=branch,
        oldrev=oldrev,
        newrev=newrev,
    )
    return _with_key(event, ref_key(event.connection, project, ref, oldrev, newrev))


# --- dedup keys ---------------------------------------------------------------------


def who(account: Mapping[str, Any] | None) -> str:
    """How a dedup key names an account: username, else email, else name."""
    if not account:
        return "-"
    return str(account.get("username") or account.get("email") or account.get("name") or "-")


def patchset_created_key(connection: str, number: int, patchset: int) -> str:
    return f"gerrit:{connection}:patchset-created:{number}:{patchset}"


def change_merged_key(connection: str, number: int) -> str:
    return f"gerrit:{connection}:change-merged:{number}"


def comment_added_key(
    connection: str, number: int, patchset: int | None, author: str, when: float, comment: str
) -> str:
    digest = hashlib.sha256((comment or "").encode("utf-8")).hexdigest()[:12]
    return f"gerrit:{connection}:comment-added:{number}:{patchset}:{author}:{int(when)}:{digest}"


def state_change_key(
    kind: str, connection: str, number: int, patchset: int | None, when: float
) -> str:
    return f"gerrit:{connection}:{kind}:{number}:{patchset}:{int(when)}"


def ref_key(connection: str, project: str, ref: str, oldrev: str, newrev: str) -> str:
    return f"gerrit:{connection}:ref-updated:{project}:{ref}:{oldrev}:{newrev}"


def dedup_key_for(
    event: TriggerEvent, *, created: float | None, raw: Mapping[str, Any] | None = None
) -> str:
    """The dedup key of a change event (see the module docstring)."""
    c, n, ps = event.connection, event.change_number, event.patchset
    assert n is not None
    if event.type == "patchset-created" and ps is not None:
        return patchset_created_key(c, n, ps)
    if event.type == "change-merged":
        return change_merged_key(c, n)
    if created is not None:
        if event.type == "comment-added":
            return comment_added_key(c, n, ps, who(event.account), created, event.comment or "")
        if event.type in ("change-abandoned", "change-restored"):
            return state_change_key(event.type, c, n, ps, created)
        return f"gerrit:{c}:{event.type}:{n}:{ps}:{who(event.account)}:{int(created)}"
    # No time from the server (old Gerrit): the same line is the same event.
    digest = hashlib.sha256(
        json.dumps(raw or event.to_dict(), sort_keys=True, default=str).encode()
    ).hexdigest()[:24]
    return f"gerrit:{c}:{event.type}:{n}:{ps}:{digest}"


# --- small readers ------------------------------------------------------------------


def _with_key(event: TriggerEvent, key: str) -> TriggerEvent:
    from dataclasses import replace

    return replace(event, dedup_key=key)


def _object(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = data.get(key)
    if not isinstance(value, Mapping):
        kind = data.get("type", "event")
        if value is None:
            raise EventParseError(f"{kind}: no '{key}' object")
        raise EventParseError(f"{kind}: '{key}' is not an object")
    return value


def _number(data: Mapping[str, Any], key: str, kind: type, where: str | None = None) -> Any:
    raw = data.get(key)
    if raw is None or raw == "":
        return None
    try:
        return kind(raw) if kind is float else int(str(raw))
    except (TypeError, ValueError):
        raise EventParseError(f"{where or key}: not a number: {raw!r}") from None


def _name(value: Any) -> str | None:
    """A project given as ``"name"`` (SSH) or ``{"name": "name"}`` (webhooks)."""
    if isinstance(value, Mapping):
        value = value.get("name")
    return value if isinstance(value, str) and value else None


def _change_key(value: Any) -> str | None:
    """``changeKey``: ``{"id": ...}`` (SSH) or ``{"key": ...}`` (webhooks)."""
    if isinstance(value, Mapping):
        found = value.get("id") or value.get("key")
        return found if isinstance(found, str) else None
    return value if isinstance(value, str) else None


def _account(value: Any) -> dict[str, Any] | None:
    if not isinstance(value, Mapping):
        return None
    return {k: value[k] for k in ("name", "email", "username") if value.get(k) is not None}


def _strings(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else []


def _snake(name: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in name)


def _excerpt(text: str | bytes, limit: int = 80) -> str:
    shown = text if isinstance(text, str) else text.decode("utf-8", "replace")
    return repr(shown[:limit] + ("..." if len(shown) > limit else ""))


# --- events found again by a catch-up query -----------------------------------------

_REVIEW_MESSAGE = re.compile(r"^Patch Set (\d+):")


@dataclass(frozen=True)
class ChangeMessage:
    """One message of a change's history (REST ``messages``, SSH ``comments``)."""

    author: Account
    date: float
    message: str
    patchset: int | None = None
    tag: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def is_review(self) -> bool:
        """Written by a review (what Gerrit also streams as comment-added),
        not by Gerrit itself on an upload, abandon, restore or merge."""
        if self.tag and self.tag.startswith("autogenerated:gerrit:"):
            return False
        return bool(_REVIEW_MESSAGE.match(self.message))

    @property
    def review_patchset(self) -> int | None:
        if self.patchset is not None:
            return self.patchset
        match = _REVIEW_MESSAGE.match(self.message)
        return int(match.group(1)) if match else None


def catch_up_events(
    connection: str,
    change: Change,
    since: float,
    messages: Sequence[ChangeMessage] | None = None,
) -> list[TriggerEvent]:
    """The events a stream reader missed about ``change`` (its current
    patchset) since ``since``, with the dedup keys the streamed ones carry.

    What a query shows: a new patchset (open changes only); reviews — one
    ``comment-added`` per change message that a review wrote (``Patch Set
    N: ...``; Gerrit's own upload/abandon/merge messages are not reviews),
    with the votes its author was granted at that moment (the old value is
    not known: a vote that is not 0 is given ``old_value`` 0, since it
    changed then); a merge; an abandonment.  Without ``messages`` votes are
    grouped by reviewer and time instead (such events have no comment, so
    their keys differ from streamed ones).
    """
    common: dict[str, Any] = {
        "connection": connection,
        "project": change.project,
        "branch": change.branch,
        "ref": change.ref,
        "change_number": change.number,
        "patchset": change.patchset,
        "change_url": change.url or None,
    }
    extra: dict[str, Any] = {
        "change_id": change.change_id,
        "commit": change.commit,
        "subject": change.subject,
        "status": str(change.status),
        "wip": change.wip,
        "private": change.private,
        "hashtags": list(change.hashtags),
        "synthesized": True,
    }
    if change.topic:
        extra["topic"] = change.topic
    out: list[TriggerEvent] = []
    if change.is_open and change.created >= since:
        out.append(
            TriggerEvent(
                type="patchset-created",
                account=_model_account(change.uploader),
                timestamp=change.created,
                extra=dict(extra),
                dedup_key=patchset_created_key(connection, change.number, change.patchset),
                **common,
            )
        )
    votes: dict[tuple[str, int], list[Approval]] = {}
    for approval in change.approvals:
        if approval.granted_on is not None and approval.granted_on >= int(since):
            author = who(_model_account(approval.by))
            votes.setdefault((author, int(approval.granted_on)), []).append(approval)
    reviews: list[tuple[dict[str, Any] | None, int, int, str, list[Approval]]] = []
    if messages is not None:
        for m in messages:
            if m.date < int(since) or not m.is_review:
                continue
            account = _model_account(m.author)
            ps = m.review_patchset or change.patchset
            granted = votes.get((who(account), int(m.date)), []) if ps == change.patchset else []
            reviews.append((account, int(m.date), ps, m.message, granted))
    else:
        for (_, when), granted in votes.items():
            reviews.append((_model_account(granted[0].by), when, change.patchset, "", granted))
    for account, when, ps, text, granted in sorted(reviews, key=lambda r: r[1]):
        out.append(
            TriggerEvent(
                type="comment-added",
                account=account,
                comment=text or None,
                approvals=[
                    {"label": a.label, "value": a.value, "old_value": 0 if a.value else None}
                    for a in granted
                ],
                timestamp=float(when),
                extra=dict(extra),
                dedup_key=comment_added_key(
                    connection, change.number, ps, who(account), when, text
                ),
                **{**common, "patchset": ps, "ref": change_ref(change.number, ps)},
            )
        )
    if change.updated >= since and change.is_merged:
        out.append(
            TriggerEvent(
                type="change-merged",
                timestamp=change.updated,
                extra=dict(extra),
                dedup_key=change_merged_key(connection, change.number),
                **common,
            )
        )
    if change.updated >= since and change.status is ChangeStatus.ABANDONED:
        out.append(
            TriggerEvent(
                type="change-abandoned",
                timestamp=change.updated,
                extra=dict(extra),
                dedup_key=state_change_key(
                    "change-abandoned", connection, change.number, change.patchset, change.updated
                ),
                **common,
            )
        )
    return out


def _model_account(account: Account) -> dict[str, Any] | None:
    found = {k: v for k, v in account.to_dict().items() if v is not None}
    return found or None
