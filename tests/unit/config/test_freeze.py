"""Freezing: for each of Zuul's documented rules, a small configuration and
the frozen job it must produce.  Rules are written from Zuul's job, project
and secret documentation (inheritance, variants, playbook nesting, merge
rules per attribute, matchers, dependencies)."""

from __future__ import annotations

from lockgate.config.freeze import freeze_job_graph
from lockgate.model.jobs import FrozenJob, RequiredProject

from tests.unit.config.yaml_objects import layout_of, messages, repo


def graph(layout, project="org/project", pipeline="check", branch="master", files=None, **kw):
    return freeze_job_graph(layout, pipeline, project, branch, files, **kw)


def only_job(layout, name, **kw):
    g = graph(layout, **kw)
    assert g.errors == [], [e.format() for e in g.errors]
    job = g.get_job(name)
    assert job is not None, (g.job_names, g.not_run)
    return job


def paths(playbooks):
    return [p.path for p in playbooks]


# ---------------------------------------------------------------------------
# Inheritance


def test_default_parent_and_playbook_nesting():
    layout = layout_of(
        repo(
            "org/project",
            """
- job:
    name: parent-job
    pre-run: parent-pre.yaml
    run: parent-run.yaml
    post-run: parent-post.yaml
- job:
    name: child-job
    parent: parent-job
    pre-run: child-pre.yaml
    run: child-run.yaml
    post-run: [child-post-1.yaml, child-post-2.yaml]
- project:
    check:
      jobs: [child-job]
""",
        )
    )
    assert messages(layout) == []
    job = only_job(layout, "child-job")
    # parent-job has no parent: it inherits from the tenant's default, base.
    assert job.inheritance_path[0].startswith("base ")
    assert paths(job.pre_run) == [
        "playbooks/base/pre.yaml",
        "parent-pre.yaml",
        "child-pre.yaml",
    ]
    assert paths(job.run) == ["child-run.yaml"]  # the child's run replaces
    assert paths(job.post_run) == [
        "child-post-1.yaml",
        "child-post-2.yaml",
        "parent-post.yaml",
        "playbooks/base/post.yaml",
    ]
    # Each playbook keeps its defining project and trust.
    assert [(p.project, p.trusted) for p in job.pre_run] == [
        ("config", True),
        ("org/project", False),
        ("org/project", False),
    ]
    assert job.timeout == 1800  # scalar inherited from base
    assert [n.label for n in job.nodes] == ["ubuntu"]
    # Each playbook knows its inheritance level (base = 0), so the executor
    # runs only the post-runs of levels whose pre-runs were reached.
    assert [p.nesting_level for p in job.pre_run] == [0, 1, 2]
    assert [p.nesting_level for p in job.post_run] == [2, 2, 1, 0]


def test_run_inherited_when_child_has_none():
    layout = layout_of(
        repo(
            "org/project",
            """
- job: {name: a, run: a.yaml}
- job: {name: b, parent: a, timeout: 60}
- project: {check: {jobs: [b]}}
""",
        )
    )
    job = only_job(layout, "b")
    assert paths(job.run) == ["a.yaml"]
    assert job.timeout == 60


def test_tenant_default_parent_setting():
    layout = layout_of(
        repo("config2", "- job: {name: other-base, parent: null, run: ob.yaml}", trusted=True),
        repo("org/project", "- job: {name: j}\n- project: {check: {jobs: [j]}}"),
        default_parent="other-base",
    )
    job = only_job(layout, "j")
    assert paths(job.run) == ["ob.yaml"]
    assert paths(job.pre_run) == []


