"""Project keys off the critical path, and what decrypting secrets costs.

1. **A tenant of 50 new projects**: from ``Scheduler.start()`` to the first
   job's build COMPLETED, with a real scheduler and executor in this process
   (real TLS ZooKeeper, git, SQLite, ansible-playbook in the sandbox), for a
   tenant whose 51 projects (a config project and 50 untrusted ones) have
   no keys yet, against the same tenant with every key already made.  The
   job has no secrets; key making must not show on that path (the ratio
   should be ~1).  Beside them, what making the 51 keys takes on this
   machine (Zuul makes them before it loads the tenant), and how long the
   background generator took to finish them in the no-keys runs.

2. **Decryptions per second** for a job with 20 secrets (one encrypted
   value each, RSA 4096): the keystore path a build takes (one key read
   per project, the up-front check, the playbook's decryption), and a whole
   build through ``JobRunner`` whose playbook reads the 20 secrets, against
   the same build without secrets.

    /opt/lockgate/bin/python -m bench.keys [--runs 2] [--builds 5]
"""

from __future__ import annotations

import argparse
import logging
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from lockgate.executor.runner import JobRunner
from lockgate.executor.server import Executor
from lockgate.executor.settings import ExecutorSettings
from lockgate.keys import crypto
from lockgate.keys.keystore import KeyStore
from lockgate.keys.secrets import check_secrets, memo, playbook_secrets
from lockgate.model.builds import BuildRequest, BuildResult, BuildState, RepoState
from lockgate.model.events import TriggerEvent
from lockgate.model.jobs import FrozenJob, PlaybookRef
from lockgate.model.keys import ProjectKeys
from lockgate.scheduler.server import Scheduler
from lockgate.service_config import ServiceConfig
from lockgate.zk.queues import trigger_queue
from lockgate.zk.requests import BuildRequestStore

from tests.fixtures.git import Upstream, WorkTree
from tests.fixtures.waiting import wait_for
from tests.fixtures.zk import ZKEnv, start_tls_server

PROJECTS = 50
PASSWORD = "bench-keystore-password"

MAIN = """
- tenant:
    name: bench
    source:
      git:
        config-projects: [config]
        untrusted-projects: [{projects}]
"""

CONFIG = """
- pipeline:
    name: post
    manager: independent
    post-review: true
    trigger:
      git:
        - event: ref-updated
          ref: ^refs/heads/.*$
- job:
    name: base
    parent: null
- job:
    name: hello
    run: playbooks/hello.yaml
"""

HELLO = """- hosts: localhost
  gather_facts: false
  tasks:
    - command: echo hello
"""

PROJECT = "- project:\n    post:\n      jobs: [hello]\n"


def project_names() -> list[str]:
    return [f"bench/p{i:02d}" for i in range(PROJECTS)]


def make_repos(root: Path) -> tuple[Upstream, dict[str, WorkTree]]:
    upstream = Upstream(root / "upstream", root / "work")
    (root / "upstream").mkdir(parents=True)
    trees = {
        "config": upstream.create("config", {"zuul.yaml": CONFIG, "playbooks/hello.yaml": HELLO})
    }
    for name in project_names():
        trees[name] = upstream.create(name, {".zuul.yaml": PROJECT})
    (root / "main.yaml").write_text(MAIN.format(projects=", ".join(project_names())))
    return upstream, trees


def config_file(root: Path, zk: ZKEnv, chroot: str, upstream: Upstream) -> Path:
    tls = zk.tls.client
    state = root / f"state-{chroot.strip('/')}"
    path = root / f"{chroot.strip('/')}.conf"
    path.write_text(
        f"""
[zookeeper]
hosts = {zk.server.hosts}
tls_ca = {tls.ca}
tls_cert = {tls.cert}
tls_key = {tls.key}
chroot = {chroot}

[keystore]
password = {PASSWORD}

[scheduler]
tenant_config = {root / "main.yaml"}
state_dir = {state / "scheduler"}

[executor]
state_dir = {state / "executor"}
private_key_file = {root / "no-key"}

[database]
dburi = sqlite:///{state / "lockgate.db"}

[connection git]
driver = git
baseurl = {upstream.root}
poll_delay = 3600
"""
    )
    return path


