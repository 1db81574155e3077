"""GitHub's REST API over ``requests``: authentication, rate limits, pages.

Who calls it: the source (pull requests, reviews, files, statuses), the
reporter (statuses, check runs, comments, labels, merges) and the event
source (pull requests of a commit).  Everything goes through ``request``.

Rate limits are waited out, never hammered: a 403 or 429 that carries
``Retry-After`` waits that long; one with ``X-RateLimit-Remaining: 0`` waits
until ``X-RateLimit-Reset``; a 403 that says "secondary rate limit" without
either waits a minute, doubling.  Each wait is logged (with the call and
how long); a call that would wait past ``max_rate_limit_wait`` in total
fails with ``GithubRateLimited``.  GitHub failing (500/502/503/504) or out of
reach (no answer) is retried with back-off (0.5 s, doubling, at most 10 s
apart) for up to ``api_retry_timeout`` seconds (a minute by default); then
the call fails with a ``transient`` ``GithubHTTPError`` saying for how long.
Calls are counted per installation (or token) and, with
``rate_limit_logging``, the remaining budget GitHub reports is logged at
debug level.

Redirects are followed by hand: GitHub answers a renamed (or transferred)
repository's old name with 301 Moved Permanently for GET and HEAD and 307
for other methods, to ``/repositories/{id}/...``; both are followed (a 301 or
302 for a write is not: it would turn the write into a read).  The first
redirect of a repository is logged as a warning naming its new name (asked
of GitHub once) and kept in ``renamed``: the tenant configuration should say
the new name.  A token GitHub no longer takes (401 for an App's installation
token: its installation removed, or revoked) is dropped and the call made
once more with a fresh one (``GithubAuth.invalidate``).

Errors are ``GithubHTTPError`` with the status and GitHub's ``message``;
``GithubAuthError`` when Lockgate has no credentials GitHub takes (its
``project`` set when only that repository is concerned).  No message
carries a token.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

import requests
from lockgate.drivers.github.auth import AuthError, GithubAuth

if TYPE_CHECKING:
    from lockgate.drivers.github.connection import GithubConfig

log = logging.getLogger("lockgate.drivers.github.api")

ACCEPT = "application/vnd.github+json"
API_VERSION = "2022-11-28"
SECONDARY_WAIT = 60.0
SERVER_RETRY_STATUSES = frozenset({500, 502, 503, 504})
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
MAX_REDIRECTS = 5
RETRY_FIRST = 0.5
RETRY_MAX = 10.0
_REPOSITORY_ID = re.compile(r"/repositories/([0-9]+)(?:/|$)")


class GithubHTTPError(Exception):
    """GitHub answered with an error (``status``) or could not be reached
    (``status`` 0).  ``str()`` names the call and what GitHub said.
    ``transient``: GitHub failed or was out of reach for the whole retry
    budget (it may work later); otherwise GitHub refused the call."""

    def __init__(
        self, what: str, status: int, message: str, body: Any = None, *, transient: bool = False
    ) -> None:
        super().__init__(f"{what}: " + (f"HTTP {status}: {message}" if status else message))
        self.status = status
        self.message = message
        self.body = body
        self.transient = transient


class GithubAuthError(GithubHTTPError):
    """No credentials GitHub takes: ``project`` names the one repository
    concerned (the App is not installed on it); None: the whole connection
    (the App's key refused)."""

    def __init__(self, what: str, message: str, project: str | None) -> None:
        super().__init__(what, 0, message)
        self.project = project


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
        retry_timeout: float | None = None,
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
        self.retry_timeout = config.api_retry_timeout if retry_timeout is None else retry_timeout
        self.auth = GithubAuth(
            api_token=config.api_token,
            app_id=config.app_id,
            app_key=config.app_key,
            exchange=self._exchange,
        )
        self.calls: Counter[str] = Counter()
        self.rate_limit_waits = 0
        self.server_retries = 0
        # Repositories GitHub redirected (renamed or transferred): old -> new name.
        self.renamed: dict[str, str] = {}

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
        used); raises ``GithubHTTPError`` for any answer of 300 or more that
        is not followed."""
        what = f"GitHub {self.config.name}: {method} {path.split('?')[0]}"
        url = path if path.startswith("http") else f"{self.base}{path}"
        for attempt in (1, 2):
            try:
                authorization = self.auth.header(project)
            except AuthError as e:
                raise GithubAuthError(what, str(e), e.project) from None
            headers = {"Authorization": authorization} if authorization else {}
            if accept:
                headers["Accept"] = accept
            response = self._send(
                what,
                method,
                url,
                headers,
                json,
                params,
                who=project or "-",
                on_redirect=(lambda old, new: self._moved(project, old, new)) if project else None,
            )
            if response.status_code == 401 and attempt == 1 and self.auth.invalidate(project):
                continue  # a token GitHub no longer takes: once more with a fresh one
            break
        status = response.status_code
        if status >= 300:
            message = _message(response)
            if status in REDIRECT_STATUSES:
                message = f"{message} (to {response.headers.get('Location')}; not followed)"
            failing = getattr(response, "lockgate_failing", None)
            if failing:
                message = f"{message} (failing for {failing[1]:.0f}s, {failing[0]} attempts)"
            raise GithubHTTPError(
                what, status, message, _json_or_none(response), transient=bool(failing)
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
        on_redirect: Callable[[str, str], None] | None = None,
    ) -> requests.Response:
        waited = 0.0
        backoff = SECONDARY_WAIT
        failures = 0
        spent = 0.0  # seconds failing: answers and pauses, against retry_timeout
        delay = RETRY_FIRST
        hops = 0
        while True:
            started = time.monotonic()
            try:
                response = self.session.request(
                    method,
                    url,
                    headers=headers,
                    json=body,
                    params=params,
                    timeout=self.config.timeout,
                    allow_redirects=False,
                )
            except requests.RequestException as e:
                failures += 1
                spent += time.monotonic() - started
                if spent >= self.retry_timeout:
                    raise GithubHTTPError(
                        what,
                        0,
                        f"cannot reach GitHub (failing for {spent:.0f}s, {failures} attempts): {e}",
                        transient=True,
                    ) from None
                pause = min(delay, self.retry_timeout - spent)
                log.warning("%s: %s; retrying in %.3gs", what, e, pause)
                self.server_retries += 1
                self.sleep(pause)
                spent += pause
                delay = min(delay * 2, RETRY_MAX)
                continue
            self.calls[who] += 1
            self._log_budget(what, who, response)
            status = response.status_code
            location = response.headers.get("Location")
            if status in REDIRECT_STATUSES and location and hops < MAX_REDIRECTS:
                if method in ("GET", "HEAD") or status in (307, 308):
                    hops += 1
                    target = urljoin(url, location)
                    if urlsplit(target).netloc != urlsplit(url).netloc:
                        headers = {k: v for k, v in headers.items() if k != "Authorization"}
                    if on_redirect is not None:
                        on_redirect(url, target)
                    url, params = target, None  # the Location carries the query
                    continue
            if status in SERVER_RETRY_STATUSES:
                failures += 1
                spent += time.monotonic() - started
                if spent < self.retry_timeout:
                    pause = min(delay, self.retry_timeout - spent)
                    log.warning("%s: HTTP %d; retrying in %.3gs", what, status, pause)
                    self.server_retries += 1
                    self.sleep(pause)
                    spent += pause
                    delay = min(delay * 2, RETRY_MAX)
                    continue
                response.lockgate_failing = (failures, spent)  # type: ignore[attr-defined]
                return response
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

    def _moved(self, project: str | None, old: str, new: str) -> None:
        """A redirect for ``project``: the first one is logged with the
        repository's new name (asked of GitHub) and kept in ``renamed``."""
        if project is None or project in self.renamed:
            return
        self.renamed[project] = "?"
        now = None
        found = _REPOSITORY_ID.search(urlsplit(new).path)
        if found is not None:
            try:
                data = self.request("GET", f"/repositories/{found.group(1)}", project=project)
                now = data.json().get("full_name")
            except (GithubHTTPError, ValueError, AttributeError):
                now = None
        if isinstance(now, str) and now and now != project:
            self.renamed[project] = now
        log.warning(
            "GitHub %s: %s has moved%s: GitHub redirects its old name (%s -> %s); Lockgate "
            "follows, but the tenant configuration should name the repository %s",
            self.config.name,
            project,
            f" to {now}" if isinstance(now, str) and now else "",
            urlsplit(old).path,
            urlsplit(new).path,
            now if isinstance(now, str) and now else "by its new name",
        )

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
