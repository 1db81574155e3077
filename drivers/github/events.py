"""GitHub webhook payloads -> ``TriggerEvent``s.

Called by the event source (``lockgate.drivers.github.event_source``) for
each delivery the web stored: ``events_from_delivery(delivery, lookup)``.
The mapping is pure; what a payload does not carry (an issue comment's pull
request, the pull requests of a status's commit, the number that orders a
pull request's heads) is asked of ``lookup`` (``PullLookup``; the event
source's one calls GitHub).  What comes next: the event source hands each
event to the scheduler's sink.

Types.  ``type`` is the name the scheduler acts on, Zuul's GitHub event and
action are in ``extra["event"]``/``extra["action"]`` (what trigger filters
match, ``lockgate.drivers.github.trigger``):

=====================================  =====================  ==================
delivery                               ``type``               Zuul event/action
=====================================  =====================  ==================
pull_request opened                    patchset-created       pull_request/opened
pull_request synchronize               patchset-created       pull_request/changed
pull_request reopened                  change-restored        pull_request/reopened
pull_request closed, merged            change-merged          pull_request/closed
pull_request closed, not merged        change-abandoned       pull_request/closed
pull_request edited, labeled,          pull_request           pull_request/<same>
unlabeled, ready_for_review,
converted_to_draft
issue_comment created (on a PR)        comment-added          pull_request/comment
pull_request_review submitted,         pull_request_review    pull_request_review/<same>
dismissed
status (per open PR of the sha)        pull_request           pull_request/status
check_run rerequested, completed,      check_run              check_run/<same>
requested_action
push (branch or tag; created/deleted)  ref-updated            push
=====================================  =====================  ==================

Anything else (ping, release, check_suite, a comment on an issue, an
unhandled action) maps to no event: ``ignored(delivery)`` says why.  Two
more are kept for what they tell the connection rather than the pipelines
(``app_notice``): ``installation`` deleted or suspended (the App's tokens
for those repositories are dead; ``InstallationRemoved``) and
``repository`` renamed or transferred (the tenant configuration names the
old name; ``RepositoryRenamed``).  The
Gerrit names make the scheduler's generic rules apply unchanged: a new head
(``patchset-created``) dequeues items of older heads; a closed, unmerged PR
(``change-abandoned``) dequeues the change; a push (``ref-updated``) may
reconfigure the tenant.

Patchsets.  ``patchset_id`` is the head sha (Zuul's patchset);
``patchset`` is ``lookup.patchset_number(project, sha)`` — the head commit's
committer time, the same for the event and for the change the source reads,
for display only: a rebase keeping dates or a force-push of an older commit
gives a newer head an older date.  Heads are ordered by GitHub instead:
deliveries are mapped in the order GitHub sent them, and a ``synchronize``
whose head is no longer the pull request's head (a delivery that came late:
redelivered, or retried while GitHub was away) announces nothing new — it
maps to ``pull_request``/``changed`` (``extra["stale_head"]``, triggers still
match) rather than ``patchset-created``, so it removes no item; the newer
head's own delivery does that.  The scheduler then removes the items of
every head but the announced one (``lockgate.scheduler.manager.changes``).

Dedup keys are ``github:<connection>:<delivery id>:<n>``: a redelivery has
the same ``X-GitHub-Delivery`` id, and processing the same stored delivery
twice (a scheduler dying between queueing and acking) gives the same keys.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from lockgate.drivers.github.webhook import Delivery
from lockgate.git import ZERO_SHA
from lockgate.model.events import TriggerEvent

PR_ACTIONS = {
    "opened": ("patchset-created", "opened"),
    "synchronize": ("patchset-created", "changed"),
    "reopened": ("change-restored", "reopened"),
    "edited": ("pull_request", "edited"),
    "labeled": ("pull_request", "labeled"),
    "unlabeled": ("pull_request", "unlabeled"),
    "ready_for_review": ("pull_request", "ready_for_review"),
    "converted_to_draft": ("pull_request", "converted_to_draft"),
}
REVIEW_ACTIONS = frozenset({"submitted", "dismissed"})
CHECK_RUN_ACTIONS = frozenset({"rerequested", "completed", "requested_action"})
HANDLED = frozenset(
    {"pull_request", "issue_comment", "pull_request_review", "push", "status", "check_run"}
)
NOTICES = {"installation": {"deleted", "suspend"}, "repository": {"renamed", "transferred"}}


@dataclass(frozen=True)
class InstallationRemoved:
    """The App was uninstalled from (or suspended on) ``account``."""

    installation: int
    account: str
    repositories: tuple[str, ...]  # as the payload lists them (may be empty)
    action: str


@dataclass(frozen=True)
class RepositoryRenamed:
    """A repository's name changed (``old`` -> ``new``, full names)."""

    old: str
    new: str


