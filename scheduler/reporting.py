"""Reporting: build history to SQL, and one log line per reported item.

Who calls it: the tenant processor, for the decision core's BEFORE_SAVE
actions (``BuildsetStarted``, ``BuildChanged``, ``ItemReported``).  Every
write is an idempotent upsert by uuid (``lockgate.db.Database``), because a
scheduler killed after writing and before saving its state makes the same
decision again and writes the same rows again.

The report itself is a log line (``Reported ... SUCCESS``) carrying the
item's event id, the buildset's result and message in SQL, and — for a
change item — what the pipeline's reporters of that action say to its
review system (``ChangeReporter``: a vote and a message, file comments,
a submit).  A refused or failed report is logged with what the review
system said; a temporary failure is tried again a few times.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from lockgate.db import Database, RefInfo
from lockgate.drivers.base import ChangeReporter, Connection, ReportError
from lockgate.logs import get_logger
from lockgate.model.builds import BuildsetResult
from lockgate.model.queue import QueueItem
from lockgate.scheduler.manager.actions import (
    BuildChanged,
    BuildsetStarted,
    ItemReported,
    ItemStarted,
)
from lockgate.scheduler.manager.build_request import item_commit

LOGGER = "lockgate.scheduler.report"
ATTEMPTS = 3
# Reporter config keys that are not labels (Zuul's Gerrit reporter).
_NOT_LABELS = frozenset({"submit", "comment", "notify", "tag"})


def labels_of(config: Any) -> dict[str, int]:
    """The votes a reporter config asks for (``{"Verified": 1}``)."""
    if not isinstance(config, Mapping):
        return {}
    return {
        str(k): int(v)
        for k, v in config.items()
        if k not in _NOT_LABELS and isinstance(v, int) and not isinstance(v, bool)
    }


def ref_of(item: QueueItem) -> RefInfo:
    """The SQL ref row of an item: the project at its ref and revisions, and
    for a change item its number, patchset and URL (what the ``change`` and
    ``patchset`` filters of the builds API look for)."""
    change = item.change
    return RefInfo(
        project=item.project,
        ref=item.ref,
        branch=item.branch,
        change=change.number if change is not None else None,
        patchset=(change.patchset_id or str(change.patchset)) if change is not None else None,
        oldrev=item.oldrev,
        newrev=item.newrev or item_commit(item),
        ref_url=(change.url or None) if change is not None else None,
    )


class Reporter:
    def __init__(
        self,
        db: Database | None,
        connections: Mapping[str, Connection] | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.db = db
        self.connections = connections or {}
        self.sleep = sleep

    def buildset_started(self, action: BuildsetStarted) -> None:
        item = action.item
        if self.db is None:
            return
        self.db.create_buildset(
            item.buildset_uuid,
            item.tenant,
            item.pipeline,
            [ref_of(item)],
            event_id=item.event_id,
            event_timestamp=item.event_timestamp,
        )

    def build_changed(self, action: BuildChanged) -> None:
        if self.db is None:
            return
        if action.create:
            self.db.create_build(
                action.uuid,
                action.item.buildset_uuid,
                action.job_name,
                voting=action.voting,
                nodeset=action.nodeset,
                start_time=action.start_time,
                final=action.final,
            )
        self.db.update_build(
            action.uuid,
            result=action.result,
            start_time=action.start_time,
            end_time=action.end_time,
            log_url=action.log_url,
            error_detail=action.error_detail,
            final=action.final,
            artifacts=list(action.artifacts) if action.artifacts is not None else None,
            provides=list(action.provides) if action.provides is not None else None,
        )
        if action.event:
            # At the decision's time: a decision made again after a crash
            # records the same event once.
            self.db.add_build_event(action.uuid, action.event, event_time=action.event_time)

    def item_reported(self, action: ItemReported) -> None:
        item = action.item
        if self.db is not None:
            self.db.update_buildset(
                item.buildset_uuid,
                result=action.result,
                message=action.message,
                end=item.report_time,
            )
        self.to_review_system(item, action.reporters, action.message, action.comments)
        jobs = ", ".join(f"{name}: {result or ''}" for name, result in action.jobs)
        log = get_logger(LOGGER, item.event_id, item=item.uuid[:12], buildset=item.buildset_uuid)
        log.log(
            logging.INFO if action.result is BuildsetResult.SUCCESS else logging.WARNING,
            "Reported %s %s %s in %s/%s: %s%s",
            item.project,
            item.ref,
            (item_commit(item) or "")[:12],
            item.tenant,
            item.pipeline,
            action.result,
            f" ({jobs})" if jobs else "",
        )

    def item_started(self, action: ItemStarted) -> None:
        self.to_review_system(action.item, action.reporters, action.message, {})

    def to_review_system(
        self,
        item: QueueItem,
        reporters: Mapping[str, Any],
        message: str,
        comments: Mapping[str, list[dict[str, Any]]],
    ) -> None:
        """Send a change item's report to its connection's reporter, as the
        pipeline's reporters for the action configure it."""
        change = item.change
        if change is None:
            return
        config = reporters.get(change.connection)
        connection = self.connections.get(change.connection)
        if config is None or connection is None:
            return
        reporter = getattr(connection, "reporter", None)
        reporter = reporter() if callable(reporter) else None
        if not isinstance(reporter, ChangeReporter):
            return
        log = get_logger(LOGGER, item.event_id, item=item.uuid[:12])
        settings = config if isinstance(config, Mapping) else {}
        full_report = getattr(reporter, "report", None)
        if callable(full_report):
            # Drivers whose reporter sections are more than votes (GitHub:
            # status, check run, labels, merge) take the whole section.
            modes = [s.merge_mode for s in item.merge_steps if s.project == change.project]
            self._send(
                log,
                f"report of {change.describe()}",
                lambda: full_report(
                    change,
                    settings,
                    message,
                    context=f"{item.tenant}/{item.pipeline}",
                    comments=dict(comments) or None,
                    merge_mode=modes[-1] if modes else None,
                ),
            )
            return
        labels = labels_of(settings)
        post_comment = settings.get("comment", True) is not False
        text = message if post_comment else ""
        if text or labels or comments:
            self._send(
                log,
                f"review of {change.describe()}",
                lambda: reporter.review(change, text, labels, dict(comments) or None),
            )
        if settings.get("submit"):
            self._send(log, f"submit of {change.describe()}", lambda: reporter.submit(change))

    def _send(self, log: logging.LoggerAdapter, what: str, call: Callable[[], None]) -> bool:
        for attempt in range(1, ATTEMPTS + 1):
            try:
                call()
                log.info("%s sent", what)
                return True
            except ReportError as e:
                if e.permanent or attempt == ATTEMPTS:
                    log.error("%s failed (attempt %d of %d): %s", what, attempt, ATTEMPTS, e)
                    return False
                log.warning(
                    "%s failed (attempt %d of %d), retrying: %s", what, attempt, ATTEMPTS, e
                )
                self.sleep(0.5 * attempt)
            except Exception:  # noqa: BLE001 - a driver bug must not stop the loop
                log.exception("%s failed", what)
                return False
        return False
