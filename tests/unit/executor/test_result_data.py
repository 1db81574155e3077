"""The zuul_return result file: how the action plugin merges calls, and how
the executor reads (and distrusts) what playbooks left in it."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from lockgate.executor.ansible_setup import ACTION_DIR
from lockgate.executor.result_data import file_comments_problem, read_result_file


def _plugin():
    spec = importlib.util.spec_from_file_location("zuul_return", ACTION_DIR / "zuul_return.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


plugin = _plugin()


def test_merge_is_deep_and_zuul_lists_accumulate():
    old = {"a": {"x": 1, "y": 2}, "zuul": {"warnings": ["w1"], "retry": True}}
    new = {
        "a": {"y": 3},
        "b": [1],
        "zuul": {
            "warnings": ["w2"],
            "artifacts": [{"name": "n", "url": "u"}],
            "file_comments": {"f": [{"line": 1}]},
        },
    }
    merged = plugin.merge_returned(new, old)
    assert merged["a"] == {"x": 1, "y": 3}
    assert merged["b"] == [1]
    assert merged["zuul"]["warnings"] == ["w1", "w2"]
    assert merged["zuul"]["artifacts"] == [{"name": "n", "url": "u"}]
    assert merged["zuul"]["retry"] is True
    again = plugin.merge_returned({"zuul": {"file_comments": {"f": [{"line": 2}]}}}, merged)
    assert again["zuul"]["file_comments"] == {"f": [{"line": 1}, {"line": 2}]}


def test_update_result_file_keeps_secret_data_apart_and_refuses_bad_shapes(tmp_path: Path):
    path = tmp_path / "results.json"
    plugin.update_result_file(path, data={"v": 1}, secret={"token": "t"})
    plugin.update_result_file(path, data={"w": 2})
    assert json.loads(path.read_text()) == {"data": {"v": 1, "w": 2}, "secret_data": {"token": "t"}}
    with pytest.raises(ValueError, match=r"zuul.warnings must be a list of strings"):
        plugin.update_result_file(path, data={"zuul": {"warnings": "not a list"}})
    with pytest.raises(ValueError, match=r"zuul.artifacts\[0\].name must be a string"):
        plugin.update_result_file(path, data={"zuul": {"artifacts": [{"url": "u"}]}})
    # A refused call leaves the file as it was.
    assert json.loads(path.read_text())["data"] == {"v": 1, "w": 2}


def test_reading_a_missing_or_empty_file_gives_nothing(tmp_path: Path):
    assert read_result_file(tmp_path / "none.json", "j").data == {}
    (tmp_path / "empty.json").write_text("")
    assert read_result_file(tmp_path / "empty.json", "j").warnings == []


def test_reading_garbage_warns_and_keeps_what_is_usable(tmp_path: Path):
    path = tmp_path / "results.json"
    path.write_text("{not json")
    assert "is not JSON" in read_result_file(path, "j").warnings[0]
    path.write_text(
        json.dumps(
            {
                "data": {
                    "good": 1,
                    "bad name": 2,
                    "zuul": {
                        "artifacts": "nope",
                        "warnings": ["kept"],
                        "child_jobs": "x",
                        "file_comments": {"f": [{"line": "3"}]},
                        "pause": True,
                        "log_url": "https://logs/",
                    },
                },
                "secret_data": {"s": 1, "zuul": {"pause": True}},
            }
        )
    )
    got = read_result_file(path, "my-job")
    assert got.data["good"] == 1 and "bad name" not in got.data
    assert set(got.zuul) == {"warnings", "pause", "log_url"}
    assert got.pause and got.log_url == "https://logs/"
    assert got.secret_data == {"s": 1}
    assert got.warnings[-1] == "kept"
    joined = "\n".join(got.warnings)
    for part in ("'bad name' is not a valid variable name", "zuul.artifacts", "zuul.child_jobs"):
        assert part in joined
    assert "zuul.file_comments is invalid (f[0].line: expected int)" in joined


def test_file_comment_shapes():
    assert file_comments_problem({"a.py": [{"line": 1, "message": "m", "level": "info"}]}) is None
    assert file_comments_problem({"a.py": [{"range": {"start_line": 1, "end_line": 2}}]}) is None
    assert file_comments_problem([]) == "not a mapping of file names"
    assert file_comments_problem({"a.py": [{"colour": 1}]}) == "a.py[0]: unknown key 'colour'"
    assert "range.start" in file_comments_problem({"a.py": [{"range": {"start": 1}}]})
