"""Build logs as static files: ``/logs/<build uuid>/<path>`` from ``<log_root>/<uuid>/``.

Executors write each build's logs (``job-output.txt``, the JSON task record,
collected files) under ``[executor] log_root``/``<build uuid>``; a build's
``log_url`` points here.  A directory answers with a listing.

Safety: the uuid must be a plain name, and the resolved file (symlinks
followed) must lie inside that build's directory, so ``..``, encoded
slashes, absolute paths and symlinks out of the tree all get 404.  Log files
are whatever a job wrote, so they are served with ``Content-Security-Policy:
sandbox`` and ``nosniff``: an HTML file a job produced cannot run script with
the API's origin.
"""

from __future__ import annotations

import html
import mimetypes
import os
import re
import urllib.parse

from aiohttp import web
from lockgate.web.context import context
from lockgate.web.errors import not_found

UUID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
# Text types a browser should display rather than download.
TEXT_SUFFIXES = {".txt", ".log", ".yaml", ".yml", ".conf", ".cfg", ".ini", ".sh", ".py"}
SAFE_HEADERS = {
    "Content-Security-Policy": "sandbox",
    "X-Content-Type-Options": "nosniff",
}


def resolve(log_root: str, uuid: str, relative: str) -> str | None:
    """The real path of ``relative`` inside the build's log dir, or None if outside/absent."""
    if not UUID_RE.match(uuid) or uuid in (".", ".."):
        return None
    if "\x00" in relative:
        return None
    base = os.path.realpath(os.path.join(log_root, uuid))
    root = os.path.realpath(log_root)
    if os.path.dirname(base) != root:
        return None
    target = os.path.realpath(os.path.join(base, relative.lstrip("/")))
    if target != base and not target.startswith(base + os.sep):
        return None
    if not os.path.exists(target):
        return None
    return target


def _listing(request_path: str, directory: str) -> str:
    entries = []
    for name in sorted(os.listdir(directory)):
        full = os.path.join(directory, name)
        is_dir = os.path.isdir(full)
        label = name + ("/" if is_dir else "")
        size = "" if is_dir else str(os.path.getsize(full))
        href = urllib.parse.quote(name) + ("/" if is_dir else "")
        entries.append(
            f'<tr><td><a href="{html.escape(href)}">{html.escape(label)}</a></td>'
            f"<td>{size}</td></tr>"
        )
    title = html.escape(request_path)
    parent = '<tr><td><a href="../">../</a></td><td></td></tr>'
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<title>Index of {title}</title></head><body><h1>Index of {title}</h1>"
        f"<table>{parent}{''.join(entries)}</table></body></html>"
    )


async def serve(request: web.Request) -> web.StreamResponse:
    ctx = context(request)
    uuid = request.match_info["uuid"]
    relative = request.match_info.get("path", "")
    if not ctx.log_root:
        raise not_found("No build logs here: [executor] log_root is not configured")
    target = resolve(ctx.log_root, uuid, relative)
    if target is None:
        raise not_found(f"No such log file: {uuid}/{relative}")
    if os.path.isdir(target):
        if not request.path.endswith("/"):
            raise web.HTTPMovedPermanently(request.path + "/")
        response = web.Response(text=_listing(request.path, target), content_type="text/html")
        response.headers.update(SAFE_HEADERS)
        return response
    file_response = web.FileResponse(target)
    suffix = os.path.splitext(target)[1].lower()
    if suffix in TEXT_SUFFIXES:
        file_response.content_type = "text/plain"
        file_response.charset = "utf-8"
    elif mimetypes.guess_type(target)[0] is None:
        file_response.content_type = "application/octet-stream"
    file_response.headers.update(SAFE_HEADERS)
    return file_response


def add_routes(app: web.Application) -> None:
    app.router.add_get("/logs/{uuid}", serve)
    app.router.add_get("/logs/{uuid}/", serve)
    app.router.add_get("/logs/{uuid}/{path:.*}", serve)
