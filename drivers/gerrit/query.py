"""Asking Gerrit about changes, over REST or SSH, into ``Change`` records.

Who calls it: ``GerritSource`` (``get_change``, ``open_changes_by_commit``,
``changes_updated_since``) and the event source's catch-up after a
disconnect.  Which transport: REST (``{baseurl}/a/changes/?q=...``, HTTP
auth, the ``)]}'`` guard line stripped) when the connection has a password,
else ``gerrit query --format json`` over SSH — as Zuul chooses.

The two answer shapes are parsed by pure functions (``change_from_rest``,
``change_from_ssh``), tested against recorded-shape JSON without a server.
Every failure is a ``ChangeQueryError`` naming the change or query and why
(timed out, 401, 404, unreachable).

``GerritHTTP`` is also the reporter's HTTP client: its errors carry the
status (``GerritHTTPError.status``) so the reporter can tell a refusal from
an outage.
"""

from __future__ import annotations

import calendar
import json
import logging
import shlex
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import requests
from lockgate.drivers.base import ChangeQueryError
from lockgate.drivers.gerrit.events import ChangeMessage
from lockgate.drivers.gerrit.source import change_number_in
from lockgate.drivers.gerrit.ssh import GerritSSHError
from lockgate.model.change import Account, Approval, Change, ChangeStatus, change_ref

if TYPE_CHECKING:
    from lockgate.drivers.gerrit.connection import GerritConnection

log = logging.getLogger("lockgate.drivers.gerrit.query")

XSSI_GUARD = ")]}'"
# Files Gerrit lists that are not in the tree: matchers must not see them.
MAGIC_FILES = frozenset({"/COMMIT_MSG", "/MERGE_LIST", "/PATCHSET_LEVEL"})
# REST options for one change: every revision with its commit and files
# (so any patchset can be asked for), votes with who and when, submittability.
CHANGE_OPTIONS = (
    "ALL_REVISIONS",
    "ALL_COMMITS",
    "ALL_FILES",
    "DETAILED_LABELS",
    "DETAILED_ACCOUNTS",
    "SUBMITTABLE",
)
# For lists of changes (catch-up, open changes by commit): current patchset only.
LIST_OPTIONS = (
    "CURRENT_REVISION",
    "CURRENT_COMMIT",
    "DETAILED_LABELS",
    "DETAILED_ACCOUNTS",
    "SUBMITTABLE",
)
SSH_CHANGE_ARGS = (
    "--format json --current-patch-set --patch-sets --all-approvals --files "
    "--commit-message --dependencies --submit-records"
)
SSH_LIST_ARGS = (
    "--format json --current-patch-set --all-approvals --commit-message --submit-records"
)
PAGE = 500


class GerritHTTPError(Exception):
    """An HTTP request to Gerrit failed; ``status`` is None when no answer came."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class GerritHTTP:
    """Gerrit's REST API under ``{baseurl}/a/`` with HTTP auth."""

    def __init__(
        self,
        baseurl: str,
        user: str,
        password: str,
        *,
        auth_type: str = "basic",
        verify_ssl: bool = True,
        timeout: float = 30.0,
    ) -> None:
        self.baseurl = baseurl.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()
        self.session.verify = verify_ssl
        if auth_type == "digest":
            self.session.auth = requests.auth.HTTPDigestAuth(user, password)
        else:
            self.session.auth = requests.auth.HTTPBasicAuth(user, password)
        self.session.headers["User-Agent"] = "Lockgate " + requests.utils.default_user_agent()

    def close(self) -> None:
        self.session.close()

    def url(self, path: str) -> str:
        return f"{self.baseurl}/a/{path.lstrip('/')}"

    def get(self, path: str) -> Any:
        return self._request("GET", path, None)

    def post(self, path: str, data: Mapping[str, Any]) -> Any:
        return self._request("POST", path, data)

    def _request(self, method: str, path: str, data: Mapping[str, Any] | None) -> Any:
        url = self.url(path)
        shown = f"{method} {self.baseurl}/a/{path.lstrip('/').split('?')[0]}"
        try:
            if data is None:
                r = self.session.request(method, url, timeout=self.timeout)
            else:
                r = self.session.request(
                    method,
                    url,
                    data=json.dumps(data).encode("utf-8"),
                    headers={"Content-Type": "application/json;charset=UTF-8"},
                    timeout=self.timeout,
                )
        except requests.Timeout:
            raise GerritHTTPError(f"{shown}: timed out after {self.timeout:g}s") from None
        except requests.ConnectionError as e:
            raise GerritHTTPError(f"{shown}: unreachable: {_reason(e)}") from None
        except requests.RequestException as e:
            raise GerritHTTPError(f"{shown}: {_reason(e)}") from None
        if r.status_code >= 300:
            body = " ".join(r.text.split())[:200]
            why = {
                401: "401 Unauthorized (wrong user or HTTP password?)",
                403: "403 Forbidden (the user lacks the permission)",
                404: "404 Not Found",
                409: "409 Conflict",
            }.get(r.status_code, f"HTTP {r.status_code}")
            raise GerritHTTPError(f"{shown}: {why}" + (f": {body}" if body else ""), r.status_code)
        return parse_json_body(r.text, shown)


