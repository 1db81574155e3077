"""The change cache: what every scheduler last learnt about each change.

Who calls it: the scheduler (``lockgate.scheduler.changes``) writes a change
whenever an event or a query tells it something about it, and reads it when
it matches events, checks requirements and resolves dependencies; the web
may read it for the status page.  One record per change (``ChangeKey``:
connection and number, and project for pull requests) at ``paths.cached_change``, holding its newest known
patchset.

Writers race (several schedulers, a slow query answered after a faster
one): ``put`` keeps whichever version is newer — by the review system's
``updated`` time, then the patchset number — so a stale answer never
overwrites a fresh one.  A lost race is re-read and re-decided, never
dropped (``JsonState.modify``).
"""

from __future__ import annotations

from kazoo.exceptions import NoNodeError
from lockgate.model.change import Change, ChangeKey
from lockgate.zk import paths
from lockgate.zk.client import ZKClient
from lockgate.zk.errors import translate_kazoo_errors
from lockgate.zk.state import JsonState

SCHEMA = 1


def newer(candidate: Change, current: Change | None) -> bool:
    """Whether ``candidate`` should replace ``current`` in the cache."""
    if current is None:
        return True
    if candidate.patchset_id and current.patchset_id:
        # A pull request: GitHub's update time orders its versions; its
        # patchset number (the head commit's date) does not, so at a tie
        # the later write (the later answer) wins.
        return candidate.updated >= current.updated
    return (candidate.updated, candidate.patchset) >= (current.updated, current.patchset)


@translate_kazoo_errors
class ChangeCache:
    def __init__(self, client: ZKClient) -> None:
        self.client = client

    def _state(self, key: ChangeKey) -> JsonState:
        return JsonState(
            self.client,
            paths.cached_change(key.connection, key.number, key.project),
            schema=SCHEMA,
        )

    def get(self, key: ChangeKey) -> Change | None:
        data = self._state(key).load()
        return Change.from_dict(data) if data else None

    def put(self, change: Change) -> Change:
        """Store ``change`` unless the cache holds a newer version; returns
        what the cache holds afterwards."""
        kept: list[Change] = []

        def merge(current: dict) -> dict:
            existing = Change.from_dict(current) if current else None
            winner = change if newer(change, existing) else existing
            assert winner is not None
            kept[:] = [winner]
            return winner.to_dict()

        self._state(change.key).modify(merge)
        return kept[0]

    def delete(self, key: ChangeKey) -> None:
        path = paths.cached_change(key.connection, key.number, key.project)
        try:
            self.client.retry(self.client.kazoo.delete, path, recursive=True)
        except NoNodeError:
            pass

    def numbers(self, connection: str) -> list[int]:
        """The change numbers cached for ``connection`` (of changes numbered
        per server: pull requests' entries are ``<number>@<project>``)."""
        try:
            names = self.client.retry(
                self.client.kazoo.get_children, paths.change_cache(connection)
            )
        except NoNodeError:
            return []
        return sorted(int(n) for n in names if n.isdigit())
