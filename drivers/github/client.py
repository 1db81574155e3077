"""GitHub's REST API over ``requests``: authentication, rate limits, pages.

Who calls it: the source (pull requests, reviews, files, statuses), the
reporter (statuses, check runs, comments, labels, merges) and the event
source (pull requests of a commit).  Everything goes through ``request``.

Rate limits are waited out, never hammered: a 403 or 429 that carries
``Retry-After`` waits that long; one with ``X-RateLimit-Remaining: 0`` waits
until ``X-RateLimit-Reset``; a 403 that says "secondary rate limit" without
either waits a minute, doubling.  Each wait is logged (with the call and
how long); a call that would wait past ``max_rate_limit_wait`` in total
fails with ``GithubRateLimited``.  Answers of 502/503/504 and broken
connections are retried with back-off (``server_retries`` times).  Calls are
counted per installation (or token) and, with ``rate_limit_logging``, the
remaining budget GitHub reports is logged at debug level.

Errors are ``GithubHTTPError`` with the status and GitHub's ``message``; no
message carries a token.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import requests
from lockgate.drivers.github.auth import AuthError, GithubAuth

if TYPE_CHECKING:
    from lockgate.drivers.github.connection import GithubConfig

log = logging.getLogger("lockgate.drivers.github.api")

ACCEPT = "application/vnd.github+json"
API_VERSION = "2022-11-28"
SECONDARY_WAIT = 60.0
SERVER_RETRY_STATUSES = frozenset({502, 503, 504})


class GithubHTTPError(Exception):
    """GitHub answered with an error (``status``) or could not be reached
    (``status`` 0).  ``str()`` names the call and what GitHub said."""

    def __init__(self, what: str, status: int, message: str, body: Any = None) -> None:
        super().__init__(f"{what}: " + (f"HTTP {status}: {message}" if status else message))
        self.status = status
        self.message = message
        self.body = body


class GithubRateLimited(GithubHTTPError):
    """A rate limit that would take longer than ``max_rate_limit_wait``."""


def rate_limit_wait(status: int, headers: Any, message: str, now: float) -> float | None:
    """Seconds to wait before trying a rate-limited answer again; None when
    the answer is not a rate limit (a plain 403 is a refusal)."""
    if status not in (403, 429):
        return None
    retry_after = headers.get("Retry-After")
    if retry_after is not None:
        try:
            return max(0.0, float(retry_after))
        except ValueError:
            pass
    if headers.get("X-RateLimit-Remaining") == "0" and headers.get("X-RateLimit-Reset"):
        try:
            return max(0.0, float(headers["X-RateLimit-Reset"]) - now) + 1.0
        except ValueError:
            pass
    if status == 429 or "rate limit" in message.lower():
        return SECONDARY_WAIT
    return None


def next_link(header: str | None) -> str | None:
    """The ``rel="next"`` URL of a ``Link`` header."""
    for part in (header or "").split(","):
        section = part.split(";")
        if len(section) < 2:
            continue
        if any(s.strip() == 'rel="next"' for s in section[1:]):
            return section[0].strip().strip("<>")
    return None


class GithubClient:
    def __init__(
        self,
        config: GithubConfig,
        *,
        sleep: Callable[[float], None] | None = None,
        clock: Callable[[], float] = time.time,
        server_retries: int = 3,
    ) -> None:
        self.config = config
        self.base = config.api_url.rstrip("/")
        self.session = requests.Session()
        self.session.verify = config.verify_ssl
        self.session.headers.update(
            {
                "Accept": ACCEPT,
                "X-GitHub-Api-Version": API_VERSION,
                "User-Agent": "lockgate",
            }
        )
        self.clock = clock
        self._stop = threading.Event()
        self.sleep = sleep or (lambda seconds: self._stop.wait(seconds) and None)
        self.server_retries = server_retries
        self.auth = GithubAuth(
            api_token=config.api_token,
            app_id=config.app_id,
            app_key=config.app_key,
            exchange=self._exchange,
        )
        self.calls: Counter[str] = Counter()
        self.rate_limit_waits = 0

    def close(self) -> None:
        self._stop.set()
        self.session.close()

    # --- calls ----------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        project: str | None = None,
        json: Any = None,
        params: dict[str, Any] | None = None,
        accept: str | None = None,
    ) -> requests.Response:
        """One API call about ``project`` (whose installation's token is
        used); raises ``GithubHTTPError`` for any answer of 400 or more."""
        what = f"GitHub {self.config.name}: {method} {path.split('?')[0]}"
        try:
            authorization = self.auth.header(project)
        except AuthError as e:
            raise GithubHTTPError(what, 0, str(e)) from None
        headers = {"Authorization": authorization} if authorization else {}
        if accept:
            headers["Accept"] = accept
        url = path if path.startswith("http") else f"{self.base}{path}"
        response = self._send(what, method, url, headers, json, params, who=project or "-")
        if response.status_code >= 400:
            raise GithubHTTPError(
                what, response.status_code, _message(response), _json_or_none(response)
            )
        return response

    def get(self, path: str, *, project: str | None = None, **params: Any) -> Any:
        return self.request("GET", path, project=project, params=params or None).json()

    def paginate(
        self, path: str, *, project: str | None = None, key: str | None = None, **params: Any
    ) -> Iterator[Any]:
        """Every item of a listed resource, page by page (``Link: rel=next``);
        ``key`` names the list inside an object answer (``check_runs``)."""
        query: dict[str, Any] | None = {"per_page": 100, **params}
        url: str | None = path
        while url is not None:
            response = self.request("GET", url, project=project, params=query)
            body = response.json()
            items = body.get(key, []) if key and isinstance(body, dict) else body
            yield from items if isinstance(items, list) else []
            url = next_link(response.headers.get("Link"))
            query = None  # the next link carries them

    def git_token(self, project: str) -> str | None:
        return self.auth.git_token(project)

    # --- the wire -------------------------------------------------------------------

    def _exchange(self, method: str, path: str, authorization: str) -> tuple[int, Any]:
        what = f"GitHub {self.config.name}: {method} {path}"
        response = self._send(
            what,
            method,
            f"{self.base}{path}",
            {"Authorization": authorization},
            None,
            None,
            who="app",
        )
        return response.status_code, _json_or_none(response)

    def _send(
        self,
        what: str,
        method: str,
        url: str,
        headers: dict[str, str],
        body: Any,
        params: dict[str, Any] | None,
        *,
        who: str,
    ) -> requests.Response:
        waited = 0.0
        backoff = SECONDARY_WAIT
        failures = 0
        while True:
            try:
                response = self.session.request(
                    method,
                    url,
                    headers=headers,
                    json=body,
                    params=params,
                    timeout=self.config.timeout,
                )
            except requests.RequestException as e:
                failures += 1
                if failures > self.server_retries:
                    raise GithubHTTPError(what, 0, f"cannot reach GitHub: {e}") from None
                delay = min(2.0 ** (failures - 1), 30.0)
                log.warning("%s: %s; retrying in %.3gs", what, e, delay)
                self.sleep(delay)
                continue
            self.calls[who] += 1
            self._log_budget(what, who, response)
            status = response.status_code
            if status in SERVER_RETRY_STATUSES and failures < self.server_retries:
                failures += 1
                delay = min(2.0 ** (failures - 1), 30.0)
                log.warning("%s: HTTP %d; retrying in %.3gs", what, status, delay)
                self.sleep(delay)
                continue
            wait = rate_limit_wait(status, response.headers, _message(response), self.clock())
            if wait is None:
                return response
            if wait == SECONDARY_WAIT and "Retry-After" not in response.headers:
                wait, backoff = backoff, backoff * 2
            if waited + wait > self.config.max_rate_limit_wait:
                raise GithubRateLimited(
                    what,
                    status,
                    f"rate limited; waiting {wait:.0f}s more would pass max_rate_limit_wait "
                    f"({self.config.max_rate_limit_wait:.0f}s): {_message(response)}",
                )
            self.rate_limit_waits += 1
            log.warning(
                "%s: rate limited (HTTP %d: %s); waiting %.3gs (%d calls so far for %s)",
                what,
                status,
                _message(response),
                wait,
                self.calls[who],
                who,
            )
            waited += wait
            self.sleep(wait)

    def _log_budget(self, what: str, who: str, response: requests.Response) -> None:
        if not self.config.rate_limit_logging:
            return
        remaining = response.headers.get("X-RateLimit-Remaining")
        if remaining is not None:
            log.debug(
                "%s: %s; %s calls left (%d made for %s)",
                what,
                response.status_code,
                remaining,
                self.calls[who],
                who,
            )


def _json_or_none(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _message(response: requests.Response) -> str:
    body = _json_or_none(response)
    if isinstance(body, dict) and body.get("message"):
        return str(body["message"])
    return (response.text or response.reason or "").strip()[:200]