def first_job(
    root: Path, zk: ZKEnv, upstream: Upstream, trees: dict[str, WorkTree], premade: list[Any]
) -> dict[str, float]:
    """One run: start the scheduler and executor, push, wait for the build."""
    chroot = f"/bench-keys-{uuid.uuid4().hex[:8]}"
    config = ServiceConfig.load(config_file(root, zk, chroot, upstream))
    client = zk.client(chroot)
    client.connect(timeout=15)
    keystore = KeyStore(client, PASSWORD)
    for keys in premade:
        keystore.put(keys)
    started = time.monotonic()
    scheduler = Scheduler(config, tick=0.2)
    scheduler.start()
    stop_scheduler = scheduler.run_in_thread()
    executor = Executor(config)
    executor.start()
    try:
        loaded = time.monotonic()
        tree = trees["bench/p00"]
        event = TriggerEvent(
            type="ref-updated",
            connection="git",
            project="bench/p00",
            ref="refs/heads/master",
            branch="master",
            oldrev="0" * 40,
            newrev=tree.head(),
        )
        trigger_queue(client, "bench").put(event.to_dict())
        store = BuildRequestStore(client)

        def done() -> str | None:
            for versioned in store.list():
                req = versioned.record
                if req.job.name == "hello" and req.state is BuildState.COMPLETED:
                    return req.result
            return None

        result = wait_for(done, 300, "the first build", interval=0.05)
        finished = time.monotonic()
        assert result == "SUCCESS", result
        generator = scheduler.key_generator
        assert generator is not None
        keys_made_during_job = generator.keystore.made
        assert generator.wait_idle(600)
        keys_done = time.monotonic()
        assert keystore.missing([("git", p) for p in ["config", *project_names()]]) == []
        return {
            "load": loaded - started,
            "first_job": finished - started,
            "keys_done": keys_done - started,
            "made_by_job": float(keys_made_during_job),
            "made": float(generator.keystore.made),
        }
    finally:
        executor.stop()
        stop_scheduler()
        scheduler.stop()
        client.disconnect()


def premade_keys(zk: ZKEnv) -> tuple[list[ProjectKeys], float]:
    """Every project's keys, made once here, timed: what Zuul spends first."""
    client = zk.client(f"/bench-premade-{uuid.uuid4().hex[:8]}")
    client.connect(timeout=15)
    try:
        keystore = KeyStore(client, PASSWORD)
        started = time.monotonic()
        keys = [keystore.ensure("git", p) for p in ["config", *project_names()]]
        return keys, time.monotonic() - started
    finally:
        client.disconnect()


# -- decryption -------------------------------------------------------------------


def twenty_secrets(public: Any) -> list[dict[str, Any]]:
    return [
        {
            "name": f"secret_{i}",
            "secret": f"secret-{i}",
            "project": "bench/app",
            "connection": "git",
            "data": {
                "user": f"user-{i}",
                "password": {
                    "encrypted": "pkcs1-oaep",
                    "ciphertext": crypto.encrypt(f"password-{i}-" + "x" * 40, public),
                },
            },
        }
        for i in range(20)
    ]


def decrypt_rate(zk: ZKEnv, rounds: int) -> tuple[float, float]:
    """(decryptions per second, ms per build) on the keystore path."""
    client = zk.client(f"/bench-decrypt-{uuid.uuid4().hex[:8]}")
    client.connect(timeout=15)
    try:
        keystore = KeyStore(client, PASSWORD)
        public = crypto.load_public_pem(keystore.public_key("git", "bench/app", create=True))
        entries = twenty_secrets(public)
        indexes = list(range(20))
        count = 0
        started = time.perf_counter()
        for _ in range(rounds):
            key_for = memo(keystore.secrets_key)  # a build: one key read
            check_secrets(entries, indexes, key_for)
            count += 20 + playbook_secrets(entries, indexes, key_for).decryptions
        elapsed = time.perf_counter() - started
        return count / elapsed, elapsed / rounds * 1000
    finally:
        client.disconnect()


