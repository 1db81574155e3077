"""A local node's filesystem view and its sshd, run under bubblewrap.

Who calls it: the local provider, once per node, after the node's network
namespace exists.  What it builds, under the node's own directory::

    NODE_DIR/fs/        the node's root: writable, private (/, /root, /home,
                        /tmp, /var, /opt, /srv ... all land here)
    NODE_DIR/ssh/       the node's host key and sshd_config
    NODE_DIR/sshd.log   sshd's own log (``-e``)

Inside the sandbox the host's ``/usr`` (and so /bin, /lib*, /sbin on a
merged-/usr system) and a chosen list of harmless ``/etc`` files are bound
read-only; ``/proc`` and ``/dev`` are new and private to the node (its own PID
namespace: a job sees only its node's processes).  Nothing else of the host is
visible, so a job cannot write the host's files or another node's.

The sandbox keeps only the capabilities sshd and ordinary root jobs need (the
set Docker grants by default, minus ``CAP_MKNOD``): no ``CAP_SYS_ADMIN`` (no
mounts), no ``CAP_NET_ADMIN`` (no routes, so no way out of its /30), no
``CAP_DAC_READ_SEARCH``; bubblewrap also sets ``no_new_privs``, so no exec can
win them back.
"""

from __future__ import annotations

import glob
import os
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from lockgate.launcher.providers.base import LaunchError

# /etc entries a node needs for sshd, a login shell, Python and Ansible
# modules; bound read-only when present.  Secrets (shadow, ssh host keys,
# ssl/private ...) are deliberately absent.
ETC_READ_ONLY = (
    "passwd",
    "group",
    "nsswitch.conf",
    "ld.so.cache",
    "ld.so.conf",
    "ld.so.conf.d",
    "alternatives",
    "localtime",
    "timezone",
    "os-release",
    "debian_version",
    "lsb-release",
    "bash.bashrc",
    "profile",
    "profile.d",
    "environment",
    "login.defs",
    "shells",
    "inputrc",
    "skel",
    "protocols",
    "services",
    "host.conf",
    "gai.conf",
    "mime.types",
    "magic",
    "magic.mime",
    "terminfo",
    "locale.alias",
    "ssl/certs",
    "ssl/openssl.cnf",
    "ca-certificates.conf",
)

# Capabilities left to the node's root (see the module docstring).
CAPABILITIES = (
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_SETFCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_RAW",
    "CAP_SYS_CHROOT",
    "CAP_AUDIT_WRITE",
)

TOP_LEVEL_LINKS = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")

SSHD_CONFIG = """\
# Written by the Lockgate launcher for node {hostname}.
ListenAddress {address}
Port {port}
HostKey /etc/ssh/ssh_host_ed25519_key
PidFile /run/sshd.pid
AuthorizedKeysFile /etc/ssh/lockgate_authorized_keys
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
UseDNS no
PrintMotd no
X11Forwarding no
MaxStartups 50:30:100
MaxSessions 50
AcceptEnv LANG LC_*
Subsystem sftp /usr/lib/openssh/sftp-server
"""


@dataclass(frozen=True)
class SandboxSpec:
    """Everything needed to start one node's sandbox."""

    node_dir: Path
    hostname: str
    namespace: str
    address: str
    authorized_keys: str
    port: int = 22

    @property
    def fs(self) -> Path:
        return self.node_dir / "fs"

    @property
    def ssh_dir(self) -> Path:
        return self.node_dir / "ssh"

    @property
    def log_path(self) -> Path:
        return self.node_dir / "sshd.log"


def prepare(spec: SandboxSpec) -> str:
    """Lay out the node's private root and sshd files; return the public host
    key line (``ssh-ed25519 AAAA...``) for the node record."""
    fs = spec.fs
    for sub, mode in (
        ("etc/ssh", 0o755),
        ("root", 0o700),
        ("home", 0o755),
        ("tmp", 0o1777),
        ("var/tmp", 0o1777),
        ("var/log", 0o755),
        ("run/sshd", 0o755),
        ("usr", 0o755),
    ):
        path = fs / sub
        path.mkdir(parents=True, exist_ok=True)
        os.chmod(path, mode)
    for name in TOP_LEVEL_LINKS:
        host = Path("/") / name
        if host.is_symlink():
            os.symlink(os.readlink(host), fs / name)
    etc = fs / "etc"
    (etc / "hostname").write_text(spec.hostname + "\n")
    (etc / "hosts").write_text(
        f"127.0.0.1\tlocalhost\n{spec.address}\t{spec.hostname}\n::1\tlocalhost ip6-localhost\n"
    )
    (etc / "shadow").write_text("".join(f"{user}:*:19000:0:99999:7:::\n" for user in _users()))
    os.chmod(etc / "shadow", 0o640)

    spec.ssh_dir.mkdir(mode=0o700, exist_ok=True)
    key = spec.ssh_dir / "ssh_host_ed25519_key"
    result = subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", spec.hostname, "-f", str(key)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise LaunchError(f"ssh-keygen for node {spec.hostname}: {result.stderr.strip()}")
    (spec.ssh_dir / "sshd_config").write_text(
        SSHD_CONFIG.format(hostname=spec.hostname, address=spec.address, port=spec.port)
    )
    public = (spec.ssh_dir / "ssh_host_ed25519_key.pub").read_text().split()
    return " ".join(public[:2])


