"""Reads of the build history (SQL) that the decision core asks for.

Who calls it: the tenant processor, for a ``LookupProvides`` action (a job
``requires`` what a change it depends on ``provides``, and that change is
not queued in the pipeline any more).  The answer goes into the next
snapshot's ``provided``; ``lockgate.scheduler.manager.provides`` explains
the rules.  Without a database there is no history: nothing is provided.
"""

from __future__ import annotations

import json
from typing import Any

from lockgate.db import Database, DatabaseError
from lockgate.model.builds import BuildResult
from lockgate.scheduler.manager.actions import LookupProvides
from lockgate.scheduler.manager.snapshot import ProvidedArtifacts

# How many of a change's builds in the pipeline are looked at (newest first).
BUILDS_PER_CHANGE = 200


def provided_artifacts(db: Database | None, action: LookupProvides) -> ProvidedArtifacts:
    """The artifacts of the newest buildset, of the first of ``action.changes``
    that has one, whose builds provide what the job requires; an error when
    one of those builds did not succeed (as Zuul's message says it)."""
    if db is None:
        return ProvidedArtifacts()
    requires = set(action.requires)
    for change in action.changes:
        try:
            builds = db.get_builds(
                action.tenant,
                project=change.project,
                pipeline=action.pipeline,
                change=change.number,
                patchset=change.patchset_id or str(change.patchset),
                limit=BUILDS_PER_CHANGE,
            )
        except DatabaseError as e:
            return ProvidedArtifacts(error=f"cannot read the build history: {e}")
        providing = [
            b for b in builds if requires.intersection(b.provides) and b.final is not False
        ]
        if not providing:
            continue
        newest = providing[0].buildset.uuid
        artifacts: list[dict[str, Any]] = []
        for build in (b for b in providing if b.buildset.uuid == newest):
            if build.result != BuildResult.SUCCESS:
                names = ", ".join(sorted(requires.intersection(build.provides)))
                return ProvidedArtifacts(
                    error=(
                        f"Job {action.job_name} requires artifact(s) {names} provided by build "
                        f"{build.uuid} (triggered by change {build.ref.change} on project "
                        f'{build.ref.project}), but that build failed with result "{build.result}"'
                    )
                )
            for a in build.artifacts:
                entry: dict[str, Any] = {
                    "name": a.name,
                    "url": a.url,
                    "project": build.ref.project,
                    "change": str(build.ref.change),
                    "patchset": build.ref.patchset,
                    "job": build.job_name,
                }
                if a.metadata:
                    entry["metadata"] = (
                        json.loads(a.metadata) if isinstance(a.metadata, str) else a.metadata
                    )
                artifacts.append(entry)
        return ProvidedArtifacts(tuple(artifacts))
    return ProvidedArtifacts()
