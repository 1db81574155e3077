"""A pull request as Lockgate's ``Change`` (pure, no I/O).

Who calls it: ``lockgate.drivers.github.source.GithubSource.get_change``,
with what it read from GitHub (the pull request, its head commit, reviews,
reviewers' permissions, files, commit statuses and check runs).  What comes
next: the scheduler caches the change and checks requirements on it
(``lockgate.drivers.github.requirements``).

How GitHub's notions land in the change model:

- ``number`` the PR number; ``patchset_id`` the head sha (Zuul's patchset)
  and ``commit`` too; ``patchset`` the head commit's committer time (epoch
  seconds: it orders heads, see ``lockgate.drivers.github.events``);
  ``ref`` ``refs/pull/N/head``; ``parents`` the head commit's parents;
- ``status``: open -> NEW, merged -> MERGED, closed unmerged -> ABANDONED;
- ``wip``: the PR is a draft; ``labels``: its label names;
- ``message``: title, a blank line and the body (``Depends-On:`` footers are
  read from it, as Zuul does); ``subject`` the title;
- ``approvals``: one per reviewer, their latest review that is not a plain
  comment (GitHub's own rule for a PR's review state), or their latest
  comment when they only commented: ``label`` the review state as Zuul's
  ``review.type`` names it (``approved``, ``changes_requested``,
  ``commented``, ``dismissed``), ``value`` the reviewer's permission on the
  repository (``PERMISSION_RANK``: 0 none, 1 read, 2 write, 3 admin), so a
  requirement can ask for reviews by writers only;
- ``statuses``: ``app:context:state`` of the head's commit statuses (the
  creator's login, GitHub adds ``[bot]`` for an App) and of its check runs
  (the App's slug, the run's name, its conclusion or status), as Zuul's
  ``status`` requirement reads them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from lockgate.drivers.github.auth import parse_time
from lockgate.model.change import Account, Approval, Change, ChangeStatus

PERMISSION_RANK = {"none": 0, "read": 1, "triage": 1, "write": 2, "maintain": 2, "admin": 3}
RANK_NAMES = {0: "none", 1: "read", 2: "write", 3: "admin"}


def head_number(commit: Mapping[str, Any] | None) -> int:
    """The head commit's committer time as epoch seconds (0 when unknown)."""
    when = _nested(commit or {}, "commit", "committer", "date")
    parsed = parse_time(when) if isinstance(when, str) else None
    return int(parsed) if parsed is not None else 0


def change_status(pr: Mapping[str, Any]) -> ChangeStatus:
    if pr.get("merged") or pr.get("merged_at"):
        return ChangeStatus.MERGED
    if pr.get("state") == "closed":
        return ChangeStatus.ABANDONED
    return ChangeStatus.NEW


def current_reviews(reviews: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Of each reviewer's reviews, the one that counts: the latest that is
    not a plain comment, else the latest comment."""
    decisive: dict[str, Mapping[str, Any]] = {}
    comments: dict[str, Mapping[str, Any]] = {}
    for review in reviews:
        login = _nested(review, "user", "login")
        state = str(review.get("state") or "").lower()
        if not login or state == "pending":
            continue
        target = comments if state == "commented" else decisive
        earlier = target.get(login)
        if earlier is None or (_when(review) or 0) >= (_when(earlier) or 0):
            target[login] = review
    out = dict(comments)
    out.update(decisive)
    return sorted(out.values(), key=lambda r: _when(r) or 0)


def review_approvals(
    reviews: Iterable[Mapping[str, Any]], permissions: Mapping[str, str]
) -> list[Approval]:
    out = []
    for review in current_reviews(reviews):
        login = str(_nested(review, "user", "login"))
        rank = PERMISSION_RANK.get(permissions.get(login, "none"), 0)
        out.append(
            Approval(
                label=str(review.get("state") or "").lower(),
                value=rank,
                by=Account(name=login, username=login, email=_nested(review, "user", "email")),
                granted_on=_when(review),
            )
        )
    return out


def status_strings(
    statuses: Iterable[Mapping[str, Any]], check_runs: Iterable[Mapping[str, Any]]
) -> list[str]:
    """``app:context:state`` of each context's latest status and each check run."""
    seen: dict[tuple[str, str], str] = {}
    for status in statuses:  # GitHub lists the newest first
        creator = _nested(status, "creator", "login") or ""
        key = (str(creator), str(status.get("context") or ""))
        seen.setdefault(key, str(status.get("state") or ""))
    for run in check_runs:
        slug = _nested(run, "app", "slug") or ""
        state = run.get("conclusion") or run.get("status") or ""
        seen.setdefault((str(slug), str(run.get("name") or "")), str(state))
    return [f"{app}:{context}:{state}" for (app, context), state in seen.items()]


def pull_to_change(
    connection: str,
    pr: Mapping[str, Any],
    *,
    commit: Mapping[str, Any] | None = None,
    reviews: Iterable[Mapping[str, Any]] = (),
    permissions: Mapping[str, str] | None = None,
    files: list[str] | None = None,
    statuses: Iterable[Mapping[str, Any]] = (),
    check_runs: Iterable[Mapping[str, Any]] = (),
    sha: str | None = None,
) -> Change:
    """The change ``pr`` describes at ``sha`` (None: its head)."""
    number = int(pr["number"])
    head = str(_nested(pr, "head", "sha"))
    at = sha or head
    title = str(pr.get("title") or "")
    body = pr.get("body") or ""
    message = f"{title}\n\n{body}".rstrip() + "\n" if body else title + "\n"
    user = pr.get("user") or {}
    login = user.get("login") if isinstance(user, Mapping) else None
    parents = [
        str(p["sha"])
        for p in (commit or {}).get("parents") or []
        if isinstance(p, Mapping) and p.get("sha")
    ]
    return Change(
        connection=connection,
        project=str(_nested(pr, "base", "repo", "full_name")),
        branch=str(_nested(pr, "base", "ref")),
        number=number,
        patchset=head_number(commit),
        patchset_id=at,
        commit=at,
        ref=f"refs/pull/{number}/head",
        parents=parents,
        status=change_status(pr),
        approvals=review_approvals(reviews, permissions or {}),
        owner=Account(name=login, username=login),
        uploader=Account(name=login, username=login),
        wip=bool(pr.get("draft", False)),
        is_current_patchset=at == head,
        message=message,
        subject=title,
        files=files,
        labels=[
            str(lbl["name"])
            for lbl in pr.get("labels") or []
            if isinstance(lbl, Mapping) and lbl.get("name")
        ],
        statuses=status_strings(statuses, check_runs),
        url=str(pr.get("html_url") or ""),
        updated=parse_time(pr.get("updated_at")) or 0.0,
        created=parse_time(_nested(commit or {}, "commit", "committer", "date")) or 0.0,
    )


def _when(review: Mapping[str, Any]) -> float | None:
    submitted = review.get("submitted_at")
    return parse_time(submitted) if isinstance(submitted, str) else None


def _nested(data: Mapping[str, Any], *keys: str) -> Any:
    value: Any = data
    for key in keys:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value