def test_vars_deep_merge_and_override_tag():
    layout = layout_of(
        repo(
            "org/project",
            """
- job:
    name: parent-job
    vars:
      a: 1
      nested: {x: 1, y: 1}
      keep: {k: v}
- job:
    name: merged
    parent: parent-job
    vars:
      b: 2
      nested: {y: 2, z: 2}
- job:
    name: replaced
    parent: parent-job
    vars: !override
      only: me
- project:
    check:
      jobs: [merged, replaced]
""",
        )
    )
    assert only_job(layout, "merged").vars == {
        "a": 1,
        "b": 2,
        "nested": {"x": 1, "y": 2, "z": 2},
        "keep": {"k": "v"},
    }
    assert only_job(layout, "replaced").vars == {"only": "me"}


def test_host_group_and_extra_vars_merge():
    layout = layout_of(
        repo(
            "org/project",
            """
- job:
    name: p
    host-vars: {controller: {a: 1}}
    group-vars: {g: {a: 1}}
    extra-vars: {e: 1}
- job:
    name: c
    parent: p
    host-vars: {controller: {b: 2}}
    group-vars: {g: {a: 3}}
    extra-vars: {f: 2}
- project: {check: {jobs: [c]}}
""",
        )
    )
    job = only_job(layout, "c")
    assert job.host_vars == {"controller": {"a": 1, "b": 2}}
    assert job.group_vars == {"g": {"a": 3}}
    assert job.extra_vars == {"e": 1, "f": 2}


def test_list_attributes_merge_without_duplicates_by_default():
    layout = layout_of(
        repo(
            "org/project",
            """
- job:
    name: p
    tags: [a, b]
    provides: [img]
    required-projects: [org/lib, {name: org/other, override-checkout: stable}]
- job:
    name: c
    parent: p
    tags: [b, c]
    required-projects: [{name: org/other, override-checkout: main}, org/third]
- job:
    name: o
    parent: p
    tags: !override [z]
    required-projects: !override [org/third]
- project: {check: {jobs: [c, o]}}
""",
        ),
        extra_projects=("org/lib", "org/other", "org/third"),
    )
    c = only_job(layout, "c")
    assert c.tags == ["a", "b", "c"]
    assert c.provides == ["img"]
    assert c.required_projects == [
        RequiredProject("org/lib"),
        RequiredProject("org/other", override_checkout="main"),
        RequiredProject("org/third"),
    ]
    o = only_job(layout, "o")
    assert o.tags == ["z"]
    assert o.required_projects == [RequiredProject("org/third")]
    # In ZooKeeper (a frozen job is part of its queue item) a required
    # project is {name, override_checkout}, and reads back as the record.
    data = c.to_dict()
    assert data["required_projects"][1] == {"name": "org/other", "override_checkout": "main"}
    assert FrozenJob.from_dict(data).required_projects == c.required_projects


def test_files_override_by_default_and_inherit_on_request():
    layout = layout_of(
        repo(
            "org/project",
            """
- job: {name: p, files: ['^src/']}
- job: {name: replaced, parent: p, files: ['^docs/']}
- job: {name: combined, parent: p, files: !inherit ['^docs/']}
- project: {check: {jobs: [replaced, combined]}}
""",
        )
    )
    g = graph(layout, files=["src/main.c"])
    assert g.job_names == ["combined"]
    assert "replaced" in g.not_run
    g = graph(layout, files=["docs/index.rst"])
    assert g.job_names == ["replaced", "combined"]


def test_irrelevant_files_uses_final_value():
    layout = layout_of(
        repo(
            "org/project",
            """
- job: {name: j, irrelevant-files: ['^docs/.*$', '^README']}
- project: {check: {jobs: [j]}}
""",
        )
    )
    assert graph(layout, files=["docs/a.rst", "README"]).job_names == []
    assert graph(layout, files=["docs/a.rst", "src/x.py"]).job_names == ["j"]
    # A ref without files ignores file matchers.
    assert graph(layout, files=[]).job_names == ["j"]
    assert graph(layout, files=None).job_names == ["j"]
    # Gerrit's /COMMIT_MSG is not evidence of relevance.
    assert graph(layout, files=["/COMMIT_MSG", "docs/a.rst"]).job_names == []


