"""The stream reader against the Gerrit emulator, queuing into a real ZooKeeper.

Events streamed arrive as TriggerEvents on the queue; a stream killed while
a patchset is uploaded is caught up after the reconnect with exactly one
event of the streamed form; dropped-output triggers a catch-up; bad lines,
unknown types and unknown projects do not stop the stream; stop is prompt.
"""

from __future__ import annotations

import logging
import time

import pytest
from lockgate.drivers.gerrit.events import patchset_created_key

from tests.fixtures.waiting import wait_for

from .helpers import Hooks, connect


@pytest.fixture
def scene(gerrit):
    gerrit.control.create_project("org/p", files={"README": "hello\n"})
    gerrit.control.create_project("org/other", files={"README": "x\n"})
    return gerrit


def started(conn, hooks, **kw):
    source = conn.event_source(hooks.hooks())
    assert source is not None
    for key, value in {"reconnect_delay": 0.1, "max_reconnect_delay": 0.5, "poll": 0.1}.items():
        kw.setdefault(key, value)
    for key, value in kw.items():
        setattr(source, key, value)
    source.start()
    wait_for(source.connected.is_set, 15, "the stream to connect")
    return source


@pytest.mark.parametrize("http", [True, False], ids=["rest", "ssh"])
def test_streamed_events_arrive_as_trigger_events(scene, tmp_path, zk_client, http):
    hooks = Hooks(zk_client)
    source = started(connect(scene, tmp_path, http=http), hooks)
    try:
        c = scene.control
        number = c.create_change("org/p", files={"a.py": "a\n"}, message="A")["number"]
        c.approve(number, account="bob")
        c.comment(number, "recheck", account="alice")
        c.create_change("org/other", message="not ours")
        c.set_topic(number, "new-topic")
        created = wait_for(lambda: hooks.queued_of("patchset-created", number), 15, "ps")[0]
        assert created["project"] == "org/p" and created["branch"] == "master"
        assert (
            created["patchset"] == 1 and created["ref"] == f"refs/changes/{number:02d}/{number}/1"
        )
        assert created["dedup_key"] == patchset_created_key("gerrit", number, 1)
        assert created["account"]["username"] == "admin"
        comments = wait_for(
            lambda: (
                len(hooks.queued_of("comment-added", number)) == 2
                and hooks.queued_of("comment-added", number)
            ),
            15,
            "two comment-added",
        )
        votes = {a["label"]: (a["value"], a["old_value"]) for a in comments[0]["approvals"]}
        assert votes["Code-Review"] == (2, 0) and votes["Workflow"] == (1, 0)
        assert comments[0]["account"]["username"] == "bob"
        assert comments[1]["comment"].endswith("recheck")
        topic = wait_for(lambda: hooks.queued_of("topic-changed", number), 15, "topic")[0]
        assert topic["extra"]["topic"] == "new-topic"
        assert not [e for e in hooks.queued() if e["project"] == "org/other"]
        assert source.skipped >= 1
        wait_for(lambda: hooks.state.get("stream-events"), 5, "the saved stream state")
    finally:
        source.stop()


def upload_while_down(scene, number):
    """Take the stream down, upload a patchset and vote, bring it back."""
    c = scene.control
    c.set_down(True)
    c.new_patchset(number, files={"a.py": "a2\n"})
    c.comment(number, "while you were away", account="alice", labels={"Code-Review": 1})
    c.set_down(False)


@pytest.mark.parametrize("http", [True, False], ids=["rest", "ssh"])
def test_missed_patchset_is_caught_up_exactly_once(scene, tmp_path, zk_client, http):
    hooks = Hooks(zk_client)
    source = started(connect(scene, tmp_path, http=http), hooks)
    try:
        c = scene.control
        number = c.create_change("org/p", files={"a.py": "a\n"}, message="A")["number"]
        c.comment(number, "before", account="bob")
        wait_for(lambda: hooks.queued_of("comment-added", number), 15, "streamed")
        assert c.kill_streams() >= 1
        upload_while_down(scene, number)
        wait_for(lambda: source.catchups >= 1, 20, "a catch-up after the reconnect")
        wait_for(lambda: source.connected.is_set(), 15, "reconnected")
        # Streamed afterwards: still one queue entry per happening.
        c.comment(number, "after", account="bob")
        wait_for(
            lambda: any(e["comment"] and "after" in e["comment"] for e in hooks.queued()),
            15,
            "the next streamed event",
        )
        created = hooks.queued_of("patchset-created", number)
        assert [e["patchset"] for e in created] == [1, 2]
        ps2 = created[1]
        assert ps2["dedup_key"] == patchset_created_key("gerrit", number, 2)
        assert ps2["extra"]["synthesized"] is True
        missed = [
            e for e in hooks.queued_of("comment-added", number) if "away" in (e["comment"] or "")
        ]
        assert len(missed) == 1 and missed[0]["account"]["username"] == "alice"
        assert missed[0]["approvals"] == [{"label": "Code-Review", "value": 1, "old_value": 0}]
        # The catch-up offered the streamed "before" again (inside its margin):
        # same key, and the queue kept one.
        before = [e for e in hooks.offered if e.comment and e.comment.endswith("before")]
        assert len(before) == 2 and before[0].dedup_key == before[1].dedup_key
        assert before[1].extra.get("synthesized") and not before[0].extra.get("synthesized")
        queued = [e for e in hooks.queued() if e["comment"] and e["comment"].endswith("before")]
        assert len(queued) == 1
        assert source.connects >= 2
    finally:
        source.stop()


