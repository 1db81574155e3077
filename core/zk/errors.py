"""Errors the ZooKeeper layer raises to its callers.

Each says what failed and what the caller should do next; kazoo's own
exceptions stay inside ``lockgate.zk`` so no other part needs to import kazoo.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


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


def translate_kazoo_errors(obj: T) -> T:
    """Decorator for a class or a function: kazoo exceptions escaping it (a
    class's public methods) become :class:`ZKConnectionError` (connection or
    session gone, retries exhausted) or :class:`ZKError` (anything else),
    naming the operation.  Callers outside ``lockgate.zk`` then handle one
    family of errors and never import kazoo."""
    if isinstance(obj, type):
        for name, value in list(vars(obj).items()):
            if name.startswith("_") and name not in ("__enter__", "__len__"):
                continue
            if callable(value) and not isinstance(value, type):
                setattr(obj, name, _translating(f"{obj.__name__}.{name}", value))
        return obj
    return _translating(getattr(obj, "__qualname__", "zk"), obj)  # type: ignore[arg-type,return-value]


def _translating(what: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    import functools

    from kazoo.exceptions import (
        ConnectionClosedError,
        ConnectionLoss,
        KazooException,
        OperationTimeoutError,
        SessionExpiredError,
    )
    from kazoo.handlers.threading import KazooTimeoutError
    from kazoo.retry import RetryFailedError

    connection_errors = (
        ConnectionClosedError,
        ConnectionLoss,
        OperationTimeoutError,
        SessionExpiredError,
        RetryFailedError,
        KazooTimeoutError,
    )

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except ZKError:
            raise
        except connection_errors as exc:
            raise ZKConnectionError(
                f"{what}: ZooKeeper connection lost or unavailable "
                f"({type(exc).__name__}); retry when reconnected"
            ) from exc
        except KazooException as exc:
            raise ZKError(f"{what}: {type(exc).__name__}: {exc}") from exc

    return wrapper
