"""The change cache: shared by every scheduler, the newest version wins."""

from __future__ import annotations

import threading

from lockgate.model.change import Approval, Change, ChangeKey
from lockgate.zk.changes import ChangeCache


def change(number: int = 12345, patchset: int = 1, updated: float = 100.0, **kw) -> Change:
    return Change(
        connection="gerrit",
        project="org/app",
        branch="master",
        number=number,
        patchset=patchset,
        commit=f"{patchset:040x}",
        updated=updated,
        **kw,
    )


def test_put_and_get_round_trip(zk_client):
    cache = ChangeCache(zk_client)
    assert cache.get(ChangeKey("gerrit", 12345)) is None
    stored = change(approvals=[Approval("Code-Review", 2, {"username": "alice"}, 99.0)])
    cache.put(stored)
    got = cache.get(ChangeKey("gerrit", 12345))
    assert got == stored
    assert got.approvals[0].by.username == "alice"
    assert got.ref == "refs/changes/45/12345/1"
    assert cache.numbers("gerrit") == [12345]
    assert cache.numbers("other") == []


def test_a_stale_answer_never_wins(zk_client, zk_connect):
    mine, theirs = ChangeCache(zk_client), ChangeCache(zk_connect())
    mine.put(change(patchset=2, updated=200.0))
    # A slow query answered with what the server knew earlier.
    kept = theirs.put(change(patchset=1, updated=150.0))
    assert (kept.patchset, kept.updated) == (2, 200.0)
    assert mine.get(ChangeKey("gerrit", 12345)).patchset == 2
    # A newer update of the same patchset (a vote) replaces it.
    theirs.put(change(patchset=2, updated=250.0, topic="t"))
    assert mine.get(ChangeKey("gerrit", 12345)).topic == "t"


def test_racing_writers_keep_the_newest(zk_client, zk_connect):
    clients = [zk_connect() for _ in range(4)]
    barrier = threading.Barrier(len(clients))

    def write(i: int) -> None:
        barrier.wait()
        for updated in range(i, 40, len(clients)):
            ChangeCache(clients[i]).put(change(updated=float(updated)))

    threads = [threading.Thread(target=write, args=(i,)) for i in range(len(clients))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert ChangeCache(zk_client).get(ChangeKey("gerrit", 12345)).updated == 39.0


def test_delete(zk_client):
    cache = ChangeCache(zk_client)
    cache.put(change())
    cache.delete(ChangeKey("gerrit", 12345))
    cache.delete(ChangeKey("gerrit", 12345))
    assert cache.get(ChangeKey("gerrit", 12345)) is None
