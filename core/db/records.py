"""Plain records going into and coming out of the SQL layer.

Writers (the scheduler) describe a ref with ``RefInfo``; readers (the web API,
the command line) get ``BuildRecord`` and ``BuildsetRecord`` back: frozen,
detached from any database session, safe to hand to another thread or to
serialise.  Times are naive ``datetime`` in UTC, as Zuul stores them; the web
turns them into Zuul's ``YYYY-MM-DDTHH:MM:SS`` strings.  Results are the
model's enums (``BuildResult``, ``BuildsetResult``), decoded from the strings
in the rows; a row with a result Lockgate never writes is an error naming it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, TypeVar

from lockgate.model.builds import BuildResult, BuildsetResult


@dataclass(frozen=True)
class RefInfo:
    """What was tested: a project at a ref, maybe a change and patchset.

    One row per distinct (project, ref, change, patchset, oldrev, newrev):
    builds of the same change in several pipelines share it.
    """

    project: str
    ref: str
    branch: str | None = None
    change: int | None = None
    patchset: str | None = None
    oldrev: str | None = None
    newrev: str | None = None
    ref_url: str | None = None


@dataclass(frozen=True)
class ArtifactInfo:
    """An artifact a build returned (``zuul_return`` ``zuul.artifacts``)."""

    name: str
    url: str
    metadata: dict[str, Any] | None = None


@dataclass(frozen=True)
class BuildEventRecord:
    """Something that happened to a build besides its result (e.g. a retry)."""

    event_time: dt.datetime | None
    event_type: str
    description: str | None = None


@dataclass(frozen=True)
class BuildsetRecord:
    """One run of a pipeline's jobs for a queue item."""

    id: int
    uuid: str
    tenant: str
    pipeline: str
    result: BuildsetResult | None
    message: str | None
    event_id: str | None
    event_timestamp: dt.datetime | None
    first_build_start_time: dt.datetime | None
    last_build_end_time: dt.datetime | None
    updated: dt.datetime | None
    refs: tuple[RefInfo, ...] = ()
    # Filled only by ``Database.get_buildset``.
    builds: tuple[BuildRecord, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "result", _decode(BuildsetResult, self.result, "buildset", self.uuid)
        )


@dataclass(frozen=True)
class BuildRecord:
    """One attempt at one job; a retried job has several, only one ``final``."""

    id: int
    uuid: str
    job_name: str
    result: BuildResult | None
    start_time: dt.datetime | None
    end_time: dt.datetime | None
    voting: bool | None
    log_url: str | None
    error_detail: str | None
    final: bool | None
    held: bool | None
    nodeset: str | None
    ref: RefInfo
    buildset: BuildsetRecord
    artifacts: tuple[ArtifactInfo, ...] = ()
    provides: tuple[str, ...] = ()
    # Filled only by ``Database.get_build``.
    events: tuple[BuildEventRecord, ...] = field(default=())

    def __post_init__(self) -> None:
        object.__setattr__(self, "result", _decode(BuildResult, self.result, "build", self.uuid))

    @property
    def duration(self) -> float | None:
        if self.start_time is None or self.end_time is None:
            return None
        return max(0.0, (self.end_time - self.start_time).total_seconds())


R = TypeVar("R", BuildResult, BuildsetResult)


def _decode(kind: type[R], value: str | None, what: str, uuid: str) -> R | None:
    """A result column's string as its enum (None: still running)."""
    if value is None:
        return None
    try:
        return kind(value)
    except ValueError:
        raise ValueError(f"{what} {uuid}: result {value!r} is not a {kind.__name__}") from None
