"""Schemas of every object type: what is accepted, and each error's message."""

from __future__ import annotations

import pytest
from lockgate.config import schema
from lockgate.config.yaml import Encrypted, Inherit, Override


def messages(kind, body, **kw):
    return [p.message for p in schema.validate(kind, body, **kw)]


# ---- jobs -------------------------------------------------------------------


FULL_JOB = {
    "name": "j",
    "parent": "base",
    "description": "d",
    "variant-description": "v",
    "final": False,
    "protected": True,
    "abstract": True,
    "intermediate": True,
    "attribute-control": {"vars": {"final": True}},
    "success-message": "ok",
    "failure-message": "ko",
    "success-url": "u",
    "hold-following-changes": False,
    "voting": True,
    "semaphore": "s",
    "semaphores": ["s1", {"name": "s2", "resources-first": True}],
    "tags": ["a"],
    "provides": "img",
    "requires": ["img"],
    "secrets": ["sec", {"name": "var", "secret": "sec", "pass-to-parent": True}],
    "nodeset": {
        "nodes": [{"name": ["a", "b"], "label": "l"}],
        "groups": [{"name": "g", "nodes": "a"}],
    },
    "override-checkout": "stable",
    "override-branch": "stable",
    "pre-timeout": 10,
    "timeout": 100,
    "post-timeout": 10,
    "attempts": 3,
    "pre-run": "pre.yaml",
    "run": [{"name": "run.yaml", "semaphores": "x"}],
    "post-run": [{"name": "post.yaml", "cleanup": True}],
    "cleanup-run": "c.yaml",
    "ansible-split-streams": True,
    "ansible-version": "9",
    "roles": [{"zuul": "org/roles"}, {"galaxy": "foo", "name": "bar"}],
    "required-projects": ["org/a", {"name": "org/b", "override-checkout": "x"}],
    "vars": {"a": 1},
    "extra-vars": {"b": 2},
    "host-vars": {"node": {"c": 3}},
    "group-vars": {"g": {"d": 4}},
    "include-vars": [
        "v.yaml",
        {"name": "w.yaml", "zuul-project": True, "required": False, "use-ref": False},
    ],
    "dependencies": ["a", {"name": "b", "soft": True}],
    "allowed-projects": ["org/a"],
    "post-review": True,
    "branches": ["^master$", {"regex": "^stable/.*", "negate": True}],
    "files": ["^src/.*"],
    "irrelevant-files": "^docs/.*",
    "match-on-config-updates": False,
    "deduplicate": "auto",
    "failure-output": ["FAILED"],
    "workspace-checkout": "auto",
    "workspace-scheme": "flat",
    "image-build-name": "img",
}


def test_every_documented_job_attribute_is_accepted():
    assert messages("job", FULL_JOB) == []


def test_unknown_job_attribute_suggests_the_closest():
    assert messages("job", {"name": "x", "voteing": False}) == [
        "unknown attribute 'voteing' in job 'x' (did you mean 'voting'?)"
    ]


def test_unknown_attribute_without_a_close_match():
    assert messages("job", {"name": "x", "zzzzqqq": 1}) == [
        "unknown attribute 'zzzzqqq' in job 'x'"
    ]


def test_nested_unknown_attribute_names_the_path():
    assert messages(
        "job", {"name": "x", "secrets": [{"name": "a", "secret": "b", "pass-to-parnet": True}]}
    ) == [
        "unknown attribute 'pass-to-parnet' in job 'x' at secrets[0] "
        "(did you mean 'pass-to-parent'?)"
    ]


def test_wrong_type_names_attribute_and_value():
    assert messages("job", {"name": "x", "voting": "yes"}) == [
        "invalid value for 'voting' in job 'x': expected a boolean (true or false), "
        "got string 'yes'"
    ]
    assert messages("job", {"name": "x", "timeout": True}) == [
        "invalid value for 'timeout' in job 'x': expected an integer, got boolean true"
    ]
    assert messages("job", {"name": "x", "timeout": -5}) == [
        "invalid value for 'timeout' in job 'x': expected a non-negative integer, got -5"
    ]


