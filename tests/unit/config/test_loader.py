"""load_tenant: the scheduler's entry point, with files supplied by callbacks."""

from __future__ import annotations

from lockgate.config.loader import load_tenant
from lockgate.config.tenant import parse_tenant_config

MAIN = """
- tenant:
    name: t
    source:
      gerrit:
        config-projects:
          - org/config
        untrusted-projects:
          - org/app:
              extra-config-paths: [extra.yaml]
          - org/nothing:
              include: []
"""

FILES = {
    ("org/config", "master"): {
        "zuul.yaml": "- job:\n    name: base\n    parent: null\n"
        "- pipeline:\n    name: check\n    manager: independent\n"
        "    trigger: {gerrit: [{event: patchset-created}]}\n",
    },
    ("org/app", "master"): {
        ".zuul.yaml": "- job: {name: unit}\n- project: {check: {jobs: [unit, lint]}}\n",
        "extra.yaml": "- job: {name: lint}\n",
        "src/main.c": "int main;",
    },
    ("org/app", "stable/1"): {
        ".zuul.yaml": "- job:\n    name: unit\n    timeout: 'long'\n",
    },
}


def test_load_tenant_reads_every_branch_and_reports_all_errors():
    tenant = parse_tenant_config(MAIN).tenants["t"]
    asked = []

    def read_files(project, branch):
        asked.append((project.name, branch))
        return FILES.get((project.name, branch))

    def branches(project):
        return ["master", "stable/1"]

    layout = load_tenant(tenant, read_files, branches)
    # Config projects: their load-branch only; include: [] projects are not read.
    assert asked == [("org/config", "master"), ("org/app", "master"), ("org/app", "stable/1")]
    assert [e.format() for e in layout.errors] == [
        ".zuul.yaml:1: job 'unit': invalid value for 'timeout' in job 'unit': expected an "
        "integer, got string 'long'"
    ]
    assert layout.errors[0].context.branch == "stable/1"
    assert set(layout.jobs) >= {"base", "unit", "lint"}
    assert "check" in layout.pipelines
