"""What the executor adds to a build over bare ``ansible-playbook``.

For the same trivial playbook (one ``command`` task on localhost), runs
alternately (a) bare ``ansible-playbook`` with a one-line inventory and (b)
a whole build through ``JobRunner``: fresh build directory, checkout from
the mirror cache, inventory and ``zuul`` variables, the bubblewrap sandbox,
the console and JSON callbacks, cleanup.  Prints the medians and the
difference, and the same for ``sandbox = none``.

Run: /opt/lgvenv/bin/python bench/executor_overhead.py [RUNS]   (default 20)
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from lockgate.executor.runner import JobRunner
from lockgate.executor.settings import ExecutorSettings
from lockgate.model.builds import BuildRequest, BuildResult, RepoState
from lockgate.model.jobs import FrozenJob, PlaybookRef
from lockgate.service_config import ServiceConfig

PLAYBOOK = """- hosts: localhost
  gather_facts: false
  tasks:
    - command: echo hello
"""


def git(*args: str, cwd: Path) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=b", "-c", "user.email=b@b", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


def make_repo(root: Path) -> tuple[Path, str]:
    repo = root / "upstream"
    repo.mkdir()
    git("init", "-q", "-b", "master", cwd=repo)
    (repo / "run.yaml").write_text(PLAYBOOK)
    git("add", "run.yaml", cwd=repo)
    git("commit", "-q", "-m", "playbook", cwd=repo)
    return repo, git("rev-parse", "HEAD", cwd=repo)


def request(repo: Path, commit: str) -> BuildRequest:
    project = RepoState(
        connection="git",
        project="bench/app",
        canonical_name="example.org/bench/app",
        url=str(repo),
        branch="master",
        ref="refs/heads/master",
        commit=commit,
    )
    job = FrozenJob(
        name="bench", run=[PlaybookRef(path="run.yaml", connection="git", project="bench/app")]
    )
    return BuildRequest(
        uuid=uuid.uuid4().hex,
        tenant="t",
        pipeline="check",
        buildset_uuid=uuid.uuid4().hex,
        event_id=uuid.uuid4().hex,
        job=job,
        project=project,
        repos=[project],
    )


def measure(root: Path, sandbox: str, runs: int) -> tuple[float, float]:
    (root / sandbox).mkdir()
    repo, commit = make_repo(root / sandbox)
    config = ServiceConfig.parse(
        f"[executor]\nstate_dir = {root / sandbox / 'state'}\nsandbox = {sandbox}\n"
    )
    runner = JobRunner(ExecutorSettings.from_config(config))
    inventory = root / "inventory"
    inventory.write_text(
        f"localhost ansible_connection=local ansible_python_interpreter={sys.executable}\n"
    )
    playbook = root / "run.yaml"
    playbook.write_text(PLAYBOOK)
    env = dict(os.environ, ANSIBLE_HOME=str(root / "ah"), ANSIBLE_LOCAL_TEMP=str(root / "lt"))
    bare_cmd = [
        str(Path(sys.executable).parent / "ansible-playbook"),
        "-i",
        str(inventory),
        str(playbook),
    ]
    runner.run(request(repo, commit), [])  # warm the mirror cache
    bare, ours = [], []
    for _ in range(runs):
        t = time.monotonic()
        subprocess.run(bare_cmd, env=env, stdout=subprocess.DEVNULL, check=True)
        bare.append(time.monotonic() - t)
        t = time.monotonic()
        outcome = runner.run(request(repo, commit), [])
        ours.append(time.monotonic() - t)
        assert outcome.result is BuildResult.SUCCESS, outcome
    return statistics.median(bare), statistics.median(ours)


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    root = Path(tempfile.mkdtemp(prefix="lockgate-bench-"))
    try:
        for sandbox in ("bubblewrap", "none"):
            bare, ours = measure(root, sandbox, runs)
            print(
                f"sandbox={sandbox:10} runs={runs}  bare ansible-playbook {bare:.3f}s  "
                f"JobRunner build {ours:.3f}s  added {ours - bare:+.3f}s"
            )
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
