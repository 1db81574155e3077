"""``lockgate config check`` over the real corpus (OpenStack's tenant).

The corpus repositories are arranged under their canonical names in a temp
folder.  The check must report no error except references to jobs,
templates, nodesets and parents that are defined in repositories that are
absent (or kept out by the tenant's include/exclude rules), each with its
file and line.  The exact set of those names is computed here with plain
PyYAML, independently of Lockgate's loader: every name referenced by an
included object, minus every name defined by an included object.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from lockgate.config import check

from tests.fixtures.corpus import ZUUL_CONFIG

CORPUS = ZUUL_CONFIG

# canonical project name -> corpus folder; in the corpus README's load order.
REPOS = {
    "openstack/project-config": "project-config",
    "opendev/base-jobs": "base-jobs",
    "zuul/zuul-jobs": "zuul-jobs",
    "openstack/openstack-zuul-jobs": "openstack-zuul-jobs",
    "openstack/devstack": "devstack",
    "openstack/nova": "nova",
}
ALL_KINDS = {
    "pipeline",
    "job",
    "semaphore",
    "project",
    "project-template",
    "nodeset",
    "secret",
    "queue",
    "image",
    "flavor",
    "label",
    "section",
    "provider",
}
REFERENCE_KEYS = {"unknown-job", "unknown-nodeset", "unknown-template", "unknown-parent"}


@pytest.fixture(scope="module")
def repos_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("repos")
    for name, folder in REPOS.items():
        shutil.copytree(CORPUS / folder, root / name)
    yield root
    shutil.rmtree(root, ignore_errors=True)


# ---- the independent expectation ---------------------------------------------


class _PlainLoader(yaml.SafeLoader):
    pass


_PlainLoader.add_multi_constructor("!", lambda loader, suffix, node: None)


def _config_files(repo: Path) -> list[Path]:
    """Zuul's roots, simply: the first of zuul.yaml, zuul.d/, .zuul.yaml, .zuul.d/."""
    for root in ("zuul.yaml", "zuul.d", ".zuul.yaml", ".zuul.d"):
        path = repo / root
        if path.is_file():
            return [path]
        if path.is_dir():
            return sorted(path.rglob("*.yaml"), key=lambda p: str(p.relative_to(repo)))
    return []


def _objects(repo: Path, kinds: set[str]) -> list[tuple[str, dict]]:
    out = []
    for path in _config_files(repo):
        for item in yaml.load(path.read_text(), Loader=_PlainLoader) or []:
            ((kind, body),) = item.items()
            if kind in kinds:
                out.append((kind, body or {}))
    return out


def _tenant_includes(tenant_name: str) -> dict[str, set[str]]:
    """Which kinds each of our repos contributes, read from main.yaml directly."""
    main = yaml.load((CORPUS / "project-config/zuul/main.yaml").read_text(), Loader=_PlainLoader)
    (tenant,) = [i["tenant"] for i in main if "tenant" in i and i["tenant"]["name"] == tenant_name]
    found: dict[str, set[str]] = {}

    def as_set(value):
        return {value} if isinstance(value, str) else set(value)

    def walk(entries, inc, exc):
        for entry in entries:
            if isinstance(entry, dict) and "projects" in entry:
                walk(entry["projects"], entry.get("include", inc), entry.get("exclude", exc))
                continue
            name, opts = (entry, {}) if isinstance(entry, str) else next(iter(entry.items()))
            opts = opts or {}
            i = opts.get("include", inc)
            e = opts.get("exclude", exc)
            kinds = (ALL_KINDS if i is None else as_set(i)) - (set() if e is None else as_set(e))
            found[name] = kinds

    for section in tenant["source"].values():
        walk(section.get("config-projects", []), None, None)
        walk(section.get("untrusted-projects", []), None, None)
    return {name: found[name] for name in REPOS}