def test_dependencies_override_by_default():
    layout = layout_of(
        repo(
            "org/project",
            """
- job: {name: build}
- job: {name: lint}
- job: {name: p, dependencies: [build]}
- job: {name: c, parent: p, dependencies: [lint]}
- project: {check: {jobs: [build, lint, c]}}
""",
        )
    )
    g = graph(layout)
    assert g.dependencies["c"] == ["lint"]


def test_semaphores_extend_through_inheritance():
    layout = layout_of(
        repo(
            "org/project",
            """
- semaphore: {name: s1, max: 2}
- job: {name: p, semaphore: s1}
- job: {name: c, parent: p, semaphores: [{name: s2, resources-first: true}, s1]}
- project: {check: {jobs: [c]}}
""",
        )
    )
    assert messages(layout) == []
    assert only_job(layout, "c").semaphores == [
        {"name": "s1", "resources_first": False},
        {"name": "s2", "resources_first": True},
    ]
    # s2 is not defined: an implicit semaphore of max 1 (Zuul's rule).


def test_roles_accumulate_child_first_and_playbooks_keep_their_snapshot():
    layout = layout_of(
        repo(
            "org/project",
            """
- job:
    name: p
    roles: [{zuul: org/roles-a}]
    pre-run: p-pre.yaml
- job:
    name: c
    parent: p
    roles: [{zuul: org/ansible-role-b}]
    run: c-run.yaml
- project: {check: {jobs: [c]}}
""",
        ),
        extra_projects=("org/roles-a", "org/ansible-role-b"),
    )
    job = only_job(layout, "c")
    p_pre = job.pre_run[1]
    # Each definition's own project comes first, implicitly (then the base
    # job's config project, which defined it before).
    assert [r["project"] for r in p_pre.roles] == ["org/project", "org/roles-a", "config"]
    run = job.run[0]
    # c's implicit role (org/project) is there already and keeps its place.
    assert [r["project"] for r in run.roles] == [
        "org/ansible-role-b",
        "org/project",
        "org/roles-a",
        "config",
    ]
    # The install name drops Zuul's ansible-role- prefix.
    assert run.roles[0]["name"] == "b"


def test_the_project_of_a_job_definition_is_an_implicit_role_source():
    layout = layout_of(
        repo(
            "org/project",
            """
- job:
    name: implicit-only
    run: run.yaml
- job:
    name: explicit-too
    roles: [{zuul: org/project}]
    run: run.yaml
- project:
    check:
      jobs:
        - implicit-only
        - explicit-too:
            roles: [{zuul: org/other}]
""",
        ),
        extra_projects=("org/other",),
    )
    (run,) = only_job(layout, "implicit-only").run
    assert run.roles[0] == {
        "type": "zuul",
        "zuul": "org/project",
        "name": "project",
        "implicit": True,
        "project": "org/project",
        "connection": "gerrit",
        # As Zuul's freeze-job answer names them.
        "target_name": "project",
        "project_canonical_name": "org/project",
    }
    assert [(r["project"], r.get("implicit", False)) for r in run.roles] == [
        ("org/project", True),
        ("config", True),
    ]
    # Named explicitly, the project's entry is no longer implicit; a
    # project-pipeline variant adds its roles without an implicit one.
    job = only_job(layout, "explicit-too")
    assert [(r["project"], r.get("implicit", False)) for r in job.run[0].roles] == [
        ("org/project", False),
        ("config", True),
    ]


def test_allowed_projects_intersect_and_post_review_sticks():
    layout = layout_of(
        repo(
            "org/project",
            """
- job: {name: p, allowed-projects: [org/project, org/other], post-review: true}
- job: {name: c, parent: p, allowed-projects: [org/project], post-review: false}
- project:
    check: {jobs: [c]}
    post: {jobs: [c]}
""",
        ),
        repo("org/other", "- project: {post: {jobs: [c]}}"),
    )
    assert graph(layout, pipeline="post").get_job("c").post_review is True
    # check is pre-review: a post-review job may not run there.
    g = graph(layout, pipeline="check")
    assert [e.message for e in g.errors] == [
        "job 'c' is post-review only and may not run in pre-review pipeline 'check'"
    ]
    # org/other was allowed by the parent but not by the child.
    g = graph(layout, pipeline="post", project="org/other")
    assert [e.message for e in g.errors] == [
        "job 'c' may not be used by project 'org/other' (it is not in the job's allowed-projects)"
    ]