class EventParseError(ValueError):
    """A payload of a handled event lacks what its event cannot do without."""


class PullLookup(Protocol):
    """What the mapping asks GitHub (the event source's lookup calls the API)."""

    def pull_request(self, project: str, number: int) -> Mapping[str, Any] | None:
        """The pull request's JSON (``GET /repos/{project}/pulls/{number}``)."""
        ...

    def pulls_for_sha(self, project: str, sha: str) -> list[Mapping[str, Any]]:
        """Open pull requests of ``project`` whose head is ``sha``."""
        ...

    def patchset_number(self, project: str, sha: str) -> int:
        """The number that orders ``sha`` among a pull request's heads."""
        ...


def ignored(delivery: Delivery) -> str | None:
    """Why a delivery maps to no event without looking anything up, or None
    when it may map to some."""
    kind, body = delivery.event, delivery.payload
    action = body.get("action")
    if kind in NOTICES:
        if action not in NOTICES[kind]:
            return f"{kind} action '{action}' is not used"
        return None
    if kind not in HANDLED:
        return f"'{kind}' events are not used"
    if kind == "pull_request" and action not in PR_ACTIONS and action != "closed":
        return f"pull_request action '{action}' is not used"
    if kind == "issue_comment":
        if action != "created":
            return f"issue_comment action '{action}' is not used"
        issue = body.get("issue")
        if not isinstance(issue, Mapping) or not issue.get("pull_request"):
            return "a comment on an issue, not on a pull request"
    if kind == "pull_request_review" and action not in REVIEW_ACTIONS:
        return f"pull_request_review action '{action}' is not used"
    if kind == "check_run" and action not in CHECK_RUN_ACTIONS:
        return f"check_run action '{action}' is not used"
    if _project(body) is None and kind != "status":
        return "the payload names no repository"
    return None


def app_notice(delivery: Delivery) -> InstallationRemoved | RepositoryRenamed | None:
    """What an ``installation`` or ``repository`` delivery tells the
    connection (None: nothing, or another event)."""
    if delivery.event not in NOTICES or ignored(delivery) is not None:
        return None
    body = delivery.payload
    if delivery.event == "installation":
        inst = body.get("installation")
        ident = inst.get("id") if isinstance(inst, Mapping) else None
        if not isinstance(ident, int):
            raise EventParseError("installation: no 'installation.id'")
        account = _nested(inst, "account", "login") or ""
        repos = tuple(
            str(r["full_name"])
            for r in body.get("repositories") or []
            if isinstance(r, Mapping) and r.get("full_name")
        )
        return InstallationRemoved(ident, str(account), repos, str(body.get("action")))
    new = _project(body)
    if new is None:
        raise EventParseError(f"repository {body.get('action')}: no 'repository.full_name'")
    owner, _, name = new.partition("/")
    changes = body.get("changes")
    old_name = _nested(changes, "repository", "name", "from")
    old_owner = _nested(changes, "owner", "from", "user", "login") or _nested(
        changes, "owner", "from", "organization", "login"
    )
    old = f"{old_owner or owner}/{old_name or name}"
    return RepositoryRenamed(old, new) if old != new else None


