"""The whole tree passes ruff: its lint rules (pyproject.toml) and its code
format, Python blocks of the docs included."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def ruff(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).parent / "ruff"), *args, "--no-cache", str(REPO)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=300,
    )


def test_ruff_finds_nothing() -> None:
    result = ruff("check")
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_tree_is_formatted_as_ruff_formats_it() -> None:
    result = ruff("format", "--check")
    assert result.returncode == 0, result.stdout + result.stderr
