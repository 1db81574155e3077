"""Layout building: each load-time rule and each error, with its exact
message and where it points.  A broken object is left out; everything else
stays."""

from __future__ import annotations

from lockgate.config.errors import ConfigError
from lockgate.config.freeze import freeze_job_graph
from lockgate.config.layout import Layout
from lockgate.config.model import ManagerKind, Precedence, WindowType

from tests.unit.config.yaml_objects import layout_of, messages, repo


def errors_of(layout: Layout) -> list[tuple[str, int | None, str]]:
    return [(e.context.path, e.context.line, e.message) for e in layout.errors if e.context]


def test_clean_config_has_no_errors_and_counts_objects():
    layout = layout_of(
        repo(
            "org/project",
            """
- pragma: {implied-branch-matchers: true}
- semaphore: {name: s, max: 2}
- queue: {name: integrated, per-branch: true}
- secret: {name: sec, data: {a: b}}
- job: {name: j}
- job: {name: j, branches: stable}
- project-template: {name: t, check: {jobs: [j]}}
- project: {templates: [t], queue: integrated}
""",
        )
    )
    assert messages(layout) == []
    assert layout.counts() == {
        "pipeline": 3,
        "job": 3,  # base + two variants of j (noop is built in)
        "project": 1,
        "project-template": 1,
        "nodeset": 1,
        "secret": 1,
        "semaphore": 1,
        "queue": 1,
        "pragma": 1,
    }
    assert layout.queues["integrated"].per_branch is True
    assert [v.branch_matcher is not None for v in layout.jobs["j"]] == [True, True]


def test_unknown_parent_is_reported_where_written_and_job_kept():
    layout = layout_of(
        repo("org/project", "- job: {name: ok}\n- job:\n    name: foo\n    parent: bar\n")
    )
    assert errors_of(layout) == [("zuul.yaml", 2, "job 'foo' has unknown parent 'bar'")]
    err = layout.errors[0]
    assert (err.object_type, err.object_name, err.key) == ("job", "foo", "unknown-parent")
    assert err.format() == "zuul.yaml:2: job 'foo': has unknown parent 'bar'"
    # Everything else stays usable; freezing foo reports the same problem.
    assert "ok" in layout.jobs and "foo" in layout.jobs


def test_unknown_references_each_reported_once():
    layout = layout_of(
        repo(
            "org/project",
            """
- job:
    name: j
    nodeset: missing-nodes
    secrets: [missing-secret]
    required-projects: [org/missing]
    roles: [{zuul: org/missing-roles}]
- project:
    templates: [missing-template]
    check:
      jobs: [j, missing-job]
    nonexistent-pipeline:
      jobs: [j]
""",
        )
    )
    assert sorted(messages(layout)) == sorted(
        [
            "job 'j' uses unknown nodeset 'missing-nodes'",
            "job 'j' uses unknown secret 'missing-secret'",
            "job 'j' requires unknown project 'org/missing'",
            "job 'j' uses roles from unknown project 'org/missing-roles'",
            "project 'org/project' uses unknown project-template 'missing-template'",
            "project 'org/project' pipeline 'check' uses unknown job 'missing-job'",
            "project 'org/project' refers to unknown pipeline 'nonexistent-pipeline'",
        ]
    )
    # The item learns about the missing template and job, and what stops j.
    g = freeze_job_graph(layout, "check", "org/project", "master")
    assert [e.message for e in g.errors] == [
        "project 'org/project' uses unknown project-template 'missing-template'",
        "job 'j' uses unknown secret 'missing-secret'",
        "job 'missing-job' is not defined",
    ]


def test_secret_from_another_project_is_refused():
    layout = layout_of(
        repo("org/lib", "- secret: {name: s, data: {a: b}}"),
        repo("org/project", "- job: {name: j, secrets: [s]}"),
    )
    assert messages(layout) == [
        "job 'j' uses secret 's', which is defined in project 'org/lib'; a job may "
        "only use secrets of its own project"
    ]