def events_from_delivery(delivery: Delivery, lookup: PullLookup) -> list[TriggerEvent]:
    """The trigger events of one delivery (none for an ignored one, nor for
    an ``app_notice``)."""
    if ignored(delivery) is not None or delivery.event in NOTICES:
        return []
    body = delivery.payload
    kind = delivery.event
    if kind == "push":
        events = [_push(delivery, body)]
    elif kind == "pull_request":
        events = [_pull_request(delivery, body, lookup)]
    elif kind == "issue_comment":
        events = _issue_comment(delivery, body, lookup)
    elif kind == "pull_request_review":
        events = [_review(delivery, body, lookup)]
    elif kind == "status":
        events = _status(delivery, body, lookup)
    else:
        events = _check_run(delivery, body, lookup)
    return [
        _keyed(e, f"github:{delivery.connection}:{delivery.delivery}:{i}")
        for i, e in enumerate(events)
    ]


# --- one function per event -----------------------------------------------------------


def _push(delivery: Delivery, body: Mapping[str, Any]) -> TriggerEvent:
    project = _project(body)
    ref = body.get("ref")
    if not isinstance(ref, str) or not ref.startswith("refs/"):
        raise EventParseError(f"push to {project}: no full 'ref'")
    oldrev = body.get("before") or ZERO_SHA
    newrev = body.get("after") or ZERO_SHA
    branch = ref[len("refs/heads/") :] if ref.startswith("refs/heads/") else None
    extra: dict[str, Any] = {
        "event": "push",
        "action": None,
        "created": bool(body.get("created", oldrev == ZERO_SHA)),
        "deleted": bool(body.get("deleted", newrev == ZERO_SHA)),
        "forced": bool(body.get("forced", False)),
        "delivery": delivery.delivery,
    }
    if ref.startswith("refs/tags/"):
        extra["tag"] = ref[len("refs/tags/") :]
    commits = body.get("commits")
    if isinstance(commits, list):
        extra["commits"] = [c.get("id") for c in commits if isinstance(c, Mapping)]
    assert project is not None
    return TriggerEvent(
        type="ref-updated",
        connection=delivery.connection,
        project=project,
        ref=ref,
        branch=branch,
        oldrev=oldrev,
        newrev=newrev,
        account=_account(body.get("sender") or body.get("pusher")),
        extra=extra,
        event_id=delivery.event_id,
        timestamp=delivery.received,
    )


def _pull_request(delivery: Delivery, body: Mapping[str, Any], lookup: PullLookup) -> TriggerEvent:
    action = body.get("action")
    pr = _object(body, "pull_request", "pull_request")
    if action == "closed":
        merged = bool(pr.get("merged"))
        kind, zuul_action = ("change-merged" if merged else "change-abandoned"), "closed"
    else:
        kind, zuul_action = PR_ACTIONS[str(action)]
    extra: dict[str, Any] = {}
    if action in ("labeled", "unlabeled"):
        label = body.get("label")
        if not isinstance(label, Mapping) or not label.get("name"):
            raise EventParseError(f"pull_request {action}: no 'label.name'")
        extra["label"] = label["name"]
    if action == "edited":
        changes = body.get("changes")
        extra["body_edited"] = isinstance(changes, Mapping) and "body" in changes
        extra["title_edited"] = isinstance(changes, Mapping) and "title" in changes
    if action == "closed":
        extra["merged"] = bool(pr.get("merged"))
    if action == "synchronize" and _stale_head(body, pr, lookup):
        kind = "pull_request"
        extra["stale_head"] = True
    event = _pr_event(delivery, body, pr, lookup, kind, "pull_request", zuul_action, extra)
    if kind == "change-merged" and pr.get("merge_commit_sha"):
        event = _replace(event, newrev=pr["merge_commit_sha"])
    return event


