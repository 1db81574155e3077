"""mypy finds nothing in the product code (STYLE.md point 4: types where the
data is, checked from the first commit).

mypy runs as ``mypy -p lockgate`` with the ``[tool.mypy]`` settings of
``pyproject.toml`` on the same mirror of the import layout that the
architecture test gives import-linter (``build_mirror``): ``lockgate`` maps
several top-level folders into one package, and mypy, like grimp, finds a
package's modules by walking its folder.  The mirror is symbolic links, so
mypy reads the working tree as it is.

The check is itself checked: a module with a deliberate type error put into
the mirror must make mypy fail, naming it.  Both runs share one cache in the
test's temporary folder, so the second only checks what changed.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_architecture import REPO, build_mirror

MYPY = Path(sys.executable).parent / "mypy"


def run_mypy(tree: Path, cache: Path) -> subprocess.CompletedProcess[str]:
    """``mypy -p lockgate`` on the mirror at ``tree`` with the project's settings."""
    return subprocess.run(
        [
            str(MYPY),
            "-p",
            "lockgate",
            "--config-file",
            str(REPO / "pyproject.toml"),
            "--cache-dir",
            str(cache),
        ],
        cwd=tree,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.fixture(scope="module")
def mypy_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("mypy-cache")


def test_mypy_finds_nothing(tmp_path: Path, mypy_cache: Path) -> None:
    tree = build_mirror(tmp_path / "tree")
    result = run_mypy(tree, mypy_cache)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("Success: no issues found"), result.stdout


def test_mypy_fails_on_a_type_error(tmp_path: Path, mypy_cache: Path) -> None:
    tree = build_mirror(tmp_path / "tree")
    (tree / "lockgate" / "zz_bad_types.py").write_text(
        "def half(n: int) -> int:\n    return n // 2\n\n\nHALF: int = half('four')\n"
    )
    result = run_mypy(tree, mypy_cache)
    assert result.returncode == 1, result.stdout + result.stderr
    assert 'lockgate/zz_bad_types.py:5: error: Argument 1 to "half"' in result.stdout, result.stdout


if __name__ == "__main__":
    # ``python -m tests.test_types``: mypy on the real tree, as CI runs it.
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        outcome = run_mypy(build_mirror(Path(tmp) / "tree"), Path(tmp) / "cache")
    print(outcome.stdout + outcome.stderr)
    sys.exit(outcome.returncode)