def parse_json_body(text: str, what: str = "response") -> Any:
    """A REST body: strip Gerrit's ``)]}'`` guard line, then JSON (empty: None)."""
    if text.startswith(XSSI_GUARD):
        text = text[len(XSSI_GUARD) :]
    text = text.strip()
    if not text:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise GerritHTTPError(f"{what}: answer is not JSON ({e.msg})") from None


def _reason(error: Exception) -> str:
    text = str(error)
    # requests nests the socket error deep in its message; keep the end.
    for marker in ("Errno", "Connection refused", "Name or service"):
        i = text.find(marker)
        if i >= 0:
            return text[i:].rstrip(")'\"").split("'))")[0]
    return text[:200]


# --- parsing: timestamps --------------------------------------------------------------


def parse_rest_time(value: Any) -> float:
    """Gerrit REST times, ``2024-03-15 17:45:28.000000000`` in UTC, as epoch seconds."""
    if not isinstance(value, str) or not value:
        return 0.0
    main, _, fraction = value.partition(".")
    try:
        parsed = time.strptime(main, "%Y-%m-%d %H:%M:%S")
    except ValueError:
        raise ValueError(f"not a Gerrit timestamp: {value!r}") from None
    seconds = float(calendar.timegm(parsed))
    if fraction.isdigit():
        seconds += float("0." + fraction)
    return seconds


def format_rest_time(epoch: float) -> str:
    """Epoch seconds as a Gerrit query date with its zone (``since:`` takes it)."""
    return time.strftime("%Y-%m-%d %H:%M:%S +0000", time.gmtime(int(epoch)))


# --- parsing: REST --------------------------------------------------------------------


def _rest_account(data: Any) -> Account:
    if not isinstance(data, Mapping):
        return Account()
    return Account(name=data.get("name"), email=data.get("email"), username=data.get("username"))


def change_from_rest(
    connection: str, baseurl: str, data: Mapping[str, Any], patchset: int | None = None
) -> Change:
    """A ``ChangeInfo`` (with revisions) as a ``Change`` at ``patchset`` (None: current).

    REST reports votes of the current patchset only, so an older patchset
    comes with no approvals."""
    number = int(data["_number"])
    revisions: Mapping[str, Any] = data.get("revisions") or {}
    current_sha = str(data.get("current_revision") or "")
    by_number = {int(r["_number"]): (sha, r) for sha, r in revisions.items()}
    if not by_number:
        raise KeyError("revisions")
    current_ps = (
        int(revisions[current_sha]["_number"]) if current_sha in revisions else max(by_number)
    )
    wanted = current_ps if patchset is None else int(patchset)
    if wanted not in by_number:
        raise LookupError(f"change {number} has no patchset {wanted} (current: {current_ps})")
    sha, revision = by_number[wanted]
    commit = revision.get("commit") or {}
    is_current = wanted == current_ps
    approvals: list[Approval] = []
    if is_current:
        for label, info in (data.get("labels") or {}).items():
            for vote in info.get("all") or []:
                value = vote.get("value") or 0
                if not value:
                    continue
                approvals.append(
                    Approval(
                        label=label,
                        value=int(value),
                        by=_rest_account(vote),
                        granted_on=parse_rest_time(vote.get("date")) or None,
                    )
                )
    files = revision.get("files")
    project = data["project"]
    return Change(
        connection=connection,
        project=project,
        branch=data["branch"],
        number=number,
        patchset=wanted,
        commit=sha,
        ref=revision.get("ref") or change_ref(number, wanted),
        parents=[p["commit"] for p in commit.get("parents") or [] if "commit" in p],
        status=ChangeStatus(data.get("status", "NEW")),
        approvals=approvals,
        owner=_rest_account(data.get("owner")),
        uploader=_rest_account(revision.get("uploader")),
        topic=data.get("topic") or None,
        wip=bool(data.get("work_in_progress", False)),
        private=bool(data.get("is_private", False)),
        is_current_patchset=is_current,
        message=commit.get("message") or "",
        subject=data.get("subject") or commit.get("subject") or "",
        change_id=data.get("change_id") or "",
        files=sorted(f for f in files if f not in MAGIC_FILES)
        if isinstance(files, Mapping)
        else None,
        hashtags=list(data.get("hashtags") or []),
        url=f"{baseurl.rstrip('/')}/c/{project}/+/{number}",
        updated=parse_rest_time(data.get("updated")),
        created=parse_rest_time(revision.get("created")),
        missing_labels=missing_labels_rest(data),
    )