def _stale_head(body: Mapping[str, Any], pr: Mapping[str, Any], lookup: PullLookup) -> bool:
    """Whether the pushed head is no longer the pull request's head: GitHub
    has a newer one (what the pull request says now; unknown: not stale)."""
    project = _project(body) or _nested(pr, "base", "repo", "full_name")
    number = pr.get("number")
    if not project or not isinstance(number, int):
        return False
    now = lookup.pull_request(str(project), number)
    current = _nested(now, "head", "sha") if now is not None else None
    return bool(current) and current != _nested(pr, "head", "sha")


def _issue_comment(
    delivery: Delivery, body: Mapping[str, Any], lookup: PullLookup
) -> list[TriggerEvent]:
    issue = _object(body, "issue", "issue_comment")
    project = _project(body)
    assert project is not None
    number = issue.get("number")
    if not isinstance(number, int):
        raise EventParseError(f"issue_comment on {project}: no 'issue.number'")
    pr = lookup.pull_request(project, number)
    if pr is None:
        return []
    comment = _object(body, "comment", "issue_comment")
    text = comment.get("body") if isinstance(comment.get("body"), str) else ""
    event = _pr_event(delivery, body, pr, lookup, "comment-added", "pull_request", "comment", {})
    return [_replace(event, comment=text)]


def _review(delivery: Delivery, body: Mapping[str, Any], lookup: PullLookup) -> TriggerEvent:
    pr = _object(body, "pull_request", "pull_request_review")
    review = _object(body, "review", "pull_request_review")
    state = str(review.get("state") or "").lower()
    extra = {"state": state, "review_id": review.get("id")}
    event = _pr_event(
        delivery,
        body,
        pr,
        lookup,
        "pull_request_review",
        "pull_request_review",
        str(body.get("action")),
        extra,
    )
    text = review.get("body")
    return _replace(event, comment=text if isinstance(text, str) else None)


def _status(delivery: Delivery, body: Mapping[str, Any], lookup: PullLookup) -> list[TriggerEvent]:
    project = _project(body) or (body.get("name") if isinstance(body.get("name"), str) else None)
    sha = body.get("sha")
    if not project or not isinstance(sha, str):
        raise EventParseError("status: no repository or 'sha'")
    creator = body.get("sender") or body.get("creator") or {}
    who = creator.get("login", "") if isinstance(creator, Mapping) else ""
    status = f"{who}:{body.get('context', '')}:{body.get('state', '')}"
    out = []
    for pr in lookup.pulls_for_sha(project, sha):
        out.append(
            _pr_event(
                delivery,
                {**body, "repository": {"full_name": project}},
                pr,
                lookup,
                "pull_request",
                "pull_request",
                "status",
                {"status": status},
            )
        )
    return out


def _check_run(
    delivery: Delivery, body: Mapping[str, Any], lookup: PullLookup
) -> list[TriggerEvent]:
    project = _project(body)
    assert project is not None
    run = _object(body, "check_run", "check_run")
    sha = run.get("head_sha")
    if not isinstance(sha, str):
        raise EventParseError(f"check_run on {project}: no 'check_run.head_sha'")
    found_app = run.get("app")
    app: Mapping[str, Any] = found_app if isinstance(found_app, Mapping) else {}
    check = f"{app.get('slug', '')}:{run.get('name', '')}:{run.get('conclusion') or ''}"
    extra: dict[str, Any] = {"check": check, "check_run_id": run.get("id")}
    requested = body.get("requested_action")
    if isinstance(requested, Mapping):
        extra["requested_action"] = requested.get("identifier")
    pulls: list[Mapping[str, Any]] = []
    for ref in run.get("pull_requests") or []:
        number = ref.get("number") if isinstance(ref, Mapping) else None
        base_repo = ((ref.get("base") or {}).get("repo") or {}) if isinstance(ref, Mapping) else {}
        # A pull request of a fork's repository is another project's change.
        if isinstance(number, int) and base_repo.get("id") in (None, _repo_id(body)):
            found = lookup.pull_request(project, number)
            if found is not None:
                pulls.append(found)
    if not pulls:
        pulls = lookup.pulls_for_sha(project, sha)
    return [
        _pr_event(delivery, body, pr, lookup, "check_run", "check_run", str(body["action"]), extra)
        for pr in pulls
    ]


