"""Tenants' event processing states in ZooKeeper (``manage-events``).

Who calls it: the web writes a tenant's state (:func:`save_event_state`,
the admin endpoint ``POST /api/tenant/{t}/state``) and reads it for the
status answer and the tenant info (:func:`load_event_state`); the scheduler
asks an :class:`EventStateWatch` at the start of every pass over a tenant,
which answers from memory (a data watch per tenant keeps it current, so a
pass costs no read), and pokes the scheduler's loop when a state changes,
so trigger events left queued while paused are processed as soon as an
admin resumes.

The record is ``lockgate.model.event_state.TenantEventState`` at
``paths.tenant_event_state(tenant)``; no record means every event is
processed.  A write replaces the whole state (last writer wins): it is an
admin's setting, not a counter.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from kazoo.recipe.watchers import DataWatch
from lockgate.model.event_state import TenantEventState
from lockgate.zk import paths
from lockgate.zk.client import ZKClient
from lockgate.zk.errors import ZKError, translate_kazoo_errors
from lockgate.zk.state import JsonState

log = logging.getLogger("lockgate.zk.event_state")


def _state(client: ZKClient, tenant: str) -> JsonState:
    return JsonState(client, paths.tenant_event_state(tenant))


def load_event_state(client: ZKClient, tenant: str) -> TenantEventState:
    """The tenant's state as stored now (normal when none is)."""
    data = _state(client, tenant).load()
    if not data:
        return TenantEventState(tenant=tenant)
    return TenantEventState.from_dict({**data, "tenant": tenant})


def save_event_state(client: ZKClient, state: TenantEventState) -> None:
    """Make ``state`` its tenant's state (replacing whatever was there)."""
    _state(client, state.tenant).modify(lambda _old: state.to_dict())


@translate_kazoo_errors
class EventStateWatch:
    """Every tenant's state, from memory, kept current by data watches.

    The first :meth:`get` of a tenant reads its record and sets a watch;
    later ones answer from memory.  ``on_change(tenant)`` runs on kazoo's
    thread after each change seen (keep it short: set an event).  After a
    lost session kazoo reads the record again and the watch goes on.  A
    record that cannot be read leaves the last state known in place (the
    error is logged): a pause is not lifted by a read error.
    """

    def __init__(self, client: ZKClient, on_change: Callable[[str], None] | None = None) -> None:
        self.client = client
        self.on_change = on_change
        self._states: dict[str, TenantEventState] = {}
        self._lock = threading.Lock()
        self._closed = False

    def get(self, tenant: str) -> TenantEventState:
        with self._lock:
            known = self._states.get(tenant)
        if known is not None:
            return known
        self._start(tenant)
        with self._lock:
            return self._states.get(tenant) or TenantEventState(tenant=tenant)

    def _start(self, tenant: str) -> None:
        with self._lock:
            if tenant in self._states:
                return
            # Placeholder until the first read: a concurrent ``get`` does not
            # set a second watch.
            self._states[tenant] = TenantEventState(tenant=tenant)
        first = [True]

        def changed(_data: bytes | None, _stat: Any) -> bool | None:
            if self._closed:
                return False
            try:
                state = load_event_state(self.client, tenant)
            except ZKError as e:
                log.warning("tenant %s: event state not readable (last known kept): %s", tenant, e)
                return None
            with self._lock:
                old = self._states.get(tenant)
                self._states[tenant] = state
            if not first[0] and self.on_change is not None and old != state:
                try:
                    self.on_change(tenant)
                except Exception:
                    log.exception("event state callback for tenant %s failed", tenant)
            first[0] = False
            return None

        # kazoo calls ``changed`` once now, on this thread, then on each change.
        try:
            DataWatch(self.client.kazoo, paths.tenant_event_state(tenant), changed)
        except BaseException:
            with self._lock:  # no watch: the next ``get`` tries again
                self._states.pop(tenant, None)
            raise

    def close(self) -> None:
        """Stop every watch (at the next event each sees)."""
        self._closed = True