def missing_labels_rest(data: Mapping[str, Any]) -> list[str]:
    """Labels a submit still needs: none when Gerrit says it is submittable;
    else each label that blocks, or is not optional and not yet approved."""
    if data.get("submittable") is True:
        return []
    missing = []
    for label, info in (data.get("labels") or {}).items():
        if info.get("optional"):
            continue
        if info.get("blocking") or info.get("rejected") or "approved" not in info:
            missing.append(label)
    return sorted(missing)


# --- parsing: SSH ---------------------------------------------------------------------


def _ssh_account(data: Any) -> Account:
    return _rest_account(data)


def change_from_ssh(
    connection: str, data: Mapping[str, Any], patchset: int | None = None
) -> Change:
    """One ``gerrit query --format json`` change object as a ``Change`` at
    ``patchset`` (None: the current one)."""
    number = int(data["number"])
    current = data.get("currentPatchSet") or {}
    sets = {int(ps["number"]): ps for ps in data.get("patchSets") or []}
    if current:
        sets.setdefault(int(current["number"]), current)
    if not sets:
        raise KeyError("currentPatchSet")
    current_ps = int(current["number"]) if current else max(sets)
    wanted = current_ps if patchset is None else int(patchset)
    if wanted not in sets:
        raise LookupError(f"change {number} has no patchset {wanted} (current: {current_ps})")
    ps = dict(sets[wanted])
    if wanted == current_ps:
        # --current-patch-set carries approvals/files even without --patch-sets.
        for key in ("approvals", "files"):
            if key not in ps and key in current:
                ps[key] = current[key]
    approvals = [
        Approval(
            label=a["type"],
            value=int(str(a.get("value", 0))),
            by=_ssh_account(a.get("by")),
            granted_on=float(a["grantedOn"]) if a.get("grantedOn") is not None else None,
        )
        for a in ps.get("approvals") or []
        if int(str(a.get("value", 0)) or 0) != 0
    ]
    files = ps.get("files")
    return Change(
        connection=connection,
        project=data["project"],
        branch=data["branch"],
        number=number,
        patchset=wanted,
        commit=ps["revision"],
        ref=ps.get("ref") or change_ref(number, wanted),
        parents=list(ps.get("parents") or []),
        status=ChangeStatus(data.get("status", "NEW")),
        approvals=approvals,
        owner=_ssh_account(data.get("owner")),
        uploader=_ssh_account(ps.get("uploader")),
        topic=data.get("topic") or None,
        wip=bool(data.get("wip", False)),
        private=bool(data.get("private", False)),
        is_current_patchset=wanted == current_ps,
        message=data.get("commitMessage") or "",
        subject=data.get("subject") or "",
        change_id=data.get("id") or "",
        files=sorted(f["file"] for f in files if f.get("file") not in MAGIC_FILES)
        if isinstance(files, list)
        else None,
        hashtags=list(data.get("hashtags") or []),
        url=data.get("url") or "",
        updated=float(data.get("lastUpdated") or 0),
        created=float(ps.get("createdOn") or 0),
        missing_labels=missing_labels_ssh(data),
    )


def missing_labels_ssh(data: Mapping[str, Any]) -> list[str]:
    """Labels the submit records say are still needed (``NEED``/``REJECT``)."""
    missing: set[str] = set()
    for record in data.get("submitRecords") or []:
        if record.get("status") != "NOT_READY":
            continue
        for label in record.get("labels") or []:
            if label.get("status") in ("NEED", "REJECT"):
                missing.add(label["label"])
    return sorted(missing)


def parse_ssh_output(text: str) -> tuple[list[dict[str, Any]], bool]:
    """``gerrit query`` output: the change objects and whether more follow.

    The last line is a ``stats`` row; an ``error`` row is raised as ValueError."""
    changes = []
    more = False
    for line in text.splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        row = json.loads(line)
        if row.get("type") == "stats":
            more = bool(row.get("moreChanges", False))
        elif row.get("type") == "error":
            raise ValueError(row.get("message") or "query error")
        else:
            changes.append(row)
    return changes, more


