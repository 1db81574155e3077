"""Build history records as the JSON Zuul's REST API returns.

Field names and nesting follow Zuul's ``/api/tenant/{t}/builds``,
``/build/{uuid}``, ``/buildsets`` and ``/buildset/{uuid}`` so that existing
clients (zuul-client, scripts, dashboards) read Lockgate's answers unchanged.
Times are ``YYYY-MM-DDTHH:MM:SS`` in UTC, as Zuul gives them.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from lockgate.db import BuildRecord, BuildsetRecord, RefInfo


def timestamp(value: dt.datetime | None) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M:%S") if value is not None else None


def ref_json(ref: RefInfo) -> dict[str, Any]:
    return {
        "project": ref.project,
        "branch": ref.branch,
        "change": ref.change,
        "patchset": ref.patchset,
        "ref": ref.ref,
        "oldrev": ref.oldrev,
        "newrev": ref.newrev,
        "ref_url": ref.ref_url,
    }


def build_json(
    build: BuildRecord, *, top_level: bool = True, buildset_refs: bool = False, events: bool = False
) -> dict[str, Any]:
    """One build.  ``top_level``: as listed on its own (with pipeline and
    buildset), not nested in a buildset.  ``buildset_refs``: include the
    buildset's refs (the single-build endpoint does).  ``events``: Lockgate's
    addition, the build's events (retries and the like)."""
    out: dict[str, Any] = {
        "_id": build.id,
        "uuid": build.uuid,
        "job_name": build.job_name,
        "result": build.result,
        "held": build.held,
        "start_time": timestamp(build.start_time),
        "end_time": timestamp(build.end_time),
        "duration": build.duration,
        "voting": build.voting,
        "log_url": build.log_url,
        "nodeset": build.nodeset,
        "error_detail": build.error_detail,
        "final": build.final,
        "artifacts": [
            {"name": a.name, "url": a.url, **({"metadata": a.metadata} if a.metadata else {})}
            for a in build.artifacts
        ],
        "provides": [{"name": name} for name in build.provides],
        "ref": ref_json(build.ref),
    }
    if top_level:
        buildset = build.buildset
        out["pipeline"] = buildset.pipeline
        out["event_id"] = buildset.event_id
        out["event_timestamp"] = timestamp(buildset.event_timestamp)
        out["buildset"] = {"uuid": buildset.uuid}
        if buildset_refs:
            out["buildset"]["refs"] = [ref_json(r) for r in buildset.refs]
    if events:
        out["events"] = [
            {
                "event_time": timestamp(e.event_time),
                "event_type": e.event_type,
                "description": e.description,
            }
            for e in build.events
        ]
    return out


def buildset_json(buildset: BuildsetRecord, *, builds: bool = False) -> dict[str, Any]:
    """One buildset; with ``builds`` (the single-buildset endpoint) its builds too."""
    out: dict[str, Any] = {
        "_id": buildset.id,
        "uuid": buildset.uuid,
        "result": buildset.result,
        "message": buildset.message,
        "pipeline": buildset.pipeline,
        "event_id": buildset.event_id,
        "event_timestamp": timestamp(buildset.event_timestamp),
        "first_build_start_time": timestamp(buildset.first_build_start_time),
        "last_build_end_time": timestamp(buildset.last_build_end_time),
        "refs": [ref_json(r) for r in buildset.refs],
    }
    if builds:
        out["builds"] = [build_json(b, top_level=False) for b in buildset.builds]
    return out


def build_time_json(build: BuildRecord) -> dict[str, Any]:
    """One row of ``build-times`` (Zuul's shape: the build flat with its ref's
    project, branch and ref and its pipeline)."""
    return {
        "_id": build.id,
        "uuid": build.uuid,
        "job_name": build.job_name,
        "result": build.result,
        "start_time": timestamp(build.start_time),
        "end_time": timestamp(build.end_time),
        "duration": build.duration,
        "final": build.final,
        "project": build.ref.project,
        "branch": build.ref.branch,
        "pipeline": build.buildset.pipeline,
        "ref": build.ref.ref,
    }
