"""A per-build ssh-agent holding the executor's private key.

The runner starts one when a build has nodes reached over SSH.  Ansible
(inside the sandbox) authenticates through the agent's socket; the key file
itself is never visible to the build.  The socket lives in a short private
directory of its own (``/tmp/lg-agent-XXXX``), not in the build tree: a
Unix socket path may not exceed 107 bytes, and build paths can be longer.
The runner binds that directory into the sandbox.  The agent is stopped by
its PID, and the directory removed, when the build ends; if the executor is
killed, the agent dies with it (``bwrap --die-with-parent``, when bubblewrap
is installed), though its empty directory stays behind.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path


class SshAgentError(Exception):
    """The agent could not be started or the key not loaded."""


class SshAgent:
    def __init__(self, key_file: Path):
        self.key_file = key_file
        self.directory: Path | None = None
        self._proc: subprocess.Popen[str] | None = None

    @property
    def socket_path(self) -> Path:
        assert self.directory is not None, "agent not started"
        return self.directory / "agent.sock"

    def start(self) -> None:
        if not self.key_file.is_file():
            raise SshAgentError(
                f"private key {self.key_file} not found ([executor] private_key_file)"
            )
        self.directory = Path(tempfile.mkdtemp(prefix="lg-agent-"))
        command = ["ssh-agent", "-D", "-a", str(self.socket_path)]
        bwrap = shutil.which("bwrap")
        if bwrap:
            # Not a sandbox: the same view of the system, plus
            # --die-with-parent, so the agent cannot outlive a killed
            # executor (ssh-agent is setgid: a plain PR_SET_PDEATHSIG would
            # not survive its exec; bwrap's no_new_privs keeps it).
            command = [bwrap, "--dev-bind", "/", "/", "--die-with-parent", "--", *command]
        self._proc = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            start_new_session=True,
        )
        # The agent prints its environment line once the socket is listening.
        assert self._proc.stdout is not None
        first = self._proc.stdout.readline()
        if "SSH_AUTH_SOCK" not in first:
            self.stop()
            raise SshAgentError(f"ssh-agent did not start: {first.strip()}")
        env = {"SSH_AUTH_SOCK": str(self.socket_path), "PATH": os.environ.get("PATH", "")}
        added = subprocess.run(
            ["ssh-add", "-q", str(self.key_file)],
            env=env,
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=30,
        )
        if added.returncode != 0:
            self.stop()
            raise SshAgentError(f"ssh-add {self.key_file}: {added.stderr.strip()}")

    def add_key_data(self, private_pem: str, name: str) -> None:
        """Add a key given as (unencrypted) PEM text -- a project's SSH key --
        through ssh-add's standard input, so it never touches a file."""
        env = {"SSH_AUTH_SOCK": str(self.socket_path), "PATH": os.environ.get("PATH", "")}
        added = subprocess.run(
            ["ssh-add", "-q", "-"],
            env=env,
            input=private_pem,
            capture_output=True,
            text=True,
            timeout=30,
        )
        if added.returncode != 0:
            raise SshAgentError(f"ssh-add of {name}: {added.stderr.strip()}")

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)
        if proc is None:
            return
        try:
            os.kill(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout:
            proc.stdout.close()
