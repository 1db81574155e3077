"""Errors the ZooKeeper layer raises to its callers.

Each says what failed and what the caller should do next; kazoo's own
exceptions stay inside ``lockgate.zk`` so no other part needs to import kazoo.
"""

from __future__ import annotations


class ZKError(Exception):
    """Base of every error raised by ``lockgate.zk``."""


class ZKConnectionError(ZKError):
    """ZooKeeper could not be reached (at start) or the connection was lost
    in the middle of an operation that cannot be safely retried."""


class RecordConflict(ZKError):
    """A conditional write lost a race: someone else changed (or created, or
    deleted) the record since it was read.  Re-read, re-apply, retry."""

    def __init__(self, path: str, detail: str = "") -> None:
        self.path = path
        super().__init__(
            f"record {path} was changed by someone else{': ' + detail if detail else ''}; "
            "re-read it and retry"
        )


class RecordNotFound(ZKError):
    """The record does not exist (for updates of something that must exist)."""

    def __init__(self, path: str) -> None:
        self.path = path
        super().__init__(f"record {path} does not exist")


class RecordTooLarge(ZKError):
    """A value too large for an event queue entry (records shard; queues do not)."""


class SchemaTooNew(ZKError):
    """A record was written by a newer Lockgate with an incompatible schema."""


class LockTimeout(ZKError):
    """A lock could not be acquired within the given time."""

    def __init__(self, path: str, timeout: float | None) -> None:
        self.path = path
        super().__init__(f"could not acquire lock {path} within {timeout}s")


class LockLost(ZKError):
    """The ZooKeeper session holding a lock expired: the lock is gone and a
    peer may already hold it.  Drop the work; do not write its results."""