def test_base_jobs_only_in_config_projects():
    layout = layout_of(repo("org/project", "- job: {name: mybase, parent: null}"))
    assert messages(layout) == [
        "job 'mybase' is a base job (it has no parent); base jobs may only be "
        "defined in config projects"
    ]
    assert "mybase" not in layout.jobs
    layout = layout_of(
        repo("config2", "- job: {name: b2, parent: null}", trusted=True, allow_base_jobs=False)
    )
    assert messages(layout) == [
        "job 'b2' is a base job (it has no parent); project 'config2' may not "
        "define base jobs (allow-base-jobs is false)"
    ]


def test_pipelines_only_in_config_projects():
    layout = layout_of(
        repo("org/project", "- pipeline: {name: mine, manager: independent, trigger: {}}")
    )
    assert errors_of(layout) == [
        ("zuul.yaml", 1, "pipelines may only be defined in config projects")
    ]
    assert "mine" not in layout.pipelines


def test_job_variants_must_stay_in_one_project():
    layout = layout_of(
        repo("org/lib", "- job: {name: shared}"),
        repo("org/project", "- job: {name: shared, vars: {x: 1}}"),
    )
    assert messages(layout) == [
        "job 'shared' is already defined in project 'org/lib' (zuul.yaml:1); variants "
        "of a job must all be in one project"
    ]
    assert [j.project for j in layout.jobs["shared"]] == ["org/lib"]


def test_shadow_lets_the_earlier_project_win_silently():
    layout = layout_of(
        repo("org/lib", "- job: {name: shared, vars: {from: lib}}"),
        repo("org/jobs", "- job: {name: shared, vars: {from: jobs}}", shadow=("org/lib",)),
    )
    assert messages(layout) == []
    assert [j.vars for j in layout.jobs["shared"]] == [{"from": "lib"}]


def test_duplicate_unique_objects():
    layout = layout_of(
        repo(
            "org/project",
            {
                "master": "- nodeset: {name: n, nodes: [{name: a, label: x}]}\n"
                "- semaphore: {name: s, max: 1}",
                "stable": "- nodeset: {name: n, nodes: [{name: a, label: x}]}\n"
                "- semaphore: {name: s, max: 3}",
            },
        ),
        repo("org/other", "- nodeset: {name: n, nodes: [{name: a, label: y}]}"),
    )
    assert messages(layout) == [
        "semaphore 's' is already defined differently in project 'org/project' "
        "(zuul.yaml:2); a semaphore may appear on several branches only with the "
        "same content",
        "nodeset 'n' is already defined in project 'org/project' (zuul.yaml:1)",
    ]
    assert layout.semaphores["s"].max == 1


def test_broken_object_is_skipped_and_the_rest_stays():
    layout = layout_of(
        repo(
            "org/project",
            """
- job: {name: bad, files: ['(unclosed']}
- job: {name: good}
- project: {check: {jobs: [good]}}
""",
        )
    )
    assert len(layout.errors) == 1
    assert layout.errors[0].message.startswith(
        "job 'bad' attribute 'files': invalid regular expression '(unclosed'"
    )
    assert layout.errors[0].context.line == 2
    assert "bad" not in layout.jobs
    g = freeze_job_graph(layout, "check", "org/project", "master")
    assert g.job_names == ["good"] and g.errors == []


def test_re2_style_repeated_anchor_is_accepted():
    layout = layout_of(
        repo(
            "org/project",
            "- job: {name: j, branches: {regex: '^*/(a|b)$', negate: true}}",
            trusted=True,
        )
    )
    assert messages(layout) == []
    # RE2 reads '^*' as '^' (as OpenDev's configuration relies on); Zuul
    # matches at the start of the branch name, so only '/a' or '/b' match
    # the expression, and the negation excludes exactly those.
    matcher = layout.jobs["j"][0].branch_matcher
    assert not matcher.matches("/a")
    assert matcher.matches("master") and matcher.matches("stable/a")


