"""A project's keys as stored in ZooKeeper: the record ``lockgate.zk.keys`` keeps.

``lockgate.keys.keystore`` makes and reads these records; ``lockgate.keys.transfer``
turns them into Zuul's ``export-keys`` shape and back.  Private keys are PEM
encrypted with the keystore password (``[keystore] password``), so the record
is safe at rest; the public halves are stored beside them in the clear, so
the web can serve them without the password.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lockgate.model.serial import to_dict


@dataclass
class StoredKey:
    """One private key, as Zuul's keystore keeps it (``version``, ``created``)."""

    private_key: str  # PEM, encrypted with the keystore password
    version: int = 0
    created: int = 0  # seconds since the epoch

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StoredKey:
        return cls(
            private_key=str(data["private_key"]),
            version=int(data.get("version", 0)),
            created=int(data.get("created", 0)),
        )


@dataclass
class ProjectKeys:
    """The secrets key (RSA 4096) and SSH key (RSA 2048) of one project."""

    connection: str
    project: str  # as named in the tenant config
    secrets: StoredKey
    public_key: str  # the secrets key's public half, PEM
    ssh: StoredKey | None = None
    ssh_public_key: str | None = None  # "ssh-rsa AAAA..."

    def to_dict(self) -> dict[str, Any]:
        return to_dict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ProjectKeys:
        ssh = data.get("ssh")
        return cls(
            connection=str(data["connection"]),
            project=str(data["project"]),
            secrets=StoredKey.from_dict(data["secrets"]),
            public_key=str(data["public_key"]),
            ssh=StoredKey.from_dict(ssh) if ssh else None,
            ssh_public_key=data.get("ssh_public_key"),
        )
