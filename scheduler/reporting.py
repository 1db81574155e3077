"""Reporting: build history to SQL, and one log line per reported item.

Who calls it: the tenant processor, for the decision core's BEFORE_SAVE
actions (``BuildsetStarted``, ``BuildChanged``, ``ItemReported``).  Every
write is an idempotent upsert by uuid (``lockgate.db.Database``), because a
scheduler killed after writing and before saving its state makes the same
decision again and writes the same rows again.

The report itself is a log line (``Reported ... SUCCESS``) carrying the
item's event id, plus the buildset's result and message in SQL; review
system reporters (Gerrit votes, GitHub statuses) plug in here with their
drivers.
"""

from __future__ import annotations

import logging

from lockgate.db import Database, RefInfo
from lockgate.logs import get_logger
from lockgate.model.queue import QueueItem
from lockgate.scheduler.manager.actions import BuildChanged, BuildsetStarted, ItemReported
from lockgate.scheduler.manager.build_request import item_commit

LOGGER = "lockgate.scheduler.report"


def ref_of(item: QueueItem) -> RefInfo:
    """The SQL ref row of an item: the project at its ref and revisions."""
    return RefInfo(
        project=item.project,
        ref=item.ref,
        branch=item.branch,
        oldrev=item.oldrev,
        newrev=item.newrev or item_commit(item),
    )


class Reporter:
    def __init__(self, db: Database | None) -> None:
        self.db = db

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
        )

    def item_reported(self, action: ItemReported) -> None:
        item = action.item
        if self.db is not None:
            self.db.update_buildset(
                item.buildset_uuid,
                result=action.result,
                message=action.message,
                end=item.report_time,
            )
        jobs = ", ".join(f"{name}: {result}" for name, result in action.jobs)
        log = get_logger(LOGGER, item.event_id, item=item.uuid[:12], buildset=item.buildset_uuid)
        log.log(
            logging.INFO if action.result == "SUCCESS" else logging.WARNING,
            "Reported %s %s %s in %s/%s: %s%s",
            item.project,
            item.ref,
            (item_commit(item) or "")[:12],
            item.tenant,
            item.pipeline,
            action.result,
            f" ({jobs})" if jobs else "",
        )
