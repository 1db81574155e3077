"""The control interface: scene setting, read-back, stream control, faults."""

from __future__ import annotations

import time

import paramiko
import pytest
import requests

from tests.fixtures.gerrit.client import ControlError
from tests.fixtures.waiting import wait_for

from .helpers import EventStream, query, rest, ssh_run


def _subscribers(gerrit, n: int) -> None:
    wait_for(lambda: gerrit.control.stream_status()["subscribers"] == n, 10, f"{n} stream sessions")


def test_patchsets_kinds_and_votes_copied_on_trivial_rebase(gerrit):
    c = gerrit.control
    c.create_project("p", {"base": "1\n"})
    n = c.create_change("p", {"f": "1\n"}, "F\n\nBody text.", owner="alice")["number"]
    c.approve(n, "bob")
    c.review(n, "lockgate", labels={"Verified": 1})
    c.push("p", {"other": "x\n"})
    rebased = c.new_patchset(n, rebase=True)
    assert rebased["patchsets"][-1]["kind"] == "TRIVIAL_REBASE"
    assert rebased["approvals"] == {"Code-Review:bob": 2, "Workflow:bob": 1}
    reworked = c.new_patchset(n, {"f": "2\n"})
    assert reworked["patchsets"][-1]["kind"] == "REWORK" and reworked["approvals"] == {}
    reworded = c.new_patchset(n, message="F2\n\nNew body.")
    assert reworded["patchsets"][-1]["kind"] == "NO_CODE_CHANGE"
    assert reworded["subject"] == "F2"
    assert reworded["patchsets"][-1]["commit_message"].endswith(
        f"Change-Id: {reworded['change_id']}\n"
    )
    assert [p["ref"] for p in reworded["patchsets"]] == [
        f"refs/changes/01/1/{i}" for i in range(1, 5)
    ]


def test_stack_by_parent_change_shows_dependencies(gerrit):
    c = gerrit.control
    c.create_project("p")
    a = c.create_change("p", {"a": "1\n"}, "A")
    b = c.create_change("p", {"b": "1\n"}, "B", parent_change=a["number"])
    assert b["patchsets"][0]["parents"] == [a["revision"]]
    rows, _ = query(gerrit, f"change:{b['number']}", "--dependencies")
    assert rows[0]["dependsOn"] == [
        {
            "id": a["change_id"],
            "number": a["number"],
            "revision": a["revision"],
            "ref": a["ref"],
            "isCurrentPatchSet": True,
        }
    ]
    rows, _ = query(gerrit, f"change:{a['number']}", "--dependencies")
    assert rows[0]["neededBy"] == [
        {"id": b["change_id"], "number": b["number"], "revision": b["revision"], "ref": b["ref"]}
    ]


def test_dropped_output_kill_and_down(gerrit):
    c = gerrit.control
    c.create_project("p")
    stream = EventStream(gerrit)
    try:
        _subscribers(gerrit, 1)
        c.dropped_output()
        assert stream.next()["type"] == "dropped-output"
        assert c.kill_streams() == 1
        assert stream.closed.wait(10)
    finally:
        stream.close()
    c.set_down(True)
    status, _, err = ssh_run(gerrit, "gerrit stream-events")
    assert status == 1 and "down" in err
    # While down, changes are still made (and their events missed); queries work.
    c.create_change("p", {"f": "1\n"}, "Made while down")
    assert [r["subject"] for r in query(gerrit, "status:open")[0]] == ["Made while down"]
    c.set_down(False)
    stream = EventStream(gerrit, "patchset-created")
    try:
        _subscribers(gerrit, 1)
        c.create_change("p", {"g": "1\n"}, "After")
        assert stream.next()["change"]["subject"] == "After"
    finally:
        stream.close()


def test_going_down_drops_open_streams(gerrit):
    stream = EventStream(gerrit)
    try:
        _subscribers(gerrit, 1)
        assert gerrit.control.set_down(True)["killed"] == 1
        assert stream.closed.wait(10)
    finally:
        stream.close()


def test_refused_reviews_and_submits(gerrit):
    c = gerrit.control
    c.create_project("p")
    n = c.create_change("p", {"f": "1\n"}, "F")["number"]
    c.refuse("review", "blocked by a test", count=1)
    first = rest(
        gerrit, "POST", f"/a/changes/{n}/revisions/current/review", json={"labels": {"Verified": 1}}
    )
    assert first.status_code == 409 and "blocked by a test" in first.text
    second = rest(
        gerrit, "POST", f"/a/changes/{n}/revisions/current/review", json={"labels": {"Verified": 1}}
    )
    assert second.status_code == 200
    c.approve(n, "bob")
    c.refuse("submit", "submit refused")
    assert rest(gerrit, "POST", f"/a/changes/{n}/submit").status_code == 409
    status, _, err = ssh_run(gerrit, f"gerrit review --submit {n},1")
    assert status == 1 and "submit refused" in err
    assert c.reviews(change=n, kind="submit") == []
    c.clear_faults()
    assert rest(gerrit, "POST", f"/a/changes/{n}/submit").status_code == 200


