"""Configuration endpoints (jobs, job, projects, project, semaphores, labels,
freeze-jobs, freeze-job, tenant-status), served from a layout the web builds
from the sources a scheduler publishes in ZooKeeper."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from lockgate.model.tenant_state import TenantLayoutState
from lockgate.zk.client import ZKClient
from lockgate.zk.components import register
from lockgate.zk.layout_sources import LayoutSources, SourceFile, files_digest, save_sources
from lockgate.zk.semaphores import SemaphoreSlots

from tests.fixtures.web import WebHarness

MAIN = """
- tenant:
    name: t
    allowed-labels: [ubuntu-.*]
    source:
      gerrit:
        config-projects:
          - org/config
        untrusted-projects:
          - org/app
"""

FILES = {
    ("org/config", "master"): {
        "zuul.yaml": """
- pipeline:
    name: check
    manager: independent
    trigger: {gerrit: [{event: patchset-created}]}
- nodeset:
    name: one
    nodes: [{name: controller, label: ubuntu-jammy}]
- semaphore: {name: db, max: 2}
- job:
    name: base
    parent: null
    description: The base job.
    run: playbooks/base.yaml
""",
    },
    ("org/app", "master"): {
        ".zuul.yaml": """
- job:
    name: unit
    description: |
      Unit tests.
      Second line.
    nodeset: one
    tags: [fast]
    vars: {level: 1}
    semaphore: db
    run: playbooks/unit.yaml
- job:
    name: lint
    run: playbooks/lint.yaml
- project:
    check:
      jobs:
        - unit
        - lint:
            dependencies: [{name: unit, soft: true}]
""",
    },
    ("org/app", "stable"): {
        ".zuul.yaml": "- job:\n    name: unit\n    timeout: 60\n",
    },
}


@pytest.fixture
def configured(
    web: WebHarness, zk_client: ZKClient, publish: Callable[..., TenantLayoutState]
) -> WebHarness:
    state = TenantLayoutState(tenant="t", projects=["org/config", "org/app"], pipelines=["check"])
    sources = LayoutSources(
        tenant="t",
        layout_uuid=state.uuid,
        tenant_config=MAIN,
        connections={"gerrit": "gerrit"},
        branches={"org/config": ["master"], "org/app": ["master", "stable"]},
        files=[SourceFile("gerrit", p, b, files_digest(f)) for (p, b), f in FILES.items()],
    )
    assert save_sources(zk_client, sources, FILES) == 3
    publish("t", uuid=state.uuid, projects=state.projects, pipelines=state.pipelines)
    return web


def test_jobs_list(configured: WebHarness) -> None:
    jobs = {j["name"]: j for j in configured.get_json("/api/tenant/t/jobs")}
    assert set(jobs) >= {"base", "unit", "lint"}
    assert jobs["base"]["description"] == "The base job."
    assert "variants" not in jobs["base"]  # a base job has no parent
    assert jobs["unit"]["description"] == "Unit tests."
    assert jobs["unit"]["tags"] == ["fast"]
    assert {"parent": "base", "branches": ["master"]} in jobs["unit"]["variants"]
    assert {"parent": "base", "branches": ["stable"]} in jobs["unit"]["variants"]


def test_job_variants(configured: WebHarness) -> None:
    variants = configured.get_json("/api/tenant/t/job/unit")
    assert [v["branches"] for v in variants] == [["master"], ["stable"]]
    master = variants[0]
    assert master["parent"] == "base"
    assert master["nodeset"]["name"] == "one"
    assert master["nodeset"]["nodes"][0]["label"] == "ubuntu-jammy"
    assert master["variables"] == {"level": 1}
    assert master["semaphores"] == [{"name": "db", "resources_first": False}]
    assert master["run"][0]["path"] == "playbooks/unit.yaml"
    assert master["source_context"] == {
        "project": "org/app",
        "branch": "master",
        "path": ".zuul.yaml",
    }
    assert variants[1]["timeout"] == 60
    missing = configured.get_json("/api/tenant/t/job/nope", status=404)
    assert missing["description"] == "Unknown job: nope"


def test_projects_and_project(configured: WebHarness) -> None:
    projects = configured.get_json("/api/tenant/t/projects")
    assert [(p["name"], p["type"]) for p in projects] == [
        ("org/app", "untrusted"),
        ("org/config", "config"),
    ]
    app = configured.get_json("/api/tenant/t/project/org/app")
    assert app["name"] == "org/app" and app["connection_name"] == "gerrit"
    [config] = app["configs"]
    [check] = config["pipelines"]
    assert check["name"] == "check"
    assert [[v["name"] for v in job] for job in check["jobs"]] == [["unit"], ["lint"]]
    configured.get_json("/api/tenant/t/project/org/none", status=404)


def test_freeze_jobs_and_freeze_job(configured: WebHarness) -> None:
    base = "/api/tenant/t/pipeline/check/project/org/app/branch/master"
    graph = configured.get_json(base + "/freeze-jobs")
    assert graph == [
        {"name": "unit", "dependencies": []},
        {"name": "lint", "dependencies": [{"name": "unit", "soft": True}]},
    ]
    unit = configured.get_json(base + "/freeze-job/unit")
    assert unit["job"] == "unit" and unit["branch"] == "master"
    assert unit["nodeset"]["name"] == "one"
    assert [p["path"] for p in unit["playbooks"]] == ["playbooks/unit.yaml"]
    assert unit["playbooks"][0]["project"] == "org/app"
    assert unit["vars"] == {"level": 1}
    configured.get_json(base + "/freeze-job/nope", status=404)
    missing = configured.get_json(
        "/api/tenant/t/pipeline/gate/project/org/app/branch/master/freeze-jobs", status=404
    )
    assert missing["description"] == "Unknown pipeline: gate"


def test_semaphores_with_holders(configured: WebHarness, zk_client: ZKClient) -> None:
    SemaphoreSlots(zk_client, "t", "db", 2).acquire("check/item-1/unit")
    [db] = configured.get_json("/api/tenant/t/semaphores")
    assert db == {
        "name": "db",
        "global": False,
        "max": 2,
        "holders": {
            "count": 1,
            "this_tenant": [
                {
                    "pipeline": "check",
                    "item_uuid": "item-1",
                    "job_name": "unit",
                    "buildset_uuid": None,
                }
            ],
            "other_tenants": 0,
        },
    }


def test_labels_from_launchers_less_those_the_tenant_refuses(
    configured: WebHarness, zk_client: ZKClient
) -> None:
    component = register(zk_client, "launcher", {"labels": ["ubuntu-jammy", "centos-9"]})
    try:
        assert configured.get_json("/api/tenant/t/labels") == [{"name": "ubuntu-jammy"}]
    finally:
        component.unregister()


def test_tenant_status(configured: WebHarness) -> None:
    assert configured.get_json("/api/tenant/t/tenant-status") == {"config_error_count": 0}


def test_without_published_sources_the_answer_says_so(
    web: WebHarness, publish: Callable[..., TenantLayoutState]
) -> None:
    publish("t")
    body = web.get_json("/api/tenant/t/jobs", status=503)
    assert "not published" in body["description"]


def test_layout_is_built_once_per_layout_uuid(configured: WebHarness) -> None:
    for _ in range(3):
        configured.get_json("/api/tenant/t/jobs")
    configured.get_json("/api/tenant/t/projects")
    layouts = configured.context._layouts
    assert layouts is not None and layouts.builds == 1
