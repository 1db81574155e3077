"""Merging a gate item in its review system: the loop's half of ``SubmitItem``.

Who calls it: the tenant processor's effects (``ZKEffects.submit_item``),
for the decision core's ``SubmitItem`` action (a dependent pipeline's item
that succeeded at the head of its queue).  What comes next: the outcome
goes into the next snapshot's ``submits`` and the decision core reports the
item merged, or refused and resets what was built on it.

Order and idempotence: the vote and message of the success reporters are
posted on each change (a vote twice is harmless), then each change that is
not merged yet — asked of its review system first — is submitted, and
asked again to confirm it merged.  A scheduler killed after a submit asks
again and finds the change merged: nothing is submitted twice.  A temporary
failure (a query or a submit that may work later) gives no outcome: the
decision core asks again.  A permanent refusal (Gerrit's 409), or a review
system that will not answer about the change until someone acts on it (a
GitHub App uninstalled), is the outcome, with what the review system said.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lockgate.drivers.base import ChangeQueryError, ReportError
from lockgate.logs import get_logger
from lockgate.model.change import Change
from lockgate.scheduler.manager.actions import SubmitItem
from lockgate.scheduler.manager.snapshot import SubmitOutcome
from lockgate.scheduler.reporting import labels_of

LOGGER = "lockgate.scheduler.report"


def submit_item(action: SubmitItem, connections: Mapping[str, Any]) -> SubmitOutcome | None:
    """Post the success report and submit ``action``'s changes; None when
    the outcome is not known yet (try again)."""
    item = action.item
    log = get_logger(LOGGER, item.event_id, item=item.uuid[:12])
    submits = False
    for change in action.changes:
        config = action.reporters.get(change.connection)
        settings = config if isinstance(config, Mapping) else {}
        # Gerrit's reporters say ``submit``, GitHub's ``merge``.
        submits = submits or bool(settings.get("submit") or settings.get("merge"))
        connection = connections.get(change.connection)
        if connection is None or config is None:
            continue
        try:
            reporter = connection.reporter()
            full_report = getattr(reporter, "report", None)
            if callable(full_report):
                # The whole section but the merge (status, check run, labels):
                # a branch protection may ask for the status before the merge.
                full_report(
                    change,
                    {k: v for k, v in settings.items() if k != "merge"},
                    action.message,
                    context=f"{item.tenant}/{item.pipeline}",
                    comments=action.comments or None,
                    merge_mode=_merge_mode(item, change),
                )
            else:
                text = action.message if settings.get("comment", True) is not False else ""
                reporter.review(change, text, labels_of(settings), action.comments or None)
        except ReportError as e:
            log.error("review of %s failed: %s", change.describe(), e)
            if not e.permanent:
                return None
    if not submits:
        return SubmitOutcome(item.uuid, False, "no success reporter of the pipeline submits")
    for change in action.changes:
        connection = connections.get(change.connection)
        if connection is None:
            return SubmitOutcome(item.uuid, False, f"no connection '{change.connection}'")
        source = connection.source()
        try:
            if _current(source, change).is_merged:
                log.info("%s is merged already", change.describe())
                continue
            reporter = connection.reporter()
            if callable(getattr(reporter, "report", None)):
                reporter.submit(change, merge_mode=_merge_mode(item, change))
            else:
                reporter.submit(change)
            merged = _current(source, change).is_merged
        except ChangeQueryError as e:
            if e.permanent:
                # Waiting would hold the head of the queue forever.
                log.warning("submit of %s: its state cannot be asked: %s", change.describe(), e)
                return SubmitOutcome(item.uuid, False, f"{change.describe()}: {e}")
            log.warning("submit of %s: cannot ask its state (%s); later", change.describe(), e)
            return None
        except ReportError as e:
            if not e.permanent:
                log.warning("submit of %s failed, trying again later: %s", change.describe(), e)
                return None
            log.warning("submit of %s refused: %s", change.describe(), e)
            return SubmitOutcome(item.uuid, False, f"{change.describe()}: {e}")
        if not merged:
            return SubmitOutcome(
                item.uuid, False, f"{change.describe()} was submitted but did not merge"
            )
        log.info("%s merged", change.describe())
    return SubmitOutcome(item.uuid, True)


def _current(source: Any, change: Change) -> Change:
    """The change as its review system says now (with its repository where
    numbers are per repository: GitHub)."""
    return source.get_change(change.number, project=change.key.project or None)


def _merge_mode(item: Any, change: Change) -> str | None:
    """The project's merge mode, as the item's merge steps carry it."""
    modes = [s.merge_mode for s in item.merge_steps if s.project == change.project]
    return modes[-1] if modes else None
