"""Handing a playbook its secrets without writing them to disk.

The runner decrypts a playbook's secrets (``lockgate.keys.secrets``) right
before starting it and passes them here.  ``SecretFiles.open`` puts them in
two sealed in-memory files (``memfd``) that ansible-playbook's process
inherits:

- the variables, as YAML with every string tagged ``!unsafe`` (Zuul's rule:
  a secret is never templated, so a child job cannot expose a parent's
  secret through template expansion), given with ``-e @FILE``.  In the
  bubblewrap sandbox, FILE is a read-only file bubblewrap makes from the
  descriptor inside the sandbox (``--ro-bind-data``: memory, seen by that
  playbook alone).  Without a sandbox (``[executor] sandbox = none``), it is
  a file in ``/dev/shm`` (memory) readable by the executor's user only and
  removed when the playbook ends -- Ansible resolves ``/dev/fd/N`` to a
  name it cannot open, so the descriptor cannot be named directly;
- the decrypted strings the console must mask, as JSON, named by
  ``LOCKGATE_SECRET_MASK`` (``/dev/fd/N``) for the callbacks that write
  ``job-output.txt`` and ``job-output.json`` (``ansible_plugins/masking.py``).

Nothing of them exists in the build directory, so later playbooks (which
can read that directory) find no plaintext; the descriptors are closed when
the playbook ends.  ``mask`` is the same masking for text the runner copies
into the console itself.
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

MASK = "*****"
# Shorter values are not masked: masking "1" or "yes" would garble every line.
MIN_MASKED = 4
MASK_ENV = "LOCKGATE_SECRET_MASK"
# Where a sandboxed playbook finds its secrets (a file only its sandbox has).
SANDBOX_VARS = "/run/lockgate/secrets.yaml"
_SEALS = fcntl.F_SEAL_WRITE | fcntl.F_SEAL_GROW | fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_SEAL


class _Key(str):
    """A mapping key: represented untagged (Ansible wants plain names)."""


class _UnsafeDumper(yaml.SafeDumper):
    pass


def _unsafe_str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else "'"
    return dumper.represent_scalar("!unsafe", value, style=style)


def _plain_keys(dumper: yaml.SafeDumper, value: dict[Any, Any]) -> yaml.Node:
    return dumper.represent_dict(
        {(_Key(k) if isinstance(k, str) else k): v for k, v in value.items()}
    )


_UnsafeDumper.add_representer(str, _unsafe_str)
_UnsafeDumper.add_representer(dict, _plain_keys)
_UnsafeDumper.add_representer(
    _Key, lambda d, v: d.represent_scalar("tag:yaml.org,2002:str", str(v))
)


def unsafe_yaml(data: dict[str, Any]) -> str:
    """Ansible variables YAML whose string values are all ``!unsafe``."""
    text: str = yaml.dump(
        data, Dumper=_UnsafeDumper, default_flow_style=False, sort_keys=False, allow_unicode=True
    )
    return text


def mask_values(values: Iterable[str]) -> list[str]:
    """What to mask for these decrypted strings: each one (long enough), and
    each long line of a multi-line one (a key printed line by line), longest
    first so a value is masked before its parts."""
    out: set[str] = set()
    for value in values:
        if len(value) >= MIN_MASKED:
            out.add(value)
        if "\n" in value:
            out.update(line.strip() for line in value.splitlines() if len(line.strip()) >= 8)
    return sorted(out, key=len, reverse=True)


def mask(text: str, values: Iterable[str]) -> str:
    for value in values:
        if value in text:
            text = text.replace(value, MASK)
    return text


def _memfd(name: str, content: bytes) -> int:
    fd = os.memfd_create(name, os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
    try:
        view = memoryview(content)
        while view:
            view = view[os.write(fd, view) :]
        fcntl.fcntl(fd, fcntl.F_ADD_SEALS, _SEALS)
        os.lseek(fd, 0, os.SEEK_SET)
    except BaseException:
        os.close(fd)
        raise
    return fd


@dataclass
class SecretFiles:
    """The in-memory files of one playbook's secrets; ``close`` when it ends."""

    vars_fd: int
    mask_fd: int
    masked: list[str]
    # Where ansible-playbook reads the variables: inside the sandbox, a
    # read-only file bubblewrap makes from ``vars_fd``; without a sandbox, a
    # file in /dev/shm (memory) that only this user can read, removed on close.
    vars_path: Path
    shm_file: Path | None = None

    @classmethod
    def open(
        cls, variables: dict[str, Any], decrypted: Iterable[str], *, sandboxed: bool
    ) -> SecretFiles:
        masked = mask_values(decrypted)
        content = unsafe_yaml(variables).encode("utf-8")
        vars_fd = _memfd("lockgate-secrets", content)
        try:
            mask_fd = _memfd("lockgate-mask", json.dumps(masked).encode("utf-8"))
        except BaseException:
            os.close(vars_fd)
            raise
        if sandboxed:
            return cls(vars_fd, mask_fd, masked, Path(SANDBOX_VARS))
        files = cls(vars_fd, mask_fd, masked, Path(SANDBOX_VARS))
        try:
            files.shm_file = files.vars_path = _shm_file(content)
        except BaseException:
            files.close()
            raise
        return files

    @property
    def fds(self) -> tuple[int, int]:
        """What the process inherits."""
        return (self.vars_fd, self.mask_fd)

    @property
    def data_files(self) -> list[tuple[int, str]]:
        """For ``SandboxPolicy.wrap``: the variables file inside the sandbox."""
        return [] if self.shm_file is not None else [(self.vars_fd, SANDBOX_VARS)]

    @property
    def env(self) -> dict[str, str]:
        return {MASK_ENV: f"/dev/fd/{self.mask_fd}"}

    def close(self) -> None:
        for fd in self.fds:
            try:
                os.close(fd)
            except OSError:
                pass
        if self.shm_file is not None:
            self.shm_file.unlink(missing_ok=True)


def _shm_file(content: bytes) -> Path:
    root = Path("/dev/shm") if Path("/dev/shm").is_dir() else Path(tempfile.gettempdir())
    path = root / f"lockgate-secrets-{secrets.token_hex(16)}.yaml"
    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(content)
    return path
