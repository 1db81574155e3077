"""The keystore: every project's keys, kept in ZooKeeper, usable with the password.

Who calls it: the scheduler's ``KeyGenerator`` (making keys ahead of need),
the executor (a job's secrets keys, a post-review job's SSH key), the web
(public keys), and ``lockgate keys`` / ``lockgate encrypt``.  Each makes a
``KeyStore(client, password)`` with ``[keystore] password``; the password
stays in memory, and only keys encrypted with it reach ZooKeeper
(``lockgate.zk.keys``).

Making keys is slow (RSA 4096: up to a second or more), so it is never on
anybody's way but the one who needs that key: ``ensure`` makes a project's
keys under that project's lock, so a process that needs a key waits for
that key only, and two processes never make the same keys twice.  Reading
keys needs no lock.  Opened private keys are cached by their stored text,
so a key replaced by an import is read again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Protocol

from cryptography.hazmat.primitives.asymmetric import rsa
from lockgate.keys import crypto
from lockgate.model.keys import ProjectKeys, StoredKey
from lockgate.service_config import ServiceConfig
from lockgate.zk.client import ZKClient
from lockgate.zk.errors import LockTimeout
from lockgate.zk.keys import KeyRecords

log = logging.getLogger("lockgate.keys")

# How long ``ensure`` waits for another process making the same keys.
ENSURE_TIMEOUT = 120.0
_CACHE_SIZE = 512


class KeystoreError(Exception):
    """A project's key cannot be had; ``str()`` names the project and why."""


class KeyMissing(KeystoreError):
    """The project has no keys in ZooKeeper."""


class KeystorePasswordError(KeystoreError):
    """The keystore password does not open a stored key (or none is configured)."""


class KeySource(Protocol):
    """What the executor needs of a keystore (``KeyStore`` is one)."""

    def secrets_key(self, connection: str, project: str) -> rsa.RSAPrivateKey: ...

    def ssh_private_pem(self, connection: str, project: str) -> str: ...


def describe(connection: str, project: str) -> str:
    return f"project '{project}' (connection '{connection}')"


