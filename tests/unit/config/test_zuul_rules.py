"""Mistakes reported as Zuul reports them, and valid forms Zuul accepts.

Each case goes through the real reader (YAML, schema, layout, freezer);
several also through ``lockgate config check`` and the scheduler's
speculative layout (a proposed change carrying the file).
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from types import SimpleNamespace

from hypothesis import given, settings
from hypothesis import strategies as st
from lockgate.config import check
from lockgate.config.freeze import freeze_job_graph
from lockgate.config.freeze.chain import MAX_INHERITANCE_DEPTH
from lockgate.config.layout import Layout, build_layout
from lockgate.config.parser import parse_files
from lockgate.config.tenant import TenantProject, TenantSource, TenantSpec
from lockgate.scheduler.speculation import speculate

BASE = """
- pipeline:
    name: check
    manager: independent
    trigger:
      gerrit:
        - event: patchset-created
- job:
    name: base
    parent: null
    run: base.yaml
"""


def tenant(repos: dict[str, str], *, configure: dict[str, tuple[str, ...]] | None = None):
    """A tenant of config project ``config`` (holding BASE) and ``repos``
    (untrusted; name -> .zuul.yaml text)."""
    config = TenantProject(
        "config", "gerrit", trusted=True, load_branch="master", allow_base_jobs=True
    )
    untrusted = tuple(
        TenantProject(
            name, "gerrit", trusted=False, configure_projects=(configure or {}).get(name, ())
        )
        for name in repos
    )
    return TenantSpec("t", sources=(TenantSource("gerrit", (config,), untrusted),)), config


def load(repos: dict[str, str], *, config_text: str = "", labels=None, **kw) -> Layout:
    spec, config = tenant(repos, **kw)
    inputs = [(config, parse_files({"zuul.yaml": BASE + config_text}, config, "master"))]
    for project in spec.untrusted_projects:
        files = {".zuul.yaml": repos[project.name]} if repos[project.name] else {}
        inputs.append((project, parse_files(files, project, "master")))
    parse_errors = [e for _, result in inputs for e in result.errors]
    assert parse_errors == [], [e.format() for e in parse_errors]
    layout = build_layout(spec, [(p, r.objects) for p, r in inputs], branches={}, labels=labels)
    return layout


def errors(layout: Layout) -> list[tuple[str, str]]:
    return [(e.name, e.format()) for e in layout.errors]


def run_check(argv: list[str]) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    code = check.main(argv, out=out, err=err)
    assert err.getvalue() == ""
    return code, out.getvalue()


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


# ---- inheritance ----------------------------------------------------------------


def test_a_cycle_of_two_jobs_is_reported_once():
    layout = load({"org/a": "- job: {name: a, parent: b}\n- job: {name: b, parent: a}\n"})
    ((kind, text),) = errors(layout)
    assert "has an inheritance cycle: " in text
    assert {"a -> b -> a", "b -> a -> b"} & {text.split("cycle: ")[1]}


def test_a_cycle_of_three_jobs_with_jobs_hanging_off_it():
    layout = load(
        {
            "org/a": "- job: {name: a, parent: b}\n- job: {name: b, parent: c}\n"
            "- job: {name: c, parent: a}\n- job: {name: leaf, parent: a}\n"
            "- job: {name: fine}\n- project: {check: {jobs: [leaf, fine]}}\n"
        }
    )
    (error,) = layout.errors
    assert error.key == "inheritance-cycle" and error.name == "Unknown Configuration Error"
    assert sorted(error.message.split(": ")[1].split(" -> ")[:3]) == ["a", "b", "c"]
    graph = freeze_job_graph(layout, "check", "org/a", "master")
    assert graph.job_names == ["fine"]
    assert [e.key for e in graph.errors] == ["inheritance-cycle"]


@settings(max_examples=80, deadline=None)
@given(st.lists(st.integers(min_value=-1, max_value=11), min_size=1, max_size=12))
def test_any_parent_graph_reports_each_cycle_once(parents):
    """Jobs j0..jn, each with a parent among them (or the base job, -1):
    every cycle is reported exactly once, every other job loads clean."""
    names = [f"j{i}" for i in range(len(parents))]
    text = "".join(
        f"- job: {{name: {name}, parent: {'base' if p < 0 or p >= len(names) else names[p]}}}\n"
        for name, p in zip(names, parents, strict=True)
    )
    layout = load({"org/a": text})
    # The cycles of the functional graph i -> parents[i].
    cycles = set()
    for start in range(len(names)):
        seen: list[int] = []
        node = start
        while 0 <= node < len(names) and node not in seen:
            seen.append(node)
            node = parents[node]
        if 0 <= node < len(names):
            cycles.add(frozenset(seen[seen.index(node) :]))
    reported = [e for e in layout.errors if e.key == "inheritance-cycle"]
    assert len(reported) == len(cycles)
    assert {
        frozenset(int(n[1:]) for n in e.message.split(": ")[1].split(" -> ")) for e in reported
    } == cycles
    assert all(e.key == "inheritance-cycle" for e in layout.errors)


def test_a_chain_too_deep_is_reported_once_and_the_rest_loads():
    depth = MAX_INHERITANCE_DEPTH + 10
    text = "".join(
        f"- job: {{name: c{i}, parent: {f'c{i - 1}' if i else 'base'}}}\n" for i in range(depth)
    )
    layout = load({"org/a": text + "- project: {check: {jobs: [c10, c70]}}\n"})
    (error,) = layout.errors
    # base is the first level: c62 is the 64th job below it, c63 the first too deep.
    assert error.key == "inheritance-depth" and error.object_name == "c63"
    graph = freeze_job_graph(layout, "check", "org/a", "master")
    assert graph.job_names == ["c10"] and [e.key for e in graph.errors] == ["inheritance-depth"]


# ---- nodesets, labels --------------------------------------------------------------

OPENDEV_BASE = """
- job:
    name: opendev-base
    parent: base
    nodeset: ubuntu-noble