def _expected(includes: dict[str, set[str]], checked_project) -> set[tuple[str, str]]:
    """(error key, name) for every dangling reference of the included objects."""
    # 'noop' is Zuul's built-in job.
    defined: dict[str, set[str]] = {"job": {"noop"}, "nodeset": set(), "project-template": set()}
    objects = []
    for name, folder in REPOS.items():
        for kind, body in _objects(CORPUS / folder, includes[name]):
            objects.append((name, kind, body))
            if kind in defined:
                defined[kind].add(body["name"])
    refs: set[tuple[str, str]] = set()

    def job_refs(body, in_project):
        nodeset = body.get("nodeset")
        if isinstance(nodeset, str):
            refs.add(("unknown-nodeset", nodeset))
        elif isinstance(nodeset, dict):
            for alt in nodeset.get("alternatives", []):
                if isinstance(alt, str):
                    refs.add(("unknown-nodeset", alt))
        if not in_project:
            parent = body.get("parent", "base")
            if parent is not None:
                refs.add(("unknown-parent", parent))

    def pipeline_refs(body):
        for _key, section in body.items():
            if not isinstance(section, dict):
                continue
            for entry in section.get("jobs", []):
                if isinstance(entry, str):
                    refs.add(("unknown-job", entry))
                else:
                    ((jname, variant),) = entry.items()
                    refs.add(("unknown-job", jname))
                    job_refs(variant or {}, True)

    for repo, kind, body in objects:
        if kind == "job":
            job_refs(body, False)
        elif kind == "project-template":
            pipeline_refs(body)
        elif kind == "project" and checked_project(repo, body.get("name")):
            for template in body.get("templates", []):
                refs.add(("unknown-template", template))
            pipeline_refs(body)
    key_kind = {
        "unknown-job": "job",
        "unknown-parent": "job",
        "unknown-nodeset": "nodeset",
        "unknown-template": "project-template",
    }
    return {(key, name) for key, name in refs if name not in defined[key_kind[key]]}


# ---- running the check -------------------------------------------------------


def _run_in_process(argv):
    out, err = io.StringIO(), io.StringIO()
    code = check.main(list(argv) + ["--json"], out=out, err=err)
    assert err.getvalue() == ""
    return code, json.loads(out.getvalue())


def _reported(result) -> tuple[set[tuple[str, str]], list[dict]]:
    (tenant,) = result["tenants"]
    errors = result["errors"] + tenant["errors"]
    refs = set()
    for error in errors:
        name = re.findall(r"'([^']*)'", error["error"])[-1]
        refs.add((error["detail"], name))
    return refs, errors


def _assert_only_dangling_references(result, expected):
    refs, errors = _reported(result)
    others = [e["location"] for e in errors if e["detail"] not in REFERENCE_KEYS]
    assert others == []
    for error in errors:  # each one points at a file and a line
        assert error["source_context"]["path"].endswith(".yaml")
        assert isinstance(error["line"], int) and error["line"] > 0
    assert refs == expected


def test_openstack_tenant_in_process(repos_dir):
    argv = [
        "--tenant-config",
        str(repos_dir / "openstack/project-config/zuul/main.yaml"),
        "--tenant",
        "openstack",
        "--repos",
        str(repos_dir),
    ]
    code, result = _run_in_process(argv)
    includes = _tenant_includes("openstack")
    # Every project stanza of these files names a project of the tenant or none.
    expected = _expected(includes, lambda repo, name: True)
    assert expected  # the corpus really does refer to absent repositories
    _assert_only_dangling_references(result, expected)
    assert code == 1
    counts = result["tenants"][0]["counts"]
    assert counts["pipeline"] == 19 and counts["job"] > 300 and counts["secret"] > 0
    # base-jobs contributes only jobs and secrets in this tenant.
    assert result["tenants"][0]["excluded"] == {"nodeset": 13, "project-template": 2, "project": 1}


