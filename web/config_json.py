"""Configuration objects (jobs, nodesets, project stanzas, frozen jobs) as
the JSON Zuul's API gives for them.

Pure functions of ``lockgate.config`` records, for ``lockgate.web.api_config``.
Keys follow Zuul's ``Job.toDict``, ``NodeSet.toDict``, ``ProjectConfig`` and
the freeze-job parameters, so the dashboard's job and project pages and
``zuul-client freeze-job``/``job-graph`` read them unchanged.  Values Lockgate
does not model are given as Zuul's defaults (noted where so).
"""

from __future__ import annotations

from typing import Any

from lockgate.config.errors import SourceContext
from lockgate.config.model import Job, Nodeset, PlaybookDef, ProjectConfig, ProjectPipeline
from lockgate.model.jobs import FrozenJob, PlaybookRef


def context_json(ctx: SourceContext | None) -> dict[str, Any] | None:
    if ctx is None:
        return None
    return {"project": ctx.project, "branch": ctx.branch, "path": ctx.path}


def nodeset_json(layout: Any, nodeset: str | Nodeset | None) -> dict[str, Any] | None:
    """A nodeset (named ones looked up in ``layout``) as Zuul's ``NodeSet.toDict``."""
    if isinstance(nodeset, str):
        found: Nodeset | None = layout.nodesets.get(nodeset)
        if found is None:
            return {"name": nodeset, "nodes": [], "groups": [], "alternatives": []}
        return _nodeset_dict(layout, found)
    if nodeset is None:
        return None
    return _nodeset_dict(layout, nodeset)


def _nodeset_dict(layout: Any, nodeset: Nodeset) -> dict[str, Any]:
    return {
        "name": nodeset.name,
        "nodes": [
            {"name": n.names[0], "aliases": list(n.names[1:]), "label": n.label}
            for n in nodeset.nodes
        ],
        "groups": [{"name": g.name, "nodes": list(g.nodes)} for g in nodeset.groups],
        "alternatives": [
            alt if isinstance(alt, str) else nodeset_json(layout, alt)
            for alt in nodeset.alternatives
        ],
    }


def _playbook(job: Job, pb: PlaybookDef) -> dict[str, Any]:
    return {
        "path": pb.path,
        "roles": [r.to_dict() for r in job.roles or ()],
        "secrets": [
            {"name": s.name, "alias": s.name, "pass_to_parent": s.pass_to_parent}
            for s in job.secrets or ()
        ],
        "semaphores": [{"name": name} for name in pb.semaphores],
        "cleanup": pb.cleanup,
        "source_context": context_json(job.context),
    }


def _or(value: Any, default: Any) -> Any:
    return default if value is None else value


def job_json(job: Job, layout: Any) -> dict[str, Any]:
    """One job variant (a definition or a project-pipeline variant) as
    Zuul's ``Job.toDict``; attributes the variant leaves unset are given as
    Zuul's defaults, as Zuul shows them."""
    if job.base_job:
        parent = None
    else:
        parent = job.parent or layout.default_parent
    out: dict[str, Any] = {
        "name": job.name,
        "branches": job.branch_matcher.patterns if job.branch_matcher else [],
        "override_checkout": job.override_checkout,
        "files": [r.pattern for r in job.files or ()],
        "irrelevant_files": [r.pattern for r in job.irrelevant_files or ()],
        "variant_description": job.variant_description
        or (", ".join(job.branch_matcher.patterns) if job.branch_matcher else ""),
        "source_context": context_json(job.context),
        "description": job.description,
        "required_projects": [
            {
                # override-branch is read as override-checkout (as Zuul does).
                "project_name": rp.name,
                "override_branch": None,
                "override_checkout": rp.override_checkout,
            }
            for rp in job.required_projects or ()
        ],
        "semaphores": [
            {"name": s.get("name"), "resources_first": bool(s.get("resources-first", False))}
            for s in job.semaphores or ()
        ],
        "variables": dict(job.vars or {}),
        "extra_variables": dict(job.extra_vars or {}),
        "host_variables": dict(job.host_vars or {}),
        "group_variables": dict(job.group_vars or {}),
        "final": bool(job.final),
        "abstract": bool(job.abstract),
        "intermediate": bool(job.intermediate),
        "protected": bool(job.protected),
        "voting": _or(job.voting, True),
        "timeout": job.timeout,
        "tags": list(job.tags or ()),
        "provides": list(job.provides or ()),
        "requires": list(job.requires or ()),
        "dependencies": [
            {"name": d.get("name"), "soft": bool(d.get("soft", False))}
            for d in job.dependencies or ()
        ],
        "attempts": _or(job.attempts, 3),
        "roles": [r.to_dict() for r in job.roles or ()],
        "run": [_playbook(job, pb) for pb in job.run or ()],
        "pre_run": [_playbook(job, pb) for pb in job.pre_run or ()],
        "post_run": [_playbook(job, pb) for pb in job.post_run or ()],
        "cleanup_run": [_playbook(job, pb) for pb in job.cleanup_run or ()],
        "post_review": bool(job.post_review),
        "match_on_config_updates": _or(job.match_on_config_updates, True),
        "deduplicate": _or(job.deduplicate, "auto"),
        "failure_output": list(job.failure_output or ()),
        "image_build_name": job.image_build_name,
        "include_vars": [dict(v) for v in job.include_vars or ()],
        "parent": parent,
        "ansible_split_streams": job.ansible_split_streams,
        "ansible_version": job.ansible_version,
        "workspace_scheme": _or(job.workspace_scheme, "golang"),
        "workspace_checkout": _or(job.workspace_checkout, True),
    }
    nodeset = nodeset_json(layout, job.nodeset)
    if nodeset is not None and nodeset.get("alternatives"):
        out["nodeset_alternatives"] = nodeset["alternatives"]
    elif nodeset is not None:
        out["nodeset"] = nodeset
    return out


