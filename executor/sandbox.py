"""The bubblewrap sandbox every ``ansible-playbook`` of a build runs in.

The runner asks ``SandboxPolicy.wrap`` for the command line of each
playbook.  Inside, the process sees a minimal system (``/usr``, a few files
of ``/etc``, the Python that runs Ansible, read-only) and, of this
executor's files, only its own build directory:

- ``work/`` and ``tmp/`` (``TMPDIR``) and the build's published log directory
  are writable; ``/tmp`` is a private, empty tmpfs;
- ``ansible/`` (inventory, vars, ansible.cfg) is read-only, so a playbook
  cannot change how the next one runs;
- the executor's state directory, its private key (the sandbox only gets an
  ssh-agent socket), the service configuration and other builds are not
  there at all.

Namespaces are all unshared (``--unshare-all``); the network is shared back
only when a playbook must reach remote nodes or is trusted.  Trusted
playbooks (from config projects) additionally get ``trusted_ro_paths`` /
``trusted_rw_paths``; untrusted ones get ``untrusted_*``.  With ``[executor]
sandbox = none`` the command runs unwrapped (for machines without
bubblewrap; not for untrusted code).
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from lockgate.executor.jobdir import JobDir
from lockgate.service_config import Section

# Files of /etc a Python program, ssh and git need; the rest of /etc (the
# service configuration, sshd's host keys, ...) stays out.
_ETC_FILES = (
    "/etc/passwd",
    "/etc/group",
    "/etc/hosts",
    "/etc/resolv.conf",
    "/etc/nsswitch.conf",
    "/etc/host.conf",
    "/etc/localtime",
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/ssl",
    "/etc/ca-certificates",
    "/etc/alternatives",
    "/etc/ssh/ssh_config",
    "/etc/ssh/ssh_config.d",
    "/etc/gitconfig",
    "/etc/mime.types",
    "/etc/services",
    "/etc/protocols",
)
_TOP_DIRS = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")


class SandboxError(Exception):
    """The sandbox cannot be used (bubblewrap missing, bad path setting)."""


def _split_paths(value: str | None) -> list[str]:
    if not value:
        return []
    return [os.path.expanduser(p) for p in value.replace(",", ":").split(":") if p.strip()]


def python_roots() -> list[str]:
    """Directories that hold the Python running Ansible (venv and its base install)."""
    roots = {os.path.realpath(sys.prefix), sys.prefix, os.path.realpath(sys.base_prefix)}
    exe = os.path.realpath(sys.executable)
    roots.add(str(Path(exe).parent.parent))
    return sorted(roots)


@dataclass
class SandboxPolicy:
    kind: str = "bubblewrap"  # or "none"
    trusted_ro_paths: list[str] = field(default_factory=list)
    trusted_rw_paths: list[str] = field(default_factory=list)
    untrusted_ro_paths: list[str] = field(default_factory=list)
    untrusted_rw_paths: list[str] = field(default_factory=list)
    # Read-only extras every sandbox needs (our Ansible plugins).
    extra_ro_paths: list[str] = field(default_factory=list)
    bwrap: str = "bwrap"

    @classmethod
    def from_config(cls, section: Section, extra_ro_paths: list[str]) -> SandboxPolicy:
        kind = (section.get("sandbox") or "bubblewrap").strip().lower()
        if kind not in ("bubblewrap", "none"):
            raise section.error("sandbox", f"expected bubblewrap or none, got {kind!r}")
        policy = cls(
            kind=kind,
            trusted_ro_paths=_split_paths(section.get("trusted_ro_paths")),
            trusted_rw_paths=_split_paths(section.get("trusted_rw_paths")),
            untrusted_ro_paths=_split_paths(section.get("untrusted_ro_paths")),
            untrusted_rw_paths=_split_paths(section.get("untrusted_rw_paths")),
            extra_ro_paths=extra_ro_paths,
        )
        if kind == "bubblewrap":
            found = shutil.which("bwrap")
            if not found:
                raise section.error(
                    "sandbox",
                    "bubblewrap (bwrap) is not installed; install it or set sandbox = none",
                )
            policy.bwrap = found
        return policy

    def wrap(
        self,
        command: list[str],
        jobdir: JobDir,
        *,
        trusted: bool,
        network: bool,
        extra_rw: list[str] | None = None,
        data_files: Sequence[tuple[int, str]] = (),
    ) -> list[str]:
        """The command line that runs ``command`` in this build's sandbox.
        ``data_files``: ``(fd, path)`` -- the content of the (inherited)
        descriptor appears read-only at ``path`` inside, in memory only (a
        playbook's secrets)."""
        if self.kind == "none":
            return command
        args = [self.bwrap, "--unshare-all", "--die-with-parent"]
        if network or trusted:
            args.append("--share-net")
        args += [
            "--ro-bind",
            "/usr",
            "/usr",
            "--proc",
            "/proc",
            "--dev",
            "/dev",
            "--tmpfs",
            "/run",
            "--tmpfs",
            "/tmp",
            "--dir",
            "/etc",
        ]
        for top in _TOP_DIRS:
            if os.path.islink(top):
                args += ["--symlink", os.readlink(top), top]
            elif os.path.isdir(top):
                args += ["--ro-bind", top, top]
        for path in _ETC_FILES:
            if os.path.exists(path):
                args += ["--ro-bind", path, path]
        ro = python_roots() + self.extra_ro_paths
        ro += self.trusted_ro_paths if trusted else self.untrusted_ro_paths
        for path in ro:
            if os.path.exists(path):
                args += ["--ro-bind", path, path]
        root = str(jobdir.root)
        args += ["--ro-bind", root, root]
        rw = [str(jobdir.work_root), str(jobdir.tmp_root), str(jobdir.log_dir)]
        rw += self.trusted_rw_paths if trusted else self.untrusted_rw_paths
        rw += extra_rw or []
        for path in rw:
            if os.path.exists(path):
                args += ["--bind", path, path]
        for fd, path in data_files:
            args += ["--ro-bind-data", str(fd), path]
        # The sandbox's own root (a tmpfs holding the mount points) becomes
        # read-only: nothing can be written but the binds above and /tmp.
        args += ["--remount-ro", "/", "--chdir", str(jobdir.work_root), "--"]
        return args + command
