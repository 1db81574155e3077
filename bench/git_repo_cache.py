"""Figures for lockgate.git on this machine: mirror clone, fetch, read_files,
checkout and ls-remote on a 1000-commit repository with a zuul.d/ of 20 files.

Run: /opt/lgvenv/bin/python bench/git_repo_cache.py  (prints medians in ms)
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from lockgate.git import RepoCache, ls_remote

COMMITS = 1000
RUNS = 20


def git(*args: str, cwd: Path | None = None, stdin: bytes | None = None) -> None:
    subprocess.run(
        ["git", "-c", "user.name=b", "-c", "user.email=b@b", *args],
        cwd=cwd,
        input=stdin,
        check=True,
        capture_output=True,
    )


def make_repo(root: Path) -> Path:
    """A bare repository with COMMITS commits, made quickly with fast-import."""
    bare = root / "org" / "big"
    git("init", "-q", "--bare", "-b", "master", str(bare))
    stream = []
    now = int(time.time())
    for i in range(COMMITS):
        files = {f"src/file{i % 50}.py": f"print({i})\n"}
        if i == 0:
            files["zuul.yaml"] = "- project: {check: {jobs: [noop]}}\n"
            files.update({f"zuul.d/jobs{n:02}.yaml": f"- job: {{name: j{n}}}\n" for n in range(20)})
        stream.append(
            f"commit refs/heads/master\nmark :{i + 1}\n"
            f"committer b <b@b> {now + i} +0000\ndata 8\ncommit {i % 10}\n"
        )
        if i:
            stream.append(f"from :{i}\n")
        for name, text in files.items():
            data = text.encode()
            stream.append(f"M 100644 inline {name}\ndata {len(data)}\n{text}\n")
    git("fast-import", "--quiet", cwd=bare, stdin="".join(stream).encode())
    return bare


def median_ms(fn: Callable[[int], object], runs: int = RUNS) -> float:
    samples = []
    for i in range(runs):
        start = time.perf_counter()
        fn(i)
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def main() -> None:
    root = Path(tempfile.mkdtemp(prefix="lg-bench-git-"))
    try:
        url = str(make_repo(root / "upstream"))
        figures = {}
        figures["mirror clone (first update)"] = median_ms(
            lambda i: RepoCache(root / f"c{i}").update(url)
        )
        cache = RepoCache(root / "cache")
        cache.update(url)
        figures["update, nothing new (fetch)"] = median_ms(lambda i: cache.update(url))
        want = {"paths": ["zuul.yaml", ".zuul.yaml"], "prefixes": ["zuul.d/", ".zuul.d/"]}
        assert len(cache.read_files(url, "master", **want)) == 21
        figures["read_files zuul.yaml + zuul.d/ (21 files)"] = median_ms(
            lambda i: cache.read_files(url, "master", **want)
        )
        figures["checkout (local clone + checkout)"] = median_ms(
            lambda i: cache.checkout(url, "master", root / f"ws{i}", branch="master")
        )
        figures["ls_remote (local path)"] = median_ms(lambda i: ls_remote(url))
        for name, ms in figures.items():
            print(f"{name:45s} {ms:8.1f} ms  (median of {RUNS})")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