def runner_builds(root: Path, zk: ZKEnv, builds: int) -> tuple[float, float]:
    """Median seconds of a build whose playbook reads 20 secrets, and of the
    same build without them (alternating)."""
    client = zk.client(f"/bench-runner-{uuid.uuid4().hex[:8]}")
    client.connect(timeout=15)
    upstream = Upstream(root / "runner-upstream", root / "runner-work")
    (root / "runner-upstream").mkdir()
    tree = upstream.create("bench/app", {"run.yaml": HELLO})
    config = ServiceConfig.parse(
        f"[executor]\nstate_dir = {root / 'runner-state'}\nprivate_key_file = {root / 'nokey'}\n"
    )
    settings = ExecutorSettings.from_config(config)
    try:
        keystore = KeyStore(client, PASSWORD)
        public = crypto.load_public_pem(keystore.public_key("git", "bench/app", create=True))
        entries = twenty_secrets(public)
        runner = JobRunner(settings, keys=keystore)
        repo = RepoState(
            connection="git",
            project="bench/app",
            canonical_name="example.org/bench/app",
            url=str(tree.upstream_path),
            branch="master",
            ref="refs/heads/master",
            commit=tree.head(),
        )

        def build(with_secrets: bool) -> float:
            ref = PlaybookRef(path="run.yaml", connection="git", project="bench/app")
            if with_secrets:
                ref.secrets = list(range(20))
            job = FrozenJob(name="bench", run=[ref], secrets=entries if with_secrets else [])
            request = BuildRequest(
                uuid=uuid.uuid4().hex,
                tenant="t",
                pipeline="post",
                buildset_uuid=uuid.uuid4().hex,
                event_id=uuid.uuid4().hex,
                job=job,
                project=repo,
                repos=[repo],
            )
            started = time.perf_counter()
            outcome = runner.run(request, [])
            assert outcome.result is BuildResult.SUCCESS, outcome
            return time.perf_counter() - started

        build(True)  # warm the mirror
        with_, without = [], []
        for _ in range(builds):
            with_.append(build(True))
            without.append(build(False))
        return statistics.median(with_), statistics.median(without)
    finally:
        client.disconnect()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2, help="first-job runs per case")
    parser.add_argument("--builds", type=int, default=5, help="runner builds per case")
    parser.add_argument("--rounds", type=int, default=20, help="decryption rounds")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    root = Path(tempfile.mkdtemp(prefix="lockgate-bench-keys-"))
    zk = start_tls_server(root / "zk-root")
    try:
        upstream, trees = make_repos(root)
        keys, make_seconds = premade_keys(zk)
        print(
            f"making the keys of {len(keys)} projects, one after another: {make_seconds:.1f} s",
            flush=True,
        )
        cold, warm = [], []
        for run in range(args.runs):
            cold.append(first_job(root, zk, upstream, trees, []))
            warm.append(first_job(root, zk, upstream, trees, keys))
            print(
                f"  run {run + 1}: first job {cold[-1]['first_job']:.2f} s without keys "
                f"({cold[-1]['made_by_job']:.0f} made by then), {warm[-1]['first_job']:.2f} s "
                "with keys",
                flush=True,
            )
        for label, runs in (("no keys yet", cold), ("keys made", warm)):
            print(
                f"{label:>12}: tenant loaded {statistics.median(r['load'] for r in runs):.2f} s, "
                f"first job done {statistics.median(r['first_job'] for r in runs):.2f} s "
                "after start"
                + (
                    f"; keys made meanwhile {statistics.median(r['made_by_job'] for r in runs):.0f}"
                    f", all {statistics.median(r['made'] for r in runs):.0f} done after "
                    f"{statistics.median(r['keys_done'] for r in runs):.1f} s"
                    if runs is cold
                    else ""
                )
            )
        ratio = statistics.median(r["first_job"] for r in cold) / statistics.median(
            r["first_job"] for r in warm
        )
        print(f"first job, no keys / keys made: {ratio:.2f}x")
        rate, per_build = decrypt_rate(zk, args.rounds)
        print(
            f"decryption, 20 secrets (check + playbook = 40 RSA 4096 decryptions per build): "
            f"{rate:.0f} decryptions/s, {per_build:.0f} ms per build"
        )
        with_secrets, without = runner_builds(root, zk, args.builds)
        print(
            f"a whole build (JobRunner, sandboxed ansible-playbook): {with_secrets:.2f} s with "
            f"20 secrets, {without:.2f} s without ({(with_secrets - without) * 1000:+.0f} ms)"
        )
    finally:
        zk.server.stop()
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
