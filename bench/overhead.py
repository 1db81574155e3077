"""What Lockgate adds to a build over bare Ansible, end to end.

For the same trivial playbook (one ``command`` task on one node), alternately:

(a) bare ``ansible-playbook`` against a node of the local cloud made
    beforehand (the same provider, key and SSH settings the executor uses);
(b) a push to a project whose post-pipeline job runs that playbook, through
    the whole system started as by ``lockgate up`` (every component a
    process, ZooKeeper over TLS): git poll -> trigger event -> scheduler ->
    node request -> launcher makes a node -> build request -> executor ->
    result in SQL and the API.

Prints the medians of both, the difference (Lockgate's overhead per build,
target < 0.5 s), and the event -> playbook-start latency (from the push to
the start of the job's playbook, read from the build's job-output.json).
The git poll delay is set to 0.1 s, so half of it (~0.05 s) is in (b).

Run as root: /opt/lockgate/bin/python bench/overhead.py [RUNS]   (default 20)
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from lockgate.executor.ansible_setup import SSH_ARGS_SHARED
from lockgate.launcher.providers.local import LocalProvider
from lockgate.service_config import ServiceConfig
from lockgate.up.main import System
from lockgate.up.prereqs import ansible_playbook
from lockgate.zk.server import free_port

PLAYBOOK = """\
- hosts: all
  gather_facts: false
  tasks:
    - name: Trivial
      ansible.builtin.command: echo hello
"""

CONFIG_FILES: dict[str, str | bytes] = {
    "zuul.d/pipelines.yaml": (
        "- pipeline:\n    name: post\n    manager: independent\n    trigger:\n"
        "      local:\n        - event: ref-updated\n          ref: ^refs/heads/.*$\n"
    ),
    "zuul.d/jobs.yaml": (
        "- nodeset:\n    name: default\n    nodes:\n      - name: node\n        label: debian\n"
        "- job:\n    name: base\n    parent: null\n    nodeset: default\n"
    ),
}
PROJECT = "bench/trivial"
PROJECT_FILES: dict[str, str | bytes] = {
    ".zuul.yaml": "- job:\n    name: trivial\n    run: run.yaml\n"
    "- project:\n    post:\n      jobs: [trivial]\n",
    "run.yaml": PLAYBOOK,
}


def api(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


def parse_time(value: str) -> float:
    stamp = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=dt.UTC)
    return stamp.timestamp()


def bare_run(node: Any, key: Path, workdir: Path) -> float:
    workdir.mkdir(parents=True, exist_ok=True)
    inventory = workdir / "inventory.yaml"
    inventory.write_text(
        json.dumps(
            {
                "all": {
                    "hosts": {
                        "node": {
                            "ansible_host": node.interface_ip,
                            "ansible_port": node.connection_port,
                            "ansible_user": node.username,
                            "ansible_python_interpreter": node.python_path,
                            "ansible_ssh_private_key_file": str(key),
                        }
                    }
                }
            }
        )
    )
    known_hosts = workdir / "known_hosts"
    known_hosts.write_text("".join(f"{node.interface_ip} {k}\n" for k in node.host_keys))
    playbook = workdir / "run.yaml"
    playbook.write_text(PLAYBOOK)
    # The baseline gets the same Ansible tuning the executor uses (pipelining,
    # one shared SSH connection per playbook run, no fact gathering), so the
    # difference is Lockgate's own work, not a handicapped baseline.
    control_dir = Path(tempfile.mkdtemp(prefix="lgb-", dir="/tmp"))
    ssh_args = (
        f"{SSH_ARGS_SHARED} -o ControlPath={control_dir}/%C -o UserKnownHostsFile={known_hosts}"
    )
    env = dict(
        os.environ,
        ANSIBLE_HOME=str(workdir / "ansible"),
        ANSIBLE_LOCAL_TEMP=str(workdir / "tmp"),
        ANSIBLE_SSH_ARGS=ssh_args,
        ANSIBLE_PIPELINING="True",
        ANSIBLE_GATHERING="explicit",
        ANSIBLE_RETRY_FILES_ENABLED="False",
        ANSIBLE_NOCOLOR="1",
    )
    start = time.monotonic()
    proc = subprocess.run(
        [str(ansible_playbook()), "-i", str(inventory), str(playbook)],
        env=env,
        capture_output=True,
        text=True,
    )
    took = time.monotonic() - start
    # Stop the shared connection's master (the executor's sandbox does the same).
    target = f"{node.username}@{node.interface_ip}"
    subprocess.run(
        ["ssh", "-o", f"ControlPath={control_dir}/%C", "-O", "exit", target], capture_output=True
    )
    shutil.rmtree(control_dir, ignore_errors=True)
    if proc.returncode != 0:
        raise SystemExit(f"bare ansible-playbook failed:\n{proc.stdout}\n{proc.stderr}")
    return took


def playbook_start(log_url: str) -> float | None:
    """When the job's own playbook started (the last playbook in job-output.json)."""
    try:
        record = api(log_url + "job-output.json")
    except OSError:
        return None
    plays = record if isinstance(record, list) else record.get("playbooks", [])
    starts = []
    for entry in plays:
        for play in entry.get("plays", []):
            start = (play.get("play") or {}).get("duration", {}).get("start")
            if start:
                starts.append(parse_time(start))
    return min(starts) if starts else None


def lockgate_run(system: System) -> tuple[float, float | None]:
    start = time.time()
    newrev = system.push(PROJECT)
    url = f"{system.web_url}/api/tenant/demo/builds?newrev={newrev}&job_name=trivial&complete=true"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        builds = api(url)
        if builds:
            build = builds[0]
            if build["result"] != "SUCCESS":
                raise SystemExit(f"build failed: {build}")
            # The API's times have one-second resolution: measure completion
            # here (the poll adds at most its 20 ms interval).
            end = time.time()
            pstart = playbook_start(build["log_url"])
            return end - start, (pstart - start) if pstart else None
        time.sleep(0.02)
    raise SystemExit("build did not finish in 120 s")


def main() -> int:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    root = Path(tempfile.mkdtemp(prefix="lockgate-bench-"))
    system = System(
        root / "state",
        web_port=free_port(),
        projects={PROJECT: PROJECT_FILES},
        config_files=CONFIG_FILES,
        poll_delay=0.1,
    )
    provider = None
    node = None
    try:
        system.start()
        config = ServiceConfig.load(system.state.config_file)
        provider = LocalProvider(config.section("provider local"), root / "bench-launcher")
        node = provider.create_node("debian")
        bare: list[float] = []
        full: list[float] = []
        latency: list[float] = []
        lockgate_run(system)  # warm up caches (git mirrors, first node)
        for i in range(runs):
            bare.append(bare_run(node, system.state.ssh_key, root / f"bare-{i}"))
            total, to_start = lockgate_run(system)
            full.append(total)
            if to_start is not None:
                latency.append(to_start)
        a, b = statistics.median(bare), statistics.median(full)
        print(f"runs: {runs}")
        print(f"(a) bare ansible-playbook on a local node: median {a:.3f} s")
        print(f"(b) push -> result through Lockgate:       median {b:.3f} s")
        print(f"Lockgate overhead per build: {b - a:+.3f} s (ratio {b / a:.2f}x; target < 0.5 s)")
        if latency:
            print(f"event -> playbook start: median {statistics.median(latency):.3f} s")
        else:
            print("event -> playbook start: not available (no play start in job-output.json)")
    finally:
        if provider is not None and node is not None:
            provider.delete_node(node)
        system.stop()
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
