"""Errors a handler raises to answer with a status and a JSON body in Zuul's shape.

Zuul's API answers an error with ``{"error": ..., "description": ...}``;
``zuul-client`` shows ``error: description`` to its user.  Here ``error``
is a short name (the HTTP reason phrase unless the raiser names one, e.g.
``MissingAuthError``) and ``description`` the sentence that says what is
wrong and where.  The middleware in ``app.py`` turns an ``ApiError`` into
that body with its status (an HTML page for the dashboard's paths), and any
other exception into a 500 with no traceback (the traceback goes to the log).
``error_body`` is the one place that shape is written, for the middleware
and for ``lockgate.web.http`` (malformed requests, answered before any
handler runs).
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any


def reason(status: int) -> str:
    """The HTTP reason phrase of ``status`` ("Not Found"), or "Error"."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def error_body(status: int, description: str, error: str | None = None) -> dict[str, Any]:
    return {"error": error or reason(status), "description": description}


class ApiError(Exception):
    """An answer other than success: ``status``, a one-line ``message``
    (Zuul's ``description``) and optionally a short ``error`` name and
    extra headers (``WWW-Authenticate``, ``Allow``...)."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        error: str | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.error = error or reason(status)
        self.headers = dict(headers or {})
        # Further keys of the body (Zuul adds ``realm`` to auth errors).
        self.extra = dict(extra or {})

    def body(self) -> dict[str, Any]:
        return {**error_body(self.status, self.message, self.error), **self.extra}


def not_found(message: str) -> ApiError:
    return ApiError(404, message)


def bad_request(message: str) -> ApiError:
    return ApiError(400, message)


def unavailable(message: str) -> ApiError:
    return ApiError(503, message)
