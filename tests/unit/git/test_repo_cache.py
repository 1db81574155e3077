"""lockgate.git.RepoCache against real repositories (local paths and git://)."""

from __future__ import annotations

import os
import shutil
import threading

import pytest
from lockgate.git import RefNotFound, RepoCache

from tests.fixtures.git import git

CONFIG = {
    "zuul.yaml": "- job: {name: top}\n",
    "zuul.d/a.yaml": "- job: {name: a}\n",
    "zuul.d/sub/b.yaml": "- job: {name: b}\n",
    "zuul.dx/not-me.yaml": "no\n",
    "README": "hello\n",
}
WANT = {"paths": ["zuul.yaml", ".zuul.yaml"], "prefixes": ["zuul.d/", ".zuul.d"]}


@pytest.fixture
def cache(tmp_path):
    return RepoCache(tmp_path / "cache")


def test_read_files_reads_exact_paths_and_prefixes_at_a_branch(upstream, cache):
    work = upstream.create("org/a", CONFIG)
    url = str(upstream.root / "org/a")
    cache.update(url)
    files = cache.read_files(url, "master", **WANT)
    assert files == {
        "zuul.yaml": CONFIG["zuul.yaml"],
        "zuul.d/a.yaml": CONFIG["zuul.d/a.yaml"],
        "zuul.d/sub/b.yaml": CONFIG["zuul.d/sub/b.yaml"],
    }
    # The same by full ref and by sha.
    assert cache.read_files(url, "refs/heads/master", **WANT) == files
    assert cache.read_files(url, work.head(), **WANT) == files


def test_read_files_sees_new_commits_only_after_update(upstream, cache):
    work = upstream.create("org/a", CONFIG)
    url = str(upstream.root / "org/a")
    cache.update(url)
    work.commit_and_push({"zuul.yaml": "- job: {name: changed}\n", "zuul.d/a.yaml": None})
    before = cache.read_files(url, "master", **WANT)
    assert before["zuul.yaml"] == CONFIG["zuul.yaml"]
    cache.update(url)
    after = cache.read_files(url, "master", **WANT)
    assert after["zuul.yaml"] == "- job: {name: changed}\n"
    assert "zuul.d/a.yaml" not in after


def test_read_files_differs_per_branch(upstream, cache):
    work = upstream.create("org/a", CONFIG)
    work.checkout("stable", create_from="master")
    work.commit({"zuul.yaml": "- job: {name: stable}\n"})
    work.push("HEAD:refs/heads/stable")
    url = str(upstream.root / "org/a")
    cache.update(url)
    assert cache.read_files(url, "stable", ["zuul.yaml"]) == {
        "zuul.yaml": "- job: {name: stable}\n"
    }
    assert cache.read_files(url, "master", ["zuul.yaml"]) == {"zuul.yaml": CONFIG["zuul.yaml"]}


def test_read_files_skips_symlinks_and_directories_named_like_files(upstream, cache):
    work = upstream.create("org/a", {"real.yaml": "x: 1\n", ".zuul.yaml/inner": "no\n"})
    os.symlink("real.yaml", work.path / "zuul.yaml")
    work.git("add", "zuul.yaml")
    work.git("commit", "-q", "-m", "symlink")
    work.push("HEAD:refs/heads/master")
    url = str(upstream.root / "org/a")
    cache.update(url)
    assert cache.read_files(url, "master", ["zuul.yaml", ".zuul.yaml"]) == {}


def test_read_files_keeps_undecodable_bytes_as_replacement_characters(upstream, cache):
    work = upstream.create("org/a")
    (work.path / "zuul.yaml").write_bytes(b"- job: {name: \xff}\n")
    work.git("add", "zuul.yaml")
    work.git("commit", "-q", "-m", "latin-1 byte")
    work.push("HEAD:refs/heads/master")
    url = str(upstream.root / "org/a")
    cache.update(url)
    assert cache.read_files(url, "master", ["zuul.yaml"]) == {
        "zuul.yaml": "- job: {name: \ufffd}\n"
    }


def test_unknown_ref_is_ref_not_found(upstream, cache):
    upstream.create("org/a")
    url = str(upstream.root / "org/a")
    with pytest.raises(RefNotFound, match="no branch, ref or commit 'nope'"):
        cache.read_files(url, "nope", ["zuul.yaml"])
    with pytest.raises(RefNotFound):
        cache.read_files(url, "--output=/tmp/x", ["zuul.yaml"])


