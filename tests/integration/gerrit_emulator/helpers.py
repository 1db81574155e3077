"""Real clients for the emulator tests: paramiko for SSH commands and the event
stream, the git binary for clones and fetches, requests for REST."""

from __future__ import annotations

import json
import os
import queue
import shlex
import subprocess
import threading
from pathlib import Path
from typing import Any

import paramiko
import requests

from tests.fixtures.gerrit.fixture import GerritEmulator

XSSI = ")]}'\n"


def ssh_client(
    g: GerritEmulator, user: str = "lockgate", key: Path | None = None
) -> paramiko.SSHClient:
    client = paramiko.SSHClient()
    known = g.root / "known_hosts"
    g.write_known_hosts(known)
    client.load_host_keys(str(known))
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    client.connect(
        "127.0.0.1",
        port=g.ssh_port,
        username=user,
        key_filename=str(key or g.accounts[user].key_file),
        look_for_keys=False,
        allow_agent=False,
        timeout=10,
    )
    return client


def ssh_run(
    g: GerritEmulator,
    command: str,
    stdin: str | None = None,
    user: str = "lockgate",
    timeout: float = 30,
) -> tuple[int, str, str]:
    client = ssh_client(g, user)
    try:
        chan = client.get_transport().open_session()  # type: ignore[union-attr]
        chan.settimeout(timeout)
        chan.exec_command(command)
        if stdin is not None:
            chan.sendall(stdin.encode())
        chan.shutdown_write()
        out = chan.makefile("rb").read().decode()
        err = chan.makefile_stderr("rb").read().decode()
        return chan.recv_exit_status(), out, err
    finally:
        client.close()


def query(g: GerritEmulator, q: str, *flags: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Rows and the stats row of ``gerrit query --format json``."""
    status, out, err = ssh_run(
        g, "gerrit query --format json " + " ".join(flags) + " " + shlex.quote(q)
    )
    assert status == 0, (out, err)
    lines = [json.loads(line) for line in out.splitlines() if line.strip()]
    return lines[:-1], lines[-1]


class EventStream:
    """A ``gerrit stream-events`` session read on a thread into a queue."""

    def __init__(self, g: GerritEmulator, *types: str, user: str = "lockgate"):
        self.client = ssh_client(g, user)
        self.chan = self.client.get_transport().open_session()  # type: ignore[union-attr]
        cmd = "gerrit stream-events" + "".join(f" -s {t}" for t in types)
        self.chan.exec_command(cmd)
        self.events: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.closed = threading.Event()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        f = self.chan.makefile("rb")
        try:
            for line in f:
                self.events.put(json.loads(line))
        except (OSError, EOFError, paramiko.SSHException):
            pass
        finally:
            self.closed.set()
            self.events.put(None)

    def next(
        self, type_: str | None = None, timeout: float = 10, skip_meta: bool = True
    ) -> dict[str, Any]:
        """The next event (of ``type_``), skipping NoteDb meta ref updates."""
        while True:
            event = self.events.get(timeout=timeout)
            if event is None:
                raise AssertionError("stream closed")
            if (
                skip_meta
                and event.get("type") == "ref-updated"
                and event["refUpdate"]["refName"].startswith("refs/changes/")
            ):
                continue
            if type_ is None or event["type"] == type_:
                return event

    def close(self) -> None:
        self.client.close()
        self.thread.join(5)


def git(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    full_env = dict(os.environ, GIT_TERMINAL_PROMPT="0", LC_ALL="C", **(env or {}))
    proc = subprocess.run(
        ["git", "-c", "user.name=Tester", "-c", "user.email=t@example.com", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=full_env,
    )
    if proc.returncode != 0:
        raise AssertionError(f"git {' '.join(args)}: {proc.stderr}")
    return proc.stdout.strip()


def git_ssh_env(g: GerritEmulator, user: str = "lockgate") -> dict[str, str]:
    known = g.write_known_hosts(g.root / "known_hosts")
    key = g.accounts[user].key_file
    return {
        "GIT_SSH_COMMAND": f"ssh -i {key} -o UserKnownHostsFile={known} "
        "-o StrictHostKeyChecking=yes -o IdentitiesOnly=yes "
        "-o BatchMode=yes"
    }


def rest(
    g: GerritEmulator,
    method: str,
    path: str,
    user: str | None = "lockgate",
    password: str | None = None,
    **kwargs: Any,
) -> requests.Response:
    auth = None
    if user is not None:
        auth = (user, password if password is not None else g.accounts[user].http_password)
    return requests.request(method, g.baseurl + path, auth=auth, timeout=30, **kwargs)


def rest_json(response: requests.Response) -> Any:
    assert response.status_code < 300, (response.status_code, response.text)
    assert response.text.startswith(XSSI), response.text[:20]
    return json.loads(response.text[len(XSSI) :])