def test_missing_name():
    assert messages("job", {"parent": "base"}) == ["missing required attribute 'name' in job"]


def test_every_problem_is_reported():
    found = messages("job", {"name": "x", "voting": 1, "final": "no", "nodez": "n"})
    assert len(found) == 3


def test_parent_may_be_null():
    assert messages("job", {"name": "base", "parent": None}) == []


def test_enumerations():
    assert messages("job", {"name": "x", "workspace-scheme": "deep"}) == [
        "invalid value for 'workspace-scheme' in job 'x': expected one of 'golang', 'flat', "
        "'unique', got string 'deep'"
    ]
    assert messages("job", {"name": "x", "deduplicate": "sometimes"}) == [
        "invalid value for 'deduplicate' in job 'x': expected one of true, false, 'auto', "
        "got string 'sometimes'"
    ]


def test_bad_regex():
    assert messages("job", {"name": "x", "files": ["("]}) == [
        "invalid value for 'files[0]' in job 'x': invalid regular expression '(': missing ), "
        "unterminated subpattern at position 0"
    ]


def test_re2_only_regex_is_accepted():
    # Zuul's regexes are RE2; OpenStack's config uses '^*/...' which only RE2 takes.
    assert messages("job", {"name": "x", "branches": "^*/(victoria|wallaby)$"}) == []


def test_override_control_only_where_supported():
    assert (
        messages(
            "job",
            {
                "name": "x",
                "tags": Override(["a"]),
                "vars": Inherit({"a": 1}),
                "files": Override("^a$"),
            },
        )
        == []
    )
    assert messages("job", {"name": "x", "nodeset": Override("n")}) == [
        "invalid value for 'nodeset' in job 'x': the !override tag is not supported here"
    ]
    # The wrapped value is validated too.
    assert messages("job", {"name": "x", "tags": Override([1])}) == [
        "invalid value for 'tags[0]' in job 'x': expected a string, got number 1"
    ]


def test_encrypted_outside_secret_data():
    assert messages("job", {"name": "x", "description": Encrypted(("a",))}) == [
        "invalid value for 'description' in job 'x': encrypted values are only allowed in "
        "secret data"
    ]


@pytest.mark.parametrize("attr", ["vars", "extra-vars"])
def test_encrypted_under_job_vars_is_refused_at_any_depth(attr):
    body = {"name": "x", attr: {"deep": {"list": [1, Encrypted(("QUJD",))]}}}
    assert messages("job", body) == [
        f"invalid value for '{attr}.deep.list[1]' in job 'x': encrypted values are only "
        "allowed in secret data"
    ]


def test_encrypted_under_host_vars_project_and_template_vars_is_refused():
    secret = Encrypted(("QUJD",))
    assert messages("job", {"name": "x", "host-vars": {"node": {"k": secret}}}) != []
    assert messages("job", {"name": "x", "vars": Inherit({"k": secret})}) != []
    assert messages("project", {"vars": {"k": secret}}) != []
    assert messages("project-template", {"name": "t", "vars": {"k": [secret]}}) != []
    assert messages("secret", {"name": "s", "data": {"k": {"nested": secret}}}) == []


def test_reserved_variable_names():
    assert messages("job", {"name": "x", "vars": {"zuul": 1}}) == [
        "invalid value for 'vars.zuul' in job 'x': variable name 'zuul' is reserved"
    ]


def test_roles_need_zuul_or_galaxy():
    assert messages("job", {"name": "x", "roles": [{"name": "r"}]}) == [
        "one of 'zuul', 'galaxy' is required in job 'x' at roles[0]"
    ]


def test_attribute_control_only_for_listed_attributes():
    assert messages("job", {"name": "x", "attribute-control": {"timeout": {"final": True}}}) == [
        "unknown attribute 'timeout' in job 'x' at attribute-control"
    ]


# ---- project and project-template -------------------------------------------


def test_project_with_pipelines_and_variants():
    body = {
        "templates": ["t"],
        "queue": "integrated",
        "merge-mode": "squash-merge",
        "default-branch": "main",
        "vars": {"a": 1},
        "check": {"jobs": ["a", {"b": {"voting": False}}, {"c": None}], "fail-fast": True},
        "gate": {"jobs": [], "debug": True},
    }
    assert messages("project", body) == []