def test_include_and_exclude_keep_object_classes_out():
    layout = layout_of(
        repo(
            "org/jobs",
            """
- job: {name: j}
- nodeset: {name: n, nodes: [{name: a, label: x}]}
- project: {check: {jobs: [j]}}
""",
            load_classes=frozenset({"job"}),
        )
    )
    assert messages(layout) == []
    assert "j" in layout.jobs and "n" not in layout.nodesets
    assert layout.project_configs == {}


def test_untrusted_project_may_only_configure_itself():
    layout = layout_of(
        repo("org/project", "- project: {name: org/other, check: {jobs: [noop]}}"),
        repo("org/other", ""),
    )
    assert messages(layout) == [
        "project 'org/project' may not configure project 'org/other' (only its own, "
        "or those in its tenant configure-projects)"
    ]
    layout = layout_of(
        repo(
            "org/project",
            "- project: {name: org/other, check: {jobs: [noop]}}",
            configure_projects=("org/other",),
        ),
        repo("org/other", ""),
    )
    assert messages(layout) == []
    assert freeze_job_graph(layout, "check", "org/other", "master").job_names == ["noop"]


def test_config_project_stanza_for_a_project_outside_the_tenant_is_reported():
    # Zuul reports "project not found" rather than dropping the stanza (and
    # the templates and jobs it names) without a word.
    layout = layout_of(
        repo(
            "config2",
            "- project: {name: x/elsewhere, templates: [t], check: {jobs: [j]}}",
            trusted=True,
        )
    )
    assert messages(layout) == ["project 'x/elsewhere' is not a project of this tenant"]
    (error,) = layout.errors
    assert error.key == "project-not-found" and error.context.line == 1
    assert error.to_api()["name"] == "Project Not Found"
    assert layout.project_configs == {}


def test_tenant_limits():
    layout = layout_of(
        repo(
            "org/project",
            """
- job: {name: slow, timeout: 99999}
- job:
    name: big
    nodeset:
      nodes: [{name: [a, b], label: x}, {name: c, label: x}]
""",
        ),
        max_job_timeout=3600,
        max_nodes_per_job=2,
    )
    assert messages(layout) == [
        "job 'slow' timeout 99999 exceeds the tenant's max-job-timeout of 3600",
        "the job's nodeset has 3 nodes, more than the tenant's max-nodes-per-job of 2",
    ]


def test_noop_may_not_be_redefined():
    layout = layout_of(repo("org/project", "- job: {name: noop}"))
    assert messages(layout) == ["job 'noop' is built in and may not be redefined"]


def test_attribute_errors_name_the_attribute():
    layout = layout_of(
        repo(
            "org/project",
            """
- job: {name: a, timeout: soon}
- job: {name: b, attribute-control: {timeout: {final: true}}}
- job: {name: c, intermediate: true, abstract: false}
- job: {name: d, voting: !override false}
""",
        )
    )
    assert messages(layout) == [
        "job 'a' attribute 'timeout' must be an integer, not 'soon'",
        "attribute-control does not support attribute 'timeout'",
        "job 'c' is intermediate but not abstract",
        "attribute 'voting' does not support !inherit/!override",
    ]


def test_project_lookup_by_canonical_and_short_name():
    from lockgate.config.tenant_view import ProjectView

    view, objs = repo("org/project", "- project: {check: {jobs: [noop]}}")
    canonical = ProjectView(
        name=view.name,
        trusted=False,
        connection="gerrit",
        canonical_name="review.example.org/org/project",
        branches=view.branches,
    )
    layout = layout_of((canonical, objs))
    for name in ("org/project", "review.example.org/org/project", "project"):
        assert freeze_job_graph(layout, "check", name, "master").job_names == ["noop"]
    assert layout.resolve_project("elsewhere.org/org/project") == "org/project"
    assert layout.resolve_project("org/unknown") is None


