"""Zuul's ``console-stream`` websocket: a running build's console, live.

``GET /api/tenant/{tenant}/console-stream`` upgrades to a websocket; the
client's first message is JSON text ``{"uuid": BUILD, "logfile":
"console.log"}`` (what Zuul's dashboard and ``lockgate console`` send); the
answer is the build's ``job-output.txt`` from its first line, as text
messages, live, until the build ends.

Who calls it: the dashboard's build and stream pages, ``lockgate console``
(``lockgate.web.console_client``), any Zuul client.  What it calls: the
cluster view for the executor's registration (``lockgate.zk.streams``), then
the executor's console stream server over TCP (``lockgate.console_stream``
framing; ``lockgate.executor.console_stream`` serves it).

How it closes (Zuul's codes; the reason is a sentence for people):

- ``1000`` -- the build ended: ``build ended: SUCCESS`` (every line was sent);
- ``4000`` -- the request was wrong: not JSON, not an object, a key missing,
  not a build uuid, a log file other than ``console.log``, or no request in
  ``FIRST_MESSAGE_TIMEOUT`` seconds; an unknown tenant;
- ``4011`` -- nothing to stream: the build is not running (unknown, queued,
  or finished: then the reason gives its result and log URL), the executor
  cannot be reached, or its stream broke off (the executor stopped).

Each websocket has its own connection to the executor, so a client that
goes away closes it and the executor forgets that follower at once; a slow
client slows only its own relay (the send waits, so the executor waits
before reading more for it).
"""

from __future__ import annotations

import asyncio
import codecs
import json
import logging
from dataclasses import dataclass, field

from aiohttp import WSMsgType, web
from lockgate.console_stream import (
    HEADER,
    FrameKind,
    ProtocolError,
    decode_header,
    encode_request,
    valid_uuid,
)
from lockgate.web import access
from lockgate.web.context import WebContext, context
from lockgate.web.errors import ApiError, bad_request
from lockgate.zk.streams import StreamLocation

log = logging.getLogger("lockgate.web.console")

CLOSE_NORMAL = 1000
CLOSE_BAD_REQUEST = 4000
CLOSE_STREAM_ERROR = 4011
FIRST_MESSAGE_TIMEOUT = 30.0
CONNECT_TIMEOUT = 10.0
LOGFILES = ("console.log",)
EXAMPLE = '{"uuid": "<build uuid>", "logfile": "console.log"}'


class Close(Exception):
    """End the websocket with ``code`` and ``reason``."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


@dataclass(frozen=True)
class StreamRequest:
    uuid: str
    logfile: str
    # A bearer token (Zuul's ``token`` key): browsers cannot send a header.
    token: str | None = field(default=None, repr=False)


def parse_request(msg_type: WSMsgType, data: object) -> StreamRequest:
    """The client's first message, checked; ``Close`` says what is wrong."""
    if msg_type is not WSMsgType.TEXT or not isinstance(data, str):
        raise Close(CLOSE_BAD_REQUEST, f"the first message must be JSON text: {EXAMPLE}")
    try:
        request = json.loads(data)
    except ValueError as e:
        raise Close(
            CLOSE_BAD_REQUEST, f"the first message is not JSON ({e}); send {EXAMPLE}"
        ) from None
    if not isinstance(request, dict):
        raise Close(CLOSE_BAD_REQUEST, f"the first message must be a JSON object: {EXAMPLE}")
    for key in ("uuid", "logfile"):
        if key not in request:
            raise Close(CLOSE_BAD_REQUEST, f"'{key}' missing from request payload: {EXAMPLE}")
    uuid, logfile = request["uuid"], request["logfile"]
    if not isinstance(uuid, str) or not valid_uuid(uuid):
        raise Close(CLOSE_BAD_REQUEST, f"'uuid' is not a build uuid: {str(uuid)[:40]!r}")
    if logfile not in LOGFILES:
        raise Close(
            CLOSE_BAD_REQUEST,
            f"'logfile' {str(logfile)[:40]!r} cannot be streamed; use console.log",
        )
    token = request.get("token")
    return StreamRequest(
        uuid=uuid, logfile=logfile, token=token if isinstance(token, str) else None
    )


def reason_bytes(reason: str) -> bytes:
    """A close reason within the 123 bytes a websocket close frame allows."""
    raw = reason.encode()
    if len(raw) <= 123:
        return raw
    return raw[:120].decode(errors="ignore").encode() + b"..."