def test_project_variant_errors_name_the_path():
    body = {"name": "org/p", "check": {"jobs": [{"b": {"voteing": False}}]}}
    assert messages("project", body) == [
        "unknown attribute 'voteing' in project 'org/p' at check.jobs[0].b (did you mean 'voting'?)"
    ]


def test_misspelt_project_attribute_is_not_taken_for_a_pipeline():
    assert messages("project", {"name": "p", "tempaltes": ["t"]}) == [
        "unknown attribute 'tempaltes' in project 'p' (did you mean 'templates'?)"
    ]


def test_pipeline_section_must_be_a_mapping():
    assert messages("project", {"name": "p", "check": ["a"]}) == [
        "invalid project 'p': pipeline section 'check' must be a mapping with 'jobs', got a list"
    ]


def test_job_entry_with_two_keys():
    (msg,) = messages("project", {"name": "p", "check": {"jobs": [{"a": {}, "b": {}}]}})
    assert msg.startswith("invalid value for 'check.jobs[0]' in project 'p': a job entry")


def test_merge_mode_values():
    (msg,) = messages("project", {"name": "p", "merge-mode": "octopus"})
    assert "expected one of 'merge', 'merge-resolve'" in msg


def test_template_requires_a_name_and_rejects_project_only_attributes():
    assert messages("project-template", {"check": {"jobs": []}}) == [
        "missing required attribute 'name' in project-template"
    ]
    assert messages("project-template", {"name": "t", "merge-mode": "merge"}) == [
        "unknown attribute 'merge-mode' in project-template 't'"
    ]


# ---- pipeline -----------------------------------------------------------------


PIPELINE = {
    "name": "gate",
    "manager": "dependent",
    "precedence": "high",
    "post-review": True,
    "supercedes": ["check"],
    "trigger": {"gerrit": [{"event": "comment-added"}]},
    "require": {"gerrit": {"open": True}},
    "start": {"gerrit": {"Verified": 0}},
    "success": {"gerrit": {"Verified": 2, "submit": True}, "sql": None},
    "failure": {"gerrit": {"Verified": -2}},
    "window": 20,
    "window-floor": 3,
    "window-ceiling": None,
    "window-increase-type": "linear",
    "window-increase-factor": 1,
    "window-decrease-type": "exponential",
    "window-decrease-factor": 2,
}


def test_pipeline_accepts_reporters_keyed_by_connection():
    assert messages("pipeline", PIPELINE) == []


def test_pipeline_needs_manager_and_trigger():
    assert messages("pipeline", {"name": "p"}) == [
        "missing required attribute 'manager' in pipeline 'p'",
        "missing required attribute 'trigger' in pipeline 'p'",
    ]


def test_pipeline_manager_values():
    (msg,) = messages("pipeline", dict(PIPELINE, manager="parallel"))
    assert msg == (
        "invalid value for 'manager' in pipeline 'gate': expected one of "
        "'independent', 'dependent', 'serial', 'supercedent', got string 'parallel'"
    )


def test_connection_names_checked_when_a_map_is_given():
    found = messages("pipeline", PIPELINE, connections={"gerrit": "gerrit", "sqll": "sql"})
    assert found == [
        "invalid value for 'success.sql' in pipeline 'gate': unknown connection "
        "'sql' (did you mean 'sqll'?)"
    ]
    assert messages("pipeline", PIPELINE, connections={"gerrit": "gerrit", "sql": "sql"}) == []


def test_trigger_content_without_driver_schema_is_a_list_of_mappings():
    (msg,) = messages("pipeline", dict(PIPELINE, trigger={"gerrit": ["event"]}))
    assert msg == (
        "invalid value for 'trigger.gerrit[0]' in pipeline 'gate': expected a "
        "mapping, got string 'event'"
    )


# ---- the small objects -------------------------------------------------------


