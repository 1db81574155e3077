"""What a hostile or careless ``.zuul.yaml`` can do: it must cost little and
be reported, through ``lockgate config check`` and through the scheduler's
speculative layout (a proposed change carrying the file).

Figures (time, memory) are in ``bench/config_hostile.py``; these tests only
assert what is reported and that the read stays within its bounds.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lockgate.config import check
from lockgate.config.errors import SourceContext
from lockgate.config.layout import build_layout
from lockgate.config.limits import ReadBudget, ReadLimits
from lockgate.config.parser import parse_files
from lockgate.config.tenant import TenantProject, TenantSource, TenantSpec
from lockgate.config.yaml import load_config_yaml
from lockgate.scheduler.speculation import speculate

CTX = SourceContext(project="org/p", branch="master", path="zuul.yaml")


def alias_bomb(levels: int, fanout: int = 10) -> str:
    """A job whose vars hold ``levels`` nested anchors, each list repeating
    the previous anchor ``fanout`` times (``fanout ** levels`` leaves)."""
    lines = ["- job:", "    name: bomb", "    vars:"]
    lines.append(f"      a0: &a0 [{', '.join(['x'] * fanout)}]")
    for i in range(1, levels):
        lines.append(f"      a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * fanout)}]")
    return "\n".join(lines) + "\n"


def run_check(*dirs: Path) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    code = check.main([str(d) for d in dirs], out=out, err=err)
    assert err.getvalue() == ""
    return code, out.getvalue()


# ---- the scheduler's path: a proposed change carrying the file --------------

BASE = "- job:\n    name: base\n    parent: null\n    run: base.yaml\n"


def _tenant() -> SimpleNamespace:
    config = TenantProject("org/config", "git", trusted=True, load_branch="master")
    app = TenantProject("org/app", "git", trusted=False)
    spec = TenantSpec("t", sources=(TenantSource("git", (config,), (app,)),))
    config_objects = parse_files({"zuul.yaml": BASE}, config, "master").objects
    layout = build_layout(spec, [(config, config_objects), (app, [])], branches={})
    return SimpleNamespace(spec=spec, layout=layout, config_digests={})


def speculate_change(files: dict[str, str]) -> tuple[str, ...]:
    """The errors the scheduler reports on a change to org/app carrying ``files``."""
    result = speculate(_tenant(), {"org/app": {"master": files}})
    assert result is not None
    return result.errors


# ---- alias expansion ----------------------------------------------------------


def test_alias_bomb_is_refused_naming_file_and_line(tmp_path):
    (tmp_path / "zuul.yaml").write_text("- job: {name: fine}\n" + alias_bomb(10))
    code, out = run_check(tmp_path)
    assert code == 1
    first, summary = out.splitlines()
    assert first.startswith(f"{tmp_path}/zuul.yaml:2: YAML error: the aliases in this item expand")
    assert "at most 100,000 may be reached through aliases" in first
    assert "loaded 0 pipeline, 1 job" in summary  # the file's other item is kept


def test_alias_bomb_in_a_proposed_change_is_reported_on_it():
    (error,) = speculate_change({".zuul.yaml": alias_bomb(10)})
    assert error.startswith(".zuul.yaml:1: YAML error: the aliases in this item expand")


def test_aliases_across_items_count_too():
    # Each item re-uses the big anchored list of the first: sharing it once
    # is fine, but a thousand uses are a thousand copies for later stages.
    big = "[" + ", ".join(f"v{i}" for i in range(500)) + "]"
    text = f"- job:\n    name: a\n    vars: {{k: &big {big}}}\n"
    text += "".join(f"- job: {{name: j{i}, vars: {{k: *big}}}}\n" for i in range(300))
    doc = load_config_yaml(text, CTX)
    refused = [e for e in doc.errors if e.key == "yaml-alias"]
    assert refused and len(doc.items) == 1 + 300 - len(refused)
    assert len(doc.items) == 1 + 100_000 // 501


def test_an_alias_to_itself_is_refused():
    doc = load_config_yaml("- job: &j {name: a, vars: {self: *j}}\n", CTX)
    assert doc.items == []
    assert "contains an alias to itself" in doc.errors[0].message


def test_one_budget_for_the_whole_project_branch():
    project = TenantProject("org/p", "git", trusted=False)
    limits = ReadLimits(max_alias_nodes=1_000)
    item = "- job: {name: %s, vars: {a: &a [x, x, x, x, x, x, x, x, x, x], b: [*a, *a, *a]}}\n"
    files = {f"zuul.d/{n}.yaml": item % n for n in "abcdefghij"}
    result = parse_files(files, project, "master", limits=limits)
    # 3 aliases x 11 nodes each per file: 33; 1000 // 33 = 30 files would fit.
    assert result.errors == [] and len(result.objects) == 10
    files = {f"zuul.d/{n:03}.yaml": item % f"j{n}" for n in range(40)}
    result = parse_files(files, project, "master", limits=limits)
    assert len(result.objects) == 30
    assert {e.key for e in result.errors} == {"yaml-alias"}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    fanouts=st.lists(st.integers(min_value=1, max_value=12), min_size=1, max_size=12),
    uses=st.integers(min_value=1, max_value=4),
)
def test_any_nesting_of_aliases_is_built_exactly_or_refused(fanouts, uses):
    """Every shape of nested anchors either loads as PyYAML builds it, or
    is refused once what it expands to passes the bound: never in between."""
    lines = ["- job:", "    name: j", "    vars:", "      a0: &a0 leaf"]
    for i, fanout in enumerate(fanouts, start=1):
        lines.append(f"      a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * fanout)}]")
    last = len(fanouts)
    lines.append(f"      top: [{', '.join([f'*a{last}'] * uses)}]")
    text = "\n".join(lines) + "\n"
    # Nodes reached through aliases: every alias counts what it names, expanded.
    size = 1  # of a0
    added = 0
    for fanout in fanouts:
        added += fanout * size
        size = 1 + fanout * size
    added += uses * size
    limits = ReadLimits(max_alias_nodes=5_000)
    doc = load_config_yaml(text, CTX, ReadBudget(limits))
    if added <= limits.max_alias_nodes:
        assert doc.errors == []
        assert doc.items[0].value == yaml.safe_load(text)[0]
    else:
        assert doc.items == []
        (error,) = doc.errors
        assert error.key == "yaml-alias" and error.context.line == 1


# ---- sizes --------------------------------------------------------------------


def test_a_file_over_the_size_limit_is_not_parsed():
    limits = ReadLimits(max_file_bytes=1000)
    doc = load_config_yaml("- job: {name: a}\n" + "#" * 1000, CTX, ReadBudget(limits))
    assert doc.items == []
    assert doc.errors[0].message.startswith("file is larger than 1000 bytes")


def test_the_branch_total_is_bounded():
    project = TenantProject("org/p", "git", trusted=False)
    limits = ReadLimits(max_file_bytes=100, max_branch_bytes=250)
    files = {f"zuul.d/{n}.yaml": f"- job: {{name: {n}}}\n" + "#" * 60 for n in "abcd"}
    result = parse_files(files, project, "master", limits=limits)
    assert [o.name for o in result.objects] == ["a", "b", "c"]
    (error,) = result.errors
    assert error.key == "branch-too-large" and error.context.path == "zuul.d/d.yaml"


def test_a_large_file_on_disk_is_not_read_whole(tmp_path):
    (tmp_path / "zuul.yaml").write_bytes(b"- job: {name: a}\n" + b"#" * (1024 * 1024))
    code, out = run_check(tmp_path)
    assert code == 1
    assert "zuul.yaml: file is larger than 192 KiB" in out


def test_deep_nesting_is_an_error_not_a_crash():
    doc = load_config_yaml("- job: {name: a, vars: {k: " + "[" * 5000 + "]" * 5000 + "}}\n", CTX)
    assert doc.items == [] and doc.errors[0].key == "yaml-syntax"
    nested = "- job:\n    name: a\n    vars:\n" + "".join(
        "  " * (i + 3) + f"k{i}:\n" for i in range(3000)
    )
    doc = load_config_yaml(nested, CTX)
    assert doc.items == [] or doc.errors == []  # either refused or built; never a crash


# ---- duplicate keys -----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "key", "lines"),
    [
        ("- job:\n    name: a\n    run: x.yaml\n    run: y.yaml\n", "run", (3, 4)),
        ("- job:\n    name: a\n- job:\n    name: b\n  job:\n    name: c\n", "job", (3, 5)),
        ("- job: {name: a, vars: {k: 1, z: 0, k: 2}}\n", "k", (1, 1)),
        ("- secret:\n    name: s\n    name: t\n    data: {}\n", "name", (2, 3)),
    ],
)
def test_duplicate_keys_are_reported_with_both_lines(text, key, lines):
    doc = load_config_yaml(text, CTX)
    (error,) = doc.errors
    assert error.key == "duplicate-key" and error.context.line == lines[1]
    assert f"the key '{key}' appears more than once in one mapping (lines {lines[0]} and " in (
        error.message
    )
    assert all(item.value.get("job", {}).get("name") != "c" for item in doc.items)


def test_keys_a_merge_brings_in_may_be_overridden():
    doc = load_config_yaml("- job:\n    <<: {name: x, voting: false}\n    name: b\n", CTX)
    assert doc.errors == [] and doc.items[0].value == {"job": {"name": "b", "voting": False}}


@settings(max_examples=50, deadline=None)
@given(keys=st.lists(st.sampled_from(["a", "b", "c", "d", "e"]), min_size=1, max_size=8))
def test_any_repeated_key_is_found(keys):
    text = "- job:\n    name: j\n    vars:\n" + "".join(
        f"      {k}: {i}\n" for i, k in enumerate(keys)
    )
    doc = load_config_yaml(text, CTX)
    repeated = [k for i, k in enumerate(keys) if k in keys[:i]]
    if repeated:
        first_dup = min(
            (i for i, k in enumerate(keys) if k in keys[:i]),
        )
        (error,) = doc.errors
        assert f"'{keys[first_dup]}'" in error.message
        assert error.context.line == 4 + first_dup
    else:
        assert doc.errors == [] and len(doc.items) == 1


def test_duplicate_key_in_a_proposed_change():
    (error,) = speculate_change({".zuul.yaml": "- job:\n    name: a\n    run: x\n    run: y\n"})
    assert error.startswith(".zuul.yaml:4: YAML error: the key 'run' appears more than once")


# ---- files on disk ------------------------------------------------------------


def test_symlinks_out_of_the_repository_are_never_followed(tmp_path):
    repo = tmp_path / "repo"
    (repo / "zuul.d").mkdir(parents=True)
    (repo / "zuul.d" / "ok.yaml").write_text("- job: {name: ok}\n")
    os.symlink("/dev/zero", repo / "zuul.d" / "zero.yaml")
    os.symlink("/etc/passwd", repo / "zuul.d" / "passwd.yaml")
    os.symlink("/etc", repo / "zuul.d" / "etc")
    code, out = run_check(repo)
    assert code == 1
    for name, target in (
        ("zero.yaml", "/dev/zero"),
        ("passwd.yaml", "/etc/passwd"),
        ("etc", "/etc"),
    ):
        assert (
            f"{repo}/zuul.d/{name}: 'zuul.d/{name}' is a symbolic link to '{target}', outside "
            "the repository; it is not read"
        ) in out
    assert "root:" not in out
    assert "loaded 0 pipeline, 1 job" in out


def test_a_root_folder_linked_out_of_the_repository(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "x.yaml").write_text("- job: {name: stolen}\n")
    repo = tmp_path / "repo"
    repo.mkdir()
    os.symlink(outside, repo / "zuul.d")
    code, out = run_check(repo)
    assert code == 1 and "'zuul.d' is a symbolic link to" in out and "1 job" not in out


def test_a_link_inside_the_repository_is_read_with_a_warning(tmp_path):
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "jobs.yaml").write_text("- job: {name: linked}\n")
    os.symlink("conf/jobs.yaml", tmp_path / ".zuul.yaml")
    code, out = run_check(tmp_path)
    assert code == 0
    assert "warning: " in out and "is a symbolic link; it is read here" in out
    assert "loaded 0 pipeline, 1 job" in out


def test_a_fifo_is_not_read_and_does_not_hang(tmp_path):
    (tmp_path / "zuul.d").mkdir()
    os.mkfifo(tmp_path / "zuul.d" / "x.yaml")
    (tmp_path / "zuul.d" / "y.yaml").write_text("- job: {name: y}\n")
    # In a subprocess with a deadline: a hang fails the test instead of stalling it.
    proc = subprocess.run(
        [sys.executable, "-m", "lockgate.config.check", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1
    assert f"{tmp_path}/zuul.d/x.yaml: not a regular file; it is not read" in proc.stdout
    assert "1 job" in proc.stdout


def _without_root_powers() -> list[str]:
    """A command prefix under which permissions apply (root ignores them)."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.fail("running as root without setpriv: cannot make a folder unreadable")
    caps = "-dac_override,-dac_read_search"
    return [setpriv, f"--inh-caps={caps}", f"--bounding-set={caps}", "--"]