async def console_stream(request: web.Request) -> web.StreamResponse:
    ctx = context(request)
    tenant = request.match_info["tenant"]
    ws = web.WebSocketResponse(heartbeat=20.0, max_msg_size=64 * 1024)
    if not ws.can_prepare(request).ok:
        raise bad_request(
            "this is a websocket endpoint: connect with a websocket client and send " + EXAMPLE
        )
    await ws.prepare(request)
    try:
        stream = await _first_request(ws)
        if stream is None:
            return ws  # the client left before asking
        denied = await access.stream_denial(request, stream.token)
        if denied is not None:  # a read-protected tenant (lockgate.web.access)
            raise Close(CLOSE_BAD_REQUEST, denied)
        location = await _locate(ctx, tenant, stream.uuid)
        await _relay(ws, location, stream.uuid)
    except Close as close:
        log.debug("console-stream for %s closed: %s %s", tenant, close.code, close.reason)
        await ws.close(code=close.code, message=reason_bytes(close.reason))
    return ws


async def _first_request(ws: web.WebSocketResponse) -> StreamRequest | None:
    try:
        msg = await ws.receive(timeout=FIRST_MESSAGE_TIMEOUT)
    except TimeoutError:
        raise Close(
            CLOSE_BAD_REQUEST, f"no request within {FIRST_MESSAGE_TIMEOUT:g}s; send {EXAMPLE}"
        ) from None
    if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR):
        return None
    return parse_request(msg.type, msg.data)


async def _locate(ctx: WebContext, tenant: str, uuid: str) -> StreamLocation:
    """The executor serving build ``uuid``; otherwise ``Close`` saying why not."""
    try:
        await ctx.layout(tenant)
        location = await ctx.cluster.console_stream(uuid)
    except ApiError as e:
        code = CLOSE_BAD_REQUEST if e.status == 404 else CLOSE_STREAM_ERROR
        raise Close(code, e.message) from None
    if location is not None and location.tenant == tenant:
        return location
    try:
        build = await ctx.db_call(ctx.db.get_build, uuid, tenant)
    except ApiError:
        build = None
    if build is None:
        raise Close(CLOSE_STREAM_ERROR, f"Build ID {uuid} not found: no executor is running it")
    if build.result:
        where = f"; logs: {build.log_url}" if build.log_url else ""
        raise Close(CLOSE_STREAM_ERROR, f"build {uuid} has ended: {build.result}{where}")
    raise Close(CLOSE_STREAM_ERROR, f"build {uuid} is not running on any executor (yet)")


async def _relay(ws: web.WebSocketResponse, location: StreamLocation, uuid: str) -> None:
    where = f"executor {location.executor} at {location.host}:{location.port}"
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(location.host, location.port), CONNECT_TIMEOUT
        )
    except (OSError, TimeoutError) as e:
        raise Close(CLOSE_STREAM_ERROR, f"cannot reach {where}: {e or 'timed out'}") from None
    try:
        writer.write(encode_request(uuid))
        pump = asyncio.create_task(_pump(reader, ws, where))
        watch = asyncio.create_task(_until_client_leaves(ws))
        done, pending = await asyncio.wait({pump, watch}, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        if pump in done:
            code, reason = pump.result()
            raise Close(code, reason)
    finally:
        writer.close()


async def _until_client_leaves(ws: web.WebSocketResponse) -> None:
    """Read (and ignore) what the client sends until it closes."""
    async for _msg in ws:
        pass


async def _pump(
    reader: asyncio.StreamReader, ws: web.WebSocketResponse, where: str
) -> tuple[int, str]:
    """Relay frames to the websocket; the close code and reason at the end."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    try:
        while True:
            kind, length = decode_header(await reader.readexactly(HEADER.size))
            payload = await reader.readexactly(length)
            if kind is FrameKind.DATA:
                text = decoder.decode(payload)
                if text:
                    await ws.send_str(text)
                continue
            tail = decoder.decode(b"", final=True)
            if tail:
                await ws.send_str(tail)
            message = payload.decode(errors="replace")
            if kind is FrameKind.END:
                return CLOSE_NORMAL, message
            return CLOSE_STREAM_ERROR, message
    except (asyncio.IncompleteReadError, ConnectionError):
        return CLOSE_STREAM_ERROR, f"the stream from {where} broke off (did it stop?)"
    except ProtocolError as e:
        return CLOSE_STREAM_ERROR, f"{where} sent a broken stream: {e}"


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/tenant/{tenant}/console-stream", console_stream)
