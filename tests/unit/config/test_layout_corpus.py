"""The real ``openstack`` tenant, read by Lockgate's tenant reader and parser
and given meaning by the layout builder and the freezer.

Expected values are read off the corpus YAML by hand (the files and lines
are named next to each assertion), not computed by the code under test.
The nodesets OpenDev keeps in ``opendev/zuul-providers`` (absent from the
corpus) are supplied by the test so that freezing runs to the end.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from lockgate.config.errors import SourceContext
from lockgate.config.freeze import freeze_job_graph
from lockgate.config.layout import Layout, build_layout
from lockgate.config.objects import ConfigObject
from lockgate.config.parser import parse_project_files
from lockgate.config.tenant import parse_tenant_config
from lockgate.model.jobs import RequiredProject

from tests.fixtures.corpus import ZUUL_CONFIG

CORPUS = ZUUL_CONFIG
ORDER = [
    ("openstack/project-config", "project-config", ["zuul.d"]),
    ("opendev/base-jobs", "base-jobs", ["zuul.d"]),
    ("zuul/zuul-jobs", "zuul-jobs", ["zuul.d", "zuul-tests.d"]),
    ("openstack/openstack-zuul-jobs", "openstack-zuul-jobs", ["zuul.d"]),
    ("openstack/devstack", "devstack", [".zuul.yaml"]),
    ("openstack/nova", "nova", [".zuul.yaml"]),
]


def _files(folder: Path, roots: list[str]) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    for root in roots:
        path = folder / root
        found = [path] if path.is_file() else sorted(path.rglob("*.yaml"))
        for f in found:
            out[str(f.relative_to(folder))] = f.read_bytes()
    return out


def _stub_nodesets(names: list[str]) -> list[ConfigObject]:
    ctx = SourceContext("openstack/project-config", "master", "<test>", 1, True, "gerrit")
    return [
        ConfigObject("nodeset", n, {"name": n, "nodes": [{"name": "node", "label": n}]}, ctx)
        for n in names
    ]


@pytest.fixture(scope="module")
def layout() -> Layout:
    config = parse_tenant_config((CORPUS / "project-config/zuul/main.yaml").read_bytes())
    tenant = config.tenants["openstack"]
    projects = []
    for name, folder, roots in ORDER:
        tp = tenant.project(name)
        assert tp is not None, name
        objects, _errors = parse_project_files(_files(CORPUS / folder, roots), tp, "master")
        if name == "openstack/project-config":
            objects = list(objects) + _stub_nodesets(["ubuntu-noble", "ubuntu-bionic"])
        projects.append((tp, objects))
    return build_layout(tenant, projects)


def test_only_missing_references_remain(layout: Layout) -> None:
    keys = {e.key for e in layout.errors}
    assert keys <= {
        "unknown-nodeset",
        "unknown-job",
        "unknown-template",
        "unknown-parent",
        "unknown-project",
    }
    # opendev/base-jobs is included for jobs and secrets only (main.yaml).
    assert "publish-opendev-tox-docs" not in layout.project_templates
    assert layout.jobs["base"][0].project == "opendev/base-jobs"


def test_nova_pep8_frozen_from_four_repositories(layout: Layout) -> None:
    graph = freeze_job_graph(layout, "check", "openstack/nova", "master", ["nova/api.py"])
    job = graph.get_job("openstack-tox-pep8")
    assert job is not None
    # base (base-jobs jobs.yaml:25) <- unittests-fips (zuul-jobs
    # general-jobs.yaml:20) <- tox-fips (python-jobs.yaml:50) <-
    # openstack-tox (openstack-zuul-jobs jobs.yaml:6) <- openstack-tox-pep8.
    assert [p.split(" ")[0] for p in job.inheritance_path] == [
        "base",
        "unittests-fips",
        "tox-fips",
        "openstack-tox",
        "openstack-tox-pep8",
    ]
    assert [(p.path, p.project, p.trusted) for p in job.pre_run] == [
        ("playbooks/base/pre.yaml", "opendev/base-jobs", True),
        ("playbooks/enable-fips/pre.yaml", "zuul/zuul-jobs", False),
        ("playbooks/unittests/pre.yaml", "zuul/zuul-jobs", False),
        ("playbooks/tox/pre.yaml", "zuul/zuul-jobs", False),
    ]
    assert [p.path for p in job.run] == ["playbooks/tox/run.yaml"]
    assert [p.path for p in job.post_run] == [
        "playbooks/tox/post.yaml",
        "playbooks/unittests/post.yaml",
        "playbooks/base/post.yaml",
        "playbooks/base/post-logs.yaml",
    ]
    assert [p.path for p in job.cleanup_run] == ["playbooks/base/cleanup.yaml"]
    # base's roles (zuul/zuul-jobs) reach its playbooks, after its own
    # project's (implicit, as in Zuul).
    assert [r["project"] for r in job.pre_run[0].roles] == [
        "opendev/base-jobs",
        "zuul/zuul-jobs",
    ]
    assert job.pre_run[0].roles[0]["implicit"] is True
    assert job.timeout == 1800 and job.post_timeout == 1800
    assert job.nodeset_name == "ubuntu-noble"  # openstack-tox overrides base's
    assert job.vars["tox_envlist"] == "pep8"  # openstack-tox-pep8
    assert job.vars["enable_fips"] is False  # openstack-tox
    assert job.vars["ara_report_type"] == "html"  # base
    assert job.required_projects == [RequiredProject("openstack/requirements")]
    # base's log-upload secrets (base-jobs jobs.yaml:66) go to base's
    # playbooks only, never to the zuul-jobs playbooks.
    assert len(job.secrets) == 7
    assert job.pre_run[0].secrets == list(range(7))
    assert all(p.secrets == [] for p in job.pre_run[1:] + job.run)
    assert job.secrets[0]["data"]  # still encrypted, carried as data


def test_nova_jobs_with_absent_parents_are_item_errors(layout: Layout) -> None:
    graph = freeze_job_graph(layout, "check", "openstack/nova", "master", ["nova/api.py"])
    messages = {e.message for e in graph.errors}
    # nova/.zuul.yaml: nova-live-migration's parent lives in openstack/tempest.
    assert "job 'nova-live-migration' has unknown parent 'tempest-multinode-full-py3'" in messages
    # A job defined only in an absent repository fails the item's graph
    # (Zuul: "Job ... not defined"), rather than letting the rest pass.
    assert "job 'tempest-integrated-compute' is not defined" in messages
    assert "tempest-integrated-compute" not in graph.not_run
