"""A frozen job's secrets, decrypted for the one playbook about to run.

Who calls it: the executor's runner, right before each playbook starts
(``playbook_secrets``), and once before the first playbook of a build
(``check_secrets``), so that a secret that cannot be decrypted fails the
build before anything runs instead of in the middle of its post-run
playbooks.

The scheduler hands the executor each secret as frozen by
``lockgate.config.freeze`` (``FrozenJob.secrets``): the secret's name, the
project whose key encrypted it and its data, where every encrypted value is
still ``{"encrypted": "pkcs1-oaep", "ciphertext": [chunks]}``.  Only this
module turns those into text, in memory.

Errors (``SecretError``) name the secret, its project and the field, and
say what is wrong -- never a byte of the plaintext or the ciphertext.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa
from lockgate.keys import crypto
from lockgate.keys.keystore import KeystoreError

ENCRYPTION = "pkcs1-oaep"

# (connection, project) -> the private key that decrypts that project's secrets.
KeyLookup = Callable[[str, str], rsa.RSAPrivateKey]


class SecretError(Exception):
    """A secret cannot be given to its playbook; ``str()`` says which and why."""


@dataclass
class PlaybookSecrets:
    """What one playbook gets: its secrets as variables, and the decrypted
    strings the console must never show (``masked``)."""

    variables: dict[str, Any] = field(default_factory=dict)
    masked: list[str] = field(default_factory=list)
    decryptions: int = 0  # encrypted values decrypted (benchmarks)


def is_encrypted(value: Any) -> bool:
    return isinstance(value, Mapping) and "encrypted" in value and "ciphertext" in value


def has_encrypted(value: Any) -> bool:
    if is_encrypted(value):
        return True
    if isinstance(value, Mapping):
        return any(has_encrypted(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(has_encrypted(v) for v in value)
    return False


def describe(entry: Mapping[str, Any]) -> str:
    secret = entry.get("secret") or entry.get("name") or "?"
    return f"secret '{secret}' of project '{entry.get('project') or '?'}'"


def _field(path: Sequence[str | int]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "data"


def decrypt_secret(
    entry: Mapping[str, Any], key_for: KeyLookup, out: PlaybookSecrets | None = None
) -> Any:
    """The secret's data with every encrypted value decrypted.  Decrypted
    strings are added to ``out.masked``.  Raises ``SecretError``."""
    data = entry.get("data")
    if entry.get("oidc") and data is None:
        raise SecretError(f"{describe(entry)}: OIDC secrets are not supported by Lockgate")
    if not has_encrypted(data):
        return data
    key: rsa.RSAPrivateKey | None = None

    def key_once() -> rsa.RSAPrivateKey:
        nonlocal key
        if key is None:
            connection = str(entry.get("connection") or "")
            project = str(entry.get("project") or "")
            if not connection or not project:
                raise SecretError(f"{describe(entry)}: the build request does not say whose key")
            try:
                key = key_for(connection, project)
            except KeystoreError as e:
                raise SecretError(f"{describe(entry)} cannot be decrypted: {e}") from None
        return key

    def walk(value: Any, path: tuple[str | int, ...]) -> Any:
        if is_encrypted(value):
            if value.get("encrypted") != ENCRYPTION:
                raise SecretError(
                    f"{describe(entry)}, field {_field(path)}: unsupported encryption "
                    f"{str(value.get('encrypted'))[:40]!r} (only {ENCRYPTION})"
                )
            chunks = value.get("ciphertext")
            if isinstance(chunks, str):
                chunks = [chunks]
            if not isinstance(chunks, list) or not all(isinstance(c, str) for c in chunks):
                raise SecretError(f"{describe(entry)}, field {_field(path)}: malformed ciphertext")
            try:
                text = crypto.decrypt(chunks, key_once())
            except crypto.CiphertextError as e:
                raise SecretError(f"{describe(entry)}, field {_field(path)}: {e}") from None
            if out is not None:
                out.masked.append(text)
                out.decryptions += 1
            return text
        if isinstance(value, Mapping):
            return {k: walk(v, (*path, str(k))) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [walk(v, (*path, i)) for i, v in enumerate(value)]
        return value

    return walk(data, ())


def playbook_secrets(
    entries: Sequence[Mapping[str, Any]], indexes: Sequence[int], key_for: KeyLookup
) -> PlaybookSecrets:
    """The secrets a playbook may read (``PlaybookRef.secrets`` indexes into
    the job's ``entries``), decrypted, as variables named after them."""
    out = PlaybookSecrets()
    for i in indexes:
        if not 0 <= i < len(entries):
            raise SecretError(f"secret index {i} is out of range (the job has {len(entries)})")
        entry = entries[i]
        out.variables[str(entry["name"])] = decrypt_secret(entry, key_for, out)
    return out


def check_secrets(
    entries: Sequence[Mapping[str, Any]], used: Sequence[int], key_for: KeyLookup
) -> None:
    """Decrypt (and forget) every secret in ``used``: fails the build up front
    on the first one that cannot be decrypted."""
    for i in sorted(set(used)):
        if not 0 <= i < len(entries):
            raise SecretError(f"secret index {i} is out of range (the job has {len(entries)})")
        decrypt_secret(entries[i], key_for)


def memo(key_for: KeyLookup) -> KeyLookup:
    """``key_for`` asking ZooKeeper once per project (one build's lookups)."""
    found: dict[tuple[str, str], rsa.RSAPrivateKey] = {}

    def lookup(connection: str, project: str) -> rsa.RSAPrivateKey:
        pair = (connection, project)
        if pair not in found:
            found[pair] = key_for(connection, project)
        return found[pair]

    return lookup
