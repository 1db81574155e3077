"""Project public keys: ``/api/tenant/{t}/key/{project}.pub`` and
``/api/tenant/{t}/project-ssh-key/{project}.pub``, as Zuul serves them.

``lockgate encrypt`` and ``zuul-client encrypt`` fetch the first to encrypt
a secret for a project; operators fetch the second to let a project's
post-review jobs into their hosts.  ``configure(app, config, zk)`` (called by
``WebServer``) gives the routes a ``KeyStore``; with ``[keystore] password``
the web makes a project's keys on first request if the scheduler's
generator has not made them yet (the request waits for that key only),
without it the web serves the keys that exist and answers 404 for the rest.

A project is named as in the tenant config, or by its canonical name
(``host/org/project``); its connection comes from the tenant's published
layout.  ZooKeeper calls (and key making) run off the event loop.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from typing import Any

from aiohttp import web
from lockgate.keys.keystore import KeyMissing, KeyStore, KeystoreError
from lockgate.model.tenant_state import TenantLayoutState
from lockgate.service_config import ServiceConfig
from lockgate.web.context import context
from lockgate.web.errors import ApiError, not_found, unavailable
from lockgate.zk.client import ZKClient
from lockgate.zk.errors import ZKError

KEYS = web.AppKey("lockgate_keys", KeyStore)


def configure(app: web.Application, config: ServiceConfig, zk: ZKClient | None) -> None:
    if zk is not None:
        app[KEYS] = KeyStore(zk, config.section("keystore").get("password"))


def _project(layout: TenantLayoutState, name: str) -> str:
    if name in layout.projects:
        return name
    # A canonical name: the hostname first.
    _, _, short = name.partition("/")
    if short in layout.projects:
        return short
    raise not_found(f"project '{name}' is not in tenant '{layout.tenant}'")


def _connection(keystore: KeyStore, layout: TenantLayoutState, project: str) -> str:
    connection = layout.project_connections.get(project)
    if connection:
        return connection
    # A layout published before connections were: find the project's keys.
    found = keystore.records.connections_of(project)
    if len(found) == 1:
        return found[0]
    raise not_found(f"project '{project}' has no keys yet; try again shortly")


async def _blocking(fn: Callable[..., Any], *args: Any) -> Any:
    loop = asyncio.get_running_loop()
    try:
        return await loop.run_in_executor(None, functools.partial(fn, *args))
    except KeyMissing as e:
        raise not_found(f"{e}; it is being made, try again shortly") from None
    except KeystoreError as e:
        raise ApiError(500, str(e)) from None
    except ZKError as e:
        raise unavailable(f"ZooKeeper: {e}") from None


async def _serve(request: web.Request, which: str) -> web.Response:
    ctx = context(request)
    layout = await ctx.layout(request.match_info["tenant"])
    keystore = request.app.get(KEYS)
    if keystore is None:
        raise unavailable("project keys are not available: this web has no ZooKeeper")
    project = _project(layout, request.match_info["project"])

    def read() -> str:
        connection = _connection(keystore, layout, project)
        create = keystore.has_password
        if which == "secrets":
            return keystore.public_key(connection, project, create=create)
        return keystore.ssh_public_key(connection, project, create=create)

    text: str = await _blocking(read)
    return web.Response(
        text=text if text.endswith("\n") else text + "\n", content_type="text/plain"
    )


async def secrets_key(request: web.Request) -> web.Response:
    return await _serve(request, "secrets")


async def ssh_key(request: web.Request) -> web.Response:
    return await _serve(request, "ssh")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/tenant/{tenant}/key/{project:.+}.pub", secrets_key)
    app.router.add_get("/api/tenant/{tenant}/project-ssh-key/{project:.+}.pub", ssh_key)
