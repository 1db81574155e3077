"""Semaphores: never more holders than slots, even with racing schedulers."""

from __future__ import annotations

import threading

import pytest
from lockgate.zk.semaphores import SemaphoreSlots


def test_acquire_release(zk_client):
    sem = SemaphoreSlots(zk_client, "t", "db", max=2)
    assert sem.acquire("a") and sem.acquire("b")
    assert not sem.acquire("c")
    assert sem.acquire("a")  # already a holder
    assert sem.holders() == ["a", "b"]
    assert sem.release("a") and not sem.release("a")
    assert sem.acquire("c")
    assert sem.holders() == ["b", "c"]
    with pytest.raises(ValueError, match="at least 1"):
        SemaphoreSlots(zk_client, "t", "db", max=0)


def test_racing_acquirers_never_exceed_max(zk_client, zk_connect):
    sems = [SemaphoreSlots(zk_connect(), "t", "race", max=3) for _ in range(4)]
    won: list[str] = []
    barrier = threading.Barrier(len(sems))

    def run(n: int, sem: SemaphoreSlots) -> None:
        barrier.wait()
        for i in range(5):
            if sem.acquire(f"{n}-{i}"):
                won.append(f"{n}-{i}")

    threads = [threading.Thread(target=run, args=(n, s)) for n, s in enumerate(sems)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(won) == 3
    assert sorted(SemaphoreSlots(zk_client, "t", "race", max=3).holders()) == sorted(won)
