"""Configuration endpoints: jobs, a job's variants, projects, a project's
stanzas, semaphores, labels, the frozen job graph of a project-pipeline and
one frozen job, and the tenant's configuration error count.

Paths and shapes are Zuul's::

    /api/tenant/{t}/jobs                      /api/tenant/{t}/job/{name}
    /api/tenant/{t}/projects                  /api/tenant/{t}/project/{name}
    /api/tenant/{t}/semaphores                /api/tenant/{t}/labels
    /api/tenant/{t}/tenant-status
    /api/tenant/{t}/pipeline/{p}/project/{project}/branch/{b}/freeze-jobs
    /api/tenant/{t}/pipeline/{p}/project/{project}/branch/{b}/freeze-job/{job}

Everything comes from the tenant's ``Layout`` as the web builds it from the
scheduler's published sources (``WebContext.configuration``); semaphore
holders and launchers' labels from ZooKeeper.  Freezing runs the
scheduler's own pure freezer (``lockgate.config.freeze``) for a branch
item with file matchers ignored, as Zuul's web does; secrets are redacted.
"""

from __future__ import annotations

import asyncio
import urllib.parse
from typing import Any

from aiohttp import web
from lockgate.config.freeze import JobGraph, freeze_job_graph
from lockgate.config.matchers import compile_regex
from lockgate.web.config_json import (
    frozen_job_json,
    job_json,
    jobs_list_json,
    project_config_json,
)
from lockgate.web.context import context
from lockgate.web.errors import ApiError, not_found
from lockgate.web.params import Query


async def jobs(request: web.Request) -> web.Response:
    Query(request.query, [])
    _, layout = await context(request).configuration(request.match_info["tenant"])
    return web.json_response(jobs_list_json(layout))


async def job(request: web.Request) -> web.Response:
    Query(request.query, [])
    _, layout = await context(request).configuration(request.match_info["tenant"])
    name = urllib.parse.unquote_plus(request.match_info["job"])
    variants = layout.jobs.get(name)
    if not variants:
        raise not_found(f"Unknown job: {name}")
    return web.json_response([job_json(v, layout) for v in variants])


def _project_json(view: Any) -> dict[str, Any]:
    return {
        "name": view.name,
        "connection_name": view.connection,
        "canonical_name": view.canonical_name or view.name,
        "type": "config" if view.trusted else "untrusted",
    }


async def projects(request: web.Request) -> web.Response:
    Query(request.query, [])
    _, layout = await context(request).configuration(request.match_info["tenant"])
    out = [_project_json(v) for v in layout.tenant.projects]
    return web.json_response(sorted(out, key=lambda p: p["name"]))


def _project(layout: Any, name: str) -> Any:
    view = layout.project_view(name)
    if view is None:
        raise not_found(f"Unknown project: {name}")
    return view


async def project(request: web.Request) -> web.Response:
    Query(request.query, [])
    _, layout = await context(request).configuration(request.match_info["tenant"])
    view = _project(layout, request.match_info["project"])
    meta = layout.get_project_metadata(view.name)
    out = _project_json(view)
    out["metadata"] = {
        "merge_mode": meta.merge_mode,
        "default_branch": meta.default_branch,
        "is_template": False,
        "queue_name": meta.queue_name,
    }
    out["configs"] = [
        project_config_json(cfg, layout) for cfg in layout.get_project_configs(view.name, None)
    ]
    return web.json_response(out)


def _holder_json(holder: str) -> dict[str, Any]:
    pipeline, _, rest = holder.partition("/")
    item, _, job_name = rest.partition("/")
    return {"pipeline": pipeline, "item_uuid": item, "job_name": job_name, "buildset_uuid": None}


async def semaphores(request: web.Request) -> web.Response:
    """Zuul's shape; holders are per tenant here, so ``other_tenants`` is 0."""
    ctx = context(request)
    Query(request.query, [])
    state, layout = await ctx.configuration(request.match_info["tenant"])
    holders = await ctx.cluster.semaphore_holders(state.tenant)
    defined = {name: (sem.max, sem.is_global) for name, sem in layout.semaphores.items()}
    for name, size in layout.tenant.global_semaphores.items():
        defined.setdefault(name, (size, True))
    out = []
    for name in sorted(set(defined) | set(holders)):
        size, is_global = defined.get(name, (1, False))
        held = holders.get(name, [])
        out.append(
            {
                "name": name,
                "global": is_global,
                "max": size,
                "holders": {
                    "count": len(held),
                    "this_tenant": [_holder_json(h) for h in held],
                    "other_tenants": 0,
                },
            }
        )
    return web.json_response(out)


