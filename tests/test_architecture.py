"""Architecture checks that can fail (STYLE.md points 1 and 6).

(a) The import-linter contracts in ``pyproject.toml`` hold: the four processes
    never import each other, only ``lockgate.zk`` imports kazoo, the
    configuration freezer never imports the layout builder (which uses it),
    and the executor's playbook rules (``executor/phases``) import no I/O.
    The checks are themselves checked: a copy of the tree with a deliberate
    violation must make ``lint-imports`` fail.
(b) No product module outside ``core/zk/paths.py`` spells a ``/lockgate``
    ZooKeeper path in a string literal (found with ``ast``, so comments and
    docstrings that merely mention the tree are fine, and f-strings count).
(c) No product module imports another module's private (``_``) name: what
    modules share is public, so a reader sees the seam.

Why a mirror tree: ``lockgate`` maps several top-level folders into one
package (setup.py), but import-linter's graph builder (grimp) finds a
package's modules by walking the package's own folder (``core/``), so it would
not see ``lockgate.scheduler``.  The mirror is a temporary ``lockgate/``
folder of symbolic links laid out as the import names are, put first on the
path for ``lint-imports``.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
# import name -> folder, as in setup.py
FOLDERS = {
    "lockgate": "core",
    "lockgate.scheduler": "scheduler",
    "lockgate.executor": "executor",
    "lockgate.launcher": "launcher",
    "lockgate.web": "web",
    "lockgate.drivers": "drivers",
}
PRODUCT_FOLDERS = ["core", "scheduler", "executor", "launcher", "web", "drivers"]
PATHS_MODULE = REPO / "core" / "zk" / "paths.py"
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def build_mirror(dest: Path, repo: Path = REPO, *, copy: bool = False) -> Path:
    """Lay out ``repo``'s folders under ``dest/lockgate`` by import name.

    Symbolic links by default; ``copy=True`` copies the files instead (for a
    tree that a test then edits)."""
    pkg = dest / "lockgate"
    pkg.mkdir(parents=True)

    def place(src: Path, target: Path) -> None:
        if copy:
            if src.is_dir():
                shutil.copytree(src, target, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                shutil.copy2(src, target)
        else:
            target.symlink_to(src)

    subfolders = {name.split(".", 1)[1]: folder for name, folder in FOLDERS.items() if "." in name}
    for entry in (repo / "core").iterdir():
        if entry.name == "__pycache__" or entry.name in subfolders:
            continue
        place(entry, pkg / entry.name)
    for sub, folder in subfolders.items():
        place(repo / folder, pkg / sub)
    return dest


def lint_imports(tree: Path, config: Path) -> subprocess.CompletedProcess[str]:
    """Run ``lint-imports`` on the mirror at ``tree`` with ``config``."""
    env = dict(os.environ, PYTHONPATH=str(tree))
    return subprocess.run(
        [str(LINT_IMPORTS), str(config), "--no-cache", "--no-logo"],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )


def test_import_contracts_hold(tmp_path):
    tree = build_mirror(tmp_path / "tree")
    result = lint_imports(tree, REPO / "pyproject.toml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 6 kept, 0 broken." in result.stdout
    assert "The four processes are independent KEPT" in result.stdout
    assert "The decision core does no I/O" in result.stdout
    assert "Only lockgate.zk imports kazoo KEPT" in result.stdout
    assert "The freezer reads the Layout record, never the layout builder KEPT" in result.stdout
    assert "The freezer's modules in layers (graph, recipes, chain, build) KEPT" in result.stdout
    assert "The executor's playbook rules do no I/O (executor/phases) KEPT" in result.stdout


def test_import_contracts_fail_when_violated(tmp_path):
    """A copy of the tree with a process importing another, a non-zk module
    importing kazoo, a decision module reading ZooKeeper, a freezer module
    importing the layout builder, the freezer's lowest layer importing its
    highest and the executor's playbook rules starting a process must break
    the six contracts, naming the offenders."""
    tree = build_mirror(tmp_path / "tree", copy=True)
    pkg = tree / "lockgate"
    (pkg / "web" / "zz_bad_import.py").write_text("import lockgate.scheduler\n")
    (pkg / "zz_bad_kazoo.py").write_text("from kazoo.client import KazooClient\n")
    (pkg / "scheduler" / "manager" / "zz_bad_io.py").write_text(
        "from lockgate.zk.pipelines import PipelineStore\n"
    )
    freeze = pkg / "config" / "freeze"
    (freeze / "zz_bad_builder.py").write_text("from lockgate.config.layout import build_layout\n")
    with (freeze / "build.py").open("a") as build:
        build.write("\nfrom lockgate.config.freeze.graph import JobGraph  # noqa\n")
    with (pkg / "executor" / "phases.py").open("a") as phases:
        phases.write("\nimport subprocess  # noqa\n")
    result = lint_imports(tree, REPO / "pyproject.toml")
    assert result.returncode != 0
    assert "Contracts: 0 kept, 6 broken." in result.stdout, result.stdout + result.stderr
    assert "lockgate.web.zz_bad_import" in result.stdout
    assert "lockgate.zz_bad_kazoo" in result.stdout
    assert "lockgate.scheduler.manager.zz_bad_io" in result.stdout
    assert "lockgate.config.freeze.zz_bad_builder" in result.stdout
    assert "lockgate.config.freeze.build -> lockgate.config.freeze.graph" in result.stdout
    assert "lockgate.executor.phases -> subprocess" in result.stdout


def lockgate_literals(path: Path) -> list[tuple[int, str]]:
    """``(line, text)`` of each string constant in ``path`` that starts with
    ``/lockgate`` (plain strings and the literal parts of f-strings)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = getattr(node, "body", [])
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                docstrings.add(id(body[0].value))
    found = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in docstrings
            and node.value.startswith("/lockgate")
        ):
            found.append((node.lineno, node.value))
    return found


