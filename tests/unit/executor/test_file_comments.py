"""File comments on the tested (merged) commit, mapped back to the change's
own lines with real git: a change ahead inserted lines above."""

from __future__ import annotations

from pathlib import Path

from lockgate.executor.file_comments import map_lines, trace_line
from lockgate.git import run_git


def git(repo: Path, *args: str) -> str:
    return run_git(
        [
            "-c",
            "user.name=T",
            "-c",
            "user.email=t@example.org",
            "-c",
            "commit.gpgsign=false",
            *args,
        ],
        repo,
    ).strip()


def commit(repo: Path, files: dict[str, str], message: str) -> str:
    for name, text in files.items():
        (repo / name).write_text(text)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


def test_a_line_moved_by_a_change_ahead_maps_back(tmp_path: Path):
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    lines = [f"line {i}" for i in range(1, 11)]
    base = commit(repo, {"app.py": "\n".join(lines) + "\n", "other.py": "x\n"}, "base")
    # The change edits line 5.
    git(repo, "checkout", "-q", "-b", "change", base)
    changed = lines.copy()
    changed[4] = "line 5 (changed)"
    change = commit(repo, {"app.py": "\n".join(changed) + "\n"}, "the change")
    # Ahead of it, another change inserted three lines at the top.
    git(repo, "checkout", "-q", "main")
    commit(repo, {"app.py": "a\nb\nc\n" + "\n".join(lines) + "\n"}, "ahead")
    git(repo, "merge", "-q", "--no-edit", "change")
    tested = git(repo, "rev-parse", "HEAD")
    assert git(repo, "show", f"{tested}:app.py").splitlines()[7] == "line 5 (changed)"

    comments = {
        "app.py": [
            {"line": 8, "message": "on the changed line"},
            {"line": 1, "message": "a line the change did not touch"},
            {"range": {"start_line": 8, "end_line": 8}, "message": "a range"},
        ],
        "/COMMIT_MSG": [{"line": 1, "message": "no history"}],
    }
    warnings = map_lines(repo, tested, change, comments, "lint")
    assert warnings == []
    assert comments["app.py"][0]["line"] == 5
    assert comments["app.py"][1]["line"] == 1
    assert comments["app.py"][2]["range"] == {"start_line": 5, "end_line": 5}
    assert comments["/COMMIT_MSG"][0]["line"] == 1
    # A file that does not exist there cannot be traced: a warning, unchanged.
    missing = {"gone.py": [{"line": 2}]}
    (warning,) = map_lines(repo, tested, change, missing, "lint")
    assert warning.startswith("Job lint: unable to map line for file comments")
    assert missing["gone.py"][0]["line"] == 2


def test_trace_line_reads_the_hunk_of_the_change():
    out = "commit aaa\n\ndiff\n@@ -7,1 +8,1 @@\n-x\n+y\ncommit bbb\n\n@@ -4,0 +5,1 @@\n+z\n"
    assert trace_line(out, "bbb") == 5
    assert trace_line(out, "aaa") == 8
    assert trace_line(out, "ccc") is None
