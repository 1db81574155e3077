"""MergeRequestStore against a real ZooKeeper: submit, claim, orphaned
claims and the lock watch that tells a merger a claim is gone."""

from __future__ import annotations

import threading

import pytest
from lockgate.model.merges import MergeRequest, MergeResult, MergeState, MergeStep, RepoSpec
from lockgate.zk import RecordConflict
from lockgate.zk.merges import MergeRequestStore

from tests.fixtures.waiting import wait_for


def merge_request(uuid: str = "m1") -> MergeRequest:
    step = MergeStep(
        "gerrit",
        "org/app",
        "master",
        "refs/changes/45/12345/3",
        "a" * 40,
        "ssh://review.example.org:29418/org/app",
        "cherry-pick",
        12345,
        3,
    )
    return MergeRequest(
        uuid=uuid,
        tenant="t",
        pipeline="gate",
        item_uuid="i",
        event_id="e",
        steps=[step],
        repos=[RepoSpec("gerrit", "org/app", step.url)],
        repo_state={"org/app": {"master": "b" * 40}},
    )


def test_submit_get_and_round_trip_with_a_large_result(zk_client):
    store = MergeRequestStore(zk_client)
    request = merge_request()
    store.submit(request)
    with pytest.raises(RecordConflict):
        store.submit(request)
    got = store.get("m1")
    assert got.record == request
    # A result with a lot of configuration is sharded by the record layer.
    big = {f"zuul.d/{i}.yaml": f"- job: {{name: j{i}}}\n" * 2000 for i in range(40)}
    got.record.result = MergeResult(ok=True, config={"org/app": {"master": big}})
    got.record.state = MergeState.COMPLETED
    store.update(got.record, got.version)
    back = store.get("m1").record
    assert back.state is MergeState.COMPLETED
    assert back.result.config["org/app"]["master"] == big
    assert back.steps[0].describe() == "12345,3"
    assert store.delete("m1") and store.get("m1") is None


def test_a_dead_mergers_claim_becomes_claimable_and_the_watch_fires(zk_client, zk_connect):
    store = MergeRequestStore(zk_client)
    store.submit(merge_request("m2"))
    other = zk_connect()
    their_store = MergeRequestStore(other)
    lock = their_store.lock("m2")
    assert lock is not None
    got = their_store.get("m2")
    got.record.state = MergeState.RUNNING
    their_store.update(got.record, got.version)
    assert store.lock("m2") is None  # held elsewhere
    assert store.claimable() == [] and store.orphaned() == []
    fired = threading.Event()
    store.watch_lock("m2", fired.set)
    assert not fired.is_set()
    other.disconnect()  # the holder's session ends: its ephemeral lock goes
    wait_for(fired.is_set, 15, "the lock watch to fire")
    assert [v.record.uuid for v in store.claimable()] == ["m2"]
    assert [v.record.uuid for v in store.orphaned()] == ["m2"]
    mine = store.lock("m2")
    assert mine is not None
    assert store.claimable() == []
    mine.release()
