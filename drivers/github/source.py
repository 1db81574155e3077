"""``GithubSource``: what GitHub knows about repositories and pull requests.

Who calls it: the scheduler (branches, branch heads, pull requests and
their dependencies, ``Depends-On:`` URLs) and the executor (clone URLs).  It
implements ``Source`` and ``ChangeSource`` from ``lockgate.drivers.base``.
Every call may do network I/O; GitHub's errors come back as
``GithubQueryError`` (a ``ChangeQueryError``) naming the pull request and
what GitHub said, and whether asking again can help (``permanent``: the App
not installed on the repository, the repository or commit gone, access
refused; ``connection_wide``: the App's own key refused).

Git goes over HTTPS: ``clone_url`` is ``{baseurl}/{owner}/{repo}.git`` with
``x-access-token:<token>`` in the URL (the installation's token for an App;
git takes credentials no other way without a prompt; ``lockgate.git`` masks
them in every message, and nothing here logs a URL).

``get_change(number, patchset)`` takes the head sha (``patchset_id``) as
well as the number ``patchset``; the scheduler passes the event's patchset,
so a proposal to the scheduler is to pass ``event.patchset_id or
event.patchset``.  A PR number is only unique in a repository: the
scheduler keys pull requests by connection, repository and number
(``lockgate.model.change.change_key``) and passes ``project`` to
``get_change``; without it, the repository this connection last saw the
number in is asked (``remember_project``; ambiguous when two repositories
have a PR of that number, so only a fallback).
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from lockgate.drivers.base import ChangeQueryError
from lockgate.drivers.github.auth import AuthError, parse_time
from lockgate.drivers.github.changes import head_number, pull_to_change
from lockgate.drivers.github.client import GithubAuthError, GithubHTTPError
from lockgate.git import ls_remote
from lockgate.model.change import Change

if TYPE_CHECKING:
    from lockgate.drivers.github.connection import GithubConnection


class GithubQueryError(ChangeQueryError):
    """GitHub could not answer about a repository.  ``permanent``: asking
    again cannot help until someone acts on GitHub (installs the App,
    restores the repository, grants access); ``connection_wide``: nothing
    of this connection can be asked (the App's key refused); otherwise
    GitHub failed or was out of reach and may answer later."""

    def __init__(
        self, message: str, *, permanent: bool = False, connection_wide: bool = False
    ) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.connection_wide = connection_wide


def query_error(what: str, error: GithubHTTPError) -> GithubQueryError:
    """``error`` as the ``ChangeQueryError`` the scheduler and event source see."""
    if isinstance(error, GithubAuthError):
        return GithubQueryError(
            f"{what}: {error}",
            permanent=error.project is not None,
            connection_wide=error.project is None,
        )
    refused = error.status in (401, 403, 404, 410, 451) and not error.transient
    return GithubQueryError(f"{what}: {error}", permanent=refused)


log = logging.getLogger("lockgate.drivers.github.source")

_PULL_PATH = re.compile(r"^/(?P<project>[^/]+/[^/]+)/pull/(?P<number>[0-9]+)(?:/.*)?$")


def pull_url_parts(baseurl: str, url: str) -> tuple[str, int] | None:
    """``(owner/repo, number)`` of a pull request URL under ``baseurl``
    (``https://{server}/{owner}/{repo}/pull/{n}``, maybe with ``/files``,
    a query or a fragment after it; the scheme is ignored)."""
    base = urlsplit(baseurl.rstrip("/"))
    try:
        found = urlsplit(url.strip())
    except ValueError:
        return None
    if not found.netloc or found.netloc.lower() != base.netloc.lower():
        return None
    prefix = base.path.rstrip("/")
    if not found.path.startswith(prefix + "/"):
        return None
    match = _PULL_PATH.match(found.path[len(prefix) :])
    if match is None:
        return None
    return match.group("project"), int(match.group("number"))


class GithubSource:
    numbers_per_project = True
    # Numbers seen by project, shared by every source of a connection: a
    # ChangeSource is asked by number only.
    _known: dict[str, dict[int, str]] = {}
    _known_lock = threading.Lock()

    def __init__(self, connection: GithubConnection) -> None:
        self.connection = connection

    # --- Source -----------------------------------------------------------------------

    @property
    def connection_name(self) -> str:
        return self.connection.name

    @property
    def canonical_hostname(self) -> str:
        return self.connection.canonical_hostname

    def canonical_name(self, project: str) -> str:
        return f"{self.canonical_hostname}/{project.strip('/')}"

    def clone_url(self, project: str) -> str:
        if not project.strip("/"):
            # The server's prefix (no repository, so no token to ask for).
            return self.connection.config.baseurl + "/"
        url = self.connection.config.git_url(project)
        try:
            token = self.connection.client().git_token(project)
        except (AuthError, GithubHTTPError) as e:
            # Callers take a URL, not an error: git says what it cannot reach
            # (nothing, for a public repository); this says why.
            log.warning(
                "GitHub %s: git for %s without a token: %s", self.connection.name, project, e
            )
            return url
        if not token:
            return url
        parts = urlsplit(url)
        secret = quote(token, safe="")
        return parts._replace(netloc=f"x-access-token:{secret}@{parts.netloc}").geturl()

    def git_env(self) -> dict[str, str]:
        return {} if self.connection.config.verify_ssl else {"GIT_SSL_NO_VERIFY": "1"}

    def get_branches(self, project: str) -> list[str]:
        client = self.connection.client()
        try:
            return sorted(
                str(b["name"])
                for b in client.paginate(f"/repos/{project}/branches", project=project)
            )
        except GithubHTTPError as e:
            raise query_error(f"branches of {project}", e) from None

    def get_ref_sha(self, project: str, ref: str) -> str | None:
        """A branch's head from the API; any other ref from git (``ls-remote``)."""
        branch = ref[len("refs/heads/") :] if ref.startswith("refs/heads/") else ref
        if not branch.startswith("refs/"):
            try:
                data = self.connection.client().get(
                    f"/repos/{project}/branches/{quote(branch, safe='')}", project=project
                )
            except GithubHTTPError as e:
                if e.status == 404:
                    return None
                raise query_error(f"branch {branch} of {project}", e) from None
            return _nested(data, "commit", "sha")
        return ls_remote(self.clone_url(project), env=self.git_env()).get(ref)

    # --- ChangeSource -----------------------------------------------------------------

    def remember_project(self, project: str, number: int) -> None:
        with self._known_lock:
            self._known.setdefault(self.connection.name, {})[int(number)] = project

    def project_of(self, number: int) -> str | None:
        with self._known_lock:
            return self._known.get(self.connection.name, {}).get(int(number))

    def get_change(
        self, number: int, patchset: int | str | None = None, *, project: str | None = None
    ) -> Change:
        project = project or self.project_of(number)
        if project is None:
            raise ChangeQueryError(
                f"GitHub {self.connection.name}: pull request {number}: its repository is not "
                "known (no event or URL named it yet)"
            )
        return self.get_pull(project, number, patchset)

    def get_pull(self, project: str, number: int, patchset: int | str | None = None) -> Change:
        """The pull request ``project#number`` at ``patchset`` (a head sha, or
        the number of a head; None: the current head)."""
        what = f"GitHub {self.connection.name}: pull request {project}#{number}"
        client = self.connection.client()
        base = f"/repos/{project}"
        try:
            pr = client.get(f"{base}/pulls/{number}", project=project)
            head = str(_nested(pr, "head", "sha"))
            sha = patchset if isinstance(patchset, str) and patchset else head
            commit = self._commit(project, sha)
            if isinstance(patchset, int) and patchset != head_number(commit):
                # An older head named by its number: GitHub keeps no list of
                # heads, so it is known only as "not the current one".
                sha = f"{head}~"
            reviews = list(client.paginate(f"{base}/pulls/{number}/reviews", project=project))
            permissions = self._permissions(project, reviews)
            files = [
                str(f["filename"])
                for f in client.paginate(f"{base}/pulls/{number}/files", project=project)
            ]
            statuses = list(client.paginate(f"{base}/commits/{head}/statuses", project=project))
            runs = list(
                client.paginate(
                    f"{base}/commits/{head}/check-runs", project=project, key="check_runs"
                )
            )
        except GithubHTTPError as e:
            raise query_error(what, e) from None
        self.remember_project(project, number)
        return pull_to_change(
            self.connection.name,
            pr,
            commit=commit,
            reviews=reviews,
            permissions=permissions,
            files=files,
            statuses=statuses,
            check_runs=runs,
            sha=sha if sha != head else None,
        )

    def change_number_from_url(self, url: str) -> int | None:
        found = pull_url_parts(self.connection.config.baseurl, url)
        if found is None:
            return None
        project, number = found
        self.remember_project(project, number)
        return number

    def change_location_from_url(self, url: str) -> tuple[str, int] | None:
        """``(owner/repo, number)`` of a pull request URL of this connection:
        the scheduler asks this before ``change_number_from_url`` because a
        number alone does not name a pull request."""
        found = pull_url_parts(self.connection.config.baseurl, url)
        if found is not None:
            self.remember_project(*found)
        return found

    def open_changes_by_commit(self, project: str, commits: list[str]) -> list[Change]:
        out: list[Change] = []
        seen: set[int] = set()
        for sha in commits:
            for pr in self.pulls_for_sha(project, sha):
                if pr["number"] not in seen:
                    seen.add(pr["number"])
                    out.append(self.get_pull(project, int(pr["number"])))
        return out

    def changes_updated_since(self, since: float) -> list[Change]:
        """Open or recently closed PRs updated at or after ``since`` in every
        repository this connection has seen (newest first, as GitHub sorts)."""
        out: list[Change] = []
        with self._known_lock:
            projects = sorted(set(self._known.get(self.connection.name, {}).values()))
        client = self.connection.client()
        for project in projects:
            try:
                for pr in client.paginate(
                    f"/repos/{project}/pulls",
                    project=project,
                    state="all",
                    sort="updated",
                    direction="desc",
                ):
                    if (parse_time(pr.get("updated_at")) or 0) < since:
                        break
                    out.append(self.get_pull(project, int(pr["number"])))
            except GithubHTTPError as e:
                raise query_error(f"pull requests of {project} updated since", e) from None
        return out

    # --- helpers the event source shares ------------------------------------------------

    def pulls_for_sha(self, project: str, sha: str) -> list[Mapping[str, Any]]:
        """Open pull requests of ``project`` whose head is ``sha``."""
        try:
            pulls = self.connection.client().get(
                f"/repos/{project}/commits/{sha}/pulls", project=project
            )
        except GithubHTTPError as e:
            if e.status in (404, 422):
                return []
            raise query_error(f"pull requests of {project} at {sha[:12]}", e) from None
        return [
            pr
            for pr in pulls or []
            if pr.get("state") == "open"
            and _nested(pr, "head", "sha") == sha
            and _nested(pr, "base", "repo", "full_name") in (None, project)
        ]

    def pull_json(self, project: str, number: int) -> Mapping[str, Any] | None:
        try:
            return self.connection.client().get(f"/repos/{project}/pulls/{number}", project=project)
        except GithubHTTPError as e:
            if e.status == 404:
                return None
            raise query_error(f"pull request {project}#{number}", e) from None

    def head_number(self, project: str, sha: str) -> int:
        try:
            return head_number(self._commit(project, sha))
        except GithubHTTPError as e:
            raise query_error(f"commit {sha[:12]} of {project}", e) from None

    _commits: dict[tuple[str, str], Mapping[str, Any]] = {}

    def _commit(self, project: str, sha: str) -> Mapping[str, Any]:
        """A commit's JSON (immutable, so kept: at most a few thousand)."""
        key = (project, sha)
        found = self._commits.get(key)
        if found is None:
            found = self.connection.client().get(f"/repos/{project}/commits/{sha}", project=project)
            if len(self._commits) > 4096:
                self._commits.clear()
            self._commits[key] = found
        return found

    def _permissions(self, project: str, reviews: list[Mapping[str, Any]]) -> dict[str, str]:
        out: dict[str, str] = {}
        client = self.connection.client()
        for login in sorted(
            {str(_nested(r, "user", "login")) for r in reviews if _nested(r, "user", "login")}
        ):
            try:
                data = client.get(
                    f"/repos/{project}/collaborators/{quote(login)}/permission", project=project
                )
                out[login] = str(data.get("permission") or "none")
            except GithubHTTPError as e:
                if e.status != 404:
                    raise
                out[login] = "none"
        return out


def _nested(data: Any, *keys: str) -> Any:
    value = data
    for key in keys:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value