def test_config_project_may_add_any_job_despite_allowed_projects():
    layout = layout_of(
        repo("config2", "- project: {name: org/other, check: {jobs: [j]}}", trusted=True),
        repo("org/project", "- job: {name: j, allowed-projects: [org/project]}"),
        repo("org/other", "- project: {gate: {jobs: [j]}}"),
    )
    assert graph(layout, project="org/other").job_names == ["j"]
    # The same job added by the untrusted project itself is refused.
    assert [e.key for e in graph(layout, project="org/other", pipeline="gate").errors] == [
        "allowed-projects"
    ]


# ---------------------------------------------------------------------------
# Variants


def test_variants_apply_in_order_when_branch_matches():
    layout = layout_of(
        repo(
            "org/project",
            """
- nodeset: {name: old, nodes: [{name: n, label: old-label}]}
- job: {name: run-tests, run: tests.yaml, vars: {a: 1}}
- job:
    name: run-tests
    branches: stable/2.0
    nodeset: old
    vars: {b: 2}
- project:
    name: org/project
    branches: [master, stable/2.0]
    check: {jobs: [run-tests]}
""",
            trusted=True,
        )
    )
    master = only_job(layout, "run-tests", branch="master")
    assert master.labels == ["ubuntu"] and master.vars == {"a": 1}
    stable = only_job(layout, "run-tests", branch="stable/2.0")
    assert stable.labels == ["old-label"]
    assert stable.vars == {"a": 1, "b": 2}
    # Variants nest playbooks like inheritance, but do not reset run.
    assert paths(stable.run) == ["tests.yaml"]


def test_job_with_no_matching_variant_does_not_run():
    layout = layout_of(
        repo(
            "org/project",
            """
- job: {name: j, branches: ['^stable/']}
- project: {name: org/project, check: {jobs: [j]}}
""",
            trusted=True,
        )
    )
    g = graph(layout, branch="master")
    assert g.jobs == [] and g.errors == []
    assert "matches branch" in g.not_run["j"]


def test_branch_regex_negate_and_list():
    layout = layout_of(
        repo(
            "org/project",
            """
- job: {name: j, branches: {regex: '^stable/', negate: true}}
- job: {name: k, branches: [{regex: '^feature/'}, '^master$']}
- project: {name: org/project, check: {jobs: [j, k]}}
""",
            trusted=True,
        )
    )
    assert graph(layout, branch="master").job_names == ["j", "k"]
    assert graph(layout, branch="stable/1").job_names == []
    assert graph(layout, branch="feature/x").job_names == ["j", "k"]


def test_project_pipeline_variant_applies_last():
    layout = layout_of(
        repo(
            "org/project",
            """
- job: {name: j, voting: true, vars: {a: 1}, timeout: 100}
- project:
    check:
      jobs:
        - j:
            voting: false
            vars: {b: 2}
""",
        )
    )
    job = only_job(layout, "j")
    assert job.voting is False and job.vars == {"a": 1, "b": 2} and job.timeout == 100


def test_override_checkout_selects_variants():
    layout = layout_of(
        repo(
            "org/project",
            """
- job: {name: j, vars: {which: all}}
- job: {name: j, branches: stable/old, vars: {which: old}}
- project:
    name: org/project
    check:
      jobs:
        - j: {override-checkout: stable/old}
""",
            trusted=True,
        )
    )
    job = only_job(layout, "j", branch="master")
    assert job.vars == {"which": "old"}
    assert job.override_checkout == "stable/old"


