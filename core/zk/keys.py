"""Project keys in ZooKeeper: one ``ProjectKeys`` record per project.

Who calls it: ``lockgate.keys.keystore`` only (it makes, reads and imports
keys; every process that needs a key goes through it).  The record at
``paths.keys(connection, project)`` holds private keys encrypted with the
keystore password; this module never sees the password or a usable key.

``create`` never overwrites (two processes making the same project's keys:
the second one learns it lost and reads the winner's); ``save`` overwrites
(``lockgate keys import --force``).  ``lock`` is the per-project lock held
while keys are made, so that whoever needs one key waits for that key only.
"""

from __future__ import annotations

from collections.abc import Iterable

from kazoo.exceptions import NoNodeError
from lockgate.model.keys import ProjectKeys
from lockgate.zk import paths
from lockgate.zk.client import ZKClient
from lockgate.zk.errors import RecordConflict, translate_kazoo_errors
from lockgate.zk.locks import SessionAwareLock
from lockgate.zk.records import RecordStore, pipelined

SCHEMA = 1


@translate_kazoo_errors
class KeyRecords:
    """Load, create, overwrite, list and lock project keys."""

    def __init__(self, client: ZKClient) -> None:
        self.client = client
        self._store = RecordStore(client, schema=SCHEMA)

    def load(self, connection: str, project: str) -> ProjectKeys | None:
        loaded = self._store.load(paths.keys(connection, project))
        return None if loaded is None else ProjectKeys.from_dict(loaded.data)

    def create(self, keys: ProjectKeys) -> bool:
        """Store new keys; False (nothing written) if the project has keys."""
        try:
            self._store.create(paths.keys(keys.connection, keys.project), keys.to_dict())
        except RecordConflict:
            return False
        return True

    def save(self, keys: ProjectKeys) -> None:
        """Store keys, replacing any the project had."""
        self._store.save(paths.keys(keys.connection, keys.project), keys.to_dict())

    def delete(self, connection: str, project: str) -> bool:
        return self._store.delete(paths.keys(connection, project))

    def existing(self, projects: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
        """Which of ``(connection, project)`` have keys: one pipelined round
        trip for all of them (a tenant's hundreds of projects at start)."""
        wanted = {paths.keys(c, p): (c, p) for c, p in projects}
        found = set()
        for path, answer in pipelined(self.client, "exists_async", wanted).items():
            if isinstance(answer, BaseException):
                if self._store.exists(path):
                    found.add(wanted[path])
            elif answer is not None:
                found.add(wanted[path])
        return found

    def projects(self) -> list[tuple[str, str]]:
        """Every ``(connection, project)`` with keys, sorted."""
        kz = self.client.kazoo
        try:
            connections = self.client.retry(kz.get_children, paths.keys_root())
        except NoNodeError:
            return []
        out: list[tuple[str, str]] = []
        for quoted in connections:
            connection = paths.unsegment(quoted)
            try:
                children = self.client.retry(kz.get_children, paths.key_connection(connection))
            except NoNodeError:
                continue
            out.extend((connection, paths.unsegment(child)) for child in children)
        return sorted(out)

    def connections_of(self, project: str) -> list[str]:
        """The connections under which ``project`` has keys."""
        kz = self.client.kazoo
        try:
            connections = self.client.retry(kz.get_children, paths.keys_root())
        except NoNodeError:
            return []
        names = [paths.unsegment(c) for c in connections]
        have = self.existing((c, project) for c in names)
        return sorted(c for c, _ in have)

    def lock(self, connection: str, project: str) -> SessionAwareLock:
        """The (unacquired) lock held while this project's keys are made."""
        return SessionAwareLock(self.client, paths.key_lock(connection, project))
