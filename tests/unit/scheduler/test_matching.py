"""matching: trigger events -> pipelines and items, with the drivers' real
trigger filters compiled from a real layout."""

from __future__ import annotations

from lockgate.drivers.git import GitConnection
from lockgate.model.events import TriggerEvent
from lockgate.scheduler.matching import match_event, project_branches_in
from lockgate.scheduler.tenants import compile_triggers

from tests.unit.scheduler.world import APP, CONFIG, make_layout, ref_updated, sha

TAGS = (
    CONFIG
    + """
- pipeline:
    name: release
    manager: independent
    trigger:
      git:
        - event: ref-updated
          ref: ^refs/tags/.*$
"""
)


def setup(app: str = APP, config: str = CONFIG, branches=("master",)):
    files = {
        "config": {"master": {"zuul.yaml": config}},
        "org/app": {b: {".zuul.yaml": app} for b in branches},
    }
    layout = make_layout(files)
    connection = GitConnection(name="git", baseurl="/nonexistent")  # never contacted
    filters, errors = compile_triggers(layout, {"git": connection})
    assert errors == []
    return layout, filters


def test_ref_update_of_a_project_in_the_pipeline_matches():
    layout, filters = setup()
    [target] = match_event(layout, filters, ref_updated())
    assert (target.pipeline, target.project, target.branch, target.ref) == (
        "post",
        "org/app",
        "master",
        "refs/heads/master",
    )
    assert (target.oldrev, target.newrev, target.connection) == (sha(0), sha(1), "git")


def test_project_without_jobs_in_the_pipeline_does_not_match():
    layout, filters = setup()
    assert match_event(layout, filters, ref_updated(project="org/other")) == []
    assert match_event(layout, filters, ref_updated(project="unknown/project")) == []


def test_ref_filter_decides_which_pipeline():
    app = APP.replace("    periodic:\n", "    release:\n      jobs: [noop]\n    periodic:\n")
    layout, filters = setup(app=app, config=TAGS)
    tag = TriggerEvent(
        type="ref-updated",
        connection="git",
        project="org/app",
        ref="refs/tags/v1.0",
        oldrev="0" * 40,
        newrev=sha(5),
    )
    assert [t.pipeline for t in match_event(layout, filters, tag)] == ["release"]
    assert [t.pipeline for t in match_event(layout, filters, ref_updated())] == ["post"]


def test_deleting_a_branch_matches_nothing():
    layout, filters = setup()
    assert match_event(layout, filters, ref_updated(newrev="0" * 40)) == []


def test_timer_event_targets_its_pipeline_only():
    layout, filters = setup()
    event = TriggerEvent(
        type="timer",
        connection="timer",
        project="org/app",
        ref="refs/heads/master",
        branch="master",
        pipeline="periodic",
        timespec="0 * * * *",
    )
    [target] = match_event(layout, filters, event)
    assert (target.pipeline, target.project, target.connection) == ("periodic", "org/app", "git")
    other_time = TriggerEvent(
        type="timer",
        connection="timer",
        project="org/app",
        branch="master",
        pipeline="periodic",
        timespec="5 * * * *",
    )
    assert match_event(layout, filters, other_time) == []


def test_timer_tick_without_project_fans_out_to_every_project_branch():
    layout, filters = setup(branches=("master", "stable"))
    tick = TriggerEvent(
        type="timer", connection="timer", project="", pipeline="periodic", timespec="0 * * * *"
    )
    targets = match_event(layout, filters, tick)
    assert sorted((t.project, t.branch) for t in targets) == [
        ("org/app", "master"),
        ("org/app", "stable"),
    ]
    assert project_branches_in(layout, "periodic") == [("org/app", "master"), ("org/app", "stable")]


def test_bad_trigger_entries_are_configuration_errors():
    config = CONFIG.replace(
        "        - event: ref-updated\n          ref: ^refs/heads/.*$",
        "        - event: no-such-event",
    )
    layout = make_layout({"config": {"master": {"zuul.yaml": config}}})
    filters, errors = compile_triggers(layout, {})
    messages = [e.format() for e in errors]
    assert any("trigger 'git': no connection or driver of that name" in m for m in messages)
    assert filters["post"] == {}