# ---------------------------------------------------------------------------
# Implied branch matchers


MULTI = {
    "master": "- job: {name: j, vars: {from: master}}\n- project: {check: {jobs: [j]}}",
    "stable/1": "- job: {name: j, vars: {from: stable}}\n- project: {check: {jobs: [j]}}",
}


def test_implied_branch_matchers_in_untrusted_multibranch_repo():
    layout = layout_of(repo("org/project", MULTI))
    assert messages(layout) == []
    assert only_job(layout, "j", branch="master").vars == {"from": "master"}
    assert only_job(layout, "j", branch="stable/1").vars == {"from": "stable"}
    # The project stanza of each branch applies to its own branch only.
    assert len(graph(layout, branch="master").jobs) == 1


def test_pragma_disables_implied_branch_matchers():
    texts = {
        "master": "- pragma: {implied-branch-matchers: false}\n" + MULTI["master"],
        "stable/1": MULTI["stable/1"],
    }
    layout = layout_of(repo("org/project", texts))
    # The master definition now applies to every branch; on stable/1 both
    # variants apply, in load order.
    assert only_job(layout, "j", branch="stable/1").vars == {"from": "stable"}
    layout = layout_of(
        repo(
            "org/project",
            {
                "master": MULTI["master"],
                "stable/1": "- pragma: {implied-branch-matchers: false}\n" + MULTI["stable/1"],
            },
        )
    )
    assert only_job(layout, "j", branch="master").vars == {"from": "stable"}


def test_pragma_implied_branches():
    texts = {
        "master": MULTI["master"],
        "stable/foo": "- pragma: {implied-branches: [stable/foo, stable/bar]}\n"
        + MULTI["stable/1"],
    }
    layout = layout_of(repo("org/project", texts))
    from lockgate.config.freeze import freeze_job

    assert freeze_job(layout, "j", "stable/bar").vars == {"from": "stable"}
    assert freeze_job(layout, "j", "master").vars == {"from": "master"}


def test_tenant_setting_disables_implied_branch_matchers():
    layout = layout_of(repo("org/project", MULTI, implied_branch_matchers=False))
    from lockgate.config.freeze import freeze_job

    # Both definitions match master now; the later (stable) one applies last.
    assert freeze_job(layout, "j", "master").vars == {"from": "stable"}


def test_no_implied_branch_matchers_in_config_projects_or_single_branch():
    from lockgate.config.freeze import freeze_job

    layout = layout_of(
        repo("org/project", {"stable/1": "- job: {name: j, vars: {x: 1}}"}),
        repo("config2", "- job: {name: k, vars: {y: 1}}", trusted=True),
    )
    # One branch only: the definition applies to every branch.
    assert freeze_job(layout, "j", "master").vars == {"x": 1}
    # Config projects never get implied branch matchers.
    assert freeze_job(layout, "k", "stable/9").vars == {"y": 1}


# ---------------------------------------------------------------------------
# Restrictions


def test_abstract_job_may_not_run_but_child_may():
    layout = layout_of(
        repo(
            "org/project",
            """
- job: {name: a, abstract: true}
- job: {name: c, parent: a}
- project: {check: {jobs: [a, c]}}
""",
        )
    )
    g = graph(layout)
    assert g.job_names == ["c"]
    assert [e.message for e in g.errors] == ["job 'a' is abstract and may not be run directly"]
    assert g.errors[0].context.line == 4


def test_abstract_is_sticky_across_variants():
    layout = layout_of(
        repo(
            "org/project",
            """
- job: {name: a, abstract: true}
- job: {name: a, abstract: false}
- project: {check: {jobs: [a]}}
""",
        )
    )
    assert [e.key for e in graph(layout).errors] == ["abstract"]


