"""Changes: what a code-review system proposes to merge.

A ``Change`` is one patchset of a proposed change (a Gerrit change, a GitHub
pull request) as the scheduler, the merger and the playbooks see it.  It is
what the change cache in ZooKeeper holds (``lockgate.zk.changes``), what a
queue item tests, and what a reporter votes on.  Drivers make them from their
system's answers (``lockgate.drivers.gerrit.query``); nothing here does I/O.

``Change.updated`` (the review system's last-update time) orders versions of
the same change: the cache keeps the newest, so a stale answer never wins
over a fresher one.  ``ChangeKey`` names a change independently of its
patchset (the cache is keyed by it); ``Change.ref`` names one patchset.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from typing import Any

from lockgate.model.serial import from_dict, to_dict


class ChangeStatus(enum.StrEnum):
    NEW = "NEW"
    MERGED = "MERGED"
    ABANDONED = "ABANDONED"


@dataclass(frozen=True)
class Account:
    """Who did something: Gerrit's account object (any field may be missing)."""

    name: str | None = None
    email: str | None = None
    username: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return to_dict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Account:
        return from_dict(cls, data or {})


@dataclass(frozen=True)
class Approval:
    """One vote on a patchset: ``label`` as the server names it (``Verified``,
    ``Code-Review``), ``value`` an integer, ``granted_on`` epoch seconds."""

    label: str
    value: int
    by: Account = field(default_factory=Account)
    granted_on: float | None = None

    def __post_init__(self) -> None:
        if isinstance(self.by, dict):
            object.__setattr__(self, "by", Account.from_dict(self.by))
        object.__setattr__(self, "value", int(self.value))

    def to_dict(self) -> dict[str, Any]:
        return to_dict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Approval:
        return from_dict(cls, data)


@dataclass(frozen=True, order=True)
class ChangeKey:
    """A change independent of its patchset: its connection and number, and
    its project where numbers are only unique in a repository (a GitHub pull
    request: ``acme/app#1`` and ``other/app#1`` are two changes); Gerrit
    numbers changes per server, so its keys leave ``project`` empty.  Build
    keys with ``change_key``."""

    connection: str
    number: int
    project: str = ""

    def __str__(self) -> str:
        if self.project:
            return f"{self.connection}/{self.project}#{self.number}"
        return f"{self.connection}/{self.number}"

    @classmethod
    def parse(cls, text: str) -> ChangeKey:
        if "#" in text:
            head, _, number = text.rpartition("#")
            connection, _, project = head.partition("/")
            return cls(connection, int(number), project)
        connection, _, number = text.rpartition("/")
        return cls(connection, int(number))


# Refs of review systems that number changes per repository (GitHub's pull
# requests, GitLab's merge requests); Gerrit's ``refs/changes/`` are per server.
PER_PROJECT_REFS = ("refs/pull/", "refs/merge-requests/")


def change_key(connection: str, number: int, project: str, ref: str | None) -> ChangeKey:
    """The key of change ``number`` of ``project`` whose refs look like
    ``ref`` (a change's or a change event's): with the project where
    numbers are per repository."""
    scoped = bool(ref) and str(ref).startswith(PER_PROJECT_REFS)
    return ChangeKey(connection, int(number), project if scoped else "")


def change_ref(number: int, patchset: int) -> str:
    """Gerrit's ref of a patchset: ``refs/changes/45/12345/3``."""
    return f"refs/changes/{number % 100:02d}/{number}/{patchset}"


_DEPENDS_ON = re.compile(r"^Depends-On:[ \t]*(\S.*?)\s*$", re.MULTILINE | re.IGNORECASE)


def depends_on_footers(message: str) -> list[str]:
    """The values of a commit message's ``Depends-On:`` footers, in order,
    without repeats (Zuul accepts them anywhere in the message)."""
    seen: dict[str, None] = {}
    for match in _DEPENDS_ON.finditer(message or ""):
        seen.setdefault(match.group(1), None)
    return list(seen)


@dataclass
class Change:
    """One patchset of a change, with what the review system says about it.

    ``approvals`` are those on this patchset (current votes); ``parents`` the
    commit's git parents; ``depends_on`` the ``Depends-On:`` footer values of
    the commit message (URLs, resolved by the drivers' sources);
    ``files`` the files this patchset changes against its parent (None when
    the server was not asked).
    """

    connection: str
    project: str
    branch: str
    number: int
    patchset: int
    commit: str
    ref: str = ""
    # A patchset's name where the review system has no patchset numbers: a
    # GitHub pull request's head sha ("" for Gerrit, whose ``patchset`` is
    # the name).  ``patchset`` is then the head commit's date, for display
    # only: two heads may share it and a newer head may have an older one,
    # so patchsets are compared by this sha and ordered by GitHub's order
    # (``lockgate.scheduler.manager.changes.same_patchset``/``matches``).
    patchset_id: str = ""
    parents: list[str] = field(default_factory=list)
    status: ChangeStatus = ChangeStatus.NEW
    approvals: list[Approval] = field(default_factory=list)
    owner: Account = field(default_factory=Account)
    uploader: Account = field(default_factory=Account)
    topic: str | None = None
    wip: bool = False
    private: bool = False
    is_current_patchset: bool = True
    message: str = ""
    subject: str = ""
    change_id: str = ""  # Gerrit's Change-Id (I...)
    depends_on: list[str] = field(default_factory=list)
    files: list[str] | None = None
    hashtags: list[str] = field(default_factory=list)
    url: str = ""
    updated: float = 0.0  # the review system's last-update time (epoch seconds)
    created: float = 0.0  # when this patchset was created
    # Labels a submit still needs (Gerrit's submit records); empty when submittable.
    missing_labels: list[str] = field(default_factory=list)
    # GitHub: the pull request's label names, and the head's commit statuses
    # and check runs as Zuul's ``app:context:state`` strings.
    labels: list[str] = field(default_factory=list)
    statuses: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.status = ChangeStatus(self.status)
        self.number = int(self.number)
        self.patchset = int(self.patchset)
        if isinstance(self.owner, dict):
            self.owner = Account.from_dict(self.owner)
        if isinstance(self.uploader, dict):
            self.uploader = Account.from_dict(self.uploader)
        self.approvals = [
            a if isinstance(a, Approval) else Approval.from_dict(a) for a in self.approvals
        ]
        if not self.ref:
            self.ref = change_ref(self.number, self.patchset)
        if not self.depends_on and self.message:
            self.depends_on = depends_on_footers(self.message)

    @property
    def key(self) -> ChangeKey:
        return change_key(self.connection, self.number, self.project, self.ref)

    @property
    def is_open(self) -> bool:
        return self.status is ChangeStatus.NEW

    @property
    def is_merged(self) -> bool:
        return self.status is ChangeStatus.MERGED

    def describe(self) -> str:
        """How logs and reports name it: ``12345,3`` (a pull request:
        ``42,<head sha>``), Zuul's form."""
        return f"{self.number},{self.patchset_id or self.patchset}"

    def approval_values(self, label: str) -> list[int]:
        return [a.value for a in self.approvals if a.label == label]

    def to_dict(self) -> dict[str, Any]:
        return to_dict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Change:
        return from_dict(cls, data)
