"""Change queries and git against the Gerrit emulator, over REST and over SSH."""

from __future__ import annotations

import subprocess
import time

import pytest
from lockgate.drivers.base import ChangeQueryError, ChangeSource
from lockgate.drivers.gerrit.ssh import HostKeyMismatch
from lockgate.model.change import ChangeStatus

from .helpers import connect


@pytest.fixture
def project(gerrit):
    gerrit.control.create_project("org/p", files={"README": "hello\n"})
    return "org/p"


@pytest.mark.parametrize("password", [True, False], ids=["rest", "ssh"])
def test_get_change_by_number(gerrit, tmp_path, project, password):
    c = gerrit.control
    dep = c.create_change(project, files={"lib.py": "x\n"}, message="Base")
    message = f"Use it\n\nDepends-On: {gerrit.baseurl}/c/other/+/{dep['number']}"
    made = c.create_change(
        project, files={"a.py": "a\n"}, message=message, parent_change=dep["number"], topic="t"
    )
    number = made["number"]
    c.new_patchset(number, files={"a.py": "a2\n", "b.py": "b\n"})
    c.vote(number, "Code-Review", 2, account="admin")
    source = connect(gerrit, tmp_path, http=password).source()
    assert isinstance(source, ChangeSource)

    change = source.get_change(number)
    assert (change.number, change.patchset, change.project, change.branch) == (
        number,
        2,
        project,
        "master",
    )
    assert change.is_current_patchset and change.status is ChangeStatus.NEW
    assert change.files == ["a.py", "b.py"]
    assert change.topic == "t" and change.owner.username == "admin"
    assert change.parents == [c.change(dep["number"])["revision"]]
    assert change.depends_on == [f"{gerrit.baseurl}/c/other/+/{dep['number']}"]
    assert [(a.label, a.value, a.by.username) for a in change.approvals] == [
        ("Code-Review", 2, "admin")
    ]
    assert change.approvals[0].granted_on and abs(change.approvals[0].granted_on - time.time()) < 60
    assert change.missing_labels == ["Verified"]
    assert source.change_number_from_url(change.url) == number

    first = source.get_change(number, 1)
    assert first.patchset == 1 and not first.is_current_patchset and first.files == ["a.py"]
    assert first.commit != change.commit

    found = source.open_changes_by_commit(project, [change.commit, "0" * 40])
    assert [x.number for x in found] == [number]
    recent = source.changes_updated_since(time.time() - 300)
    assert {x.number for x in recent} == {dep["number"], number}


@pytest.mark.parametrize("password", [True, False], ids=["rest", "ssh"])
def test_missing_change_names_it(gerrit, tmp_path, project, password):
    source = connect(gerrit, tmp_path, http=password).source()
    with pytest.raises(ChangeQueryError) as info:
        source.get_change(4242)
    assert "change 4242" in str(info.value)
    assert ("404" if password else "no such change") in str(info.value)


def test_wrong_password_is_a_clear_error(gerrit, tmp_path, project):
    source = connect(gerrit, tmp_path, password="wrong").source()
    with pytest.raises(ChangeQueryError, match="401 Unauthorized .wrong user or HTTP password"):
        source.get_change(1)


def test_unreachable_server(gerrit, tmp_path):
    source = connect(gerrit, tmp_path, baseurl="http://127.0.0.1:9").source()
    with pytest.raises(ChangeQueryError, match="unreachable"):
        source.get_change(1)


def test_slow_server_times_out(gerrit, tmp_path, project):
    gerrit.control.slow_queries(5)
    try:
        source = connect(gerrit, tmp_path, timeout="0.5").source()
        with pytest.raises(ChangeQueryError, match="timed out after 0.5s"):
            source.changes_updated_since(0)
    finally:
        gerrit.control.slow_queries(0)


def test_host_key_mismatch_is_refused(gerrit, tmp_path, project):
    other = tmp_path / "other_host_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    conn = connect(gerrit, tmp_path, http=False)
    wrong = tmp_path / "known_hosts"
    key_type, blob = other.with_suffix(".pub").read_text().split()[:2]
    wrong.write_text(f"[{gerrit.host}]:{gerrit.ssh_port} {key_type} {blob}\n")
    with pytest.raises(HostKeyMismatch, match="host key mismatch: the server offered ssh-ed25519"):
        conn.new_ssh().run("gerrit version")
    with pytest.raises(ChangeQueryError, match="host key mismatch"):
        conn.source().get_change(1)


def test_unknown_host_refused_with_known_hosts(gerrit, tmp_path, project):
    conn = connect(gerrit, tmp_path, http=False)
    (tmp_path / "known_hosts").write_text("")
    with pytest.raises(HostKeyMismatch, match="host key not in"):
        conn.new_ssh().run("gerrit version")


@pytest.mark.parametrize(
    "password, git_over_ssh", [(True, "false"), (False, "false"), (True, "true")]
)
def test_git_branches_and_heads(gerrit, tmp_path, project, password, git_over_ssh):
    sha = gerrit.control.push(project, {"x": "1\n"}, branch="stable")
    source = connect(gerrit, tmp_path, http=password, git_over_ssh=git_over_ssh).source()
    assert source.clone_url(project).startswith(
        "ssh://" if git_over_ssh == "true" or not password else "http://"
    )
    assert source.get_branches(project) == ["master", "stable"]
    assert source.get_ref_sha(project, "stable") == sha
    assert source.get_ref_sha(project, "refs/heads/nope") is None


@pytest.mark.parametrize("password", [True, False], ids=["rest", "ssh"])
def test_changes_needing_a_change(gerrit, tmp_path, project, password):
    """Its open git children (siblings too, not grandchildren) and the open
    changes whose Depends-On names it (a number that merely starts the same
    does not)."""
    c = gerrit.control
    root = c.create_change(project, files={"r.py": "r\n"}, message="Root")["number"]
    kids = [
        c.create_change(project, files={f"k{i}.py": "k\n"}, parent_change=root)["number"]
        for i in (1, 2, 3)
    ]
    c.create_change(project, files={"g.py": "g\n"}, parent_change=kids[0])
    c.abandon(kids[2])
    footer = f"Needs root\n\nDepends-On: {gerrit.baseurl}/{root}\n"
    depending = c.create_change(project, files={"d.py": "d\n"}, message=footer)["number"]
    near = f"Not root\n\nDepends-On: {gerrit.baseurl}/{root}0\n"
    c.create_change(project, files={"n.py": "n\n"}, message=near)
    source = connect(gerrit, tmp_path, http=password).source()

    needing = source.changes_needing(source.get_change(root))
    assert sorted(x.number for x in needing) == sorted([kids[0], kids[1], depending])
    assert all(x.is_open and x.is_current_patchset for x in needing)
    leaf = source.get_change(depending)
    assert source.changes_needing(leaf) == []
