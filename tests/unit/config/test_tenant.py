"""The tenant config: TenantSpec defaults, projects, groups, include/exclude, rules."""

from __future__ import annotations

from lockgate.config.tenant import DEFAULT_CLASSES, parse_tenant_config

# The shared corpus lives beside the repository (../shared/corpus).
from tests.fixtures.corpus import ZUUL_CONFIG

CORPUS = ZUUL_CONFIG

MAIN = """
- authorization-rule:
    name: admins
    conditions:
      - groups: admins
- admin-rule:
    name: old-style
    conditions: [{sub: alice}]
- global-semaphore:
    name: big-lab
    max: 3
- api-root:
    authentication-realm: zuul
    access-rules: [admins]
- tenant:
    name: t1
    max-nodes-per-job: 10
    default-parent: base-minimal
    admin-rules: &rules [admins, old-style]
    semaphores: [big-lab]
    allowed-reporters: [gerrit]
    source:
      gerrit:
        config-projects:
          - org/config
          - org/base-jobs:
              include: [job, secret]
              load-branch: main
        untrusted-projects:
          - org/jobs:
              shadow: org/config
              extra-config-paths: [extra.yaml, extra.d/]
              implied-branch-matchers: false
          - exclude: [project, pipeline]
            projects:
              - org/a
              - org/b:
                  include: job
          - include: []
            projects: [org/none]
          - org/null-options:
      github:
        untrusted-projects:
          - gh/x
- tenant:
    name: t2
    admin-rules: *rules
    source: {gerrit: {config-projects: [org/config]}}
"""


def test_tenants_and_defaults():
    config = parse_tenant_config(MAIN, "main.yaml")
    assert config.errors == []
    t1, t2 = config.tenants["t1"], config.tenants["t2"]
    assert t1.max_nodes_per_job == 10 and t1.default_parent == "base-minimal"
    assert t1.admin_rules == ("admins", "old-style") == t2.admin_rules
    assert t1.allowed_reporters == ("gerrit",) and t1.allowed_triggers is None
    assert [s.name for s in t1.global_semaphores] == ["big-lab"]
    assert t1.global_semaphores[0].max == 3
    # Zuul's defaults
    assert (t2.max_nodes_per_job, t2.max_job_timeout, t2.default_parent) == (5, 10800, "base")
    assert t2.exclude_unprotected_branches is False and t2.allowed_labels is None
    assert t1.connections == ("gerrit", "github")
    assert set(config.authorization_rules) == {"admins", "old-style"}
    assert config.api_root.access_rules == ("admins",)


def test_projects_in_load_order_with_their_options():
    t1 = parse_tenant_config(MAIN).tenants["t1"]
    names = [p.name for p in t1.projects]
    assert names == [
        "org/config",
        "org/base-jobs",
        "org/jobs",
        "org/a",
        "org/b",
        "org/none",
        "org/null-options",
        "gh/x",
    ]
    config, base, jobs, a, b, none, null, gh = t1.projects
    assert config.trusted and config.load_branch == "master" and config.allow_base_jobs
    assert config.include == DEFAULT_CLASSES
    assert base.include == {"job", "secret"} and base.load_branch == "main"
    assert not jobs.trusted and jobs.load_branch is None and not jobs.allow_base_jobs
    assert jobs.shadow == ("org/config",)
    assert jobs.extra_config_paths == ("extra.yaml", "extra.d/")
    assert jobs.implied_branch_matchers is False
    assert a.include == DEFAULT_CLASSES - {"project", "pipeline"}
    assert a.exclude == {"project", "pipeline"}
    assert b.include == {"job"}  # a project's own include overrides the group's
    assert none.include == frozenset() and not none.loads("job")
    assert none.loads("pragma")
    assert null.include == DEFAULT_CLASSES
    assert gh.connection == "github"


def test_errors_are_precise():
    config = parse_tenant_config(
        "- tenant:\n"
        "    name: t\n"
        "    max-nodes-per-jbo: 3\n"
        "    admin-rules: [nobody]\n"
        "    source:\n"
        "      gerrit:\n"
        "        untrusted-projects:\n"
        "          - org/a:\n"
        "              load-branch: main\n"
        "              include: [jobs]\n"
        "- tenant:\n"
        "    name: u\n"
        "    admin-rules: [nobody]\n"
        "    source: {}\n"
        "- job:\n"
        "    name: x\n"
        "- tenent:\n"
        "    name: y\n",
        "main.yaml",
    )
    assert [e.format() for e in config.errors] == [
        "main.yaml:1: tenant 't': unknown attribute 'max-nodes-per-jbo' in tenant 't' "
        "(did you mean 'max-nodes-per-job'?)",
        "main.yaml:1: tenant 't': invalid value for 'source.gerrit.untrusted-projects[0]"
        ".org/a.include[0]' in tenant 't': expected one of 'pipeline', 'job', 'semaphore', "
        "'project', 'project-template', 'nodeset', 'secret', 'queue', 'image', 'flavor', "
        "'label', 'section', 'provider', got string 'jobs'",
        "main.yaml:15: unknown tenant config object type 'job' (job objects belong in a "
        "project's zuul.yaml)",
        "main.yaml:17: unknown tenant config object type 'tenent' (did you mean 'tenant'?)",
        "main.yaml:11: tenant 'u': refers to unknown authorization rule 'nobody'",
    ]


def test_load_branch_only_on_config_projects():
    config = parse_tenant_config(
        "- tenant:\n    name: t\n    source:\n      g:\n        untrusted-projects:\n"
        "          - a: {load-branch: main}\n        config-projects:\n"
        "          - c: {configure-projects: [x]}\n          - c\n"
    )
    assert [e.message for e in config.errors] == [
        "'configure-projects' is only allowed on untrusted projects (project 'c')",
        "project 'c' of connection 'g' is listed more than once",
        "'load-branch' is only allowed on config projects (project 'a')",
    ]


def test_broken_files_never_raise():
    for text in [
        "",
        "tenant: {}",
        b"\xff\x00",
        "- tenant: null",
        "- tenant: {name: 1}",
        "- [1, 2]",
        "- tenant:\n    name: t\n    source: [a]",
    ]:
        config = parse_tenant_config(text)
        assert config.tenants == {}
        assert config.errors


def test_corpus_tenant_config():
    with open(CORPUS / "project-config" / "zuul" / "main.yaml", "rb") as f:
        config = parse_tenant_config(f.read(), "zuul/main.yaml")
    assert config.errors == []
    assert set(config.tenants) == {
        "opendev",
        "openstack",
        "vexxhost",
        "zuul",
        "pyca",
        "pypa",
        "volvocars",
    }
    openstack = config.tenants["openstack"]
    assert [p.name for p in openstack.config_projects] == [
        "openstack/project-config",
        "opendev/base-jobs",
    ]
    base = openstack.config_projects[1]
    assert base.include == {"job", "secret"} and base.allow_base_jobs
    assert openstack.config_projects[0].allow_base_jobs is False
    assert len(openstack.projects) > 1200
