"""A GitHub pull request's path against a Gerrit change's, end to end.

The whole system as ``lockgate up`` runs it (every component a process,
ZooKeeper over TLS, the Gerrit emulator), plus the GitHub emulator as a
second review system (a separate process speaking GitHub's REST API,
sending signed webhooks to the web process).  The same ``noop`` job in the
same ``check`` pipeline, alternately:

(a) **Gerrit**: a patchset uploaded (``stream-events``, the change queried
    over SSH, its speculative merge made by the merger), until Gerrit
    receives Lockgate's Verified +1;
(b) **GitHub**: a pull request opened (the webhook stored in ZooKeeper by
    the web, mapped by the scheduler's event source — which asks GitHub for
    the head commit —, the pull request read over REST: reviews, files,
    statuses, check runs; its speculative merge fetched from the emulator
    over git HTTP), until GitHub receives the ``success`` commit status.

Prints both medians (and 90th percentiles) and the ratio GitHub / Gerrit.
Both projects' job lists live in the config project, so a pull request's
new head branch carries no configuration and does not reconfigure the
tenant (in-repo ``.zuul.yaml`` would: same-repository PR branches are new
branches with configuration).

Run as root: /opt/lockgate/bin/python bench/github_change_path.py [RUNS]   (default 10)
(``LOCKGATE_BENCH_LOGS=DIR`` keeps the components' logs there.)
"""

from __future__ import annotations

import os
import shutil
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from lockgate.up.main import System
from lockgate.zk.server import free_port

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from bench.change_path import change_run  # noqa: E402
from tests.fixtures.github.fixture import GitHubEmulator  # noqa: E402
from tests.fixtures.waiting import wait_for  # noqa: E402

GERRIT_PROJECT = "bench/change-noop"
GITHUB_PROJECT = "bench/pr-noop"
CONTEXT = "demo/check"

CONFIG_FILES: dict[str, str | bytes] = {
    "zuul.d/pipelines.yaml": """\
- pipeline:
    name: check
    manager: independent
    trigger:
      gerrit:
        - event: patchset-created
      github:
        - event: pull_request
          action: opened
    success:
      gerrit:
        Verified: 1
      github:
        status: success
        comment: false
    failure:
      gerrit:
        Verified: -1
      github:
        status: failure
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
    "zuul.d/projects.yaml": f"""\
- project:
    name: {GERRIT_PROJECT}
    check:
      jobs: [noop]
- project:
    name: {GITHUB_PROJECT}
    check:
      jobs: [noop]
""",
}


def ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/health/ready", timeout=5) as response:
            return response.status == 200
    except OSError:
        return False


def gerrit_run(system: System, n: int) -> float:
    return change_run(system, GERRIT_PROJECT, n)


def github_run(github: GitHubEmulator, n: int) -> float:
    control = github.control
    start = time.monotonic()
    pr = control.open_pull(GITHUB_PROJECT, f"bench-{n}", {f"f{n}.txt": f"{n}\n"}, title=f"B{n}")

    def reported() -> Any:
        return [
            s
            for s in control.statuses(GITHUB_PROJECT, pr["number"])
            if s["context"] == CONTEXT and s["state"] != "pending"
        ]

    status = wait_for(reported, 120.0, f"the status of pull request {pr['number']}", interval=0.01)[
        0
    ]
    if status["state"] != "success" or status["sha"] != pr["head_sha"]:
        raise SystemExit(f"GitHub path failed: {status}")
    return time.monotonic() - start


def p90(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(0.9 * (len(ordered) - 1))))]


def main() -> int:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    root = Path(tempfile.mkdtemp(prefix="lockgate-bench-github-"))
    web_port = free_port()
    github = GitHubEmulator(
        root / "github", webhook_url=f"http://127.0.0.1:{web_port}/api/connection/github/payload"
    ).start()
    github.control.create_repo(GITHUB_PROJECT, {"README": "bench\n"})
    system = System(
        root / "state",
        web_port=web_port,
        projects={},
        review_projects={GERRIT_PROJECT: {"README": "bench\n"}},
        config_files=CONFIG_FILES,
        extra_connections=github.zuul_conf_text(),
        extra_sources={"github": [GITHUB_PROJECT]},
    )
    try:
        system.start()
        wait_for(lambda: ready(system.web_url), 120.0, "the web's ZooKeeper session", interval=0.01)
        gerrit_run(system, 0)  # warm up both paths (mirrors, tokens, caches)
        github_run(github, 0)
        gerrits: list[float] = []
        githubs: list[float] = []
        for i in range(runs):
            gerrits.append(gerrit_run(system, i + 1))
            githubs.append(github_run(github, i + 1))
        gerrit, hub = statistics.median(gerrits), statistics.median(githubs)
        print(f"runs: {runs} of each, alternating; noop job in check")
        print(
            f"Gerrit patchset -> Verified +1     median {gerrit:6.3f} s   p90 {p90(gerrits):6.3f} s"
        )
        print(f"GitHub PR opened -> success status median {hub:6.3f} s   p90 {p90(githubs):6.3f} s")
        print(f"ratio GitHub / Gerrit {hub / gerrit:.2f}   extra {hub - gerrit:+.3f} s")
    finally:
        keep = os.environ.get("LOCKGATE_BENCH_LOGS")
        if keep:
            shutil.copytree(system.state.logs, keep, dirs_exist_ok=True)
        try:
            system.stop()
        finally:
            github.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
