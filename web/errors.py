"""Errors a handler raises to answer with a status and a one-line JSON message.

The middleware in ``app.py`` turns ``ApiError`` into ``{"error": message}``
with its status (an HTML page for the dashboard's paths), and any other
exception into a 500 with no traceback (the traceback goes to the log).
"""

from __future__ import annotations


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def not_found(message: str) -> ApiError:
    return ApiError(404, message)


def bad_request(message: str) -> ApiError:
    return ApiError(400, message)


def unavailable(message: str) -> ApiError:
    return ApiError(503, message)
