"""The loop's half of a gate item's merge (``lockgate.scheduler.submitting``):
vote, submit what is not merged yet, confirm.  The review system here is an
in-process stand-in of the ``ChangeSource``/``ChangeReporter`` protocols
(the Gerrit emulator's end-to-end tests cover the real one)."""

from __future__ import annotations

from dataclasses import replace

from lockgate.drivers.base import ChangeQueryError, ReportError
from lockgate.model.change import ChangeStatus
from lockgate.model.queue import QueueItem
from lockgate.scheduler.manager.actions import SubmitItem
from lockgate.scheduler.submitting import submit_item

from tests.unit.scheduler.gate_world import change


class Gone(ChangeQueryError):
    permanent = True


class Review:
    def __init__(self, refuse=None, down=False, gone=False):
        self.status = {}
        self.calls = []
        self.refuse = refuse
        self.down = down
        self.gone = gone

    # the connection
    def source(self):
        return self

    def reporter(self):
        return self

    # ChangeSource
    numbers_per_project = False

    def get_change(self, number, patchset=None, *, project=None):
        if self.down:
            raise ChangeQueryError("timed out")
        if self.gone:
            raise Gone("acme/app: the GitHub App is not installed for this repository")
        return replace(change(number), status=self.status.get(number, ChangeStatus.NEW))

    # ChangeReporter
    def review(self, c, message, labels=None, comments=None):
        self.calls.append(("review", c.number, dict(labels or {})))

    def submit(self, c):
        self.calls.append(("submit", c.number))
        if self.refuse:
            raise ReportError(self.refuse, permanent=True)
        self.status[c.number] = ChangeStatus.MERGED


def _action(*numbers, reporters=None):
    item = QueueItem(
        uuid="i1",
        tenant="t",
        pipeline="gate",
        queue="q",
        event_id="e",
        event_type="comment-added",
        connection="gerrit",
        project="org/a",
        ref="r",
        change=change(numbers[-1]),
        changes=[change(n) for n in numbers],
    )
    return SubmitItem(
        item,
        tuple(item.changes),
        "Build succeeded.",
        reporters if reporters is not None else {"gerrit": {"Verified": 2, "submit": True}},
    )


def test_votes_then_submits_each_change_in_order():
    r = Review()
    outcome = submit_item(_action(1, 2), {"gerrit": r})
    assert outcome.merged
    assert r.calls == [
        ("review", 1, {"Verified": 2}),
        ("review", 2, {"Verified": 2}),
        ("submit", 1),
        ("submit", 2),
    ]


def test_asked_again_it_submits_nothing_merged_already():
    r = Review()
    r.status[1] = ChangeStatus.MERGED
    assert submit_item(_action(1), {"gerrit": r}).merged
    assert ("submit", 1) not in r.calls


def test_a_refusal_is_the_outcome_with_the_reason():
    r = Review(refuse="409 Conflict: submit requirement Code-Review not met")
    outcome = submit_item(_action(1), {"gerrit": r})
    assert not outcome.merged and "Code-Review not met" in outcome.detail


def test_an_unanswered_query_gives_no_outcome_yet():
    assert submit_item(_action(1), {"gerrit": Review(down=True)}) is None


def test_a_change_that_cannot_be_asked_about_any_more_is_refused_not_retried():
    outcome = submit_item(_action(1), {"gerrit": Review(gone=True)})
    assert outcome is not None and not outcome.merged
    assert "not installed" in outcome.detail


def test_without_a_submitting_reporter_nothing_merges():
    outcome = submit_item(_action(1, reporters={"gerrit": {"Verified": 0}}), {"gerrit": Review()})
    assert not outcome.merged and "submits" in outcome.detail