def test_nodeset():
    assert messages("nodeset", {"name": "n", "nodes": [{"name": "a", "label": "l"}]}) == []
    assert messages("nodeset", {"name": "n", "alternatives": ["a", {"nodes": []}]}) == []
    assert messages("nodeset", {"name": "n", "nodes": [], "alternatives": ["a"]}) == [
        "invalid nodeset 'n': attributes 'nodes' and 'alternatives' are mutually exclusive"
    ]
    assert messages("nodeset", {"name": "n", "nodes": [{"name": "a"}]}) == [
        "missing required attribute 'label' in nodeset 'n' at nodes[0]"
    ]


def test_secret():
    assert (
        messages(
            "secret",
            {"name": "s", "data": {"k": Encrypted(("x",)), "n": {"deep": Encrypted(("y",))}}},
        )
        == []
    )
    assert messages("secret", {"name": "s", "oidc": {"ttl": 60, "iss": "i"}}) == []
    assert messages("secret", {"name": "s"}) == ["one of 'data', 'oidc' is required in secret 's'"]
    assert messages("secret", {"name": "s", "data": "x"}) == [
        "invalid value for 'data' in secret 's': expected a mapping, got string 'x'"
    ]


def test_semaphore_queue_pragma():
    assert messages("semaphore", {"name": "s", "max": 2}) == []
    assert messages("semaphore", {"name": "s", "max": "two"}) == [
        "invalid value for 'max' in semaphore 's': expected an integer, got string 'two'"
    ]
    assert (
        messages(
            "queue",
            {
                "name": "q",
                "per-branch": True,
                "allow-circular-dependencies": True,
                "dependencies-by-topic": False,
            },
        )
        == []
    )
    assert (
        messages("pragma", {"implied-branch-matchers": False, "implied-branches": ["master"]}) == []
    )
    assert messages("pragma", {"implied-branch-matcher": False}) == [
        "unknown attribute 'implied-branch-matcher' in pragma "
        "(did you mean 'implied-branch-matchers'?)"
    ]


@pytest.mark.parametrize("kind", ["image", "flavor", "label", "section", "provider"])
def test_node_objects_are_lenient_but_need_a_name(kind):
    assert messages(kind, {"name": "x", "cloud-specific": 1}) == []
    assert messages(kind, {"description": "x"}) == [f"missing required attribute 'name' in {kind}"]


def test_non_mapping_body():
    assert messages("job", "just-a-name") == [
        "invalid job: expected a mapping, got string 'just-a-name'"
    ]


# ---- tenant-config objects ---------------------------------------------------


def test_tenant_objects():
    assert messages("authorization-rule", {"name": "r", "conditions": [{"iss": "x"}]}) == []
    assert messages("admin-rule", {"name": "r"}) == [
        "missing required attribute 'conditions' in admin-rule 'r'"
    ]
    assert messages("global-semaphore", {"name": "g", "max": 3}) == []
    assert messages("api-root", {"authentication-realm": "r", "access-rules": ["a"]}) == []
    assert messages("tenant", {"name": "t", "source": {}, "max-nodes-per-jbo": 3}) == [
        "unknown attribute 'max-nodes-per-jbo' in tenant 't' (did you mean 'max-nodes-per-job'?)"
    ]


def test_driver_trigger_schema_checks_each_filter_of_the_list():
    body = {
        "name": "post",
        "manager": "independent",
        "trigger": {
            "local": [
                {"event": "ref-updated", "ref": "^refs/heads/.*$"},
                {"event": "patchset-created"},
            ],
            # The timer driver needs no [connection] section, as in Zuul.
            "timer": [{"time": "0 3 * * *"}],
        },
    }
    assert messages("pipeline", body, connections={"local": "git"}) == [
        "invalid value for 'trigger.local[1].event' in pipeline 'post': "
        "the git driver's only event is 'ref-updated'"
    ]
    body["trigger"]["local"].pop()
    assert messages("pipeline", body, connections={"local": "git"}) == []
    body["trigger"]["timer"] = [{"tim": "0 3 * * *"}]
    assert sorted(messages("pipeline", body, connections={"local": "git"})) == [
        "missing required attribute 'time' in pipeline 'post' at trigger.timer[0]",
        "unknown attribute 'tim' in pipeline 'post' at trigger.timer[0]",
    ]
