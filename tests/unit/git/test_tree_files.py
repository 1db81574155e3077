"""Configuration files read out of git objects, bounded
(``lockgate.git.tree_files``): both readers — the scheduler's repository
cache and the merger — skip a blob over the bound without reading it, and
the parser then reports the file as too large."""

from __future__ import annotations

from lockgate.config.errors import SourceContext
from lockgate.config.limits import DEFAULT_LIMITS
from lockgate.config.yaml import load_config_yaml
from lockgate.git import RepoCache
from lockgate.git import merger as gm
from lockgate.git.tree_files import too_large

BOUND = 1024
HUGE = "- job: {name: x}\n" + "#" * (4 * BOUND) + "\n"
FILES = {"zuul.yaml": "- job: {name: top}\n", "zuul.d/huge.yaml": HUGE, "README": "r\n"}
WANT = {"paths": ["zuul.yaml"], "prefixes": ["zuul.d/"]}


def test_the_repository_cache_does_not_read_a_blob_over_the_bound(upstream, tmp_path):
    upstream.create("org/a", FILES)
    url = str(upstream.root / "org/a")
    cache = RepoCache(tmp_path / "cache")
    cache.update(url)
    files = cache.read_files(url, "master", **WANT, max_bytes=BOUND)
    assert files["zuul.yaml"] == FILES["zuul.yaml"]
    assert files["zuul.d/huge.yaml"] == too_large(BOUND)
    # Without a bound everything is read.
    assert cache.read_files(url, "master", **WANT)["zuul.d/huge.yaml"] == HUGE


def test_the_merger_does_not_read_a_blob_over_the_bound(upstream):
    work = upstream.create("org/a", FILES)
    repo = upstream.root / "org/a"
    files = gm.read_files_at(repo, work.head(), ["zuul.yaml", "zuul.d/"], max_bytes=BOUND)
    assert files == {"zuul.yaml": FILES["zuul.yaml"], "zuul.d/huge.yaml": too_large(BOUND)}


def test_the_marker_is_reported_as_a_file_too_large():
    text = too_large(DEFAULT_LIMITS.max_file_bytes)
    context = SourceContext(project="org/a", branch="master", path="zuul.d/huge.yaml")
    doc = load_config_yaml(text, context)
    assert [e.key for e in doc.errors] == ["file-too-large"]
    assert not doc.items
