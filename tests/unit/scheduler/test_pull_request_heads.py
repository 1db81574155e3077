"""A pull request's heads have no order of their own: its ``patchset``
number is the head commit's date, which a rebase keeping dates or a
force-push of an older commit takes back in time, and which two heads may
share.  Every comparison of pull request patchsets goes by head sha
(``same_patchset``, ``matches``) or by GitHub's order (the driver announces
only current heads; the change cache orders versions by GitHub's update
time).  Gerrit's numbered patchsets keep their order.  Pure."""

from __future__ import annotations

from lockgate.model.change import Change, ChangeKey
from lockgate.model.queue import QueueItem
from lockgate.scheduler.manager.changes import matches, same_patchset
from lockgate.scheduler.manager.snapshot import ChangeDequeue
from lockgate.zk.changes import newer

from tests.unit.scheduler.world import SimWorld, make_layout, sha

OLD_HEAD, NEW_HEAD, OTHER_HEAD = "a" * 40, "b" * 40, "c" * 40
KEY = ChangeKey("github", 7, "acme/app")


def pull(head: str, date: int, *, updated: float = 0.0, number: int = 7) -> Change:
    return Change(
        connection="github",
        project="acme/app",
        branch="main",
        number=number,
        patchset=date,
        patchset_id=head,
        commit=head,
        ref=f"refs/pull/{number}/head",
        updated=updated,
    )


def gerrit(patchset: int) -> Change:
    return Change(
        connection="gerrit", project="org/app", branch="master", number=5, patchset=patchset,
        commit=sha(patchset),
    )  # fmt: skip


def item_of(change: Change) -> QueueItem:
    return QueueItem(
        uuid="i" * 32,
        tenant="demo",
        pipeline="check",
        queue="q",
        event_id="e",
        event_type="patchset-created",
        connection=change.connection,
        project=change.project,
        ref=change.ref,
        change=change,
        changes=[change],
    )


def new_head(head: str, date: int) -> ChangeDequeue:
    """What the scheduler makes of the driver's ``patchset-created``."""
    return ChangeDequeue(KEY, "a new head", date, new_patchset=True, patchset_id=head)


def test_a_newer_head_with_an_older_commit_date_dequeues_the_old_head():
    # The old head was committed at 2,000; the new one (a rebase keeping
    # dates, or a force-push of an older commit) says 1,000.
    old = item_of(pull(OLD_HEAD, 2000))
    assert matches(new_head(NEW_HEAD, 1000), old)


def test_a_new_head_in_the_same_second_dequeues_the_old_head():
    assert matches(new_head(NEW_HEAD, 2000), item_of(pull(OLD_HEAD, 2000)))


def test_the_announced_head_itself_stays_whatever_its_date():
    assert not matches(new_head(NEW_HEAD, 1000), item_of(pull(NEW_HEAD, 1000)))
    assert not matches(new_head(NEW_HEAD, 3000), item_of(pull(NEW_HEAD, 1000)))


def test_another_pull_request_is_left_alone():
    other = item_of(pull(OLD_HEAD, 500, number=8))
    assert not matches(new_head(NEW_HEAD, 1000), other)


def test_gerrit_patchsets_keep_their_order():
    dequeue = ChangeDequeue(ChangeKey("gerrit", 5), "ps 3", 3, new_patchset=True)
    assert matches(dequeue, item_of(gerrit(2)))
    assert not matches(dequeue, item_of(gerrit(3)))
    assert not matches(dequeue, item_of(gerrit(4)))  # a late event of an older patchset


def test_a_dequeue_of_one_head_leaves_another_head_of_the_same_second():
    """Requirements no longer met, or a superseding pipeline: only the items
    of that head leave — not another head that shares its commit date."""
    dequeue = ChangeDequeue(KEY, "unmet", patchset=2000, patchset_id=NEW_HEAD)
    assert not matches(dequeue, item_of(pull(OLD_HEAD, 2000)))
    assert matches(dequeue, item_of(pull(NEW_HEAD, 2000)))


def test_an_admin_dequeue_naming_a_head_sha_takes_that_head_only():
    dequeue = ChangeDequeue(KEY, "admin", patchset_id=NEW_HEAD)
    assert matches(dequeue, item_of(pull(NEW_HEAD, 1)))
    assert not matches(dequeue, item_of(pull(OLD_HEAD, 1)))
    # Without a head, every head of the pull request.
    assert matches(ChangeDequeue(KEY, "admin"), item_of(pull(OLD_HEAD, 1)))


def test_same_patchset_is_the_same_head_sha():
    assert same_patchset(pull(OLD_HEAD, 2000), pull(OLD_HEAD, 2000, updated=5))
    assert not same_patchset(pull(OLD_HEAD, 2000), pull(NEW_HEAD, 2000))
    assert not same_patchset(pull(OLD_HEAD, 2000), pull(OLD_HEAD, 2000, number=8))
    assert same_patchset(gerrit(2), gerrit(2)) and not same_patchset(gerrit(2), gerrit(3))


def test_the_change_cache_orders_pull_request_versions_by_githubs_update_time():
    old = pull(OLD_HEAD, 2000, updated=100.0)
    # Pushed later with an older commit date: GitHub's update time is later.
    assert newer(pull(NEW_HEAD, 1000, updated=101.0), old)
    assert not newer(old, pull(NEW_HEAD, 1000, updated=101.0))
    # The same second: the later answer wins, whatever the commit dates.
    assert newer(pull(NEW_HEAD, 1000, updated=100.0), old)


# --- through the decision core -------------------------------------------------------

MAIN = """
- tenant:
    name: demo
    source:
      gerrit:
        config-projects: [config]
        untrusted-projects: [org/app]
"""

CONFIG = """
- pipeline:
    name: check
    manager: independent
    trigger:
      gerrit:
        - event: patchset-created
    success:
      gerrit:
        Verified: 1
- nodeset:
    name: single
    nodes:
      - name: node
        label: ubuntu
- job:
    name: base
    parent: null
    nodeset: single
    run: playbooks/base.yaml
- job:
    name: unit
- project:
    name: org/app
    check:
      jobs: [unit]
"""


def test_the_check_pipeline_drops_the_head_a_force_push_replaced():
    w = SimWorld(
        make_layout({"config": {"master": {"zuul.yaml": CONFIG}}}, main=MAIN),
        heads={"org/app": {"master": sha(1)}},
    )
    head = Change(
        connection="gerrit",
        project="org/app",
        branch="master",
        number=101,
        patchset=2000,
        patchset_id=OLD_HEAD,
        commit=sha(11),
        ref="refs/pull/101/head",
    )
    w.add_change(head)
    w.step("check")
    assert len(w.queue("check")) == 1
    w.dequeues.append(
        ChangeDequeue(head.key, "pushed", 1000, new_patchset=True, patchset_id=NEW_HEAD)
    )
    w.run_scheduler("check")
    assert not w.queue("check")
    assert w.reports[-1][1] == "DEQUEUED"