def test_final_job_cannot_be_inherited_or_changed():
    layout = layout_of(
        repo(
            "org/project",
            """
- job: {name: f, final: true, run: f.yaml}
- job: {name: child, parent: f}
- project:
    check:
      jobs:
        - f: {voting: false}
""",
        )
    )
    assert "job 'child' may not inherit from final job 'f'" in messages(layout)
    # Non-execution attributes (voting) may still change.
    assert only_job(layout, "f").voting is False
    layout = layout_of(
        repo(
            "org/project",
            """
- job: {name: f, final: true}
- project:
    check:
      jobs:
        - f: {vars: {x: 1}}
""",
        )
    )
    errors = graph(layout).errors
    assert [e.message for e in errors] == [
        "job 'f' is final; the project pipeline at zuul.yaml:3 may not change 'vars'"
    ]


def test_protected_job_only_inherited_within_its_project():
    layout = layout_of(
        repo("org/lib", "- job: {name: p, protected: true}\n- job: {name: same, parent: p}"),
        repo("org/project", "- job: {name: other, parent: p}"),
    )
    assert messages(layout) == [
        "job 'other' may not inherit from protected job 'p' (only jobs in project 'org/lib' may)"
    ]


def test_intermediate_requires_abstract_child():
    layout = layout_of(
        repo(
            "org/project",
            """
- job: {name: i, abstract: true, intermediate: true}
- job: {name: ok, parent: i, abstract: true}
- job: {name: bad, parent: i}
""",
        )
    )
    assert messages(layout) == [
        "job 'bad' inherits from intermediate job 'i' and so must be abstract"
    ]


def test_attribute_control_final():
    layout = layout_of(
        repo(
            "org/project",
            """
- job:
    name: p
    vars: {locked: true}
    attribute-control:
      vars: {final: true}
- job: {name: c, parent: p, vars: {locked: false}}
- job: {name: fine, parent: p, tags: [x]}
- project:
    check: {jobs: [fine]}
    gate: {jobs: [c]}
""",
        )
    )
    # As in Zuul, only when the job is frozen: c is an error where it runs.
    assert messages(layout) == []
    assert graph(layout, pipeline="check").errors == []
    assert [e.message for e in graph(layout, pipeline="gate").errors] == [
        "job 'c' may not change attribute 'vars': it is final (attribute-control in zuul.yaml:2)"
    ]


# ---------------------------------------------------------------------------
# Secrets


SECRETS = """
- secret:
    name: creds
    data:
      user: me
      password: !encrypted/pkcs1-oaep [AAAA, BBBB]
- secret: {name: other, data: {k: v}}
- job:
    name: parent-job
    pre-run: parent-pre.yaml
- job:
    name: uses-secret
    parent: parent-job
    run: run.yaml
    secrets:
      - creds
      - {name: passed, secret: other, pass-to-parent: true}
"""


def test_secrets_bound_to_definition_playbooks_and_pass_to_parent():
    layout = layout_of(repo("org/project", SECRETS + "- project: {post: {jobs: [uses-secret]}}"))
    assert messages(layout) == []
    job = only_job(layout, "uses-secret", pipeline="post")
    names = [s["name"] for s in job.secrets]
    assert names == ["creds", "passed"]
    run = job.run[0]
    assert [job.secrets[i]["name"] for i in run.secrets] == ["creds", "passed"]
    parent_pre = job.pre_run[1]
    assert parent_pre.path == "parent-pre.yaml"
    assert [job.secrets[i]["name"] for i in parent_pre.secrets] == ["passed"]
    # Encrypted values stay encrypted in the frozen job.
    assert job.secrets[0]["data"]["password"] == {
        "encrypted": "pkcs1-oaep",
        "ciphertext": ["AAAA", "BBBB"],
    }
    # A secret in an untrusted project makes the job post-review and pins
    # allowed-projects to the project.
    assert job.post_review is True
    g = graph(layout, pipeline="check")
    assert g.errors == [] and g.jobs == []  # not in check at all


