"""The parser: envelopes, include/exclude, unnamed projects, errors with lines."""

from __future__ import annotations

from lockgate.config.parser import parse_files, parse_project_files
from lockgate.config.tenant import DEFAULT_CLASSES, TenantProject

UNTRUSTED = TenantProject(name="org/repo", connection="gerrit", trusted=False)
TRUSTED = TenantProject(name="org/config", connection="gerrit", trusted=True)


def test_objects_keep_kind_name_body_and_line():
    files = {
        "zuul.d/a.yaml": "- job:\n    name: j1\n    voting: false\n- project:\n"
        "    check:\n      jobs: [j1]\n",
        "zuul.d/b.yaml": "- nodeset:\n    name: n\n    nodes: []\n- pragma:\n"
        "    implied-branch-matchers: false\n",
    }
    objects, errors = parse_project_files(files, UNTRUSTED, "stable/1")
    assert errors == []
    assert [(o.kind, o.name, o.context.path, o.context.line) for o in objects] == [
        ("job", "j1", "zuul.d/a.yaml", 1),
        ("project", "org/repo", "zuul.d/a.yaml", 4),  # unnamed: the repo's own name
        ("nodeset", "n", "zuul.d/b.yaml", 1),
        ("pragma", None, "zuul.d/b.yaml", 4),
    ]
    job = objects[0]
    assert job.body == {"name": "j1", "voting": False}
    assert job.context.project == "org/repo" and job.context.branch == "stable/1"
    assert job.context.trusted is False and job.context.connection == "gerrit"


def test_ordered_pairs_are_accepted():
    objects, _ = parse_project_files(
        [("b.yaml", "- job: {name: b}"), ("a.yaml", "- job: {name: a}")], UNTRUSTED, "master"
    )
    assert [o.name for o in objects] == ["b", "a"]


def test_invalid_objects_are_left_out_and_the_rest_kept():
    text = (
        "- job:\n    name: good\n"
        "- job:\n    name: bad\n    voteing: true\n"
        "- job:\n    name: good2\n"
    )
    objects, errors = parse_project_files({"zuul.yaml": text}, UNTRUSTED, "master")
    assert [o.name for o in objects] == ["good", "good2"]
    (err,) = errors
    assert err.format() == (
        "zuul.yaml:3: job 'bad': unknown attribute 'voteing' in job 'bad' (did you mean 'voting'?)"
    )
    assert err.key == "unknown-attribute" and err.object_type == "job"


def test_envelope_errors():
    text = (
        "- job:\n    name: a\n  nodeset:\n    name: b\n"
        "- just a string\n"
        "- jobb:\n    name: c\n"
        "- tenant:\n    name: t\n"
    )
    _, errors = parse_project_files({"zuul.yaml": text}, UNTRUSTED, "master")
    assert [e.format() for e in errors] == [
        "zuul.yaml:1: each configuration item must have exactly one key naming the object "
        "type, found 2 ('job', 'nodeset'); is the indentation right?",
        "zuul.yaml:5: each configuration item must be a mapping with one key naming the "
        "object type, got string 'just a string'",
        "zuul.yaml:6: unknown configuration object type 'jobb' (did you mean 'job'?)",
        "zuul.yaml:8: unknown configuration object type 'tenant' (tenant objects belong in "
        "the tenant config, not in a repository)",
    ]


def test_pipelines_only_in_config_projects():
    text = (
        "- pipeline:\n    name: check\n    manager: independent\n"
        "    trigger: {gerrit: [{event: patchset-created}]}\n"
    )
    objects, errors = parse_project_files({"zuul.yaml": text}, UNTRUSTED, "master")
    assert objects == []
    assert [e.format() for e in errors] == [
        "zuul.yaml:1: pipeline 'check': pipelines may only be defined in config projects"
    ]
    objects, errors = parse_project_files({"zuul.yaml": text}, TRUSTED, "master")
    assert [o.name for o in objects] == ["check"] and errors == []


def test_include_exclude_filters_without_errors():
    project = TenantProject(
        name="org/base-jobs",
        connection="gerrit",
        trusted=True,
        include=frozenset({"job", "secret"}),
    )
    text = (
        "- job: {name: a}\n- nodeset: {name: n, nodes: []}\n"
        "- project: {check: {jobs: [a]}}\n- secret: {name: s, data: {}}\n"
        "- nodeset: {name: broken, nodez: []}\n"
    )
    result = parse_files({"zuul.d/x.yaml": text}, project, "master")
    assert [o.kind for o in result.objects] == ["job", "secret"]
    assert result.errors == []  # an excluded broken object is not looked at
    assert result.excluded == {"nodeset": 2, "project": 1}


def test_nothing_included():
    project = TenantProject(name="p", connection="g", trusted=False, include=frozenset())
    result = parse_files({"zuul.yaml": "- job: {name: a}\n- pragma: {}\n"}, project, "m")
    assert [o.kind for o in result.objects] == ["pragma"]
    assert result.excluded == {"job": 1}
    assert DEFAULT_CLASSES >= {"job", "project"}


def test_yaml_errors_carry_the_project_and_branch():
    _, errors = parse_project_files({".zuul.yaml": b"\xff\xfe"}, UNTRUSTED, "master")
    (err,) = errors
    assert (err.context.project, err.context.branch, err.context.path) == (
        "org/repo",
        "master",
        ".zuul.yaml",
    )


def test_driver_connections_checked_when_given():
    text = (
        "- pipeline:\n    name: check\n    manager: independent\n"
        "    trigger: {gerit: [{event: x}]}\n"
    )
    _, errors = parse_project_files(
        {"zuul.yaml": text}, TRUSTED, "master", connections={"gerrit": "gerrit"}
    )
    assert [e.message for e in errors] == [
        "invalid value for 'trigger.gerit' in pipeline 'check': unknown connection 'gerit' "
        "(did you mean 'gerrit'?)"
    ]