def _users() -> list[str]:
    try:
        lines = Path("/etc/passwd").read_text().splitlines()
    except OSError:
        return ["root"]
    return [line.split(":", 1)[0] for line in lines if line and not line.startswith("#")]


def command(spec: SandboxSpec) -> list[str]:
    """The argv that runs the node's sshd in its namespace and sandbox."""
    argv = ["nsenter", f"--net=/run/netns/{spec.namespace}", "--", "bwrap"]
    argv += ["--bind", str(spec.fs), "/", "--ro-bind", "/usr", "/usr"]
    for name in TOP_LEVEL_LINKS:
        host = Path("/") / name
        if host.is_dir() and not host.is_symlink():  # a system without merged /usr
            argv += ["--ro-bind", str(host), f"/{name}"]
    argv += ["--proc", "/proc", "--dev", "/dev"]
    for entry in _etc_entries():
        argv += ["--ro-bind", f"/etc/{entry}", f"/etc/{entry}"]
    ssh = spec.ssh_dir
    argv += [
        "--ro-bind", str(ssh / "ssh_host_ed25519_key"), "/etc/ssh/ssh_host_ed25519_key",
        "--ro-bind", str(ssh / "ssh_host_ed25519_key.pub"), "/etc/ssh/ssh_host_ed25519_key.pub",
        "--ro-bind", str(ssh / "sshd_config"), "/etc/ssh/sshd_config",
        "--ro-bind", spec.authorized_keys, "/etc/ssh/lockgate_authorized_keys",
    ]  # fmt: skip
    argv += [
        "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
        "--hostname", spec.hostname, "--new-session", "--chdir", "/",
        "--clearenv", "--setenv", "PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "--setenv", "LANG", "C.UTF-8",
        "--cap-drop", "ALL",
    ]  # fmt: skip
    for cap in CAPABILITIES:
        argv += ["--cap-add", cap]
    argv += ["/usr/sbin/sshd", "-D", "-e", "-f", "/etc/ssh/sshd_config"]
    return argv


def _etc_entries() -> list[str]:
    entries = [e for e in ETC_READ_ONLY if os.path.lexists(f"/etc/{e}")]
    # Debian's per-version Python configuration (sitecustomize and friends).
    entries += sorted(os.path.basename(p) for p in glob.glob("/etc/python3*"))
    return entries


def start(spec: SandboxSpec) -> subprocess.Popen[bytes]:
    """Start the sandbox; the caller waits for it with :func:`wait_ready`."""
    log = open(spec.log_path, "ab")
    try:
        return subprocess.Popen(
            command(spec),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a Ctrl-C at the launcher's terminal is not the node's
            close_fds=True,
        )
    except OSError as e:
        raise LaunchError(f"cannot start the sandbox of node {spec.hostname}: {e}") from None
    finally:
        log.close()


def wait_ready(spec: SandboxSpec, process: subprocess.Popen[bytes], timeout: float) -> None:
    """Return once the node's sshd greets on its address; ``LaunchError`` if
    the sandbox exits first or ``timeout`` passes (with sshd's last words)."""
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise LaunchError(
                f"sshd of node {spec.hostname} exited with status {process.returncode}: "
                + _log_tail(spec.log_path)
            )
        if _greets(spec.address, spec.port):
            return
        if time.monotonic() > deadline:
            raise LaunchError(
                f"sshd of node {spec.hostname} not answering on {spec.address}:{spec.port} "
                f"after {timeout:g}s: " + _log_tail(spec.log_path)
            )
        time.sleep(0.005)


def _greets(address: str, port: int) -> bool:
    try:
        with socket.create_connection((address, port), timeout=0.5) as sock:
            sock.settimeout(1.0)
            greeting = sock.recv(8)
            if greeting.startswith(b"SSH-"):
                sock.sendall(b"SSH-2.0-lockgate-launcher-probe\r\n")
                return True
            return False
    except OSError:
        return False


def _log_tail(path: Path, lines: int = 5) -> str:
    try:
        text = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return "(no log)"
    return " | ".join(text[-lines:]) or "(empty log)"