def test_pipeline_attributes_for_the_scheduler():
    layout = layout_of(
        repo(
            "config2",
            """
- pipeline:
    name: gate2
    manager: dependent
    precedence: high
    post-review: true
    supercedes: check
    success-message: Merged.
    window: 10
    window-floor: 2
    window-ceiling: 30
    window-increase-type: exponential
    window-increase-factor: 2
    trigger:
      gerrit:
        - event: comment-added
          approval: [{Workflow: 1}]
      github:
        - event: pull_request
    require:
      gerrit: {open: true}
    start:
      gerrit: {Verified: 0}
    failure:
      gerrit: {Verified: -2}
""",
            trusted=True,
        )
    )
    assert messages(layout) == []
    p = layout.pipelines["gate2"]
    assert p.manager is ManagerKind.DEPENDENT and p.precedence is Precedence.HIGH
    assert p.post_review and p.supercedes == ("check",)
    assert p.triggers == {
        "gerrit": [{"event": "comment-added", "approval": [{"Workflow": 1}]}],
        "github": [{"event": "pull_request"}],
    }
    assert p.require == {"gerrit": {"open": True}}
    assert p.reporters_for("start") == {"gerrit": {"Verified": 0}}
    # merge-conflict and config-error fall back to the failure reporters.
    assert p.reporters_for("merge-conflict") == {"gerrit": {"Verified": -2}}
    assert p.reporters_for("config-error") == {"gerrit": {"Verified": -2}}
    assert p.reporters_for("success") == {}
    assert p.messages["success-message"] == "Merged."
    assert p.messages["failure-message"] == "Build failed."
    assert (p.window.initial, p.window.floor, p.window.ceiling) == (10, 2, 30)
    assert p.window.increase_type is WindowType.EXPONENTIAL
    assert p.connections == {"gerrit", "github"}


def test_pipeline_errors():
    layout = layout_of(
        repo(
            "config2",
            """
- pipeline: {name: p1, manager: sideways, trigger: {}}
- pipeline: {name: check, manager: independent, trigger: {}}
- pipeline: {name: p3, manager: independent, trigger: {}, supercedes: nope}
- pipeline: {name: p4, manager: independent, trigger: {timer: []}}
""",
            trusted=True,
        ),
        allowed_triggers=("gerrit",),
    )
    assert messages(layout) == [
        "pipeline 'p1' manager must be one of independent, dependent, serial, supercedent",
        "pipeline 'check' is already defined at config:zuul.yaml:2",
        "pipeline 'p4' uses trigger 'timer', which the tenant does not allow (allowed-triggers)",
        "pipeline 'p3' supercedes unknown pipeline 'nope'",
    ]


def test_errors_are_plain_data_for_the_api():
    layout = layout_of(repo("org/project", "- job: {name: foo, parent: bar}"))
    (err,) = layout.errors
    assert isinstance(err, ConfigError)
    assert err.to_api() == {
        "source_context": {"project": "org/project", "branch": "master", "path": "zuul.yaml"},
        "error": "job 'foo' has unknown parent 'bar'",
        "short_error": "job 'foo' has unknown parent 'bar'",
        "severity": "error",
        "name": "Job Not Found",
        "detail": "unknown-parent",
        "line": 1,
        "object_type": "job",
        "object_name": "foo",
    }


def test_unknown_pipeline_in_project_is_a_warning_not_an_error():
    # One repository serves several tenants whose pipelines differ; Zuul
    # skips such sections, so they must not fail a check or block a change.
    layout = layout_of(repo("org/project", "- project:\n    experimental:\n      jobs: [noop]\n"))
    (err,) = layout.errors
    assert err.key == "unknown-pipeline"
    assert err.severity.value == "warning"
    assert "unknown pipeline 'experimental'" in err.message