class KeyStore:
    def __init__(
        self,
        client: ZKClient,
        password: str | None,
        *,
        clock: Callable[[], float] = time.time,
        make_secrets_key: Callable[[], rsa.RSAPrivateKey] = crypto.generate_secrets_key,
        make_ssh_key: Callable[[], rsa.RSAPrivateKey] = crypto.generate_ssh_key,
    ) -> None:
        self.records = KeyRecords(client)
        self._password = password or None
        self._clock = clock
        self._make_secrets_key = make_secrets_key
        self._make_ssh_key = make_ssh_key
        self._opened: OrderedDict[str, rsa.RSAPrivateKey] = OrderedDict()
        self._lock = threading.Lock()
        #: Key pairs this process made (tests and benchmarks read it).
        self.made = 0

    @property
    def has_password(self) -> bool:
        return self._password is not None

    # -- reading -------------------------------------------------------------------

    def load(self, connection: str, project: str) -> ProjectKeys:
        """The project's stored keys (still encrypted); ``KeyMissing`` if none."""
        keys = self.records.load(connection, project)
        if keys is None:
            raise KeyMissing(f"{describe(connection, project)} has no keys in the keystore")
        return keys

    def secrets_key(self, connection: str, project: str) -> rsa.RSAPrivateKey:
        """The private key that decrypts the project's secrets.  Never makes
        one: a secret can only have been encrypted with a key that exists."""
        return self.open(self.load(connection, project), "secrets")

    def open(self, keys: ProjectKeys, which: str = "secrets") -> rsa.RSAPrivateKey:
        """The usable private key ``which`` ("secrets" or "ssh") of ``keys``."""
        stored = keys.secrets if which == "secrets" else keys.ssh
        if stored is None:
            raise KeyMissing(f"{describe(keys.connection, keys.project)} has no {which} key")
        if self._password is None:
            raise KeystorePasswordError(
                f"cannot open the {which} key of {describe(keys.connection, keys.project)}: "
                "no [keystore] password is configured"
            )
        with self._lock:
            key = self._opened.get(stored.private_key)
            if key is not None:
                self._opened.move_to_end(stored.private_key)
                return key
        try:
            key = crypto.load_private_pem(stored.private_key, self._password)
        except crypto.KeyPasswordError:
            raise KeystorePasswordError(
                f"the keystore password does not open the {which} key of "
                f"{describe(keys.connection, keys.project)} (is [keystore] password the one "
                "the keys were stored with?)"
            ) from None
        except crypto.KeyFormatError as e:
            raise KeystoreError(
                f"the stored {which} key of {describe(keys.connection, keys.project)} is "
                f"unreadable: {e}"
            ) from None
        with self._lock:
            self._opened[stored.private_key] = key
            while len(self._opened) > _CACHE_SIZE:
                self._opened.popitem(last=False)
        return key

    def public_key(self, connection: str, project: str, *, create: bool = False) -> str:
        """The PEM public key secrets are encrypted with; ``create``: make the
        project's keys first if it has none (needs the password)."""
        keys = self.ensure(connection, project) if create else self.load(connection, project)
        return keys.public_key

    def ssh_public_key(self, connection: str, project: str, *, create: bool = False) -> str:
        keys = self.ensure(connection, project) if create else self.load(connection, project)
        if keys.ssh is None and create:
            keys = self._add_ssh_key(keys)
        if not keys.ssh_public_key:
            raise KeyMissing(f"{describe(connection, project)} has no SSH key")
        return keys.ssh_public_key

    def ssh_private_pem(self, connection: str, project: str) -> str:
        """The project's SSH private key as plain PEM, for an ssh-agent; its
        keys are made first if the project has none yet."""
        keys = self.ensure(connection, project)
        if keys.ssh is None:
            keys = self._add_ssh_key(keys)
        return crypto.private_pem(self.open(keys, "ssh"), None)

    def missing(self, projects: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
        """Those of ``projects`` without keys, in the order given."""
        wanted = list(dict.fromkeys(projects))
        have = self.records.existing(wanted)
        return [p for p in wanted if p not in have]

    # -- making ----------------------------------------------------------------------

    def ensure(
        self, connection: str, project: str, *, timeout: float = ENSURE_TIMEOUT
    ) -> ProjectKeys:
        """The project's keys, made now if it has none.  Whoever makes them
        holds the project's lock; others needing the same keys wait for it
        (up to ``timeout``), nobody waits for other projects' keys."""
        keys = self.records.load(connection, project)
        if keys is not None:
            return keys
        if self._password is None:
            raise KeystorePasswordError(
                f"cannot make keys for {describe(connection, project)}: no [keystore] "
                "password is configured"
            )
        lock = self.records.lock(connection, project)
        try:
            lock.acquire(timeout=timeout)
        except LockTimeout:
            raise KeystoreError(
                f"gave up after {timeout:.0f}s waiting for another process to make the keys "
                f"of {describe(connection, project)}"
            ) from None
        try:
            keys = self.records.load(connection, project)
            if keys is not None:
                return keys  # made by the holder we waited for
            keys = self.make(connection, project)
            if not self.records.create(keys):
                # Written without the lock meanwhile (an import): theirs wins.
                return self.load(connection, project)
            return keys
        finally:
            lock.release()

    def _add_ssh_key(self, keys: ProjectKeys, timeout: float = ENSURE_TIMEOUT) -> ProjectKeys:
        """Keys imported from Zuul may lack the SSH key (Zuul makes it only
        when a post-review job first needs it): make it now, as Zuul would."""
        if self._password is None:
            raise KeystorePasswordError(
                f"cannot make an SSH key for {describe(keys.connection, keys.project)}: no "
                "[keystore] password is configured"
            )
        lock = self.records.lock(keys.connection, keys.project)
        try:
            lock.acquire(timeout=timeout)
        except LockTimeout:
            raise KeystoreError(
                f"gave up after {timeout:.0f}s waiting for the keys of "
                f"{describe(keys.connection, keys.project)}"
            ) from None
        try:
            fresh = self.load(keys.connection, keys.project)
            if fresh.ssh is not None:
                return fresh
            ssh_key = self._make_ssh_key()
            fresh.ssh = StoredKey(
                crypto.private_pem(ssh_key, self._password), 0, int(self._clock())
            )
            fresh.ssh_public_key = crypto.ssh_public_line(ssh_key, f"{keys.project} project key")
            self.records.save(fresh)
            return fresh
        finally:
            lock.release()

    def make(self, connection: str, project: str) -> ProjectKeys:
        """New keys for the project, encrypted with the password (not stored)."""
        assert self._password is not None
        created = int(self._clock())
        secrets_key = self._make_secrets_key()
        ssh_key = self._make_ssh_key()
        self.made += 1
        return ProjectKeys(
            connection=connection,
            project=project,
            secrets=StoredKey(crypto.private_pem(secrets_key, self._password), 0, created),
            public_key=crypto.public_pem(secrets_key),
            ssh=StoredKey(crypto.private_pem(ssh_key, self._password), 0, created),
            ssh_public_key=crypto.ssh_public_line(ssh_key, f"{project} project key"),
        )

    def put(self, keys: ProjectKeys, *, overwrite: bool = False) -> bool:
        """Store ``keys`` (an import); False if the project had keys and
        ``overwrite`` is not set."""
        if overwrite:
            self.records.save(keys)
            return True
        return self.records.create(keys)


def keystore_from_config(config: ServiceConfig, client: ZKClient) -> KeyStore | None:
    """The keystore of ``[keystore] password``, or None (logged) without one:
    secrets then cannot be decrypted, and no keys are made."""
    password = config.section("keystore").get("password")
    if not password:
        log.warning(
            "no [keystore] password in %s: encrypted secrets cannot be decrypted and no "
            "project keys are made",
            config.path,
        )
        return None
    return KeyStore(client, password)
