"""Git over SSH and HTTP against the emulator's bare repositories, with the real
git client: clones, fetches of change refs, pushes (to a branch and for review)."""

from __future__ import annotations

from tests.fixtures.waiting import wait_for

from .helpers import EventStream, git, git_ssh_env


def test_clone_and_fetch_change_ref_over_ssh(gerrit, tmp_path):
    c = gerrit.control
    c.create_project("org/app", {"README": "hello\n"})
    change = c.create_change("org/app", {"new.txt": "new\n"}, "Add new", owner="alice")
    env = git_ssh_env(gerrit)
    work = tmp_path / "ssh-clone"
    git("clone", "-q", gerrit.ssh_url("org/app"), str(work), env=env)
    assert (work / "README").read_text() == "hello\n"
    git("fetch", "-q", "origin", change["ref"], cwd=work, env=env)
    assert git("rev-parse", "FETCH_HEAD", cwd=work) == change["revision"]
    assert git("show", "FETCH_HEAD:new.txt", cwd=work) == "new"


def test_clone_and_fetch_change_ref_over_http(gerrit, tmp_path):
    c = gerrit.control
    c.create_project("org/app", {"README": "hello\n"})
    change = c.create_change("org/app", {"new.txt": "new\n"}, "Add new")
    anonymous = tmp_path / "anon"
    git("clone", "-q", gerrit.http_url("org/app"), str(anonymous))
    git("fetch", "-q", "origin", change["ref"], cwd=anonymous)
    assert git("rev-parse", "FETCH_HEAD", cwd=anonymous) == change["revision"]
    authed = tmp_path / "authed"
    git("clone", "-q", gerrit.http_url("org/app", authenticated=True), str(authed))
    refs = git("ls-remote", gerrit.http_url("org/app", authenticated=True), cwd=authed)
    assert f"{change['revision']}\t{change['ref']}" in refs


def test_push_to_branch_over_ssh_emits_ref_updated_and_closes_changes(gerrit, tmp_path):
    c = gerrit.control
    c.create_project("org/app")
    change = c.create_change("org/app", {"a": "1\n"}, "A")
    env = git_ssh_env(gerrit)
    work = tmp_path / "w"
    git("clone", "-q", gerrit.ssh_url("org/app"), str(work), env=env)
    git("fetch", "-q", "origin", change["ref"], cwd=work, env=env)
    git("merge", "-q", "--ff-only", "FETCH_HEAD", cwd=work)
    stream = EventStream(gerrit)
    try:
        wait_for(lambda: c.stream_status()["subscribers"] == 1, 10, "the stream")
        git("push", "-q", "origin", "HEAD:refs/heads/master", cwd=work, env=env)
        updated = stream.next("ref-updated")
        merged = stream.next("change-merged")
    finally:
        stream.close()
    assert updated["refUpdate"]["refName"] == "refs/heads/master"
    assert updated["refUpdate"]["newRev"] == change["revision"]
    assert updated["submitter"]["username"] == "lockgate"
    assert merged["change"]["number"] == change["number"]
    assert c.change(change["number"])["status"] == "MERGED"


def test_push_for_review_creates_change_then_patchset(gerrit, tmp_path):
    c = gerrit.control
    c.create_project("org/app")
    url = gerrit.http_url("org/app", authenticated=True)
    work = tmp_path / "w"
    git("clone", "-q", url, str(work))
    (work / "f.txt").write_text("one\n")
    git("add", "f.txt", cwd=work)
    cid = "I" + "1" * 40
    git("commit", "-q", "-m", f"Add f\n\nChange-Id: {cid}", cwd=work)
    git("push", "-q", "origin", "HEAD:refs/for/master%topic=feature", cwd=work)
    [change] = c.changes()
    assert (change["change_id"], change["topic"], change["owner"]) == (cid, "feature", "lockgate")
    (work / "f.txt").write_text("two\n")
    git("commit", "-q", "-a", "--amend", "--no-edit", cwd=work)
    git("push", "-q", "origin", "HEAD:refs/for/master", cwd=work)
    change = c.change(change["number"])
    assert change["current_patchset"] == 2
    assert change["revision"] == git("rev-parse", "HEAD", cwd=work)
    assert "refs/for/master" not in git("ls-remote", url, cwd=work)