def test_openstack_tenant_as_a_subprocess(repos_dir):
    argv = [
        sys.executable,
        "-m",
        "lockgate.config.check",
        "--tenant-config",
        str(repos_dir / "openstack/project-config/zuul/main.yaml"),
        "--tenant",
        "openstack",
        "--repos",
        str(repos_dir),
    ]
    proc = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ, PYTHONWARNINGS="ignore"),
    )
    assert proc.returncode == 1
    assert proc.stderr == ""
    lines = proc.stdout.splitlines()
    summary = lines[-1]
    assert summary.startswith("tenant 'openstack': loaded 19 pipeline, ")
    expected = _expected(_tenant_includes("openstack"), lambda repo, name: True)
    assert f"; {len(lines) - 1} error(s), " in summary
    pattern = re.compile(r"^(/.+\.yaml):(\d+): (job|project|project-template) '[^']+': ")
    for line in lines[:-1]:
        match = pattern.match(line)
        assert match, line
        assert Path(match.group(1)).is_file()
    names = {re.findall(r"'([^']*)'", line)[-1] for line in lines[:-1]}
    assert names == {name for _, name in expected}


def test_positional_form_in_readme_order(repos_dir):
    folders = [str(repos_dir / name) for name in REPOS]
    # project-config and base-jobs are both config projects in OpenDev.
    code, result = _run_in_process(["--config-projects", "2", *folders])
    everything = {name: ALL_KINDS for name in REPOS}
    short = {name.split("/")[-1] for name in REPOS}
    expected = _expected(everything, lambda repo, name: name is None or name in short)
    refs, errors = _reported(result)
    # Without include rules, base-jobs' nodesets load too; one of them is also
    # defined by openstack-zuul-jobs, which is a real conflict in this setting.
    duplicates = [e for e in errors if e["detail"] == "duplicate"]
    assert [re.findall(r"'([^']*)'", e["error"])[0] for e in duplicates] == ["ubuntu-xenial"]
    result["tenants"][0]["errors"] = [e for e in errors if e["detail"] != "duplicate"]
    _assert_only_dangling_references(result, expected)
    assert code == 1
    assert result["tenants"][0]["unchecked_project_references"] > 0


def test_positional_form_first_folder_only_trusted(repos_dir):
    folders = [str(repos_dir / name) for name in REPOS]
    code, result = _run_in_process(folders)
    base_job_errors = [
        e
        for e in result["tenants"][0]["errors"]
        if "base jobs may only be defined in config projects" in e["error"]
    ]
    assert code == 1 and len(base_job_errors) == 3


def test_openstack_tenant_with_a_service_config(repos_dir, tmp_path):
    # OpenDev's connections as its zuul.conf names them: every pipeline's
    # triggers, requirements and reporters pass the gerrit, github and git
    # drivers' schemas, and nothing else changes.
    service = tmp_path / "zuul.conf"
    service.write_text(
        "[connection gerrit]\ndriver = gerrit\nserver = review.opendev.org\n\n"
        "[connection github]\ndriver = github\n\n"
        "[connection googlesource]\ndriver = git\n\n"
        "[connection smtp]\ndriver = smtp\n"
    )
    argv = [
        "-c",
        str(service),
        "--tenant-config",
        str(repos_dir / "openstack/project-config/zuul/main.yaml"),
        "--tenant",
        "openstack",
        "--repos",
        str(repos_dir),
    ]
    code, result = _run_in_process(argv)
    expected = _expected(_tenant_includes("openstack"), lambda repo, name: True)
    _assert_only_dangling_references(result, expected)
    assert code == 1 and result["tenants"][0]["counts"]["pipeline"] == 19
    assert result["tenants"][0]["warning_count"] == 0
    # Without the smtp connection, the pipelines reporting to it are refused.
    service.write_text(service.read_text().replace("[connection smtp]\ndriver = smtp\n", ""))
    code, result = _run_in_process(argv)
    smtp = [e for e in result["tenants"][0]["errors"] if e["name"] == "Unknown Connection"]
    assert len(smtp) == 5 and all("unknown connection 'smtp'" in e["error"] for e in smtp)
