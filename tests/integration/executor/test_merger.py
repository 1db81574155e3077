"""The merge half of the executor against a real ZooKeeper and real git:
an executor serves merge requests and puts result events; a killed
``lockgate merger`` process's request is served by another merger; a build
rebuilds the merger's speculative state and checks it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import pytest
from lockgate.executor.jobdir import JobDir
from lockgate.executor.merger_main import Merger
from lockgate.executor.repos import WorkspaceError, prepare_repos
from lockgate.git import RepoCache
from lockgate.git.merge_runner import MergeRunner
from lockgate.model.builds import speculative_repo_state
from lockgate.model.merges import MergeRequest, MergeState, MergeStep, RepoSpec
from lockgate.service_config import ServiceConfig
from lockgate.zk import list_components, result_queue
from lockgate.zk.merges import MergeRequestStore

from tests.fixtures.executor import make_request
from tests.fixtures.git import git
from tests.fixtures.waiting import wait_for
from tests.unit.git.test_merger import make_change


def _request(steps, trees, **kw) -> MergeRequest:
    return MergeRequest(
        uuid=uuid.uuid4().hex,
        tenant="t",
        pipeline="gate",
        item_uuid="item",
        event_id="ev",
        steps=list(steps),
        repos=[RepoSpec("gerrit", t.project, str(t.upstream_path)) for t in trees],
        **kw,
    )


def _completed(store, request_uuid):
    found = store.get(request_uuid)
    return found.record if found and found.record.state is MergeState.COMPLETED else None


def _events(zk_client, tenant="t"):
    return [
        (e["kind"], e["request_id"], e.get("result"))
        for _id, e in result_queue(zk_client, tenant).list()
    ]


def test_an_executor_serves_merge_requests_and_puts_result_events(zk_client, executor, upstream):
    ex = executor()
    tree = upstream.create("org/app", {"shared.txt": "base\n"})
    a = make_change(tree, 1, {"a.txt": "a\n"})
    b = make_change(tree, 2, {"b.txt": "b\n"}, mode="cherry-pick")
    bad = make_change(tree, 3, {"shared.txt": "x\n"})
    worse = make_change(tree, 4, {"shared.txt": "y\n"})
    store = MergeRequestStore(zk_client)
    good, conflict = _request([a, b], [tree]), _request([bad, worse], [tree])
    store.submit(good)
    store.submit(conflict)
    done = wait_for(lambda: _completed(store, good.uuid), 60, "the merge to complete")
    assert done.result.ok, done.result.error
    assert done.worker == ex.component.name
    assert done.start_time <= done.end_time
    assert done.result.files == {"org/app": ["a.txt", "b.txt"]}
    failed = wait_for(lambda: _completed(store, conflict.uuid), 60, "the conflict")
    assert "change 4,1 of org/app does not merge" in failed.result.conflict
    events = wait_for(lambda: len(_events(zk_client)) >= 2 and _events(zk_client), 10, "events")
    assert sorted(events) == sorted(
        [("merge-completed", good.uuid, "merged"), ("merge-completed", conflict.uuid, "conflict")]
    )
    wait_for(lambda: not store.is_locked(good.uuid), 10, "the claim to be released")


def test_merge_jobs_false_serves_no_merges(executor):
    ex = executor(merge_jobs="false")
    assert ex.merger is None


class SilentGitServer:
    """Accepts connections and never answers: a fetch from it hangs."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.conns: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)

    def close(self) -> None:
        self.sock.close()
        for conn in self.conns:
            conn.close()
        self.thread.join(5)


def _config(tmp_path: Path, zk_server, chroot: str, name: str) -> Path:
    tls = zk_server.tls.client
    path = tmp_path / f"{name}.conf"
    path.write_text(
        f"[zookeeper]\nhosts = {zk_server.server.hosts}\ntls_ca = {tls.ca}\n"
        f"tls_cert = {tls.cert}\ntls_key = {tls.key}\nchroot = {chroot}\nsession_timeout = 2\n"
        f"[merger]\nstate_dir = {tmp_path / name}\nhostname = {name}\n"
    )
    return path


def _processes_with(text: str) -> list[str]:
    found = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if text in cmd:
                found.append(cmd)
    return found


