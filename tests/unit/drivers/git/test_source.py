"""GitSource: clone URLs, canonical names, branches and ref heads from a real server."""

from __future__ import annotations

import pytest
from lockgate.drivers.git import GitConnection
from lockgate.git import GitError


def test_branches_and_ref_shas_from_a_local_baseurl(upstream):
    work = upstream.create("org/a")
    work.create_branch("stable/2024")
    tag = work.tag("v1.0", annotated=True)
    source = GitConnection("src", str(upstream.root)).source()
    assert source.connection_name == "src"
    assert source.clone_url("org/a") == f"{upstream.root}/org/a"
    assert source.canonical_name("org/a") == "localhost/org/a"
    assert source.get_branches("org/a") == ["master", "stable/2024"]
    assert source.get_ref_sha("org/a", "master") == work.head()
    assert source.get_ref_sha("org/a", "refs/heads/stable/2024") == work.head()
    assert source.get_ref_sha("org/a", "refs/tags/v1.0") == tag
    assert source.get_ref_sha("org/a", "nope") is None


def test_git_daemon_baseurl(upstream, git_daemon):
    work = upstream.create("org/served")
    baseurl = git_daemon(upstream.root)
    source = GitConnection("src", baseurl, canonical_hostname="127.0.0.1").source()
    assert source.get_branches("org/served") == ["master"]
    assert source.get_ref_sha("org/served", "master") == work.head()


def test_missing_project_is_a_git_error(upstream):
    source = GitConnection("src", str(upstream.root)).source()
    with pytest.raises(GitError):
        source.get_branches("org/none")