def test_an_unreadable_subfolder_is_reported(tmp_path):
    (tmp_path / "zuul.d" / "locked").mkdir(parents=True)
    (tmp_path / "zuul.d" / "locked" / "x.yaml").write_text("- job: {name: hidden}\n")
    (tmp_path / "zuul.d" / "a.yaml").write_text("- job: {name: a}\n")
    (tmp_path / "zuul.d" / "locked").chmod(0)
    try:
        proc = subprocess.run(
            [*_without_root_powers(), sys.executable, "-m", "lockgate.config.check", str(tmp_path)],
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        (tmp_path / "zuul.d" / "locked").chmod(0o755)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert (
        f"{tmp_path}/zuul.d/locked: cannot read folder 'zuul.d/locked': Permission denied"
        in proc.stdout
    )
    assert "1 job" in proc.stdout


def test_the_objects_of_a_project_branch_are_bounded():
    project = TenantProject("org/p", "git", trusted=False)
    limits = ReadLimits(max_objects=25)
    files = {
        f"zuul.d/{n}.yaml": "".join(f"- job: {{name: {n}{i}}}\n" for i in range(10)) for n in "abcd"
    }
    result = parse_files(files, project, "master", limits=limits)
    assert len(result.objects) == 25
    (error,) = result.errors
    assert error.key == "too-many-objects" and error.context.path == "zuul.d/c.yaml"
    assert error.context.line == 6 and "more than 25 configuration objects" in error.message
