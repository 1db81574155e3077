"""The dashboard: one HTML page for every dashboard path, its scripts and stylesheet.

Who calls it: browsers.  ``/``, ``/tenants`` and every ``/t/{tenant}/...`` path
answer the same small page (``shell``) that loads ``/static/js/app.js``
(through ``boot.js``, which loads the page again if a script failed to arrive);
the scripts (plain JavaScript modules in ``web/static/``, no build step)
route on the path and draw each page from the REST API -- status, builds,
buildsets, a build with its live console, jobs, projects with their job
graphs, configuration errors (``doc/dashboard.md``).  An unknown tenant is a
404 page here already.

Without JavaScript, the tenants page and the builds page still show their
tables (server-rendered inside ``<noscript>``): the builds page takes the
API's filters in its query string (``project``, ``pipeline``, ``job_name``,
``branch``, ``change``, ``result``) and pages with ``skip``, each checked
(a 400 naming a bad one).
"""

from __future__ import annotations

import html
import mimetypes
import urllib.parse
from pathlib import Path
from typing import Any

from aiohttp import web
from lockgate.web.context import context
from lockgate.web.converters import timestamp
from lockgate.web.errors import not_found
from lockgate.web.params import Query

STATIC_DIR = Path(__file__).parent / "static"
PAGE_SIZE = 50
FILTERS = ("project", "pipeline", "job_name", "branch", "result")
# Scripts only from here; data URLs are links, never loaded as code.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; connect-src 'self' ws: wss: http: https:; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
# Revalidated on every load (a 304 when unchanged): an upgrade is seen at once.
NO_CACHE = {"Cache-Control": "no-cache"}


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def _shell(title: str, fallback: str = "") -> web.Response:
    noscript = fallback or (
        "<p>The dashboard needs JavaScript. The REST API is at <a href='/api'>/api</a>.</p>"
    )
    text = (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{_e(title)} - Lockgate</title>"
        "<link rel='icon' href='data:,'><link rel='stylesheet' href='/static/lockgate.css'>"
        "<link rel='modulepreload' href='/static/js/app.js'>"
        "<script type='module' src='/static/js/boot.js'></script></head>"
        f"<body><div id='app'><noscript>{noscript}</noscript></div></body></html>"
    )
    return web.Response(
        text=text, content_type="text/html", headers={**SECURITY_HEADERS, **NO_CACHE}
    )


async def tenants_page(request: web.Request) -> web.Response:
    ctx = context(request)
    Query(request.query, [])
    names = await ctx.cluster.tenant_names()
    if not names:
        return _shell("Tenants", "<h1>Tenants</h1><p>No tenant is loaded yet.</p>")
    rows = "".join(
        f"<li><a href='/t/{urllib.parse.quote(n, safe='')}/builds'>{_e(n)}</a></li>" for n in names
    )
    return _shell("Tenants", f"<h1>Tenants</h1><ul>{rows}</ul>")


async def builds_page(request: web.Request) -> web.Response:
    ctx = context(request)
    tenant = request.match_info["tenant"]
    query = Query(request.query, [*FILTERS, "change", "skip"])
    filters: dict[str, Any] = {name: query.string(name) for name in FILTERS}
    change = query.column_integer("change")
    if change is not None:
        filters["change"] = change
    skip = query.integer("skip", 0) or 0
    layout = await ctx.layout(tenant)
    builds = await ctx.db_call(
        ctx.db.get_builds, layout.tenant, limit=PAGE_SIZE, offset=skip, **filters
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
        rows.append(
            f"<tr><td>{_e(b.job_name)}</td><td>{_e(b.ref.project)}</td>"
            f"<td>{_e(b.ref.branch)}</td><td>{_e(b.buildset.pipeline)}</td>"
            f"<td>{_e((b.ref.newrev or '')[:10])}</td>"
            f"<td class='{_e(result)}'>{_e(result)}</td>"
            f"<td>{_e(timestamp(b.start_time))}</td><td>{duration}</td><td>{log}</td></tr>"
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
    params = {k: v for k, v in filters.items() if v is not None}
    nav = []
    if skip:
        prev = urllib.parse.urlencode(params | {"skip": max(0, skip - PAGE_SIZE)})
        nav.append(f"<a href='?{_e(prev)}'>newer</a>")
    if len(builds) == PAGE_SIZE:
        nxt = urllib.parse.urlencode(params | {"skip": skip + PAGE_SIZE})
        nav.append(f"<a href='?{_e(nxt)}'>older</a>")
    return _shell(
        f"Builds of {tenant}",
        f"<h1>Builds of {_e(tenant)}</h1>{table}<p>{' | '.join(nav)}</p>",
    )


async def tenant_page(request: web.Request) -> web.Response:
    """Any other page of a tenant: drawn by the scripts."""
    tenant = request.match_info["tenant"]
    await context(request).layout(tenant)  # 404 for an unknown tenant
    page = request.match_info.get("page", "").split("/")[0] or "status"
    return _shell(f"{page.replace('-', ' ').capitalize()} - {tenant}")


async def static(request: web.Request) -> web.StreamResponse:
    relative = request.match_info["path"]
    root = STATIC_DIR.resolve()
    target = (root / relative).resolve()
    if root not in target.parents or not target.is_file():
        raise not_found(f"No such file: /static/{relative}")
    response = web.FileResponse(target, headers={**NO_CACHE, "X-Content-Type-Options": "nosniff"})
    kind = mimetypes.guess_type(target.name)[0]
    if target.suffix == ".js":
        response.content_type = "text/javascript"
    elif kind:
        response.content_type = kind
    return response


def add_routes(app: web.Application) -> None:
    app.router.add_get("/", tenants_page)
    app.router.add_get("/tenants", tenants_page)
    app.router.add_get("/t/{tenant}/builds", builds_page)
    app.router.add_get("/t/{tenant}", tenant_page)
    app.router.add_get("/t/{tenant}/", tenant_page)
    app.router.add_get("/t/{tenant}/{page:.+}", tenant_page)
    app.router.add_get("/static/{path:.+}", static)