"""


def test_a_parents_unknown_nodeset_does_not_stop_a_child_with_its_own():
    layout = load(
        {
            "org/a": "- job: {name: docs, parent: opendev-base, nodeset: {nodes: []}}\n"
            "- job: {name: unit, parent: opendev-base}\n"
            "- project: {check: {jobs: [docs, unit]}}\n"
        },
        config_text=OPENDEV_BASE,
    )
    # Reported once, where it is written (Zuul: Nodeset Not Found).
    assert errors(layout) == [
        (
            "Nodeset Not Found",
            "zuul.yaml:13: job 'opendev-base': uses unknown nodeset 'ubuntu-noble'",
        )
    ]
    graph = freeze_job_graph(layout, "check", "org/a", "master")
    assert graph.job_names == ["docs"] and graph.get_job("docs").nodes == []
    (error,) = graph.errors
    assert error.name == "Nodeset Not Found"
    assert error.message == "job 'unit' uses unknown nodeset 'ubuntu-noble'"
    assert error.context.project == "config"  # the definition that named it


def test_labels_are_checked_against_what_the_providers_offer():
    repos = {
        "org/a": "- nodeset: {name: big, nodes: [{name: n, label: huge}]}\n"
        "- job: {name: j, nodeset: {nodes: [{name: n, label: tiny}]}}\n"
        "- job: {name: k, nodeset: big}\n"
        "- job: {name: ok, nodeset: {nodes: [{name: n, label: ubuntu}]}}\n"
        "- project: {check: {jobs: [j, k, ok]}}\n"
    }
    layout = load(repos, labels={"ubuntu"})
    assert [name for name, _ in errors(layout)] == ["Label Not Found", "Label Not Found"]
    assert {text.split(": ", 1)[1] for _, text in errors(layout)} == {
        "nodeset 'big': uses label 'huge', which no provider of the tenant offers",
        "job 'j': uses label 'tiny', which no provider of the tenant offers",
    }
    graph = freeze_job_graph(layout, "check", "org/a", "master")
    assert graph.job_names == ["ok"]
    assert sorted(e.key for e in graph.errors) == ["unknown-label", "unknown-label"]
    # Nothing known about labels: nothing checked.
    assert load(repos).errors == []
    # The tenant's own label objects count as offered.
    with_objects = dict(repos)
    with_objects["org/a"] += "- label: {name: tiny}\n- label: {name: huge}\n"
    assert load(with_objects, labels={"ubuntu"}).errors == []


def test_labels_through_config_check_with_the_service_config(tmp_path):
    config = write(tmp_path / "config", {"zuul.yaml": BASE})
    app = write(
        tmp_path / "app",
        {".zuul.yaml": "- job: {name: j, nodeset: {nodes: [{name: n, label: gpu}]}}\n"},
    )
    service = tmp_path / "lockgate.conf"
    service.write_text(
        "[connection gerrit]\ndriver = gerrit\n\n"
        "[provider cloud]\ndriver = static\nlabels = ubuntu\n"
        "nodes =\n    host1 labels=fedora,arm\n"
    )
    code, out = run_check(["-c", str(service), str(config), str(app)])
    assert code == 1
    assert f"{app}/.zuul.yaml:1: job 'j': uses label 'gpu', which no provider" in out
    app.joinpath(".zuul.yaml").write_text(
        "- job: {name: j, nodeset: {nodes: [{name: n, label: arm}]}}\n"
    )
    assert run_check(["-c", str(service), str(config), str(app)])[0] == 0


# ---- projects ------------------------------------------------------------------


def test_allowed_projects_naming_an_absent_project_is_reported():
    layout = load(
        {
            "org/a": "- job: {name: j, allowed-projects: [org/a, org/gone]}\n",
            "org/b": "- project: {check: {jobs: [j]}}\n",
        }
    )
    assert errors(layout) == [
        (
            "Project Not Found",
            ".zuul.yaml:1: job 'j': allowed-projects names unknown project 'org/gone'",
        )
    ]


def test_allowed_projects_may_use_any_name_of_a_project():
    spec, config = tenant({"org/a": "", "org/b": ""})
    projects = list(spec.untrusted_projects)
    a = parse_files(
        {".zuul.yaml": "- job: {name: j, allowed-projects: [a]}\n"}, projects[0], "master"
    )
    b = parse_files({".zuul.yaml": "- project: {check: {jobs: [j]}}\n"}, projects[1], "master")
    own = parse_files({".zuul.yaml": "- project: {check: {jobs: [j]}}\n"}, projects[0], "master")
    c = parse_files({"zuul.yaml": BASE}, config, "master")
    layout = build_layout(
        spec,
        [(config, c.objects), (projects[0], a.objects + own.objects), (projects[1], b.objects)],
    )
    assert layout.errors == []
    assert freeze_job_graph(layout, "check", "org/a", "master").job_names == ["j"]
    (error,) = freeze_job_graph(layout, "check", "org/b", "master").errors
    assert error.key == "allowed-projects"


def test_a_config_project_stanza_for_an_absent_project_through_check(tmp_path):
    main = tmp_path / "main.yaml"
    main.write_text(
        "- tenant:\n    name: t\n    source:\n      gerrit:\n"
        "        config-projects: [config]\n        untrusted-projects: [org/a]\n"
    )
    write(
        tmp_path / "repos" / "config",
        {"zuul.yaml": BASE + "- project: {name: org/nowhere, check: {jobs: [base]}}\n"},
    )
    argv = ["--tenant-config", str(main), "--repos", str(tmp_path / "repos"), "--json"]
    code, out = run_check(argv)
    (error,) = json.loads(out)["tenants"][0]["errors"]
    assert code == 1
    assert (error["name"], error["detail"], error["line"]) == (
        "Project Not Found",
        "project-not-found",
        12,
    )
    assert error["error"] == "project 'org/nowhere' is not a project of this tenant"


def test_regex_stanzas_in_an_untrusted_repo_where_configure_projects_allows():
    repos = {
        "org/hub": "- job: {name: shared}\n- project: {name: ^org/lib.*$, check: {jobs: [shared]}}\n",
        "org/lib1": "",
        "org/lib2": "",
    }
    layout = load(repos, configure={"org/hub": ("org/lib.*",)})
    assert layout.errors == []
    assert freeze_job_graph(layout, "check", "org/lib2", "master").job_names == ["shared"]
    # Matching a project it may not configure (here: every one, nothing allowed).
    refused = load(repos)
    (error,) = refused.errors
    assert error.name == "Project Forbidden"
    # The prefix is said once.
    assert error.format() == (
        ".zuul.yaml:2: project '^org/lib.*$': the regular expression matches project "
        "'org/lib1', which project 'org/hub' may not configure (only projects its tenant "
        "configure-projects name, and not config projects)"
    )


def test_a_regex_matching_a_config_project_is_refused():
    layout = load(
        {"org/hub": "- project: {name: ^.*$, check: {jobs: [base]}}\n"},
        configure={"org/hub": (".*",)},
    )
    (error,) = layout.errors
    assert error.key == "project-not-permitted" and "'config'" in error.message


# ---- templates, semaphores ---------------------------------------------------------


def test_the_freeze_answer_names_a_missing_template():
    layout = load(
        {"org/a": "- job: {name: j}\n- project: {templates: [gone], check: {jobs: [j]}}\n"}
    )
    assert [name for name, _ in errors(layout)] == ["Template Not Found"]
    graph = freeze_job_graph(layout, "check", "org/a", "master")
    assert graph.job_names == ["j"]
    (error,) = graph.errors
    assert error.name == "Template Not Found"
    assert error.message == "project 'org/a' uses unknown project-template 'gone'"


def test_the_mapping_form_of_a_jobs_semaphore():
    layout = load(
        {
            "org/a": "- semaphore: {name: s, max: 2}\n"
            "- job: {name: j, semaphore: {name: s, resources-first: true}}\n"
            "- project: {check: {jobs: [j]}}\n"
        }
    )
    assert layout.errors == []
    (job,) = freeze_job_graph(layout, "check", "org/a", "master").jobs
    assert job.semaphores == [{"name": "s", "resources_first": True}]


# ---- pipelines: triggers, reporters, connections -----------------------------------

BAD_PIPELINE = """
- pipeline:
    name: gate
    manager: dependent
    trigger:
      gerrit:
        - event: patchset-createdd
          branchh: master
      gerit:
        - event: patchset-created
    success:
      gerrit: {Verified: 2, submit: true}