def _allowed(label: str, allowed: Any, disallowed: Any) -> bool:
    if allowed and not any(compile_regex(p).match(label) for p in allowed):
        return False
    return not any(compile_regex(p).match(label) for p in disallowed or ())


async def labels(request: web.Request) -> web.Response:
    """The labels the running launchers serve (each registers its providers'
    labels), less those the tenant's allowed/disallowed-labels refuse."""
    ctx = context(request)
    Query(request.query, [])
    _, layout = await ctx.configuration(request.match_info["tenant"])
    names: set[str] = set()
    for component in await ctx.cluster.components():
        if component.kind == "launcher":
            names.update(component.state.get("labels") or ())
    tenant = layout.tenant
    ok = sorted(n for n in names if _allowed(n, tenant.allowed_labels, tenant.disallowed_labels))
    return web.json_response([{"name": n} for n in ok])


async def tenant_status(request: web.Request) -> web.Response:
    Query(request.query, [])
    state = await context(request).layout(request.match_info["tenant"])
    return web.json_response({"config_error_count": len(state.config_errors)})


async def _graph(request: web.Request) -> tuple[JobGraph, str, str, str, str]:
    ctx = context(request)
    Query(request.query, [])
    state, layout = await ctx.configuration(request.match_info["tenant"])
    pipeline = request.match_info["pipeline"]
    branch = request.match_info["branch"] or "master"
    view = _project(layout, request.match_info["project"])
    if pipeline not in layout.pipelines:
        raise not_found(f"Unknown pipeline: {pipeline}")
    loop = asyncio.get_running_loop()
    graph = await loop.run_in_executor(
        None, freeze_job_graph, layout, pipeline, view.name, branch, None
    )
    if graph.errors:
        raise ApiError(
            400,
            f"the job graph of {view.name} in {pipeline} on {branch} cannot be frozen: "
            + "; ".join(e.message for e in graph.errors),
        )
    return graph, state.tenant, pipeline, view.name, branch


async def freeze_jobs(request: web.Request) -> web.Response:
    graph, *_ = await _graph(request)
    out = []
    for frozen in graph.jobs:
        soft = {d.get("name"): bool(d.get("soft", False)) for d in frozen.dependencies}
        out.append(
            {
                "name": frozen.name,
                "dependencies": [
                    {"name": dep, "soft": soft.get(dep, False)}
                    for dep in graph.dependencies.get(frozen.name, [])
                ],
            }
        )
    return web.json_response(out)


async def freeze_job(request: web.Request) -> web.Response:
    graph, tenant, pipeline, project_name, branch = await _graph(request)
    name = request.match_info["job"]
    frozen = graph.get_job(name)
    if frozen is None:
        why = graph.not_run.get(name)
        raise not_found(
            f"Job {name} does not run for {project_name} in {pipeline} on {branch}"
            + (f": {why}" if why else "")
        )
    return web.json_response(frozen_job_json(frozen, tenant, pipeline, project_name, branch))


FREEZE = "/api/tenant/{tenant}/pipeline/{pipeline}/project/{project:.+}/branch/{branch:.+}"


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/api/tenant/{tenant}/jobs", jobs)
    r.add_get("/api/tenant/{tenant}/job/{job}", job)
    r.add_get("/api/tenant/{tenant}/projects", projects)
    r.add_get("/api/tenant/{tenant}/semaphores", semaphores)
    r.add_get("/api/tenant/{tenant}/labels", labels)
    r.add_get("/api/tenant/{tenant}/tenant-status", tenant_status)
    r.add_get(FREEZE + "/freeze-jobs", freeze_jobs)
    r.add_get(FREEZE + "/freeze-job/{job}", freeze_job)
    # Last: the project name may hold slashes (after the admin helpers'
    # ``project/{project}/autohold`` and the like, registered earlier).
    r.add_get("/api/tenant/{tenant}/project/{project:.+}", project)
