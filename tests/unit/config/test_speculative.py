"""Speculative layouts: a change's configuration applies to its own item
only; the errors it introduces (and only those) are attributed to it;
config-project changes are validated but do not run."""

from __future__ import annotations

from lockgate.config.errors import ConfigError, SourceContext
from lockgate.config.freeze import freeze_job_graph
from lockgate.config.speculative import ConfigEdit, build_speculative_layout

from tests.unit.config.yaml_objects import BASE_CONFIG, layout_of, objects_from_yaml, repo

PROJECT = """
- job: {name: unit, run: unit.yaml, vars: {v: 1}}
- project: {check: {jobs: [unit]}}
"""
OTHER_BROKEN = "- job: {name: old-broken, parent: gone}"


def base_layout():
    return layout_of(repo("org/project", PROJECT), repo("org/other", OTHER_BROKEN))


def edit(text, project="org/project", trusted=False, branch="master"):
    return ConfigEdit(
        project, branch, objects_from_yaml(text, project, branch=branch, trusted=trusted)
    )


def test_untrusted_edit_applies_to_the_item_only():
    base = base_layout()
    spec = build_speculative_layout(base, [edit(PROJECT.replace("v: 1", "v: 2"))])
    assert spec.ok and spec.new_errors == []
    g = freeze_job_graph(spec.layout, "check", "org/project", "master")
    assert g.get_job("unit").vars == {"v": 2}
    # The tenant's layout is untouched.
    g = freeze_job_graph(base, "check", "org/project", "master")
    assert g.get_job("unit").vars == {"v": 1}


def test_only_new_errors_are_attributed_to_the_change():
    base = base_layout()
    assert [e.message for e in base.errors] == ["job 'old-broken' has unknown parent 'gone'"]
    text = "\n\n\n" + PROJECT + "- job: {name: new-broken, parent: missing}\n"
    spec = build_speculative_layout(base, [edit(text)])
    assert [e.message for e in spec.new_errors] == ["job 'new-broken' has unknown parent 'missing'"]
    assert spec.new_errors[0].context.line == 7
    assert not spec.ok
    # The rest of the speculative layout still works for the item.
    g = freeze_job_graph(spec.layout, "check", "org/project", "master")
    assert g.job_names == ["unit"]


def test_pre_existing_errors_in_the_edited_branch_are_listed_apart():
    base = layout_of(repo("org/project", PROJECT + OTHER_BROKEN))
    # The edit shifts the broken job down two lines and changes nothing else.
    spec = build_speculative_layout(base, [edit("\n\n" + PROJECT + OTHER_BROKEN)])
    assert spec.new_errors == []
    assert [e.message for e in spec.same_branch_errors] == [
        "job 'old-broken' has unknown parent 'gone'"
    ]


def test_parser_errors_of_the_change_are_new_errors():
    base = base_layout()
    ctx = SourceContext("org/project", "master", "zuul.yaml", 3)
    syntax = ConfigError("unknown attribute 'voteing' in job 'x'", ctx, "job", "x", key="schema")
    bad = ConfigEdit("org/project", "master", objects_from_yaml(PROJECT, "org/project"), [syntax])
    spec = build_speculative_layout(base, [bad])
    assert spec.new_errors == [syntax]


def test_config_project_edit_is_validated_but_does_not_run():
    base = base_layout()
    new_base = (
        BASE_CONFIG + "- job: {name: base, run: changed.yaml}\n- job: {name: x, parent: nope}"
    )
    spec = build_speculative_layout(base, [edit(new_base, project="config", trusted=True)])
    assert spec.trusted_edits == ["config"]
    assert [e.message for e in spec.new_errors] == ["job 'x' has unknown parent 'nope'"]
    assert spec.layout is base
    assert "x" in spec.validation_layout.jobs and "x" not in spec.layout.jobs
    g = freeze_job_graph(spec.layout, "check", "org/project", "master")
    assert [p.path for p in g.get_job("unit").run] == ["unit.yaml"]
    assert len(spec.layout.jobs["base"]) == 1


def test_items_ahead_are_applied_first():
    base = base_layout()
    ahead = edit(PROJECT + "- job: {name: added-ahead}")
    spec_ahead = build_speculative_layout(base, [ahead])
    mine = edit(PROJECT + "- job: {name: added-ahead}\n- job: {name: mine, parent: added-ahead}")
    via_parent = build_speculative_layout(base, [mine], parent=spec_ahead.layout)
    via_ahead = build_speculative_layout(base, [mine], ahead=[ahead])
    for spec in (via_parent, via_ahead):
        assert spec.new_errors == []
        assert "mine" in spec.layout.jobs and "added-ahead" in spec.layout.jobs


def test_semaphores_are_not_changed_speculatively():
    base = layout_of(repo("org/project", PROJECT + "- semaphore: {name: s, max: 1}"))
    spec = build_speculative_layout(base, [edit(PROJECT + "- semaphore: {name: s, max: 5}")])
    assert spec.layout.semaphores["s"].max == 1
    assert spec.validation_layout is spec.layout  # validated with the same build


def test_changed_job_ignores_its_file_matchers():
    text = (
        "- job: {name: docs, files: ['^doc/'], vars: {v: %d}}\n- project: {check: {jobs: [docs]}}"
    )
    base = layout_of(repo("org/project", text % 1))
    spec = build_speculative_layout(base, [edit(text % 2)])
    g = freeze_job_graph(
        spec.layout, "check", "org/project", "master", ["zuul.yaml"], previous_layout=base
    )
    assert g.job_names == ["docs"]
    g = freeze_job_graph(base, "check", "org/project", "master", ["zuul.yaml"])
    assert g.job_names == []
