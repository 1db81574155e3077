"""File discovery, exactly as Zuul: first root wins, sorted, *.yaml, .zuul.ignore."""

from __future__ import annotations

import os

from lockgate.config.discovery import discover_in_mapping, discover_on_disk, select_config_files
from lockgate.config.errors import SourceContext


def paths(files, extra=()):
    return select_config_files(files, extra).paths


def test_first_root_only():
    assert paths(["zuul.yaml", "README"]) == ["zuul.yaml"]
    assert paths([".zuul.yaml"]) == [".zuul.yaml"]
    assert paths([".zuul.d/a.yaml"]) == [".zuul.d/a.yaml"]


def test_more_than_one_root_is_an_error_and_the_first_is_used():
    ctx = SourceContext(project="org/p", branch="master", path="")
    found = select_config_files(["zuul.yaml", ".zuul.yaml", "zuul.d/a.yaml"], (), ctx)
    assert found.paths == ["zuul.yaml"]
    assert [e.context.path for e in found.errors] == ["zuul.d/", ".zuul.yaml"]
    assert found.errors[0].format() == (
        "zuul.d/: more than one configuration root: 'zuul.d/' is ignored because "
        "'zuul.yaml' was found first (use only one of zuul.yaml, zuul.d/, .zuul.yaml, .zuul.d/)"
    )
    assert {e.context.project for e in found.errors} == {"org/p"}


def test_directories_recursive_sorted_yaml_only():
    files = [
        "zuul.d/b.yaml",
        "zuul.d/a/z.yaml",
        "zuul.d/a.yaml",
        "zuul.d/c.yml",
        "zuul.d/notes.txt",
        "zuul.d/sub/deeper/x.yaml",
    ]
    assert paths(files) == [
        "zuul.d/a.yaml",
        "zuul.d/a/z.yaml",
        "zuul.d/b.yaml",
        "zuul.d/sub/deeper/x.yaml",
    ]


def test_zuul_ignore_skips_the_subtree():
    files = [
        "zuul.d/a.yaml",
        "zuul.d/skip/.zuul.ignore",
        "zuul.d/skip/x.yaml",
        "zuul.d/skip/deeper/y.yaml",
        "zuul.d/skipnot.yaml",
    ]
    assert paths(files) == ["zuul.d/a.yaml", "zuul.d/skipnot.yaml"]


def test_extra_config_paths_all_loaded_after_the_root():
    files = [".zuul.yaml", "extra.yaml", "extra.d/b.yaml", "extra.d/a.yaml", "other.yaml"]
    assert paths(files, ["extra.d/", "extra.yaml", "missing.yaml"]) == [
        ".zuul.yaml",
        "extra.d/a.yaml",
        "extra.d/b.yaml",
        "extra.yaml",
    ]


def test_no_configuration():
    found = select_config_files(["README", "setup.py"])
    assert found.paths == [] and found.errors == []


def test_mapping_entry_point_keeps_texts():
    files = {"zuul.d/b.yaml": "b", "zuul.d/a.yaml": "a", "src/x.py": "x"}
    chosen, errors = discover_in_mapping(files)
    assert chosen == [("zuul.d/a.yaml", "a"), ("zuul.d/b.yaml", "b")] and errors == []


def test_disk_entry_point(tmp_path):
    (tmp_path / "zuul.d" / "sub").mkdir(parents=True)
    (tmp_path / "zuul.d" / "b.yaml").write_text("- job: {name: b}\n")
    (tmp_path / "zuul.d" / "sub" / "a.yaml").write_text("- job: {name: a}\n")
    (tmp_path / "zuul.d" / "ignored").mkdir()
    (tmp_path / "zuul.d" / "ignored" / ".zuul.ignore").write_text("")
    (tmp_path / "zuul.d" / "ignored" / "x.yaml").write_text("junk")
    (tmp_path / ".zuul.yaml").write_text("- job: {name: c}\n")
    chosen, errors = discover_on_disk(str(tmp_path))
    assert [p for p, _ in chosen] == ["zuul.d/b.yaml", "zuul.d/sub/a.yaml"]
    assert chosen[0][1] == b"- job: {name: b}\n"
    assert [e.context.path for e in errors] == [".zuul.yaml"]


def test_disk_unreadable_file_is_an_error(tmp_path):
    (tmp_path / "zuul.yaml").mkdir()  # a directory where a file is expected: not a root
    assert discover_on_disk(str(tmp_path)) == ([], [])
    target = tmp_path / ".zuul.yaml"
    os.symlink(str(tmp_path / "nowhere"), target)
    chosen, errors = discover_on_disk(str(tmp_path))
    assert chosen == [] and errors == []  # a dangling link is not a file