# --- parsing: change messages --------------------------------------------------------


def messages_from_rest(data: Mapping[str, Any]) -> list[ChangeMessage]:
    """``ChangeInfo.messages`` (option ``MESSAGES``)."""
    return [
        ChangeMessage(
            author=_rest_account(m.get("author")),
            date=parse_rest_time(m.get("date")),
            message=m.get("message") or "",
            patchset=int(m["_revision_number"]) if m.get("_revision_number") else None,
            tag=m.get("tag"),
        )
        for m in data.get("messages") or []
    ]


def messages_from_ssh(data: Mapping[str, Any]) -> list[ChangeMessage]:
    """``gerrit query --comments``: the change's messages, without patchset
    numbers or tags (a review's message says its patchset)."""
    return [
        ChangeMessage(
            author=_ssh_account(m.get("reviewer")),
            date=float(m.get("timestamp") or 0),
            message=m.get("message") or "",
        )
        for m in data.get("comments") or []
    ]


# --- the queries ----------------------------------------------------------------------


def _url_terms(change: Change, baseurl: str | None) -> str:
    """``message:`` terms for the URLs a ``Depends-On:`` footer may give
    ``change``, ORed: its own URL and, for a change of this server
    (``baseurl``), the other forms Gerrit has used."""
    urls = {change.url.rstrip("/")} if change.url else set()
    if baseurl:
        base = baseurl.rstrip("/")
        urls |= {
            f"{base}/{change.number}",
            f"{base}/c/{change.number}",
            f"{base}/#/c/{change.number}",
            f"{base}/c/{change.project}/+/{change.number}",
        }
    return " OR ".join(f"message:{{{u}}}" for u in sorted(u for u in urls if u))