def test_slow_queries_time_out_then_recover(gerrit):
    c = gerrit.control
    c.create_project("p")
    c.create_change("p", {"f": "1\n"}, "F")
    c.slow_queries(30)
    started = time.monotonic()
    with pytest.raises(requests.Timeout):
        requests.get(
            f"{gerrit.baseurl}/a/changes/1", auth=("lockgate", gerrit.http_password), timeout=0.5
        )
    assert time.monotonic() - started < 5
    client = paramiko.SSHClient()
    gerrit.write_known_hosts(gerrit.root / "kh")
    client.load_host_keys(str(gerrit.root / "kh"))
    client.connect(
        "127.0.0.1",
        port=gerrit.ssh_port,
        username="lockgate",
        key_filename=str(gerrit.ssh_key_file),
        look_for_keys=False,
        allow_agent=False,
    )
    try:
        chan = client.get_transport().open_session()
        chan.settimeout(0.5)
        chan.exec_command("gerrit query --format json change:1")
        with pytest.raises(TimeoutError):
            chan.recv(1)
    finally:
        client.close()
    c.slow_queries(0)
    assert rest(gerrit, "GET", "/a/changes/1").status_code == 200


def test_bulk_emission_reaches_the_stream_fast(gerrit):
    c = gerrit.control
    c.create_project("p")
    n = c.create_change("p", {"f": "1\n"}, "F")["number"]
    stream = EventStream(gerrit, "comment-added")
    try:
        _subscribers(gerrit, 1)
        started = time.monotonic()
        assert c.emit_bulk(n, 10_000, comment="recheck {i}") == 10_000
        got = [stream.next(timeout=30)["comment"] for _ in range(10_000)]
        elapsed = time.monotonic() - started
    finally:
        stream.close()
    assert got[0] == "recheck 0" and got[-1] == "recheck 9999"
    assert elapsed < 20, f"10,000 events took {elapsed:.1f}s"


def test_raw_events_and_event_log(gerrit):
    c = gerrit.control
    stream = EventStream(gerrit)
    try:
        _subscribers(gerrit, 1)
        c.emit_raw([{"type": "this-event-is-not-handled", "title": "x"}])
        assert stream.next() == {"type": "this-event-is-not-handled", "title": "x"}
    finally:
        stream.close()
    assert c.events(type="this-event-is-not-handled")[0]["event"]["title"] == "x"


def test_control_errors_are_clear(gerrit):
    c = gerrit.control
    with pytest.raises(ControlError) as e:
        c.create_change("missing", {"f": "1\n"})
    assert e.value.status == 404 and "missing" in e.value.text
    c.create_project("p")
    with pytest.raises(ControlError) as e:
        c.create_change("p", {"f": "1\n"}, owner="nobody")
    assert e.value.status == 400 and "nobody" in e.value.text
    with pytest.raises(ControlError) as e:
        c.create_change("p", {"f": "1\n"}, branch="nope")
    assert "nope" in e.value.text


def test_zuul_conf_section_and_known_hosts(gerrit):
    section = gerrit.zuul_conf_section()
    assert section["driver"] == "gerrit" and section["server"] == "127.0.0.1"
    assert int(section["port"]) == gerrit.ssh_port and section["user"] == "lockgate"
    assert section["baseurl"] == f"http://127.0.0.1:{gerrit.http_port}"
    assert open(section["sshkey"]).read().startswith("-----BEGIN OPENSSH PRIVATE KEY-----")
    assert gerrit.known_hosts_line.startswith(f"[127.0.0.1]:{gerrit.ssh_port} ssh-ed25519 ")
    assert gerrit.zuul_conf_text().startswith("[connection gerrit]\ndriver=gerrit\n")


def test_stop_removes_process_and_files(tmp_path):
    from tests.fixtures.gerrit.fixture import GerritEmulator

    g = GerritEmulator(tmp_path / "g").start()
    pid = g.pid
    g.stop()
    assert not (tmp_path / "g").exists()
    with pytest.raises(ProcessLookupError):
        import os

        os.kill(pid, 0)


def test_a_reader_that_falls_behind_gets_dropped_output(gerrit):
    c = gerrit.control
    c.create_project("p")
    n = c.create_change("p", {"f": "1\n"}, "F")["number"]
    c.set_stream_queue(100)
    stream = EventStream(gerrit)
    try:
        _subscribers(gerrit, 1)
        c.emit_bulk(n, 1000, comment="flood {i}")
        flood = [stream.next()["comment"] for _ in range(100)]
        c.comment(n, "after the flood", account="bob")
        assert stream.next()["type"] == "dropped-output"
        assert stream.next()["comment"].endswith("after the flood")
    finally:
        stream.close()
    assert flood == [f"flood {i}" for i in range(100)]
