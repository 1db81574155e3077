"""lockgate.git.cmd: ls_remote against real repositories, and its errors."""

from __future__ import annotations

import pytest
from lockgate.git import GitError, ls_remote
from lockgate.git.cmd import mask


def test_ls_remote_lists_branches_and_tags_without_head_or_peeled(upstream):
    work = upstream.create("org/a")
    work.create_branch("stable")
    tag_sha = work.tag("v1", annotated=True)
    refs = ls_remote(str(upstream.root / "org/a"))
    assert refs == {
        "refs/heads/master": work.head(),
        "refs/heads/stable": work.head(),
        "refs/tags/v1": tag_sha,
    }
    assert tag_sha != work.head()  # the annotated tag's own object, not the commit


def test_ls_remote_over_git_daemon(upstream, git_daemon):
    work = upstream.create("org/served")
    url = git_daemon(upstream.root)
    assert ls_remote(f"{url}/org/served") == {"refs/heads/master": work.head()}


def test_ls_remote_of_missing_repository_is_a_one_line_error(tmp_path):
    with pytest.raises(GitError) as info:
        ls_remote(str(tmp_path / "nope"))
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("git ls-remote")


def test_option_looking_url_is_refused():
    with pytest.raises(GitError, match="invalid repository URL"):
        ls_remote("--upload-pack=touch /tmp/x")


def test_credentials_are_masked():
    assert mask("fatal: https://bob:s3cret@example.com/x") == "fatal: https://***@example.com/x"