def test_child_playbooks_do_not_see_parent_secrets():
    layout = layout_of(
        repo(
            "org/project",
            SECRETS
            + """
- job: {name: grandchild, parent: uses-secret, post-run: gc-post.yaml}
- project: {post: {jobs: [grandchild]}}
""",
        )
    )
    job = only_job(layout, "grandchild", pipeline="post")
    gc_post = job.post_run[0]
    assert gc_post.path == "gc-post.yaml" and gc_post.secrets == []


def test_secret_in_untrusted_job_is_post_review_and_pinned():
    layout = layout_of(
        repo("org/project", SECRETS),
        repo("org/other", "- project: {post: {jobs: [uses-secret]}}"),
    )
    g = graph(layout, pipeline="post", project="org/other")
    assert [e.key for e in g.errors] == ["allowed-projects"]


# ---------------------------------------------------------------------------
# Dependencies


def test_dependency_graph_soft_hard_and_missing():
    layout = layout_of(
        repo(
            "org/project",
            """
- job: {name: build}
- job: {name: docs, files: ['^docs/']}
- job:
    name: test
    dependencies: [build, {name: docs, soft: true}]
- job: {name: publish, dependencies: [docs]}
- project: {check: {jobs: [build, docs, test]}}
- project: {gate: {jobs: [build, docs, publish]}}
""",
        )
    )
    g = graph(layout, files=["src/a.c"])
    assert g.job_names == ["build", "test"]
    assert g.dependencies == {"build": [], "test": ["build"]}
    assert g.errors == []
    assert g.ready(set()) == ["build"] and g.ready({"build"}) == ["test"]
    g = graph(layout, pipeline="gate", files=["src/a.c"])
    assert [e.message for e in g.errors] == [
        "job 'publish' depends on job 'docs', which does not run for this item "
        "(no changed file matches the job's file matchers)"
    ]


def test_dependency_cycle_is_an_error():
    layout = layout_of(
        repo(
            "org/project",
            """
- job: {name: a, dependencies: [b]}
- job: {name: b, dependencies: [a]}
- project: {check: {jobs: [a, b]}}
""",
        )
    )
    g = graph(layout)
    assert [e.message for e in g.errors] == ["job dependency cycle: a -> b -> a"]


# ---------------------------------------------------------------------------
# Projects and templates


def test_templates_and_project_stanzas_merge_per_pipeline():
    layout = layout_of(
        repo(
            "config2",
            """
- project-template:
    name: tpl
    vars: {from_template: 1, shared: template}
    check: {jobs: [t1, {common: {vars: {via: template}}}]}
- project:
    name: org/project
    templates: [tpl]
    check: {jobs: [c1]}
""",
            trusted=True,
        ),
        repo(
            "org/project",
            """
- job: {name: t1}
- job: {name: c1}
- job: {name: common, vars: {job: 1}}
- job: {name: own}
- project:
    vars: {shared: project, mine: 2}
    check:
      jobs:
        - own
        - common: {vars: {via: project}}
""",
        ),
    )
    assert messages(layout) == []
    g = graph(layout)
    assert g.job_names == ["t1", "common", "c1", "own"]
    common = g.get_job("common")
    # Project vars (template vars under the stanza's) sit below job vars.
    assert common.vars == {
        "from_template": 1,
        "shared": "project",
        "mine": 2,
        "job": 1,
        "via": "project",
    }


def test_regex_project_stanza_applies_to_matching_projects():
    layout = layout_of(
        repo(
            "config2",
            "- project: {name: '^org/.*$', check: {jobs: [noop]}}",
            trusted=True,
        ),
        repo("org/project", ""),
        repo("other/project", ""),
    )
    assert graph(layout).job_names == ["noop"]
    assert graph(layout, project="other/project").job_names == []


def test_noop_job_has_no_nodes_or_playbooks():
    layout = layout_of(repo("org/project", "- project: {check: {jobs: [noop]}}"))
    job = only_job(layout, "noop")
    assert job.nodes == [] and job.run == [] and job.pre_run == []


