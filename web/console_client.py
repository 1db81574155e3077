"""``lockgate console UUID``: follow a running build's console from a terminal.

Who calls it: ``lockgate.cli`` (the ``console`` command).  It is a client of
the web's ``console-stream`` websocket (``lockgate.web.console_stream``), the
same one the dashboard uses, so it works from any machine that reaches the
web: it prints the console from its first line, follows it live, and ends
when the build ends.

Where the web is: ``--url``, else ``$LOCKGATE_URL``, else the ``[web]``
section of the service config if there is one, else
``http://127.0.0.1:9000``.  Which tenant: ``--tenant``, else the only tenant
there is.  A read-protected tenant needs a token: ``--auth-token``, else
``$LOCKGATE_AUTH_TOKEN``.  Exit status: 0 when the build was followed to its end (its result
is the last line on stderr), 1 when it could not be followed (the reason is
on stderr), 2 for bad arguments.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import urllib.parse
from dataclasses import dataclass
from typing import TextIO

import aiohttp
from lockgate.service_config import ServiceConfig, ServiceConfigError

DEFAULT_URL = "http://127.0.0.1:9000"
TIMEOUT = aiohttp.ClientTimeout(total=None, connect=10, sock_connect=10)


class FollowError(Exception):
    """The build cannot be followed; ``str()`` says why."""


@dataclass(frozen=True)
class Ending:
    code: int | None
    reason: str

    @property
    def normal(self) -> bool:
        return self.code == 1000


def web_url(explicit: str | None, config_path: str | None) -> str:
    if explicit:
        return explicit.rstrip("/")
    if os.environ.get("LOCKGATE_URL"):
        return os.environ["LOCKGATE_URL"].rstrip("/")
    if config_path and os.path.exists(config_path):
        try:
            section = ServiceConfig.load(config_path).section("web")
        except ServiceConfigError:
            return DEFAULT_URL
        host = section.get("listen_address") or "127.0.0.1"
        if host in ("0.0.0.0", "::"):
            host = "127.0.0.1"
        return f"http://{host}:{section.get_int('port', 9000)}"
    return DEFAULT_URL


def stream_url(base: str, tenant: str) -> str:
    """The websocket URL of ``tenant``'s console-stream under the web at ``base``."""
    parts = urllib.parse.urlsplit(base)
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
    path = f"{parts.path.rstrip('/')}/api/tenant/{urllib.parse.quote(tenant, safe='')}"
    return urllib.parse.urlunsplit((scheme, parts.netloc, path + "/console-stream", "", ""))


async def only_tenant(http: aiohttp.ClientSession, base: str) -> str:
    try:
        async with http.get(f"{base}/api/tenants") as response:
            if response.status != 200:
                raise FollowError(f"{base}/api/tenants answered {response.status}")
            tenants = [t["name"] for t in await response.json()]
    except aiohttp.ClientError as e:
        raise FollowError(f"cannot reach the web at {base}: {e}") from None
    if len(tenants) != 1:
        names = ", ".join(tenants) or "none"
        raise FollowError(f"name the build's tenant with --tenant (tenants: {names})")
    return str(tenants[0])


async def follow(
    base: str, tenant: str | None, uuid: str, out: TextIO, token: str | None = None
) -> Ending:
    """Write the build's console to ``out`` as it comes; how the stream ended.
    ``token``: a bearer token, for a read-protected tenant."""
    token = token.removeprefix("Bearer ").strip() if token else None
    headers = {"Authorization": f"Bearer {token}"} if token else None
    async with aiohttp.ClientSession(timeout=TIMEOUT, headers=headers) as http:
        if tenant is None:
            tenant = await only_tenant(http, base)
        url = stream_url(base, tenant)
        try:
            async with http.ws_connect(url, heartbeat=30) as ws:
                await ws.send_str(json.dumps({"uuid": uuid, "logfile": "console.log"}))
                while True:
                    msg = await ws.receive()
                    if msg.type is aiohttp.WSMsgType.TEXT:
                        out.write(msg.data)
                        out.flush()
                        continue
                    if msg.type is aiohttp.WSMsgType.CLOSE:
                        return Ending(ws.close_code, msg.extra or "")
                    return Ending(ws.close_code, "the connection to the web was lost")
        except aiohttp.WSServerHandshakeError as e:
            raise FollowError(f"{url}: the web refused the websocket ({e.status})") from None
        except aiohttp.ClientError as e:
            raise FollowError(f"cannot reach the web at {base}: {e}") from None


def main(args: argparse.Namespace) -> int:
    base = web_url(args.url, getattr(args, "config", None))
    try:
        token = getattr(args, "auth_token", None) or os.environ.get("LOCKGATE_AUTH_TOKEN")
        ending = asyncio.run(follow(base, args.tenant, args.uuid, sys.stdout, token))
    except FollowError as e:
        print(f"lockgate console: {e}", file=sys.stderr)
        return 1
    if ending.normal:
        print(ending.reason or "build ended", file=sys.stderr)
        return 0
    print(f"lockgate console: {ending.reason or 'the stream ended'}", file=sys.stderr)
    return 1
