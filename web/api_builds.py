"""Build history endpoints: ``/api/tenant/{t}/builds``, ``build/{uuid}``,
``buildsets``, ``buildset/{uuid}``, ``build-times`` and ``badge``, with
Zuul's query filters.

Filters (each may be repeated to match any of several values):
project, pipeline, job_name, branch (``*`` wildcards in these four), change,
patchset, ref, newrev, uuid, result, exclude_result, nodeset (``node_name``
is its older name, which ``zuul-client builds`` still sends), voting,
final, held, complete; paging with limit (default 50), skip (or offset),
idx_min, idx_max.  Integers beyond what the database holds are a 400
naming the parameter (``lockgate.web.params``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any, TypeVar

from aiohttp import web
from lockgate.db import Database
from lockgate.model.builds import BuildResult
from lockgate.web.badge import badge_svg
from lockgate.web.context import context
from lockgate.web.converters import build_json, build_time_json, buildset_json
from lockgate.web.errors import bad_request, not_found
from lockgate.web.params import Query

T = TypeVar("T")

MAX_LIMIT = 1000

# Filters of both lists: the buildset's and its refs' fields.
BUILDSET_FILTERS = {
    "project": "str",
    "pipeline": "str",
    "branch": "str",
    "change": "int",
    "patchset": "str",
    "ref": "str",
    "newrev": "str",
    "uuid": "str",
    "result": "str",
    "exclude_result": "str",
    "complete": "bool",
}
# A build's own fields on top (``uuid``, ``result``... then mean the build's).
BUILD_FILTERS = BUILDSET_FILTERS | {
    "job_name": "str",
    "nodeset": "str",
    "node_name": "str",
    "voting": "bool",
    "final": "bool",
    "held": "bool",
}
BUILD_TIME_FILTERS = {
    "project": "str",
    "pipeline": "str",
    "branch": "str",
    "ref": "str",
    "job_name": "str",
    "result": "str",
    "exclude_result": "str",
    "final": "bool",
}
PAGING = ("limit", "skip", "offset", "idx_min", "idx_max")


def _paging(query: Query) -> dict[str, Any]:
    skip = query.integer("skip")
    offset = query.integer("offset")
    return {
        "limit": query.integer("limit", 50, maximum=MAX_LIMIT),
        "offset": skip if skip is not None else (offset or 0),
        "idx_min": query.column_integer("idx_min"),
        "idx_max": query.column_integer("idx_max"),
    }


def _nodeset_alias(kwargs: dict[str, Any]) -> dict[str, Any]:
    """``node_name`` (Zuul's column before it became ``nodeset``) filters the nodeset."""
    alias = kwargs.pop("node_name", None)
    if alias is not None:
        if kwargs.get("nodeset") is not None:
            raise bad_request("give either 'nodeset' or 'node_name' (its older name), not both")
        kwargs["nodeset"] = alias
    return kwargs


async def _history(
    request: web.Request, filters: dict[str, str], fetch: Callable[..., list[T]]
) -> list[T]:
    """What ``fetch`` (``Database.get_builds`` or ``get_buildsets``) finds for the
    request's filters and paging, in the tenant of the path.

    An unknown query parameter is a 400 and an unknown tenant a 404, before
    the database is asked.
    """
    ctx = context(request)
    tenant = request.match_info["tenant"]
    query = Query(request.query, [*filters, *PAGING])
    kwargs = _nodeset_alias(query.as_kwargs(filters)) | _paging(query)
    await ctx.layout(tenant)
    return await ctx.db_call(fetch, ctx.db, tenant, **kwargs)


async def _one(request: web.Request, fetch: Callable[..., T | None], noun: str) -> T:
    """The record ``fetch`` (``Database.get_build`` or ``get_buildset``) finds for the
    uuid in the path, in its tenant; 404 naming the ``noun`` if there is none."""
    ctx = context(request)
    tenant, uuid = request.match_info["tenant"], request.match_info["uuid"]
    Query(request.query, [])
    await ctx.layout(tenant)
    found = await ctx.db_call(fetch, ctx.db, uuid, tenant)
    if found is None:
        raise not_found(f"{noun} not found: {uuid}")
    return found


async def builds(request: web.Request) -> web.Response:
    found = await _history(request, BUILD_FILTERS, Database.get_builds)
    return web.json_response([build_json(b) for b in found])


async def build(request: web.Request) -> web.Response:
    found = await _one(request, Database.get_build, "Build")
    return web.json_response(build_json(found, buildset_refs=True, events=True))


async def buildsets(request: web.Request) -> web.Response:
    found = await _history(request, BUILDSET_FILTERS, Database.get_buildsets)
    return web.json_response([buildset_json(b) for b in found])


async def buildset(request: web.Request) -> web.Response:
    found = await _one(request, Database.get_buildset, "Buildset")
    return web.json_response(buildset_json(found, builds=True))


def _time(query: Query, name: str) -> dt.datetime | None:
    raw = query.string(name)
    if raw is None:
        return None
    try:
        value = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise bad_request(
            f"query parameter {name!r} must be a time like 2024-01-31T12:00:00, got {raw[:40]!r}"
        ) from None
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return value


async def build_times(request: web.Request) -> web.Response:
    """Zuul's ``build-times``: completed builds, newest end first, exact filters."""
    ctx = context(request)
    tenant = request.match_info["tenant"]
    query = Query(request.query, [*BUILD_TIME_FILTERS, "start_time", "end_time", "limit", "skip"])
    kwargs = query.as_kwargs(BUILD_TIME_FILTERS)
    kwargs["start_time"] = _time(query, "start_time")
    kwargs["end_time"] = _time(query, "end_time")
    kwargs["limit"] = query.integer("limit", 50, maximum=MAX_LIMIT)
    kwargs["offset"] = query.integer("skip", 0)
    await ctx.layout(tenant)
    found = await ctx.db_call(ctx.db.get_build_times, tenant, **kwargs)
    return web.json_response([build_time_json(b) for b in found])


async def badge(request: web.Request) -> web.Response:
    """An SVG saying whether the newest completed buildset (of a project,
    pipeline, branch) passed; 404 if there is none.  Never cached."""
    ctx = context(request)
    tenant = request.match_info["tenant"]
    query = Query(request.query, ["project", "pipeline", "branch"])
    filters = {name: query.string(name) for name in ("project", "pipeline", "branch")}
    await ctx.layout(tenant)
    found = await ctx.db_call(ctx.db.get_buildsets, tenant, complete=True, limit=1, **filters)
    if not found:
        raise not_found("No buildset found")
    return web.Response(
        text=badge_svg(found[0].result == BuildResult.SUCCESS),
        content_type="image/svg+xml",
        headers={"Cache-Control": "no-cache"},
    )


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/tenant/{tenant}/builds", builds)
    app.router.add_get("/api/tenant/{tenant}/build/{uuid}", build)
    app.router.add_get("/api/tenant/{tenant}/buildsets", buildsets)
    app.router.add_get("/api/tenant/{tenant}/buildset/{uuid}", buildset)
    app.router.add_get("/api/tenant/{tenant}/build-times", build_times)
    app.router.add_get("/api/tenant/{tenant}/badge", badge)