"""
DEPRECATED_PIPELINE = """
- pipeline:
    name: gate
    manager: dependent
    trigger:
      gerrit:
        - event: comment-added
          require-approval: [{Verified: 1}]
"""


def _pipeline_messages(out: str) -> list[str]:
    return [line.split(": ", 1)[1] for line in out.splitlines() if "pipeline 'gate'" in line]


def test_config_check_with_the_service_config_checks_pipelines(tmp_path):
    service = tmp_path / "lockgate.conf"
    service.write_text("[connection gerrit]\ndriver = gerrit\nserver = review.example.org\n")
    config = write(tmp_path / "config", {"zuul.yaml": BASE + BAD_PIPELINE})
    code, out = run_check(["-c", str(service), str(config)])
    assert code == 1
    found = "\n".join(_pipeline_messages(out))
    assert "patchset-createdd" in found  # the event name
    assert "branchh" in found  # an unknown key
    assert "unknown connection 'gerit' (did you mean 'gerrit'?)" in found
    # Without a service config or a tenant config, connections are not known.
    assert run_check([str(config)])[0] == 0


def test_config_check_without_a_service_config_uses_the_tenant_sources(tmp_path):
    main = tmp_path / "main.yaml"
    main.write_text(
        "- tenant:\n    name: t\n    source:\n      gerrit:\n        config-projects: [config]\n"
    )
    write(tmp_path / "repos" / "config", {"zuul.yaml": BASE + BAD_PIPELINE})
    code, out = run_check(["--tenant-config", str(main), "--repos", str(tmp_path / "repos")])
    assert code == 1
    found = "\n".join(_pipeline_messages(out))
    assert "patchset-createdd" in found and "branchh" in found and "'gerit'" in found


def test_deprecations_are_shown_as_warnings(tmp_path):
    service = tmp_path / "lockgate.conf"
    service.write_text("[connection gerrit]\ndriver = gerrit\nserver = review.example.org\n")
    config = write(tmp_path / "config", {"zuul.yaml": BASE + DEPRECATED_PIPELINE})
    code, out = run_check(["-c", str(service), str(config), "--json"])
    assert code == 0
    (warning,) = json.loads(out)["tenants"][0]["errors"]
    assert warning["severity"] == "warning"
    assert warning["name"] == "Gerrit require-approval Deprecation"
    code, out = run_check(["-c", str(service), str(config)])
    assert out.splitlines()[0].startswith(f"warning: {config}/zuul.yaml:")


def test_a_bad_service_config_is_a_usage_error(tmp_path):
    service = tmp_path / "lockgate.conf"
    service.write_text("[connection gerrit]\nserver = x\n")  # no driver
    config = write(tmp_path / "config", {"zuul.yaml": BASE})
    out, err = io.StringIO(), io.StringIO()
    assert check.main(["-c", str(service), str(config)], out=out, err=err) == 2
    assert "driver" in err.getvalue()


def test_a_proposed_change_with_a_bad_pipeline_is_reported_by_the_scheduler():
    spec, config = tenant({})
    objects = parse_files({"zuul.yaml": BASE}, config, "master").objects
    layout = build_layout(spec, [(config, objects)], branches={})
    state = SimpleNamespace(spec=spec, layout=layout, config_digests={})
    result = speculate(
        state, {"config": {"master": {"zuul.yaml": BASE + BAD_PIPELINE}}}, {"gerrit": "gerrit"}
    )
    assert result is not None
    joined = "\n".join(result.errors)
    assert "patchset-createdd" in joined and "'gerit'" in joined


def test_a_proposed_change_is_checked_against_the_same_labels():
    spec, config = tenant({"org/a": ""})
    (app,) = spec.untrusted_projects
    objects = parse_files({"zuul.yaml": BASE}, config, "master").objects
    layout = build_layout(spec, [(config, objects), (app, [])], branches={}, labels={"ubuntu"})
    state = SimpleNamespace(spec=spec, layout=layout, config_digests={})
    change = "- job: {name: j, nodeset: {nodes: [{name: n, label: gpu}]}}\n"
    result = speculate(state, {"org/a": {"master": {".zuul.yaml": change}}})
    assert result is not None
    (error,) = result.errors
    assert "uses label 'gpu', which no provider of the tenant offers" in error


# ---- the same answer from both paths --------------------------------------------

BOTH_PATHS = {
    "duplicate key": "- job:\n    name: j\n    run: a.yaml\n    run: b.yaml\n",
    "not base64": "- secret:\n    name: s\n    data: {k: !encrypted/pkcs1-oaep 'no!'}\n",
    "encrypted in vars": "- job: {name: j, vars: {k: !encrypted/pkcs1-oaep QUJD}}\n",
    "alias bomb": "- job:\n    name: j\n    vars:\n      a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
    + "".join(f"      a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]\n" for i in range(1, 8)),
    "cycle": "- job: {name: a, parent: b}\n- job: {name: b, parent: a}\n",
    "another project": "- project: {name: org/other, check: {jobs: [base]}}\n",
    "allowed-projects": "- job: {name: j, allowed-projects: [org/gone]}\n",
    "missing template": "- project: {templates: [gone]}\n",
    "regex stanza": "- project: {name: ^org/.*$, check: {jobs: [base]}}\n",
    "unused final variant": "- job: {name: f, final: true}\n- job: {name: f, branches: stable, vars: {x: 1}}\n",
    "semaphore mapping": "- semaphore: {name: s}\n- job: {name: j, semaphore: {name: s, resources-first: true}}\n",
}


def test_config_check_and_a_proposed_change_give_the_same_answer(tmp_path):
    main = tmp_path / "main.yaml"
    main.write_text(
        "- tenant:\n    name: t\n    source:\n      gerrit:\n"
        "        config-projects: [config]\n        untrusted-projects: [org/app]\n"
    )
    repos = tmp_path / "repos"
    write(repos / "config", {"zuul.yaml": BASE})
    spec, config = tenant({"org/app": ""})
    (app,) = spec.untrusted_projects
    objects = parse_files({"zuul.yaml": BASE}, config, "master").objects
    base_layout = build_layout(spec, [(config, objects), (app, [])], branches={})
    state = SimpleNamespace(spec=spec, layout=base_layout, config_digests={})
    for case, text in BOTH_PATHS.items():
        write(repos / "org/app", {".zuul.yaml": text})
        code, out = run_check(["--tenant-config", str(main), "--repos", str(repos), "--json"])
        checked = {
            e["location"].replace(f"{repos / 'org/app'}/", "")
            for e in json.loads(out)["tenants"][0]["errors"]
            if e["severity"] == "error"
        }
        result = speculate(
            state, {"org/app": {"master": {".zuul.yaml": text}}}, {"gerrit": "gerrit"}
        )
        proposed = set(result.errors) if result is not None else set()
        assert checked == proposed, case
        expect_clean = case in ("unused final variant", "semaphore mapping")
        assert (code == 0) is expect_clean and (not proposed) is expect_clean, case
