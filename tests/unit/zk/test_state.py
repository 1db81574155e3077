"""JsonState: the persistent objects the scheduler keeps."""

from __future__ import annotations

import threading

import pytest
from lockgate.zk.errors import RecordConflict
from lockgate.zk.state import pipeline_state, tenant_layout


def test_load_save_conflict(zk_client, zk_connect):
    mine = pipeline_state(zk_client, "t", "gate")
    assert mine.load() is None
    mine.save({"queues": []})
    theirs = pipeline_state(zk_connect(), "t", "gate")
    assert theirs.load() == {"queues": []}
    theirs.save({"queues": [{"name": "integrated"}]})
    with pytest.raises(RecordConflict):
        mine.save({"queues": [{"name": "mine"}]})
    assert mine.load() == {"queues": [{"name": "integrated"}]}
    mine.save({"queues": []})
    assert theirs.load() == {"queues": []}


def test_first_save_of_two_creators_conflicts(zk_client, zk_connect):
    a = tenant_layout(zk_client, "t")
    b = tenant_layout(zk_connect(), "t")
    assert a.load() is None and b.load() is None
    a.save({"uuid": "a"})
    with pytest.raises(RecordConflict):
        b.save({"uuid": "b"})


def test_modify_retries_until_every_change_lands(zk_client, zk_connect):
    states = [pipeline_state(zk_connect(), "t", "check") for _ in range(4)]

    def add(n: int, state) -> None:
        for i in range(5):
            state.modify(
                lambda d, tag=f"{n}-{i}": d.setdefault("items", []).append(tag), default={}
            )

    threads = [threading.Thread(target=add, args=(n, s)) for n, s in enumerate(states)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    items = pipeline_state(zk_client, "t", "check").load()["items"]
    assert sorted(items) == sorted(f"{n}-{i}" for n in range(4) for i in range(5))


def test_delete(zk_client):
    state = pipeline_state(zk_client, "t", "post")
    state.save({"a": 1})
    assert state.delete()
    assert state.load() is None
    assert not state.delete()