class GerritQuery:
    """The connection's change queries, over REST or SSH."""

    def __init__(self, connection: GerritConnection) -> None:
        self.connection = connection

    @property
    def _name(self) -> str:
        return self.connection.name

    def get_change(self, number: int, patchset: int | None = None) -> Change:
        what = f"Gerrit {self._name}: change {number}" + (f",{patchset}" if patchset else "")
        try:
            if self.connection.config.use_http:
                options = "&".join(f"o={o}" for o in CHANGE_OPTIONS)
                data = self.connection.http().get(f"changes/{int(number)}?{options}")
                if not isinstance(data, Mapping):
                    raise ChangeQueryError(f"{what}: unexpected answer")
                return change_from_rest(self._name, self.connection.baseurl, data, patchset)
            out = self.connection.ssh().run(f"gerrit query {SSH_CHANGE_ARGS} change:{int(number)}")
            rows, _ = parse_ssh_output(out)
            if not rows or "number" not in rows[0]:
                raise ChangeQueryError(f"{what}: no such change")
            return change_from_ssh(self._name, rows[0], patchset)
        except GerritHTTPError as e:
            raise ChangeQueryError(f"{what}: {e}") from None
        except GerritSSHError as e:
            raise ChangeQueryError(f"{what}: {e}") from None
        except LookupError as e:
            raise ChangeQueryError(f"{what}: {e}") from None
        except (KeyError, TypeError, ValueError) as e:
            raise ChangeQueryError(f"{what}: unexpected answer ({type(e).__name__}: {e})") from None

    def query(self, query: str, *, limit: int | None = None) -> list[Change]:
        """Current patchsets of every change matching ``query`` (Gerrit's
        search language), page by page."""
        return [change for change, _ in self._search(query, limit=limit, messages=False)]

    def _search(
        self, query: str, *, limit: int | None = None, messages: bool
    ) -> list[tuple[Change, list[ChangeMessage]]]:
        what = f"Gerrit {self._name}: query {query!r}"
        try:
            if self.connection.config.use_http:
                return self._query_rest(query, limit, messages)
            return self._query_ssh(query, limit, messages)
        except GerritHTTPError as e:
            raise ChangeQueryError(f"{what}: {e}") from None
        except GerritSSHError as e:
            raise ChangeQueryError(f"{what}: {e}") from None
        except (KeyError, TypeError, ValueError, LookupError) as e:
            raise ChangeQueryError(f"{what}: unexpected answer ({type(e).__name__}: {e})") from None

    def _query_rest(
        self, query: str, limit: int | None, messages: bool
    ) -> list[tuple[Change, list[ChangeMessage]]]:
        http = self.connection.http()
        options = "&".join(f"o={o}" for o in LIST_OPTIONS + (("MESSAGES",) if messages else ()))
        out: list[tuple[Change, list[ChangeMessage]]] = []
        start = 0
        while True:
            page = http.get(f"changes/?q={quote(query, safe='')}&n={PAGE}&start={start}&{options}")
            page = page or []
            for data in page:
                change = change_from_rest(self._name, self.connection.baseurl, data)
                out.append((change, messages_from_rest(data) if messages else []))
            if not page or not page[-1].get("_more_changes") or (limit and len(out) >= limit):
                break
            start += len(page)
        return out[:limit] if limit else out

    def _query_ssh(
        self, query: str, limit: int | None, messages: bool
    ) -> list[tuple[Change, list[ChangeMessage]]]:
        ssh = self.connection.ssh()
        args = SSH_LIST_ARGS + (" --comments" if messages else "")
        out: list[tuple[Change, list[ChangeMessage]]] = []
        start = 0
        while True:
            cmd = f"gerrit query {args} --start {start} {shlex.quote(query)}"
            rows, more = parse_ssh_output(ssh.run(cmd))
            for row in rows:
                change = change_from_ssh(self._name, row)
                out.append((change, messages_from_ssh(row) if messages else []))
            if not rows or not more or (limit and len(out) >= limit):
                break
            start += len(rows)
        return out[:limit] if limit else out

    def catch_up(self, since: float) -> list[tuple[Change, list[ChangeMessage]]]:
        """Changes updated since ``since`` with their messages: what the
        event stream's catch-up needs to rebuild missed events."""
        return self._search(f'since:"{format_rest_time(since)}"', messages=True)

    def changes_updated_since(self, since: float) -> list[Change]:
        return self.query(f'since:"{format_rest_time(since)}"')

    def changes_needing(self, change: Change) -> list[Change]:
        """Open changes (current patchsets) that need ``change``: its git
        children on this server, and changes whose ``Depends-On:`` names its
        URL (Gerrit's message search, then each footer checked)."""
        found: dict[int, Change] = {}
        if change.connection == self._name:
            for child in self._git_children(change):
                found.setdefault(child.number, child)
        mine = change.connection == self._name
        terms = _url_terms(change, self.connection.baseurl if mine else None)
        if not terms:
            return list(found.values())
        for other in self.query(f"status:open ({terms})"):
            if other.number in found or (
                other.connection == change.connection and other.number == change.number
            ):
                continue
            if any(self._names(url, change) for url in other.depends_on):
                found[other.number] = other
        return list(found.values())

    def _names(self, url: str, change: Change) -> bool:
        if change.connection == self._name:
            return change_number_in(self.connection.baseurl, url) == change.number
        return bool(change.url) and url.strip().rstrip("/") == change.url.rstrip("/")

    def _git_children(self, change: Change) -> list[Change]:
        """Open changes whose current patchset has ``change``'s commit as a
        git parent (REST: the related changes; SSH: ``neededBy``)."""
        what = f"Gerrit {self._name}: changes needing {change.number}"
        try:
            if self.connection.config.use_http:
                data = self.connection.http().get(
                    f"changes/{int(change.number)}/revisions/{change.commit}/related"
                )
                numbers = [
                    int(r["_change_number"])
                    for r in (data or {}).get("changes") or []
                    if r.get("_revision_number") == r.get("_current_revision_number")
                    and change.commit
                    in [p.get("commit") for p in (r.get("commit") or {}).get("parents") or []]
                ]
            else:
                out = self.connection.ssh().run(
                    f"gerrit query --format json --current-patch-set --dependencies "
                    f"change:{int(change.number)}"
                )
                rows, _ = parse_ssh_output(out)
                numbers = [int(n["number"]) for row in rows for n in row.get("neededBy") or []]
        except GerritHTTPError as e:
            raise ChangeQueryError(f"{what}: {e}") from None
        except GerritSSHError as e:
            raise ChangeQueryError(f"{what}: {e}") from None
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise ChangeQueryError(f"{what}: unexpected answer ({type(e).__name__}: {e})") from None
        children = []
        for number in dict.fromkeys(numbers):
            if number == change.number:
                continue
            child = self.get_change(number)
            if child.is_open and change.commit in child.parents:
                children.append(child)
        return children

    def open_changes_by_commit(self, project: str, commits: list[str]) -> list[Change]:
        if not commits:
            return []
        wanted = " OR ".join(f"commit:{c}" for c in commits)
        found = self.query(f'status:open project:"{project}" ({wanted})')
        return [c for c in found if c.commit in set(commits)]
