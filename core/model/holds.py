"""Autohold requests: keep the nodes of a job's next failing builds for a person to look at.

Who writes them: the web's admin endpoints (create, delete); the executor
that finishes a matching failing build (``current_count``, ``nodes``:
``lockgate.zk.holds.hold_build_nodes``).  Who reads them: the executor
(``select_hold``, before it gives a build's nodes back), the launcher (a
held node whose request is deleted or whose hold expired is deleted), the
web (``/api/tenant/{t}/autohold``, in Zuul's shape: ``to_api``).

Matching (``select_hold``) is Zuul's: same tenant, project and job; the
build's ref matches ``ref_filter`` (a regular expression); the request is
not used up; of several, the most specific wins — a ref filter naming one
ref over one naming a change (its patchsets) over ``.*`` (any ref).  Only
failing results hold (``HOLD_RESULTS``).  Pure.
"""

from __future__ import annotations

import enum
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from lockgate.model.builds import BuildResult
from lockgate.model.serial import from_dict, to_dict

# Results whose nodes an autohold keeps (a success or a cancel never holds).
HOLD_RESULTS = frozenset(
    {BuildResult.FAILURE, BuildResult.POST_FAILURE, BuildResult.TIMED_OUT, BuildResult.RETRY_LIMIT}
)
ANY_REF = ".*"


class HoldScope(enum.IntEnum):
    """How specific a request is; the most specific matching one is used."""

    JOB = 1  # any ref
    CHANGE = 2  # every patchset of one change
    REF = 3  # one ref


@dataclass
class HoldRequest:
    tenant: str
    project: str  # the tenant's name for the project
    job: str
    reason: str
    ref_filter: str = ANY_REF
    max_count: int = 1
    current_count: int = 0
    # Seconds a held node is kept (0: until the request is deleted).
    node_expiration: int = 0
    # When the request was used up (current_count reached max_count).
    expired: float | None = None
    # One entry per held build: {"build": uuid, "nodes": [node ids]}.
    nodes: list[dict[str, Any]] = field(default_factory=list)
    requested_by: str = ""
    id: str = ""  # assigned by the ZooKeeper layer (sequence number)
    created: float = field(default_factory=time.time)

    @property
    def scope(self) -> HoldScope:
        if self.ref_filter == ANY_REF:
            return HoldScope.JOB
        if self.ref_filter.endswith(ANY_REF):
            return HoldScope.CHANGE
        return HoldScope.REF

    @property
    def used_up(self) -> bool:
        return self.current_count >= self.max_count

    def matches(self, tenant: str, projects: Iterable[str], job: str, ref: str) -> bool:
        if self.used_up or self.tenant != tenant or self.job != job:
            return False
        if self.project not in set(projects):
            return False
        try:
            return re.match(self.ref_filter, ref) is not None
        except re.error:
            return False

    def record_hold(self, build: str, node_ids: list[str], now: float) -> None:
        """Count one held build (the caller writes the record back)."""
        self.nodes.append({"build": build, "nodes": list(node_ids)})
        self.current_count += 1
        if self.used_up and self.expired is None:
            self.expired = now

    def hold_job(self) -> str:
        """The node's ``hold_job`` text (Zuul's: what the hold was for)."""
        return " ".join([self.tenant, self.project, self.job, self.ref_filter])

    def to_api(self) -> dict[str, Any]:
        """Zuul's autohold JSON (``/api/tenant/{t}/autohold``)."""
        return {
            "id": self.id,
            "tenant": self.tenant,
            "project": self.project,
            "job": self.job,
            "ref_filter": self.ref_filter,
            "max_count": self.max_count,
            "current_count": self.current_count,
            "reason": self.reason,
            "node_expiration": self.node_expiration,
            "expired": self.expired,
            "nodes": self.nodes,
        }

    def to_dict(self) -> dict[str, Any]:
        return to_dict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> HoldRequest:
        return from_dict(cls, data)


def change_ref_filter(number: int) -> str:
    """The ref filter of every patchset (Gerrit) or head (GitHub) of change ``number``."""
    return rf"refs/changes/\d+/{number}/.*|refs/pull/{number}/.*"


def select_hold(
    requests: Iterable[HoldRequest],
    *,
    tenant: str,
    projects: Iterable[str],
    job: str,
    ref: str,
    result: BuildResult,
) -> HoldRequest | None:
    """The request that holds this build's nodes, or None."""
    if result not in HOLD_RESULTS:
        return None
    names = list(projects)
    best: HoldRequest | None = None
    for request in requests:
        if not request.matches(tenant, names, job, ref):
            continue
        if best is None or request.scope >= best.scope:
            best = request
    return best


def validate_ref_filter(ref_filter: str) -> str | None:
    """Why ``ref_filter`` is not a usable regular expression, or None."""
    try:
        re.compile(ref_filter)
    except re.error as e:
        return f"ref filter {ref_filter!r} is not a valid regular expression: {e}"
    return None
