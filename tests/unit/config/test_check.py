"""The check command on small synthetic repositories: output, exit codes, JSON.

All repositories here are synthetic, written by the tests.
"""

from __future__ import annotations

import io
import json

import pytest
from lockgate.config.check import main

BASE = "- job:\n    name: base\n    parent: null\n"
PIPELINE = (
    "- pipeline:\n    name: check\n    manager: independent\n"
    "    trigger:\n      gerrit:\n        - event: patchset-created\n"
)


def run(argv):
    out, err = io.StringIO(), io.StringIO()
    code = main(argv, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def repo(tmp_path, name, files):
    root = tmp_path / name
    for path, text in files.items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(text if isinstance(text, bytes) else text.encode())
    return root


def test_clean_configuration_exits_0(tmp_path):
    config = repo(tmp_path, "config", {"zuul.d/base.yaml": BASE + PIPELINE})
    app = repo(
        tmp_path,
        "app",
        {".zuul.yaml": "- job: {name: unit}\n- project:\n    check:\n      jobs: [unit]\n"},
    )
    code, out, err = run([str(config), str(app)])
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        "tenant 'check': loaded 1 pipeline, 2 job, 1 project, 0 project-template, 0 nodeset, "
        "0 secret, 0 semaphore, 0 queue, 0 pragma; 0 error(s), 0 warning(s)"
    ]


def test_errors_are_printed_with_path_line_object_and_exit_1(tmp_path):
    config = repo(tmp_path, "config", {"zuul.yaml": BASE + PIPELINE})
    app = repo(tmp_path, "app", {".zuul.yaml": "- job:\n    name: unit\n    voteing: false\n"})
    code, out, _ = run([str(config), str(app)])
    assert code == 1
    assert out.splitlines()[0] == (
        f"{app}/.zuul.yaml:1: job 'unit': unknown attribute 'voteing' in job 'unit' "
        "(did you mean 'voting'?)"
    )
    assert out.splitlines()[-1].endswith("; 1 error(s), 0 warning(s)")


@pytest.mark.parametrize(
    "content, expected",
    [
        ("pipelines:\n  - name: check\nprojects: []\n", "found a mapping (a Zuul v2 layout.yaml"),
        (b"\x7fELF\x02\x01\x01\x00\x00\xff\xfe", "file is not valid"),
        ("- job: [\n", "YAML syntax error"),
    ],
)
def test_bad_files_are_errors_never_tracebacks(tmp_path, content, expected):
    config = repo(tmp_path, "config", {"zuul.yaml": content})
    code, out, err = run([str(config)])
    assert code == 1 and err == ""
    assert expected in out.splitlines()[0]
    assert out.splitlines()[0].startswith(f"{config}/zuul.yaml")


def test_empty_file_is_only_a_warning(tmp_path):
    config = repo(tmp_path, "config", {"zuul.d/a.yaml": BASE, "zuul.d/b.yaml": ""})
    code, out, _ = run([str(config)])
    assert code == 0
    assert out.splitlines()[0] == (
        f"warning: {config}/zuul.d/b.yaml: file contains no configuration objects"
    )


def test_json_output(tmp_path):
    config = repo(
        tmp_path, "config", {"zuul.yaml": BASE + "- job:\n    name: x\n    nodeset: missing\n"}
    )
    code, out, _ = run([str(config), "--json"])
    data = json.loads(out)
    assert code == 1 and data["error_count"] == 1
    (tenant,) = data["tenants"]
    (error,) = tenant["errors"]
    assert error["name"] == "Nodeset Not Found" and error["detail"] == "unknown-nodeset"
    assert error["line"] == 4
    assert error["object_type"] == "job" and error["object_name"] == "x"
    assert error["location"].startswith(f"{config}/zuul.yaml:4: job 'x': ")
    assert tenant["counts"]["job"] == 2


def test_tenant_form_with_missing_folders_and_unknown_tenant(tmp_path):
    repos = tmp_path / "repos"
    repo(repos, "org/config", {"zuul.yaml": BASE + PIPELINE})
    main_yaml = tmp_path / "main.yaml"
    main_yaml.write_text(
        "- tenant:\n    name: t\n    source:\n      gerrit:\n"
        "        config-projects: [org/config]\n"
        "        untrusted-projects: [org/absent]\n"
    )
    code, out, _ = run(["--tenant-config", str(main_yaml), "--repos", str(repos)])
    assert code == 0, out
    assert out.startswith("tenant 't': loaded 1 pipeline, 1 job")
    code, out, _ = run(
        ["--tenant-config", str(main_yaml), "--tenant", "nope", "--repos", str(repos)]
    )
    assert code == 1
    assert out.splitlines() == [
        f"{main_yaml}: tenant 'nope' is not defined in {main_yaml} (tenants: t)"
    ]


def test_broken_tenant_config(tmp_path):
    main_yaml = tmp_path / "main.yaml"
    main_yaml.write_bytes(b"\x00\x01junk")
    code, out, err = run(["--tenant-config", str(main_yaml), "--repos", str(tmp_path)])
    assert code == 1 and err == "" and "file is not valid text" in out


@pytest.mark.parametrize(
    "argv, message",
    [
        ([], "nothing to check"),
        (["--tenant-config", "x.yaml"], "--tenant-config and --repos go together"),
        (["--bogus"], "unrecognized arguments"),
        (["/does/not/exist"], "/does/not/exist: not a folder"),
    ],
)
def test_usage_errors_exit_2(argv, message):
    code, out, err = run(argv)
    assert code == 2 and out == ""
    assert err.startswith("lockgate config check: ") and message in err


def test_missing_tenant_config_file_is_a_usage_error(tmp_path):
    code, _, err = run(["--tenant-config", str(tmp_path / "none.yaml"), "--repos", str(tmp_path)])
    assert code == 2 and "cannot read tenant config" in err
