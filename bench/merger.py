"""Merge requests per second served by one executor's merger, against the
same three ``git merge`` commands run directly in a shell loop.

The repository has 10,000 commits (100 files); three changes, based a few
commits behind master, are merged in order (merge-resolve) onto master.
Lockgate's figure is end to end: requests submitted to a real TLS ZooKeeper,
claimed, merged in a work repository, files and configuration read, results
stored and ``merge-completed`` events put, with the executor's default of two
merge threads (one project: its work repository serialises them).  The
baseline is ``checkout`` + three ``git merge -s resolve`` per iteration in one
``bash`` loop: no ZooKeeper, no checks, no results.

    /opt/lockgate/bin/python bench/merger.py [--n 60] [--commits 10000]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

from lockgate.executor.merger import MergeServer
from lockgate.git.merge_runner import MergeRunner
from lockgate.git.repo_cache import RepoCache
from lockgate.model.change import change_ref
from lockgate.model.merges import MergeRequest, MergeState, MergeStep, RepoSpec
from lockgate.zk import result_queue
from lockgate.zk.merges import MergeRequestStore

from tests.fixtures.zk import start_tls_server

ID = ["-c", "user.name=Bench", "-c", "user.email=bench@lockgate.invalid"]


def git(*args: str, cwd: Path | None = None, input: bytes | None = None) -> str:
    return subprocess.run(
        ["git", *ID, *args], cwd=cwd, input=input, capture_output=True, check=True
    ).stdout.decode()


def make_repo(root: Path, commits: int) -> tuple[Path, str, list[MergeStep]]:
    """A bare repository with ``commits`` commits on master and three change
    refs based five commits behind master; returns (url, base head, steps)."""
    bare = root / "upstream" / "org" / "app.git"
    git("init", "-q", "--bare", str(bare))
    lines = []
    for i in range(commits):
        text = f"line {i}\n".encode()
        lines.append(b"commit refs/heads/master\n")
        lines.append(f"committer Bench <b@x> {1_600_000_000 + i} +0000\n".encode())
        lines.append(b"data 8\ncommit " + str(i % 10).encode() + b"\n")
        if i == 0:
            lines.append(b"M 100644 inline zuul.yaml\ndata 20\n- job: {name: base}\n\n")
        lines.append(f"M 100644 inline f{i % 100}.txt\ndata {len(text)}\n".encode())
        lines.append(text + b"\n")
    git("fast-import", "--quiet", cwd=bare, input=b"".join(lines))
    work = root / "work"
    git("clone", "-q", str(bare), str(work))
    steps = []
    for n in range(3):
        git("checkout", "-q", "--detach", "master~5", cwd=work)
        (work / f"change{n}.txt").write_text(f"change {n}\n")
        git("add", ".", cwd=work)
        git("commit", "-q", "-m", f"change {n}", cwd=work)
        sha = git("rev-parse", "HEAD", cwd=work).strip()
        ref = change_ref(100 + n, 1)
        git("push", "-q", "origin", f"{sha}:{ref}", cwd=work)
        steps.append(
            MergeStep(
                "gerrit", "org/app", "master", ref, sha, str(bare), "merge-resolve", 100 + n, 1
            )
        )
    head = git("rev-parse", "master", cwd=bare).strip()
    return bare, head, steps


def baseline(root: Path, url: Path, head: str, steps: list[MergeStep], n: int) -> float:
    """Seconds per iteration of checkout + three merges in a bash loop."""
    clone = root / "baseline"
    git("clone", "-q", str(url), str(clone))
    for step in steps:
        git("fetch", "-q", "origin", step.ref, cwd=clone)
    merges = "; ".join(
        f"git {' '.join(ID)} merge -q --no-ff --no-edit -s resolve -m m {s.commit}" for s in steps
    )
    script = f"for i in $(seq {n}); do git checkout -q -f --detach {head}; {merges}; done"
    t0 = time.perf_counter()
    subprocess.run(["bash", "-c", script], cwd=clone, check=True, capture_output=True)
    return (time.perf_counter() - t0) / n


def request(url: Path, head: str, steps: list[MergeStep]) -> MergeRequest:
    return MergeRequest(
        uuid=uuid.uuid4().hex,
        tenant="bench",
        pipeline="gate",
        item_uuid="item",
        event_id="bench",
        steps=steps,
        repos=[RepoSpec("gerrit", "org/app", str(url))],
        repo_state={"org/app": {"master": head}},
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=60)
    parser.add_argument("--commits", type=int, default=10_000)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="lockgate-bench-merger-"))
    env = start_tls_server(root / "zkroot")
    client = env.client("/bench")
    client.connect()
    server: MergeServer | None = None
    try:
        url, head, steps = make_repo(root, args.commits)
        runner = MergeRunner(RepoCache(root / "state" / "git"), root / "state" / "merger")
        server = MergeServer(client, runner, "bench-executor", max_merges=2)
        server.start()
        store = MergeRequestStore(client)
        events = result_queue(client, "bench")

        def serve_all(count: int) -> float:
            reqs = [request(url, head, steps) for _ in range(count)]
            t0 = time.perf_counter()
            for r in reqs:
                store.submit(r)
            # Done when every result event is there (one cheap read per poll).
            while len(events) < count:
                time.sleep(0.002)
            elapsed = time.perf_counter() - t0
            for entry_id, event in events.list():
                assert event["result"] == "merged", event
                events.ack(entry_id)
            for r in reqs:
                found = store.get(r.uuid)
                assert found and found.record.state is MergeState.COMPLETED
                store.delete(r.uuid)
            return elapsed

        serve_all(2)  # warm up: the mirror clone and the work repository
        latencies = [serve_all(1) for _ in range(15)]
        rates = []
        base_rates = []
        for _ in range(3):  # alternate, so both see the same machine load
            rates.append(args.n / serve_all(args.n))
            base_rates.append(1 / baseline(root / f"b{len(base_rates)}", url, head, steps, args.n))
        rate, base_rate = statistics.median(rates), statistics.median(base_rates)
        per_merge = runner_time(runner, url, head, steps)
        print(f"repository: {args.commits} commits; 3 changes merged (merge-resolve) per request")
        print(f"baseline, bash loop of checkout + 3 git merge: {base_rate:6.1f} loops/s")
        print(f"lockgate merger through ZooKeeper (one executor): {rate:6.1f} requests/s")
        print(f"ratio baseline/lockgate: {base_rate / rate:.2f}x")
        latency = statistics.median(latencies) * 1000
        print(f"one request, submit -> result event (median of 15): {latency:.0f} ms")
        print(f"MergeRunner.run alone (median of 15): {per_merge * 1000:.0f} ms")
    finally:
        if server is not None:
            server.stop()
        client.disconnect()
        env.server.stop()
        shutil.rmtree(root, ignore_errors=True)


def runner_time(runner: MergeRunner, url: Path, head: str, steps: list[MergeStep]) -> float:
    samples = []
    for _ in range(15):
        t0 = time.perf_counter()
        result = runner.run(request(url, head, steps))
        samples.append(time.perf_counter() - t0)
        assert result.ok
    return statistics.median(samples)


if __name__ == "__main__":
    os.environ.setdefault("GIT_TERMINAL_PROMPT", "0")
    main()
