"""``main(config)`` as a real process: SIGTERM stops builds cleanly, SIGKILL
leaves no playbook behind, bad configuration is one line and status 2."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from lockgate.model.builds import BuildState
from lockgate.zk import BuildRequestStore, list_components

from tests.fixtures.executor import make_request, playbooks
from tests.fixtures.waiting import wait_for

SLOW = """
- hosts: all
  gather_facts: false
  tasks:
    - command: sleep {n}
"""
LAUNCH = (
    "import sys; from lockgate.service_config import ServiceConfig; "
    "from lockgate.executor.server import main; "
    "sys.exit(main(ServiceConfig.load(sys.argv[1])))"
)


def _config(tmp_path: Path, zk_server, chroot: str) -> Path:
    tls = zk_server.tls.client
    path = tmp_path / "executor.conf"
    path.write_text(
        f"[zookeeper]\nhosts = {zk_server.server.hosts}\ntls_ca = {tls.ca}\n"
        f"tls_cert = {tls.cert}\ntls_key = {tls.key}\nchroot = {chroot}\n"
        f"[executor]\nstate_dir = {tmp_path / 'state'}\nhostname = ex-main\n"
    )
    return path


def _start(config: Path, tmp_path: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-c", LAUNCH, str(config)],
        stdout=subprocess.DEVNULL,
        stderr=open(tmp_path / "stderr", "wb"),
    )  # noqa: SIM115


def _sleepers(n: int) -> list[str]:
    found = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if f"sleep {n}" in cmd:
                found.append(cmd)
    return found


def _run_until_playbook(zk_client, upstream, proc, n: int) -> tuple[BuildRequestStore, str]:
    wait_for(lambda: list_components(zk_client, "executor"), 30, "the executor to register")
    tree = upstream.create("org/app", {"run.yaml": SLOW.format(n=n)})
    request = make_request(tree, run=playbooks(tree, ["run.yaml"]))
    store = BuildRequestStore(zk_client, "default")
    store.submit(request)
    wait_for(lambda: _sleepers(n), 60, "the playbook's command")
    assert proc.poll() is None
    return store, request.uuid


def test_sigterm_aborts_builds_and_exits_cleanly(
    zk_server, zk_chroot, zk_client, upstream, tmp_path
):
    proc = _start(_config(tmp_path, zk_server, zk_chroot), tmp_path)
    try:
        store, uuid = _run_until_playbook(zk_client, upstream, proc, 3604)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0, (tmp_path / "stderr").read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    # The playbook's group is killed, its members reaped by the kernel a
    # moment later; the lock and registration go with the session, which
    # the server may close only after the process is gone: wait for each.
    wait_for(lambda: not _sleepers(3604), 30, "the playbook's command to end")
    record = store.get(uuid).record
    assert record.state is BuildState.RUNNING and record.result is None
    wait_for(
        lambda: [v.record.uuid for v in store.orphaned()] == [uuid], 30, "the request unlocked"
    )
    wait_for(lambda: list_components(zk_client, "executor") == [], 30, "the registration gone")


def test_sigkill_takes_the_playbook_with_it(zk_server, zk_chroot, zk_client, upstream, tmp_path):
    proc = _start(_config(tmp_path, zk_server, zk_chroot), tmp_path)
    try:
        _run_until_playbook(zk_client, upstream, proc, 3605)
        proc.kill()
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    # bubblewrap's --die-with-parent ends the sandbox with the executor.
    wait_for(lambda: not _sleepers(3605), 30, "the sandboxed playbook to end")


def test_bad_config_is_one_line_and_status_2(tmp_path):
    path = tmp_path / "bad.conf"
    path.write_text("[zookeeper]\nhosts = 127.0.0.1:1\n[executor]\nmax_builds = lots\n")
    proc = subprocess.run(
        [sys.executable, "-c", LAUNCH, str(path)], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        f"lockgate executor: {path}: [executor] max_builds: expected an integer, got 'lots'"
    )
