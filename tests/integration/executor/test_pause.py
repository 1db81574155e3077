"""A build that pauses, through a real ZooKeeper: the executor records it
paused with what it returned and puts ``build-paused``, waits for
``resume_requested``, then runs its post-run playbooks and completes with
its data; a cancel while paused aborts it (its cleanup playbooks run)."""

from __future__ import annotations

import pytest
from lockgate.executor.server import Executor
from lockgate.model.builds import BuildState
from lockgate.zk import BuildRequestStore, result_queue

from tests.fixtures.executor import make_config, make_request, playbooks
from tests.fixtures.waiting import wait_for

PAUSE = """
- hosts: localhost
  gather_facts: false
  tasks:
    - zuul_return:
        data:
          registry: 127.0.0.1:5000
          zuul:
            pause: true
            artifacts: [{name: image, url: "https://reg.example/app:1"}]
"""
POST = """
- hosts: localhost
  gather_facts: false
  tasks:
    - copy: {content: "post ran", dest: "{{ zuul.executor.log_root }}/post-ran"}
    - zuul_return: {data: {zuul: {log_url: "https://logs.example/final/"}}}
"""


@pytest.fixture
def executor(zk_client, tmp_path):
    ex = Executor(make_config(tmp_path), client=zk_client)
    ex.start()
    yield ex
    ex.stop()


def _record(store, uuid):
    found = store.get(uuid)
    return found.record if found else None


def _kinds(zk_client, uuid):
    return [
        e["kind"] for _id, e in result_queue(zk_client, "example").list() if e["request_id"] == uuid
    ]


def _resume(store, uuid):
    found = store.get(uuid)
    found.record.resume_requested = True
    store.update(found.record, found.version)


def test_a_paused_build_waits_for_resume_then_completes(zk_client, executor, upstream):
    tree = upstream.create("org/app", {"run.yaml": PAUSE, "post.yaml": POST})
    request = make_request(
        tree, run=playbooks(tree, ["run.yaml"]), post=playbooks(tree, ["post.yaml"])
    )
    store = BuildRequestStore(zk_client, "default")
    store.submit(request)
    paused = wait_for(
        lambda: (r := _record(store, request.uuid)) and r.paused and r, 120, "the build to pause"
    )
    assert paused.state is BuildState.RUNNING
    assert paused.result_data["registry"] == "127.0.0.1:5000"
    assert paused.result_data["zuul"]["artifacts"][0]["name"] == "image"
    wait_for(lambda: "build-paused" in _kinds(zk_client, request.uuid), 30, "build-paused")
    log_dir = executor.settings.log_root / request.uuid
    assert not (log_dir / "post-ran").exists()
    _resume(store, request.uuid)
    done = wait_for(
        lambda: (r := _record(store, request.uuid)) and r.state is BuildState.COMPLETED and r,
        120,
        "the build to complete",
    )
    assert done.result == "SUCCESS", done.error_detail
    assert not done.paused
    assert (log_dir / "post-ran").read_text() == "post ran"
    # What post-run returned is merged with what run returned; its log_url wins.
    assert done.result_data["registry"] == "127.0.0.1:5000"
    assert done.log_url == "https://logs.example/final/"
    # The result event is put after the record is saved: wait for it too.
    wait_for(lambda: "build-completed" in _kinds(zk_client, request.uuid), 30, "build-completed")
    assert _kinds(zk_client, request.uuid) == ["build-started", "build-paused", "build-completed"]


def test_a_cancel_while_paused_aborts_and_runs_cleanup(zk_client, executor, upstream):
    tree = upstream.create("org/app", {"run.yaml": PAUSE, "post.yaml": POST, "cleanup.yaml": POST})
    request = make_request(
        tree,
        run=playbooks(tree, ["run.yaml"]),
        post=playbooks(tree, ["post.yaml"]),
        cleanup_run=playbooks(tree, ["cleanup.yaml"]),
    )
    store = BuildRequestStore(zk_client, "default")
    store.submit(request)
    wait_for(lambda: (r := _record(store, request.uuid)) and r.paused, 120, "the build to pause")
    found = store.get(request.uuid)
    found.record.cancel_requested = True
    store.update(found.record, found.version)
    done = wait_for(
        lambda: (r := _record(store, request.uuid)) and r.state is BuildState.COMPLETED and r,
        120,
        "the build to end",
    )
    assert done.result == "ABORTED"
    console = (executor.settings.log_root / request.uuid / "job-output.txt").read_text()
    assert "CLEANUP START" in console and "POST-RUN START" not in console
