"""Versioned records: round trips, compression, sharding, optimistic writes."""

from __future__ import annotations

import os
import threading

import pytest
from lockgate.zk import paths
from lockgate.zk.errors import RecordConflict, SchemaTooNew
from lockgate.zk.records import MAX_NODE_BYTES, RecordStore


def test_save_load_delete_round_trip(zk_client):
    store = RecordStore(zk_client)
    path = paths.keys("git", "demo/app")
    assert store.load(path) is None
    assert store.save(path, {"a": 1}) == 0
    loaded = store.load(path)
    assert loaded.data == {"a": 1} and loaded.version == 0 and loaded.schema == 1
    assert store.save(path, {"a": 2}, version=0) == 1
    assert store.load(path).data == {"a": 2}
    assert store.delete(path) is True
    assert store.load(path) is None
    assert store.delete(path) is False


def test_create_refuses_an_existing_record(zk_client):
    store = RecordStore(zk_client)
    path = paths.tenant_layout("t")
    store.create(path, {"uuid": "1"})
    with pytest.raises(RecordConflict, match="already exists"):
        store.create(path, {"uuid": "2"})
    assert store.load(path).data == {"uuid": "1"}


def test_concurrent_writers_one_wins_the_other_conflicts(zk_client, zk_connect):
    path = paths.pipeline_state("t", "gate")
    a, b = RecordStore(zk_client), RecordStore(zk_connect())
    a.save(path, {"items": []})
    seen_a, seen_b = a.load(path), b.load(path)
    b.save(path, {"items": ["b"]}, version=seen_b.version)
    with pytest.raises(RecordConflict, match="re-read it and retry"):
        a.save(path, {"items": ["a"]}, version=seen_a.version)
    assert a.load(path).data == {"items": ["b"]}


def test_racing_increments_are_never_lost(zk_client, zk_connect):
    """Many writers increment one counter with read-modify-write + retry."""
    path = paths.keys("git", "counter")
    RecordStore(zk_client).save(path, {"n": 0})
    conflicts = []

    def worker(store: RecordStore) -> None:
        for _ in range(10):
            while True:
                loaded = store.load(path)
                try:
                    store.save(path, {"n": loaded.data["n"] + 1}, version=loaded.version)
                    break
                except RecordConflict:
                    conflicts.append(1)

    stores = [RecordStore(zk_connect()) for _ in range(4)]
    threads = [threading.Thread(target=worker, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert RecordStore(zk_client).load(path).data == {"n": 40}


def test_large_record_is_sharded_and_round_trips(zk_client):
    store = RecordStore(zk_client)
    path = paths.config_cache("git", "demo/app", "main")
    # Random hex does not compress below the node limit: forces shards.
    blob = os.urandom(1_200_000).hex()
    data = {"files": {"zuul.yaml": blob}, "n": 3}
    store.save(path, data)
    kz = zk_client.kazoo
    generations = kz.get_children(paths.record_shards(path))
    assert len(generations) == 1
    assert len(kz.get_children(f"{paths.record_shards(path)}/{generations[0]}")) >= 2
    loaded = store.load(path)
    assert loaded.data == data
    # A second sharded write replaces the generation; the old one is removed.
    data2 = {"files": {"zuul.yaml": blob[::-1]}, "n": 4}
    store.save(path, data2, version=loaded.version)
    assert store.load(path).data == data2
    assert len(kz.get_children(paths.record_shards(path))) == 1
    # Shrinking back to an inline record drops the shards.
    store.save(path, {"small": True})
    assert store.load(path).data == {"small": True}
    assert kz.get_children(paths.record_shards(path)) == []
    assert store.delete(path)
    assert kz.exists(path) is None


def test_sharded_write_that_loses_the_race_leaves_no_shards(zk_client):
    store = RecordStore(zk_client)
    path = paths.config_cache("git", "demo/app", "stable")
    store.save(path, {"v": 1})
    loaded = store.load(path)
    store.save(path, {"v": 2})
    with pytest.raises(RecordConflict):
        store.save(path, {"blob": os.urandom(1_200_000).hex()}, version=loaded.version)
    assert store.load(path).data == {"v": 2}
    assert zk_client.kazoo.get_children(paths.record_shards(path)) == []


def test_compressible_large_record_stays_in_one_node(zk_client):
    store = RecordStore(zk_client)
    path = paths.pipeline_state("t", "check")
    data = {"items": ["x" * 100] * 30_000}  # 3 MB of JSON, compresses to KBs
    store.save(path, data)
    raw, _ = zk_client.kazoo.get(path)
    assert len(raw) < MAX_NODE_BYTES
    assert zk_client.kazoo.exists(paths.record_shards(path)) is None
    assert store.load(path).data == data


def test_conditional_delete(zk_client):
    store = RecordStore(zk_client)
    path = paths.tenant_layout("t")
    store.save(path, {"a": 1})
    old = store.load(path)
    store.save(path, {"a": 2})
    with pytest.raises(RecordConflict):
        store.delete(path, version=old.version)
    assert store.load(path).data == {"a": 2}
    assert store.delete(path, version=store.load(path).version)
    assert store.load(path) is None


def test_newer_schema_is_refused_not_misread(zk_client):
    path = paths.tenant_layout("t")
    RecordStore(zk_client, schema=3).save(path, {"new": "shape"})
    with pytest.raises(SchemaTooNew, match="schema 3"):
        RecordStore(zk_client, schema=2).load(path)
    assert RecordStore(zk_client, schema=1, max_schema=3).load(path).schema == 3


def test_load_many_reads_inline_compressed_sharded_missing_and_deleted(zk_client):
    store = RecordStore(zk_client)
    small = paths.keys("git", "demo/small")
    compressed = paths.keys("git", "demo/compressed")
    sharded = paths.keys("git", "demo/sharded")
    gone = paths.keys("git", "demo/gone")
    never = paths.keys("git", "demo/never")
    store.save(small, {"a": 1})
    store.save(compressed, {"text": "x" * 50_000})
    store.save(sharded, {"blob": os.urandom(MAX_NODE_BYTES).hex()})
    store.save(gone, {"b": 2})
    version = store.save(gone, {"b": 3}, version=0)
    store.delete(gone, version=version)  # tombstone, then removed
    got = store.load_many([small, compressed, sharded, gone, never])
    assert set(got) == {small, compressed, sharded, gone, never}
    assert got[small] == store.load(small)
    assert got[compressed].data == {"text": "x" * 50_000}
    assert got[sharded] == store.load(sharded)
    assert got[gone] is None and got[never] is None
    assert store.load_many([]) == {}


def test_load_many_of_more_records_than_one_batch(zk_client):
    store = RecordStore(zk_client)
    many = [paths.keys("git", f"demo/r{i}") for i in range(1200)]
    for i, path in enumerate(many[:1100]):
        store.save(path, {"i": i})
    got = store.load_many(many)
    assert [got[p].data["i"] for p in many[:1100]] == list(range(1100))
    assert all(got[p] is None for p in many[1100:])


def test_load_many_refuses_a_newer_schema(zk_client):
    path = paths.tenant_layout("t")
    RecordStore(zk_client, schema=3).save(path, {"new": "shape"})
    with pytest.raises(SchemaTooNew, match="schema 3"):
        RecordStore(zk_client, schema=2).load_many([path])
