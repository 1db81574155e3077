"""Freeze one item's job graph: the ``JobGraph`` record and its entry point.

``freeze_job_graph`` (called by the scheduler for each queue item) freezes
every job the project's pipeline stanzas name, with the machinery of
``chain`` (inheritance and rules), ``build`` (the ``FrozenJob``) and
``recipes`` (caches), then resolves ``dependencies`` into a DAG here: a
hard dependency on a job that does not run is an error, a soft one is
dropped, cycles are errors.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

from lockgate.config.errors import ConfigError
from lockgate.config.freeze.chain import NotRun, check_final_job, config_error, files_allow
from lockgate.config.freeze.recipes import NO_VARS, clone, frozen_template, recipe_signature
from lockgate.config.inherit import InheritanceError
from lockgate.config.layout_model import Layout
from lockgate.config.model import Job
from lockgate.model.jobs import FrozenJob


@dataclass
class JobGraph:
    """The frozen jobs of one item and how they depend on each other.

    ``jobs`` are in the order the project's configuration lists them.
    ``dependencies`` maps each job to the names of the jobs it waits for
    (only jobs present in the graph; soft dependencies on absent jobs are
    dropped).  ``not_run`` says why a configured job was left out (branch or
    file matchers).  ``errors`` are configuration errors for this item: if
    there are any, the item should be reported as a configuration error.
    """

    pipeline: str
    project: str
    branch: str | None
    jobs: list[FrozenJob] = field(default_factory=list)
    dependencies: dict[str, list[str]] = field(default_factory=dict)
    not_run: dict[str, str] = field(default_factory=dict)
    errors: list[ConfigError] = field(default_factory=list)

    @property
    def job_names(self) -> list[str]:
        return [j.name for j in self.jobs]

    def get_job(self, name: str) -> FrozenJob | None:
        for job in self.jobs:
            if job.name == name:
                return job
        return None

    def dependents(self, name: str) -> list[str]:
        """Jobs that wait (directly) for ``name``."""
        return [j for j, deps in self.dependencies.items() if name in deps]

    def ready(self, finished: Collection[str]) -> list[str]:
        """Jobs not in ``finished`` whose dependencies all are."""
        return [
            j.name
            for j in self.jobs
            if j.name not in finished
            and all(d in finished for d in self.dependencies.get(j.name, ()))
        ]


def freeze_job_graph(
    layout: Layout,
    pipeline: str,
    project: str,
    branch: str | None,
    changed_files: Sequence[str] | None = None,
    *,
    previous_layout: Layout | None = None,
    project_vars: bool = True,
) -> JobGraph:
    """Freeze the jobs ``project``'s configuration runs in ``pipeline`` for
    an item on ``branch`` that changes ``changed_files`` (None: unknown, file
    matchers ignored).

    ``previous_layout`` is the layout before this item's configuration
    change, if it has one: jobs whose frozen form differs between the two
    ignore their file matchers (``match-on-config-updates``).
    """
    name = layout.resolve_project(project) or project
    graph = JobGraph(pipeline=pipeline, project=name, branch=branch)
    pipeline_obj = layout.pipelines.get(pipeline)
    if pipeline_obj is None:
        graph.errors.append(
            ConfigError(
                f"pipeline '{pipeline}' is not defined",
                None,
                "pipeline",
                pipeline,
                key="unknown-pipeline",
            )
        )
        return graph
    # Zuul fails the item's graph naming a template its project uses and the
    # tenant lacks: the jobs that template would add cannot be known.
    graph.errors.extend(_missing_templates(layout, name, branch))
    pp_jobs = layout.get_project_pipeline_jobs(pipeline, name, branch)
    pvars = layout.get_project_vars(name, branch) if project_vars and pp_jobs else NO_VARS
    pvars = pvars or NO_VARS
    # Without file matching, the graph depends only on the configuration
    # that reaches it: projects configured alike (by the same templates)
    # share one recipe, and each call only copies its jobs.
    reusable = not changed_files and previous_layout is None
    recipe_key: tuple[Any, ...] = ()
    if reusable:
        recipe_key = ("graph", pipeline, branch, id(pvars), recipe_signature(pp_jobs))
        recipe = layout.cache.get(recipe_key)
        if recipe is not None and (recipe[0] is None or recipe[0] == name):
            _, recipe_jobs, deps, not_run, errors = recipe
            graph.jobs = [clone(t, deps[t["name"]][1]) for t in recipe_jobs]
            graph.dependencies = {k: list(v[0]) for k, v in deps.items()}
            graph.not_run = dict(not_run)
            graph.errors.extend(errors)
            return graph
    frozen: dict[str, FrozenJob] = {}
    templates: list[dict[str, Any]] = []
    project_specific = False
    for job_name, pp_variants in pp_jobs.items():
        if job_name not in layout.jobs:
            # Zuul fails the item's job graph ("Job X not defined"): running
            # the other jobs would report success for a config that asks
            # for a job nobody can run.
            graph.errors.append(
                ConfigError(
                    f"job '{job_name}' is not defined",
                    pp_variants[0].context if pp_variants else None,
                    "job",
                    job_name,
                    key="unknown-job",
                )
            )
            continue
        try:
            state, template = frozen_template(layout, job_name, pp_variants, branch, pvars)
            if state.allowed_projects is not None:
                project_specific = True
            check_final_job(state, job_name, pp_variants, name, pipeline_obj, layout)
            if not files_allow(
                layout, state, changed_files, previous_layout, job_name, pipeline, name, branch
            ):
                graph.not_run[job_name] = "no changed file matches the job's file matchers"
                continue
            frozen[job_name] = clone(template, template["dependencies"])
            templates.append(template)
        except NotRun as reason:
            graph.not_run[job_name] = str(reason)
            reason.__traceback__ = None  # cached: must not keep this frame alive
        except InheritanceError as exc:
            graph.errors.append(config_error(exc))
            exc.__traceback__ = None
    _resolve_dependencies(graph, frozen, pp_jobs)
    if reusable:
        deps = {
            job.name: (
                tuple(graph.dependencies[job.name]),
                tuple(dict(d) for d in job.dependencies),
            )
            for job in graph.jobs
        }
        layout.cache[recipe_key] = (
            name if project_specific else None,
            templates,
            deps,
            dict(graph.not_run),
            tuple(e for e in graph.errors if e.key != "unknown-template"),
        )
    return graph


def _missing_templates(layout: Layout, project: str, branch: str | None) -> list[ConfigError]:
    """An error for each template the project's stanzas on ``branch`` use
    that the layout does not have (computed once per project and branch)."""
    key = ("missing-templates", project, branch)
    found = layout.cache.get(key)
    if found is None:
        found = []
        for cfg in layout.get_project_configs(project, branch):
            for tname in cfg.templates:
                if tname not in layout.project_templates:
                    found.append(
                        ConfigError(
                            f"project '{cfg.name}' uses unknown project-template '{tname}'",
                            cfg.context,
                            "project",
                            cfg.name,
                            key="unknown-template",
                        )
                    )
        layout.cache[key] = found
    return list(found)


def _resolve_dependencies(
    graph: JobGraph, frozen: dict[str, FrozenJob], pp_jobs: dict[str, list[Job]]
) -> None:
    deps: dict[str, list[str]] = {}
    for name, job in frozen.items():
        kept: list[dict[str, Any]] = []
        for dep in job.dependencies:
            if dep["name"] in frozen:
                kept.append(dep)
            elif not dep.get("soft"):
                reason = graph.not_run.get(dep["name"], "it is not part of this pipeline")
                graph.errors.append(
                    ConfigError(
                        f"job '{name}' depends on job '{dep['name']}', which does not run "
                        f"for this item ({reason})",
                        pp_jobs[name][0].context if pp_jobs.get(name) else None,
                        "job",
                        name,
                        key="dependency-not-run",
                    )
                )
        job.dependencies = kept
        deps[name] = [d["name"] for d in kept]
    # Cycles: depth-first search with colours.
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> bool:
        state[node] = 1
        stack.append(node)
        for nxt in deps.get(node, ()):
            if state.get(nxt) == 1:
                cycle = stack[stack.index(nxt) :] + [nxt]
                graph.errors.append(
                    ConfigError(
                        "job dependency cycle: " + " -> ".join(cycle),
                        pp_jobs[nxt][0].context if pp_jobs.get(nxt) else None,
                        "job",
                        nxt,
                        key="dependency-cycle",
                    )
                )
                return True
            if state.get(nxt) is None and visit(nxt):
                return True
        stack.pop()
        state[node] = 2
        return False

    for name in deps:
        if state.get(name) is None and visit(name):
            break
    graph.jobs = list(frozen.values())
    graph.dependencies = deps