def test_branches_follow_the_remote_including_deletions(upstream, cache):
    work = upstream.create("org/a")
    url = str(upstream.root / "org/a")
    assert cache.branches(url) == ["master"]  # first use clones
    work.create_branch("stable/1")
    work.create_branch("feature")
    cache.update(url)
    assert cache.branches(url) == ["feature", "master", "stable/1"]
    work.delete_ref("refs/heads/feature")
    cache.update(url)
    assert cache.branches(url) == ["master", "stable/1"]
    assert cache.commit_sha(url, "stable/1") == work.head()


def test_checkout_makes_an_independent_working_tree(upstream, cache, tmp_path):
    work = upstream.create("org/a", CONFIG)
    first = work.head()
    second = work.commit_and_push({"zuul.yaml": "second\n"})
    url = str(upstream.root / "org/a")
    cache.update(url)

    dest = cache.checkout(url, first, tmp_path / "ws" / "a", branch="master")
    assert (dest / "zuul.yaml").read_text() == CONFIG["zuul.yaml"]
    assert git("rev-parse", "HEAD", cwd=dest) == first
    assert git("symbolic-ref", "--short", "HEAD", cwd=dest) == "master"
    assert git("remote", "get-url", "origin", cwd=dest) == url
    assert git("status", "--porcelain", cwd=dest) == ""

    detached = cache.checkout(url, second, tmp_path / "ws" / "b")
    assert (detached / "zuul.yaml").read_text() == "second\n"
    assert git("rev-parse", "HEAD", cwd=detached) == second

    # Nothing in the working tree refers to the cache: it survives its removal.
    shutil.rmtree(cache.root)
    assert git("log", "--format=%H", cwd=dest).splitlines() == [first]


def test_checkout_of_unknown_commit_is_ref_not_found(upstream, cache, tmp_path):
    upstream.create("org/a")
    url = str(upstream.root / "org/a")
    with pytest.raises(RefNotFound):
        cache.checkout(url, "0" * 40, tmp_path / "ws")
    assert not (tmp_path / "ws").exists()


def test_git_daemon_url(upstream, git_daemon, cache):
    work = upstream.create("org/served", CONFIG)
    url = git_daemon(upstream.root) + "/org/served"
    cache.update(url)
    assert cache.read_files(url, "master", ["zuul.yaml"]) == {"zuul.yaml": CONFIG["zuul.yaml"]}
    assert cache.mirror_path(url).name.startswith("127.0.0.1_")
    work.commit_and_push({"zuul.yaml": "new\n"})
    cache.update(url)
    assert cache.read_files(url, "master", ["zuul.yaml"]) == {"zuul.yaml": "new\n"}


def test_mirror_paths_are_stable_and_distinct(cache):
    a = cache.mirror_path("git://h:1/org/a")
    assert a == cache.mirror_path("git://h:1/org/a")
    assert a != cache.mirror_path("git://h:2/org/a")
    assert a.parent == cache.root
    secret = cache.mirror_path("https://bob:s3cret@h/org/a")
    assert "s3cret" not in secret.name


def test_concurrent_updates_reads_and_checkouts(upstream, cache, tmp_path):
    work = upstream.create("org/a", CONFIG)
    url = str(upstream.root / "org/a")
    errors: list[BaseException] = []
    seen: list[str] = []

    def reader(n: int) -> None:
        try:
            for i in range(8):
                files = cache.read_files(url, "master", **WANT)
                seen.append(files["zuul.yaml"])
                cache.checkout(url, "master", tmp_path / f"ws-{n}-{i}")
        except BaseException as e:  # noqa: BLE001 - collected and asserted below
            errors.append(e)

    def writer() -> None:
        try:
            for i in range(8):
                work.commit_and_push({"zuul.yaml": f"v{i}\n"})
                cache.update(url)
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=reader, args=(n,)) for n in range(3)]
    threads.append(threading.Thread(target=writer))
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    assert len(seen) == 24
    assert set(seen) <= {CONFIG["zuul.yaml"]} | {f"v{i}\n" for i in range(8)}
    assert cache.read_files(url, "master", ["zuul.yaml"]) == {"zuul.yaml": "v7\n"}