# --- shared ---------------------------------------------------------------------------


def _pr_event(
    delivery: Delivery,
    body: Mapping[str, Any],
    pr: Mapping[str, Any],
    lookup: PullLookup,
    kind: str,
    zuul_event: str,
    action: str,
    extra: dict[str, Any],
) -> TriggerEvent:
    project = _project(body) or _nested(pr, "base", "repo", "full_name")
    number = pr.get("number")
    if not isinstance(number, int):
        raise EventParseError(f"{delivery.event} on {project}: the pull request has no 'number'")
    if not project:
        raise EventParseError(f"{delivery.event}: pull request {number} names no repository")
    head = _nested(pr, "head", "sha")
    branch = _nested(pr, "base", "ref")
    if not isinstance(head, str) or not head:
        raise EventParseError(f"{delivery.event} on {project}#{number}: no 'head.sha'")
    if not isinstance(branch, str) or not branch:
        raise EventParseError(f"{delivery.event} on {project}#{number}: no 'base.ref'")
    labels = [lbl.get("name") for lbl in pr.get("labels") or [] if isinstance(lbl, Mapping)]
    details: dict[str, Any] = {
        "event": zuul_event,
        "action": action,
        "title": pr.get("title"),
        "draft": bool(pr.get("draft", False)),
        "wip": bool(pr.get("draft", False)),
        "labels": [str(name) for name in labels if name],
        "state": None,
        "status": None,
        "check": None,
        "head_sha": head,
        "base_sha": _nested(pr, "base", "sha"),
        "pr_state": pr.get("state"),
        "delivery": delivery.delivery,
    }
    details.update(extra)
    return TriggerEvent(
        type=kind,
        connection=delivery.connection,
        project=str(project),
        ref=f"refs/pull/{number}/head",
        branch=branch,
        change_number=number,
        patchset=lookup.patchset_number(str(project), head),
        patchset_id=head,
        change_url=pr.get("html_url"),
        account=_account(body.get("sender")),
        extra=details,
        event_id=delivery.event_id,
        timestamp=delivery.received,
    )


def _project(body: Mapping[str, Any]) -> str | None:
    repo = body.get("repository")
    if isinstance(repo, Mapping) and isinstance(repo.get("full_name"), str):
        return repo["full_name"]
    return None


def _repo_id(body: Mapping[str, Any]) -> Any:
    repo = body.get("repository")
    return repo.get("id") if isinstance(repo, Mapping) else None


def _object(body: Mapping[str, Any], key: str, kind: str) -> Mapping[str, Any]:
    value = body.get(key)
    if not isinstance(value, Mapping):
        raise EventParseError(f"{kind}: no '{key}' object")
    return value


def _nested(data: object, *keys: str) -> Any:
    value: Any = data
    for key in keys:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def _account(user: Any) -> dict[str, Any] | None:
    """GitHub's user as Lockgate's account: ``username`` is the login."""
    if not isinstance(user, Mapping):
        return None
    login = user.get("login") or user.get("username")
    out = {"username": login, "name": user.get("name") or login, "email": user.get("email")}
    found = {k: v for k, v in out.items() if v}
    return found or None


def _replace(event: TriggerEvent, **changes: Any) -> TriggerEvent:
    from dataclasses import replace

    return replace(event, **changes)


def _keyed(event: TriggerEvent, key: str) -> TriggerEvent:
    return _replace(event, dedup_key=key)