def test_a_new_source_catches_up_from_saved_state(scene, tmp_path, zk_client):
    """A peer scheduler taking over resumes from the state the first one saved."""
    hooks = Hooks(zk_client)
    conn = connect(scene, tmp_path)
    first = started(conn, hooks)
    c = scene.control
    number = c.create_change("org/p", message="A")["number"]
    wait_for(lambda: hooks.queued_of("patchset-created", number), 15, "ps1")
    first.stop()
    assert hooks.state["stream-events"]["last_seen"] > 0
    c.new_patchset(number, files={"b": "b\n"})  # nobody listening: lost by the stream
    second = started(conn, hooks)
    try:
        wait_for(lambda: len(hooks.queued_of("patchset-created", number)) == 2, 15, "ps2")
        wait_for(lambda: second.catchups == 1, 5, "the catch-up to finish")
    finally:
        second.stop()


def test_dropped_output_catches_up(scene, tmp_path, zk_client, caplog):
    hooks = Hooks(zk_client)
    source = started(connect(scene, tmp_path), hooks)
    try:
        c = scene.control
        number = c.create_change("org/p", message="A")["number"]
        wait_for(lambda: hooks.queued_of("patchset-created", number), 15, "ps1")
        with caplog.at_level(logging.WARNING, "lockgate.drivers.gerrit.stream"):
            c.dropped_output()
            wait_for(lambda: source.catchups == 1, 15, "a catch-up")
        assert "dropped events; catching up" in caplog.text
        assert len(hooks.queued_of("patchset-created", number)) == 1
    finally:
        source.stop()


def test_unknown_types_and_bad_events_do_not_stop_the_stream(scene, tmp_path, zk_client, caplog):
    hooks = Hooks(zk_client)
    source = started(connect(scene, tmp_path), hooks)
    try:
        with caplog.at_level(logging.WARNING, "lockgate.drivers.gerrit.stream"):
            scene.control.emit_raw(
                [
                    {"type": "pending-check", "title": "plugin event"},
                    {"type": "comment-added", "change": {"project": "org/p"}},
                    {"type": "ref-updated", "refUpdate": {"project": "org/p"}},
                ]
            )
            number = scene.control.create_change("org/p", message="A")["number"]
            wait_for(lambda: hooks.queued_of("patchset-created", number), 15, "the next event")
        assert source.malformed == 2
        assert "comment-added: change has no 'number'" in caplog.text
        assert "refUpdate has no 'refName'" in caplog.text
    finally:
        source.stop()


def test_host_key_mismatch_is_logged_and_retried(scene, tmp_path, zk_client, caplog):
    import subprocess

    hooks = Hooks(zk_client)
    conn = connect(scene, tmp_path)
    other = tmp_path / "other"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    key_type, blob = other.with_suffix(".pub").read_text().split()[:2]
    (tmp_path / "known_hosts").write_text(f"[{scene.host}]:{scene.ssh_port} {key_type} {blob}\n")
    source = conn.event_source(hooks.hooks())
    source.reconnect_delay, source.max_reconnect_delay = 0.05, 0.1
    with caplog.at_level(logging.ERROR, "lockgate.drivers.gerrit.stream"):
        source.start()
        try:
            wait_for(lambda: caplog.text.count("host key mismatch") >= 2, 15, "two refusals")
            assert source.connects == 0
        finally:
            source.stop()


def test_stop_is_prompt_and_safe_twice(scene, tmp_path, zk_client):
    hooks = Hooks(zk_client)
    conn = connect(scene, tmp_path)
    source = started(conn, hooks)
    t0 = time.monotonic()
    source.stop()
    source.stop()
    assert time.monotonic() - t0 < 3
    wait_for(lambda: scene.control.stream_status().get("subscribers", 0) == 0, 10, "disconnect")


def test_a_catch_up_query_that_times_out_is_retried(scene, tmp_path, zk_client, caplog):
    hooks = Hooks(zk_client)
    source = started(connect(scene, tmp_path, timeout="0.5"), hooks, catchup_retry=0.2)
    c = scene.control
    try:
        number = c.create_change("org/p", message="A")["number"]
        wait_for(lambda: hooks.queued_of("patchset-created", number), 15, "ps1")
        c.set_down(True)
        c.new_patchset(number, files={"x": "x\n"})
        c.slow_queries(5)
        with caplog.at_level(logging.WARNING, "lockgate.drivers.gerrit.stream"):
            c.set_down(False)
            wait_for(lambda: "catch-up query failed" in caplog.text, 20, "a failed catch-up")
        assert "timed out after 0.5s" in caplog.text
        assert source.catchups == 0
        c.slow_queries(0)
        wait_for(lambda: len(hooks.queued_of("patchset-created", number)) == 2, 20, "ps2")
        # The stream went on meanwhile.
        c.comment(number, "still here", account="bob")
        wait_for(lambda: hooks.queued_of("comment-added", number), 15, "the next event")
    finally:
        c.slow_queries(0)
        source.stop()


def test_event_delay_holds_each_event(scene, tmp_path, zk_client):
    hooks = Hooks(zk_client)
    source = started(connect(scene, tmp_path, event_delay="1.0"), hooks)
    try:
        t0 = time.monotonic()
        number = scene.control.create_change("org/p", message="A")["number"]
        wait_for(lambda: hooks.queued_of("patchset-created", number), 15, "ps1")
        assert time.monotonic() - t0 >= 1.0
    finally:
        source.stop()
