"""Workspace preparation from real git repositories through the mirror cache."""

from __future__ import annotations

import subprocess

import pytest
from lockgate.drivers.git.connection import GitConnection
from lockgate.executor.jobdir import JobDir
from lockgate.executor.repos import PlaybookProjects, WorkspaceError, prepare_repos
from lockgate.git import RepoCache
from lockgate.model.jobs import PlaybookRef
from lockgate.service_config import Section

from tests.fixtures.executor import make_request, repo_state


def head(path) -> str:
    return subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=path, capture_output=True, text=True, check=True
    ).stdout.strip()


def branch(path) -> str:
    return subprocess.run(
        ["git", "rev-parse", "--abbrev-ref", "HEAD"],
        cwd=path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def test_checkouts_at_the_requested_commits_and_new_commits_fetched(upstream, tmp_path):
    app = upstream.create("org/app", {"a.txt": "1\n"})
    first = app.head()
    app.commit_and_push({"a.txt": "2\n"})
    lib = upstream.create("org/lib")
    cache = RepoCache(tmp_path / "git")
    # The build wants the older commit of app, on master.
    request = make_request(app, extra_repos=[repo_state(lib)])
    request.project.commit = first
    request.repos[0] = request.project
    jobdir = JobDir.create(tmp_path / "builds", tmp_path / "logs", "b1")
    checkouts = prepare_repos(cache, jobdir, request)
    app_dir = jobdir.src_dir(request.project.canonical_name)
    assert head(app_dir) == first and branch(app_dir) == "master"
    assert (app_dir / "a.txt").read_text() == "1\n"
    assert head(checkouts[repo_state(lib).canonical_name].path) == lib.head()
    # A commit pushed after the mirror was made is fetched on demand.
    newest = app.commit_and_push({"a.txt": "3\n"})
    request2 = make_request(app)
    jobdir2 = JobDir.create(tmp_path / "builds", tmp_path / "logs", "b2")
    prepare_repos(cache, jobdir2, request2)
    assert head(jobdir2.src_dir(request2.project.canonical_name)) == newest
    assert len(list((tmp_path / "git").glob("*.git"))) == 2  # one mirror per repository


def test_unknown_commit_is_a_clear_error(upstream, tmp_path):
    app = upstream.create("org/app")
    request = make_request(app)
    request.project.commit = "f" * 40
    jobdir = JobDir.create(tmp_path / "builds", tmp_path / "logs", "b1")
    with pytest.raises(WorkspaceError, match=r"org/app at f{40}"):
        prepare_repos(RepoCache(tmp_path / "git"), jobdir, request)


def test_playbook_from_another_branch_and_outside_paths(upstream, tmp_path):
    app = upstream.create("org/app", {"pb.yaml": "# master\n"})
    app.create_branch("stable")
    app.commit_and_push({"pb.yaml": "# stable\n"}, branch="stable")
    app.checkout("master")
    cache = RepoCache(tmp_path / "git")
    request = make_request(app)
    jobdir = JobDir.create(tmp_path / "builds", tmp_path / "logs", "b1")
    projects = PlaybookProjects(cache, jobdir, prepare_repos(cache, jobdir, request))
    same = projects.playbook(
        PlaybookRef(path="pb", connection="git", project="org/app", branch="master")
    )
    assert same.read_text() == "# master\n"  # found without its extension, too
    other = projects.playbook(
        PlaybookRef(path="pb.yaml", connection="git", project="org/app", branch="stable")
    )
    assert other.read_text() == "# stable\n"
    assert other.is_relative_to(jobdir.playbook_root)
    with pytest.raises(WorkspaceError, match="outside its repository"):
        projects.playbook(
            PlaybookRef(path="../../../etc/passwd", connection="git", project="org/app")
        )
    with pytest.raises(
        WorkspaceError,
        match="not among the build's repositories, and the executor has no such connection",
    ):
        projects.playbook(PlaybookRef(path="pb.yaml", connection="git", project="org/other"))


def test_flat_workspace_scheme(upstream, tmp_path):
    app = upstream.create("org/app")
    other = upstream.create("other/app")
    cache = RepoCache(tmp_path / "git")
    request = make_request(app, workspace_scheme="flat")
    jobdir = JobDir.create(tmp_path / "builds", tmp_path / "logs", "b1")
    checkouts = prepare_repos(cache, jobdir, request)
    [checkout] = checkouts.values()
    assert checkout.path == jobdir.work_root / "src" / "app"
    assert checkout.src_dir == "src/app" and head(checkout.path) == app.head()
    clash = make_request(app, workspace_scheme="flat", extra_repos=[repo_state(other)])
    with pytest.raises(WorkspaceError, match="would both be checked out at src/app"):
        prepare_repos(cache, JobDir.create(tmp_path / "builds", tmp_path / "logs", "b2"), clash)


def test_playbooks_of_a_project_outside_the_build_come_from_its_connection(upstream, tmp_path):
    config = upstream.create("org/config", {"playbooks/base.yaml": "# v1\n"})
    app = upstream.create("org/app")
    section = Section("<test>", "connection git", {"driver": "git", "baseurl": str(upstream.root)})
    connection = GitConnection.from_section("git", section)
    cache = RepoCache(tmp_path / "git")
    ref = PlaybookRef(
        path="playbooks/base.yaml",
        connection="git",
        project="org/config",
        branch="master",
        trusted=True,
    )

    def build(uuid: str):
        request = make_request(app)
        jobdir = JobDir.create(tmp_path / "builds", tmp_path / "logs", uuid)
        projects = PlaybookProjects(
            cache, jobdir, prepare_repos(cache, jobdir, request), {"git": connection.source()}
        )
        return projects.playbook(ref), jobdir

    path, jobdir = build("b1")
    assert path.read_text() == "# v1\n"
    assert path.is_relative_to(jobdir.playbook_root)
    # The branch head is current for every build (the mirror is fetched).
    config.commit_and_push({"playbooks/base.yaml": "# v2\n"})
    path, _ = build("b2")
    assert path.read_text() == "# v2\n"