def product_sources() -> list[Path]:
    files = []
    for folder in PRODUCT_FOLDERS:
        files.extend(p for p in (REPO / folder).rglob("*.py") if "__pycache__" not in p.parts)
    return sorted(files)


def test_no_zookeeper_path_literal_outside_paths_module():
    offenders = []
    for path in product_sources():
        if path == PATHS_MODULE:
            continue
        for line, text in lockgate_literals(path):
            offenders.append(f"{path.relative_to(REPO)}:{line}: {text!r}")
    assert not offenders, (
        "ZooKeeper paths must come from lockgate.zk.paths functions; found literals:\n"
        + "\n".join(offenders)
    )


def test_paths_module_holds_the_root_literal():
    assert [text for _, text in lockgate_literals(PATHS_MODULE)] == ["/lockgate"]


def private_imports(path: Path) -> list[tuple[int, str]]:
    """``(line, "module.name")`` for each ``_name`` that ``path`` imports
    from a ``lockgate`` module (dunder names are not private)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("lockgate"):
            for alias in node.names:
                if alias.name.startswith("_") and not alias.name.startswith("__"):
                    found.append((node.lineno, f"{node.module}.{alias.name}"))
    return found


def test_no_module_imports_a_private_name():
    offenders = [
        f"{path.relative_to(REPO)}:{line}: {name}"
        for path in product_sources()
        for line, name in private_imports(path)
    ]
    assert not offenders, (
        "A name another module uses is public (drop its leading underscore):\n"
        + "\n".join(offenders)
    )


def test_private_import_scanner_finds_what_it_should(tmp_path):
    path = tmp_path / "m.py"
    path.write_text(
        "from lockgate.config.freeze.chain import NotRun, _check\n"
        "from lockgate.x import (\n    __version__,\n    _y as y,\n)\n"
        "from os import _exit\n"
    )
    assert private_imports(path) == [
        (1, "lockgate.config.freeze.chain._check"),
        (2, "lockgate.x._y"),
    ]


@pytest.mark.parametrize(
    "source, expected",
    [
        ('P = "/lockgate/nodes"\n', [(1, "/lockgate/nodes")]),
        ("x = 1\np = f'/lockgate/{x}'\n", [(2, "/lockgate/")]),
        ('"""Mentions /lockgate in a docstring."""\n', []),
        ("# '/lockgate' in a comment\n", []),
        ('p = "/other/lockgate"\n', []),
    ],
)
def test_literal_scanner_finds_what_it_should(tmp_path, source, expected):
    path = tmp_path / "m.py"
    path.write_text(source)
    assert lockgate_literals(path) == expected


if __name__ == "__main__":
    # ``python -m tests.test_architecture``: lint-imports on the real tree, as CI runs it.
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        outcome = lint_imports(build_mirror(Path(tmp) / "tree"), REPO / "pyproject.toml")
    print(outcome.stdout + outcome.stderr)
    sys.exit(outcome.returncode)