def jobs_list_json(layout: Any) -> list[dict[str, Any]]:
    """``/jobs``: each job's name, first description line, variants' parent
    and branches, and tags (Zuul's shape)."""
    out = []
    for name in sorted(layout.jobs):
        description = None
        tags: set[str] = set()
        variants = []
        for job in layout.jobs[name]:
            if not description and job.description:
                description = job.description.split("\n")[0]
            tags.update(job.tags or ())
            variant: dict[str, Any] = {}
            if not job.base_job:
                variant["parent"] = job.parent or layout.default_parent
            if job.branch_matcher is not None:
                variant["branches"] = job.branch_matcher.patterns
            if variant:
                variants.append(variant)
        entry: dict[str, Any] = {"name": name}
        if description:
            entry["description"] = description
        if variants:
            entry["variants"] = variants
        if tags:
            entry["tags"] = sorted(tags)
        out.append(entry)
    return out


def project_pipeline_json(name: str, section: ProjectPipeline, layout: Any) -> dict[str, Any]:
    jobs: dict[str, list[dict[str, Any]]] = {}
    for job in section.jobs:
        jobs.setdefault(job.name, []).append(job_json(job, layout))
    return {
        "name": name,
        "debug": bool(section.debug),
        "fail_fast": section.fail_fast,
        "queue_name": None,
        "jobs": list(jobs.values()),
    }


def project_config_json(cfg: ProjectConfig, layout: Any) -> dict[str, Any]:
    return {
        "source_context": context_json(cfg.context),
        "default_branch": cfg.default_branch,
        "merge_mode": cfg.merge_mode,
        "is_template": False,
        "templates": list(cfg.templates),
        "queue_name": cfg.queue,
        "description": cfg.description,
        "variables": dict(cfg.vars or {}),
        "pipelines": [
            project_pipeline_json(name, section, layout)
            for name, section in sorted(cfg.pipelines.items())
        ],
    }


def _playbook_ref(pb: PlaybookRef) -> dict[str, Any]:
    return {
        "connection": pb.connection,
        "project": pb.project,
        "branch": pb.branch,
        "trusted": pb.trusted,
        "path": pb.path,
        "roles": list(pb.roles),
        "secrets": {f"secret-{i}": "REDACTED" for i in pb.secrets},
        "semaphores": list(pb.semaphores),
        "cleanup": pb.cleanup,
        "nesting_level": pb.nesting_level,
    }


def frozen_job_json(
    job: FrozenJob, tenant: str, pipeline: str, project: str, branch: str
) -> dict[str, Any]:
    """A frozen job as Zuul's freeze-job answer: the parameters a build of it
    would get, with secrets redacted."""
    return {
        "job": job.name,
        "branch": branch,
        "project": project,
        "pipeline": pipeline,
        "timeout": job.timeout,
        "post_timeout": job.post_timeout,
        "pre_timeout": job.pre_timeout,
        "override_branch": None,
        "override_checkout": job.override_checkout,
        "ansible_version": job.ansible_version,
        "ansible_split_streams": job.ansible_split_streams,
        "workspace_scheme": job.workspace_scheme,
        "workspace_checkout": job.workspace_checkout,
        "pre_playbooks": [_playbook_ref(p) for p in job.pre_run],
        "playbooks": [_playbook_ref(p) for p in job.run],
        "post_playbooks": [_playbook_ref(p) for p in job.post_run],
        "cleanup_playbooks": [_playbook_ref(p) for p in job.cleanup_run],
        "nodeset": {
            "name": job.nodeset_name,
            "nodes": [{"name": n.name, "label": n.label} for n in job.nodes],
            "groups": list(job.groups),
            "alternatives": list(job.nodeset_alternatives),
        },
        "vars": dict(job.vars),
        "extra_vars": dict(job.extra_vars),
        "host_vars": dict(job.host_vars),
        "group_vars": dict(job.group_vars),
        "secret_vars": None,
        "failure_output": list(job.failure_output),
        "required_projects": [rp.to_dict() for rp in job.required_projects],
        "inheritance_path": list(job.inheritance_path),
        "zuul": {
            "tenant": tenant,
            "pipeline": pipeline,
            "job": job.name,
            "project": {"name": project},
            "branch": branch,
            "voting": job.voting,
            "tags": list(job.tags),
            "attempts": job.attempts,
            "buildset": None,
        },
    }