def test_a_killed_mergers_request_is_served_by_another(
    zk_server, zk_chroot, zk_client, zk_connect, upstream, tmp_path
):
    tree = upstream.create("org/app")
    head = tree.upstream_sha("master")
    # The change is only reachable through a server that never answers, so
    # the first merger hangs fetching it, holding its claim.
    silent = SilentGitServer()
    hidden_url = f"git://127.0.0.1:{silent.port}/org/app"
    tree.git("checkout", "-q", "--detach", "master")
    sha = tree.commit({"c.txt": "c\n"}, "change 77")
    step = MergeStep(
        "gerrit",
        "org/app",
        "master",
        "refs/changes/77/77/1",
        sha,
        hidden_url,
        "merge-resolve",
        77,
        1,
    )
    request = _request([step], [tree], repo_state={"org/app": {"master": head}})
    store = MergeRequestStore(zk_client)
    store.submit(request)
    stderr = open(tmp_path / "merger-one.stderr", "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "lockgate.cli",
            "-c",
            str(_config(tmp_path, zk_server, zk_chroot, "merger-one")),
            "merger",
        ],
        stdout=subprocess.DEVNULL,
        stderr=stderr,
    )
    second: Merger | None = None
    try:
        wait_for(
            lambda: store.get(request.uuid).record.state is MergeState.RUNNING,
            60,
            "merger-one to claim the request",
        )
        assert store.get(request.uuid).record.worker.startswith("merger-one")
        wait_for(lambda: silent.conns, 30, "merger-one to fetch from the silent server")
        [registered] = list_components(zk_client, "merger")
        assert registered.name.startswith("merger-one-")
        config = ServiceConfig.load(_config(tmp_path, zk_server, zk_chroot, "merger-two"))
        second = Merger(config, client=zk_connect())
        second.start()
        # Now the change is in the project's repository too (it was pushed).
        tree.push(f"{sha}:refs/changes/77/77/1")
        proc.kill()
        proc.wait(30)
        done = wait_for(
            lambda: _completed(store, request.uuid), 60, "merger-two to serve the request"
        )
        assert done.worker == second.component.name
        assert done.result.ok, done.result.error
        assert done.result.repo_state == {"org/app": {"master": head}}
        events = wait_for(lambda: _events(zk_client), 10, "the result event")
        assert events == [("merge-completed", request.uuid, "merged")]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        stderr.close()
        if second is not None:
            second.stop()
        silent.close()
    # The killed merger's git fetch ends once its server goes away.
    wait_for(lambda: not _processes_with(hidden_url), 30, "the orphaned fetch to end")


def test_lockgate_merger_bad_config_is_one_line_and_status_2(tmp_path):
    path = tmp_path / "bad.conf"
    path.write_text("[zookeeper]\nhosts = 127.0.0.1:1\n[merger]\nmax_merges = 0\n")
    proc = subprocess.run(
        [sys.executable, "-m", "lockgate.cli", "-c", str(path), "merger"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert (
        proc.stderr.strip() == f"lockgate merger: {path}: [merger] max_merges: must be at least 1"
    )


def _three_changes(upstream):
    tree = upstream.create("org/app", {"README": "app\n"})
    a = make_change(tree, 10, {"a.txt": "a\n"})
    b = make_change(tree, 11, {"b.txt": "b\n"}, mode="cherry-pick")
    c = make_change(tree, 12, {"c.txt": "c\n"}, parent=a.commit, mode="rebase")
    tree.git("checkout", "-q", "master")
    tree.commit_and_push({"m.txt": "m\n"}, message="master moves on")
    return tree, [a, b, c]


def test_a_build_replays_a_three_step_speculative_state(upstream, tmp_path):
    tree, steps = _three_changes(upstream)
    merger = MergeRunner(RepoCache(tmp_path / "merger-git"), tmp_path / "merger-work")
    result = merger.run(_request(steps, [tree]))
    assert result.ok, result.error or result.conflict
    build = make_request(tree)
    build.project = speculative_repo_state(build.project, result, steps)
    build.repos = [build.project]
    assert build.project.base == result.repo_state["org/app"]["master"]
    assert [s.number for s in build.project.steps] == [10, 11, 12]
    # Through ZooKeeper's JSON and back, as the executor receives it.
    build = type(build).from_dict(build.to_dict())
    jobdir = JobDir.create(tmp_path / "builds", tmp_path / "logs", "b1")
    # The executor's own mirrors: nothing shared with the merger.
    checkouts = prepare_repos(RepoCache(tmp_path / "executor-git"), jobdir, build)
    checkout = checkouts[build.project.canonical_name]
    assert git("rev-parse", "HEAD", cwd=checkout.path) == result.commits["org/app"]["master"]
    assert checkout.commit == result.commits["org/app"]["master"]
    assert git("symbolic-ref", "--short", "HEAD", cwd=checkout.path) == "master"
    assert sorted(p.name for p in checkout.path.iterdir() if p.name != ".git") == [
        "README",
        "a.txt",
        "b.txt",
        "c.txt",
        "m.txt",
    ]
    assert git("status", "--porcelain", cwd=checkout.path) == ""


def test_a_replay_that_does_not_give_the_mergers_commit_is_an_error(upstream, tmp_path):
    tree, steps = _three_changes(upstream)
    merger = MergeRunner(RepoCache(tmp_path / "merger-git"), tmp_path / "merger-work")
    result = merger.run(_request(steps, [tree]))
    build = make_request(tree)
    build.project = speculative_repo_state(build.project, result, steps)
    build.project.commit = "f" * 40
    build.repos = [build.project]
    jobdir = JobDir.create(tmp_path / "builds", tmp_path / "logs", "b2")
    with pytest.raises(WorkspaceError, match="but the merger made ffffffffffff"):
        prepare_repos(RepoCache(tmp_path / "executor-git"), jobdir, build)
