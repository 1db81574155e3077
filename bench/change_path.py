"""What the change path costs over the push path, end to end.

The same job, through the whole system as ``lockgate up`` runs it (every
component a process, ZooKeeper over TLS, the Gerrit emulator as the review
system), alternately:

(a) **push**: a commit pushed to a project on the ``local`` git connection
    (polled every 0.1 s), its ``post`` item reported (the buildset's result
    in the REST API);
(b) **change**: a patchset uploaded to a Gerrit project (``stream-events``,
    the change queried, its speculative merge made by the merger), its
    ``check`` item reported (Lockgate's Verified vote received by Gerrit).

Both for a ``noop`` job (no node, no Ansible: the pipeline machinery alone)
and for a one-task Ansible job on a node of the local cloud.  Prints the
medians, and the change path's extra time over the push path (target: at
most 0.3 s).  The push path includes half the poll delay (~0.05 s).

Run as root: /opt/lockgate/bin/python bench/change_path.py [RUNS]   (default 10)
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from lockgate.up.main import System
from lockgate.zk.server import free_port

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.fixtures.waiting import wait_for  # noqa: E402

PLAYBOOK = """\
- hosts: all
  gather_facts: false
  tasks:
    - name: Trivial
      ansible.builtin.command: echo hello
"""

CONFIG_FILES: dict[str, str | bytes] = {
    "zuul.d/pipelines.yaml": """\
- pipeline:
    name: post
    manager: independent
    trigger:
      local:
        - event: ref-updated
          ref: ^refs/heads/.*$
- pipeline:
    name: check
    manager: independent
    trigger:
      gerrit:
        - event: patchset-created
    success:
      gerrit:
        Verified: 1
    failure:
      gerrit:
        Verified: -1
""",
    "zuul.d/jobs.yaml": """\
- nodeset:
    name: default
    nodes:
      - name: node
        label: debian
- job:
    name: base
    parent: null
    nodeset: default
""",
}


def project_files(job: str, pipeline: str) -> dict[str, str | bytes]:
    if job == "noop":
        return {".zuul.yaml": f"- project:\n    {pipeline}:\n      jobs: [noop]\n"}
    return {
        ".zuul.yaml": f"- job:\n    name: {job}\n    run: run.yaml\n"
        f"- project:\n    {pipeline}:\n      jobs: [{job}]\n",
        "run.yaml": PLAYBOOK,
    }


def api(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


def push_run(system: System, project: str) -> float:
    start = time.monotonic()
    newrev = system.push(project)
    url = f"{system.web_url}/api/tenant/demo/buildsets?newrev={newrev}&complete=true"
    sets = wait_for(lambda: api(url), 120.0, f"the buildset of {newrev[:12]}", interval=0.01)
    if sets[0]["result"] != "SUCCESS":
        raise SystemExit(f"push path failed: {sets[0]}")
    return time.monotonic() - start


def change_run(system: System, project: str, n: int) -> float:
    """Seconds from uploading patchset ``n`` to ``project`` to Gerrit
    receiving Lockgate's Verified +1 (bench/github_change_path.py runs it too)."""
    control = system.review.control
    start = time.monotonic()
    change = control.create_change(project, {f"f{n}.txt": f"{n}\n"}, f"Bench {n}", branch="main")
    number = int(change["number"])

    def voted() -> Any:
        return [
            r
            for r in control.reviews(change=number)
            if r["account"] == "lockgate" and r["kind"] == "review"
        ]

    review = wait_for(voted, 120.0, f"the vote on change {number}", interval=0.01)[0]
    if review["labels"].get("Verified") != 1:
        raise SystemExit(f"change path failed: {review}")
    return time.monotonic() - start


def main() -> int:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    root = Path(tempfile.mkdtemp(prefix="lockgate-bench-"))
    system = System(
        root / "state",
        web_port=free_port(),
        projects={
            "bench/push-noop": project_files("noop", "post"),
            "bench/push-job": project_files("push-job", "post"),
        },
        review_projects={
            "bench/change-noop": project_files("noop", "check"),
            "bench/change-job": project_files("change-job", "check"),
        },
        config_files=CONFIG_FILES,
        poll_delay=0.1,
    )
    try:
        system.start()
        figures: dict[str, tuple[float, float]] = {}
        for kind in ("noop", "job"):
            push_run(system, f"bench/push-{kind}")  # warm up mirrors and nodes
            change_run(system, f"bench/change-{kind}", 0)
            pushes: list[float] = []
            changes: list[float] = []
            for i in range(runs):
                pushes.append(push_run(system, f"bench/push-{kind}"))
                changes.append(change_run(system, f"bench/change-{kind}", i + 1))
            figures[kind] = (statistics.median(pushes), statistics.median(changes))
        print(f"runs: {runs} of each, alternating")
        for kind, (push, change) in figures.items():
            label = "noop job" if kind == "noop" else "one-task Ansible job"
            print(
                f"{label:22s} push -> reported {push:6.3f} s   "
                f"patchset -> Verified {change:6.3f} s   "
                f"extra {change - push:+.3f} s   ratio {change / push:.2f}"
            )
    finally:
        system.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