def test_project_metadata_first_value_wins():
    layout = layout_of(
        repo(
            "config2",
            "- project: {name: org/project, merge-mode: squash-merge, queue: integrated}",
            trusted=True,
        ),
        repo("org/project", "- project: {merge-mode: rebase, default-branch: main}"),
    )
    meta = layout.get_project_metadata("org/project")
    assert (meta.merge_mode, meta.default_branch, meta.queue_name) == (
        "squash-merge",
        "main",
        "integrated",
    )


def test_nodeset_alternatives_flatten_breadth_first():
    layout = layout_of(
        repo(
            "config2",
            """
- nodeset: {name: fast, nodes: [{name: n, label: fast}]}
- nodeset: {name: slow, nodes: [{name: n, label: slow}]}
- nodeset: {name: slowest, nodes: [{name: n, label: slowest}]}
- nodeset: {name: slow-or-slowest, alternatives: [slow, slowest]}
- nodeset: {name: any, alternatives: [fast, slow-or-slowest, {nodes: [{name: n, label: inline}]}]}
""",
            trusted=True,
        ),
        repo("org/project", "- job: {name: j, nodeset: any}\n- project: {check: {jobs: [j]}}"),
    )
    job = only_job(layout, "j")
    assert job.labels == ["fast"]
    assert [a["nodes"][0]["label"] for a in job.nodeset_alternatives] == [
        "fast",
        "inline",
        "slow",
        "slowest",
    ]


def test_match_on_config_updates_ignores_file_matchers_for_changed_jobs():
    text = """
- job: {name: j, files: ['^src/'], vars: {v: %d}}
- job: {name: k, files: ['^src/'], match-on-config-updates: false, vars: {v: %d}}
- project: {check: {jobs: [j, k]}}
"""
    before = layout_of(repo("org/project", text % (1, 1)))
    after = layout_of(repo("org/project", text % (2, 2)))
    g = graph(after, files=["zuul.yaml"], previous_layout=before)
    assert g.job_names == ["j"]
    unchanged = layout_of(repo("org/project", text % (1, 1)))
    g = graph(unchanged, files=["zuul.yaml"], previous_layout=before)
    assert g.job_names == []


def test_frozen_job_round_trips_as_json():
    import json

    from lockgate.model.jobs import FrozenJob

    layout = layout_of(repo("org/project", SECRETS + "- project: {post: {jobs: [uses-secret]}}"))
    job = only_job(layout, "uses-secret", pipeline="post")
    again = FrozenJob.from_dict(json.loads(json.dumps(job.to_dict())))
    assert again == job


def test_freezing_does_not_share_mutable_vars_between_items():
    layout = layout_of(
        repo("org/project", "- job: {name: j, vars: {a: {b: 1}}}\n- project: {check: {jobs: [j]}}")
    )
    first = only_job(layout, "j")
    first.vars["a"] = 99
    first.vars["new"] = 1
    first.tags.append("x")
    assert only_job(layout, "j").vars == {"a": {"b": 1}}
    assert only_job(layout, "j").tags == []


def test_override_tag_in_project_pipeline_variant():
    layout = layout_of(
        repo(
            "org/project",
            """
- job: {name: j, vars: {a: 1}, tags: [x]}
- project:
    check:
      jobs:
        - j:
            vars: !override {b: 2}
            tags: !override [y]
""",
        )
    )
    job = only_job(layout, "j")
    assert job.vars == {"b": 2} and job.tags == ["y"]


def test_a_variant_changing_a_final_job_is_an_error_only_where_it_is_frozen():
    config = """
- job: {name: f, final: true, run: f.yaml}
- job: {name: f, branches: stable, vars: {x: 1}}
- project:
    check: {jobs: [f]}
"""
    layout = layout_of(repo("org/project", {"master": config, "stable": config}))
    assert messages(layout) == []  # Zuul: not an error until that variant is applied
    assert graph(layout).errors == []
    (error,) = graph(layout, branch="stable").errors
    assert error.key == "final-variant" and "may not change 'vars'" in error.message
