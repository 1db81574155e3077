"""Requests too malformed to reach a handler: a JSON 400 and one log line.

aiohttp answers a request its parser refuses (a request line over
``MAX_LINE`` bytes, such as a 100 KB URL; a header over ``MAX_FIELD``
bytes; a header name with a space; a bad method) with plain text, and logs
each one with a full traceback.  ``WebRunner`` — what ``lockgate.web.server``
and the tests' harness serve the app with — makes that the API's error
shape (``lockgate.web.errors.error_body``) and a single warning line naming
the peer and what was wrong.  Nothing here runs for a well-formed request.
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import BadHttpMethod, LineTooLong
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest
from aiohttp.web_response import StreamResponse
from lockgate.web.errors import error_body

log = logging.getLogger("lockgate.web.http")

# aiohttp's own defaults; named here so the limits are visible.
MAX_LINE = 8190
MAX_FIELD = 8190


def _what(exc: BaseException | None, message: str | None) -> str:
    if isinstance(exc, LineTooLong):
        return f"the request line or a header is longer than {MAX_LINE} bytes"
    if isinstance(exc, BadHttpMethod):
        return "not an HTTP method"
    text = message or (str(exc) if exc is not None else "") or "malformed request"
    text = " ".join(text.split())
    return text[:200]


class JsonErrorHandler(RequestHandler):
    """aiohttp's per-connection protocol with Lockgate's error answer."""

    def handle_error(
        self,
        request: BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> StreamResponse:
        if request.writer.output_size > 0:  # too late for an answer: as aiohttp does
            return super().handle_error(request, status, exc, message)
        if status >= 500:
            log.error("error handling a request from %s: %s", request.remote, _what(exc, None))
            description = "internal error (see the web service's log)"
        else:
            description = f"malformed HTTP request: {_what(exc, message)}"
            log.warning("%s from %s", description, request.remote)
        response = web.json_response(error_body(status, description), status=status)
        response.force_close()
        return response


class _Server(web.Server):
    def __call__(self) -> RequestHandler:
        return JsonErrorHandler(self, loop=self._loop, **self._kwargs)


class WebRunner(web.AppRunner):
    """``web.AppRunner`` whose connections answer malformed requests in JSON."""

    def __init__(self, app: web.Application, **kwargs: Any) -> None:
        kwargs.setdefault("max_line_size", MAX_LINE)
        kwargs.setdefault("max_field_size", MAX_FIELD)
        super().__init__(app, **kwargs)

    async def _make_server(self) -> web.Server:
        base = await super()._make_server()
        return _Server(
            base.request_handler,
            request_factory=base.request_factory,
            handler_cancellation=base.handler_cancellation,
            loop=base._loop,
            **base._kwargs,
        )
