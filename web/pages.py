"""A minimal server-rendered dashboard: tenants at ``/``, recent builds at ``/t/{tenant}/builds``.

No JavaScript: plain HTML tables with links to each build's logs and JSON.
The builds page takes the API's filters in its query string (``project``,
``pipeline``, ``job_name``, ``branch``, ``result``) and pages with ``skip``.
The real dashboard is a later piece of work; this one must stay small.
"""

from __future__ import annotations

import html
import urllib.parse
from typing import Any

from aiohttp import web
from lockgate.web.context import context
from lockgate.web.converters import timestamp
from lockgate.web.params import Query

PAGE_SIZE = 50
STYLE = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse}td,th{padding:.3em .8em;border-bottom:1px solid #ddd;text-align:left}
th{background:#f4f4f4}.SUCCESS{color:#1a7f37}.FAILURE,.POST_FAILURE,.TIMED_OUT,.RETRY_LIMIT,
.NODE_FAILURE,.ERROR{color:#cf222e}.running{color:#9a6700}form input{width:9em}
"""
FILTERS = ("project", "pipeline", "job_name", "branch", "result")


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def _page(title: str, body: str) -> web.Response:
    text = (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<title>{_e(title)} - Lockgate</title><style>{STYLE}</style></head>"
        f"<body><p><a href='/'>Lockgate</a></p><h1>{_e(title)}</h1>{body}</body></html>"
    )
    return web.Response(text=text, content_type="text/html")


async def tenants_page(request: web.Request) -> web.Response:
    ctx = context(request)
    Query(request.query, [])
    names = await ctx.cluster.tenant_names()
    if not names:
        return _page("Tenants", "<p>No tenant is loaded yet.</p>")
    rows = "".join(
        f"<li><a href='/t/{urllib.parse.quote(n, safe='')}/builds'>{_e(n)}</a></li>" for n in names
    )
    return _page("Tenants", f"<ul>{rows}</ul>")


async def builds_page(request: web.Request) -> web.Response:
    ctx = context(request)
    tenant = request.match_info["tenant"]
    query = Query(request.query, [*FILTERS, "skip"])
    filters = {name: query.string(name) for name in FILTERS}
    skip = query.integer("skip", 0) or 0
    layout = await ctx.layout(tenant)
    builds = await ctx.db_call(
        ctx.db.get_builds, layout.tenant, limit=PAGE_SIZE, offset=skip, **filters
    )
    tenant_q = urllib.parse.quote(tenant, safe="")
    form = "".join(
        f"<label>{name} <input name='{name}' value='{_e(value)}'></label> "
        for name, value in filters.items()
    )
    rows = []
    for b in builds:
        result = b.result or "running"
        log = (
            f"<a href='{_e(b.log_url)}'>logs</a>"
            if b.log_url and b.log_url.startswith(("http://", "https://", "/"))
            else ""
        )
        duration = f"{b.duration:.0f}s" if b.duration is not None else ""
        api = f"/api/tenant/{tenant_q}/build/{urllib.parse.quote(b.uuid, safe='')}"
        rows.append(
            f"<tr><td>{_e(b.job_name)}</td><td>{_e(b.ref.project)}</td>"
            f"<td>{_e(b.ref.branch)}</td><td>{_e(b.buildset.pipeline)}</td>"
            f"<td>{_e((b.ref.newrev or '')[:10])}</td>"
            f"<td class='{_e(result)}'>{_e(result)}</td>"
            f"<td>{_e(timestamp(b.start_time))}</td><td>{duration}</td>"
            f"<td>{log} <a href='{api}'>json</a></td></tr>"
        )
    table = (
        (
            "<table><tr><th>Job</th><th>Project</th><th>Branch</th><th>Pipeline</th>"
            "<th>Commit</th><th>Result</th><th>Start (UTC)</th><th>Duration</th><th></th></tr>"
            + "".join(rows)
            + "</table>"
        )
        if rows
        else "<p>No builds.</p>"
    )
    params = {k: v for k, v in filters.items() if v}
    nav = []
    if skip:
        prev = urllib.parse.urlencode(params | {"skip": max(0, skip - PAGE_SIZE)})
        nav.append(f"<a href='?{_e(prev)}'>newer</a>")
    if len(builds) == PAGE_SIZE:
        nxt = urllib.parse.urlencode(params | {"skip": skip + PAGE_SIZE})
        nav.append(f"<a href='?{_e(nxt)}'>older</a>")
    body = f"<form method='get'>{form}<button>Filter</button></form>{table}<p>{' | '.join(nav)}</p>"
    return _page(f"Builds of {tenant}", body)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/", tenants_page)
    app.router.add_get("/t/{tenant}/builds", builds_page)
