"""Who Lockgate is on GitHub: a personal token, or a GitHub App.

Who calls it: ``lockgate.drivers.github.client.GithubClient``, for the
``Authorization`` header of every API call (``header(project)``) and for
git's credentials (``git_token(project)``).

A GitHub App signs a short JWT (RS256, PyJWT) with its private key, finds
the installation that covers a repository (``GET /repos/{o}/{r}/installation``,
remembered per repository) and exchanges the JWT for that installation's
token (``POST /app/installations/{id}/access_tokens``).  Tokens are kept per
installation and fetched again ``refresh_margin`` seconds before GitHub says
they expire, so a call never goes out with a token about to lapse.  A
repository the App is not installed on falls back to ``api_token`` if the
connection has one (Zuul does the same), else ``NotInstalled`` naming the
repository.  An installation that was removed (404 on the exchange, a token
GitHub no longer takes — ``invalidate`` — or an ``installation`` webhook —
``forget_installation``) is forgotten and looked up again once.  GitHub
refusing the App's JWT itself (401: a rotated or revoked ``app_key``, a
wrong ``app_id``) is ``AppRefused``: every repository of the connection is
concerned, and the message says which key to replace.

The HTTP exchange is the client's (``Exchange``), so rate limits and errors
are handled in one place; nothing here logs a token.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import jwt

log = logging.getLogger("lockgate.drivers.github.auth")

JWT_LIFETIME = 540  # GitHub accepts at most 10 minutes
JWT_BACKDATE = 60  # clocks drift; GitHub's advice


class AuthError(Exception):
    """No credentials for a repository, or GitHub refused them.  ``project``
    names the one repository concerned; None: the whole connection."""

    project: str | None = None


class NotInstalled(AuthError):
    """The App is not (or no longer) installed on ``project``: only that
    repository is concerned, until someone installs the App on it."""

    def __init__(self, message: str, project: str) -> None:
        super().__init__(message)
        self.project = project


class AppRefused(AuthError):
    """GitHub refused the App's JWT: ``app_key`` or ``app_id`` is wrong (a key
    rotated or revoked in the App's settings).  Every repository of the
    connection is concerned until the key is replaced."""


class Exchange(Protocol):
    """The client's raw call: (status, JSON body) of an API request made with
    the given Authorization header."""

    def __call__(
        self, method: str, path: str, authorization: str
    ) -> tuple[int, dict[str, Any] | list[Any] | None]: ...


@dataclass
class InstallationToken:
    token: str
    expires_at: float  # epoch seconds


def parse_time(text: str | None) -> float | None:
    """GitHub's ISO 8601 times (``2024-05-01T12:00:00Z``) as epoch seconds."""
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def app_jwt(app_id: int, private_key: str, now: float) -> str:
    """The App's JWT: issued a minute in the past, valid nine minutes."""
    payload = {
        "iat": int(now) - JWT_BACKDATE,
        "exp": int(now) + JWT_LIFETIME,
        "iss": str(app_id),
    }
    return jwt.encode(payload, private_key, algorithm="RS256")


class GithubAuth:
    def __init__(
        self,
        *,
        api_token: str | None,
        app_id: int | None,
        app_key: str | None,
        exchange: Exchange,
        refresh_margin: float = 300.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.api_token = api_token
        self.app_id = app_id
        self.app_key = app_key
        self.exchange = exchange
        self.refresh_margin = refresh_margin
        self.clock = clock
        self._lock = threading.Lock()
        self._installations: dict[str, int | None] = {}  # "owner/repo" -> id (None: not installed)
        self._tokens: dict[int, InstallationToken] = {}
        self._jwt: tuple[str, float] | None = None
        # Repositories whose installation went away while known (for messages).
        self._lost: set[str] = set()
        # Counters for logs and tests.
        self.tokens_issued = 0

    @property
    def uses_app(self) -> bool:
        return self.app_id is not None and self.app_key is not None

    def app_header(self) -> str:
        """``Bearer <jwt>`` for the App's own endpoints (reused while it has
        more than a minute left)."""
        assert self.app_id is not None and self.app_key is not None
        now = self.clock()
        with self._lock:
            if self._jwt is None or self._jwt[1] - now < 60:
                try:
                    token = app_jwt(self.app_id, self.app_key, now)
                except (ValueError, TypeError, jwt.PyJWTError) as e:
                    raise AuthError(f"cannot sign the App's JWT with app_key: {e}") from None
                self._jwt = (token, now + JWT_LIFETIME)
            return f"Bearer {self._jwt[0]}"

    def header(self, project: str | None) -> str | None:
        """The Authorization header for a call about ``project`` (None: any
        repository; the App's token is then the personal token if any)."""
        token = self.token(project)
        return f"token {token}" if token else None

    def git_token(self, project: str) -> str | None:
        return self.token(project)

    def token(self, project: str | None) -> str | None:
        if not self.uses_app:
            return self.api_token
        if project is None:
            if self.api_token:
                return self.api_token
            # Without a repository an App can only act through one of its
            # installations; the first known one serves (e.g. a search).
            installation = next((i for i in self._installations.values() if i), None)
            return self._installation_token(installation) if installation else None
        installation = self.installation_id(project)
        if installation is None:
            if self.api_token:
                return self.api_token
            if project in self._lost:
                raise NotInstalled(
                    f"the GitHub App {self.app_id} is no longer installed on {project} "
                    "(its installation was removed; install the App again, or remove the "
                    "project from the tenants)",
                    project,
                )
            raise NotInstalled(
                f"the GitHub App {self.app_id} is not installed on {project} "
                "(install it on the repository's owner, or remove the project from the tenants)",
                project,
            )
        try:
            return self._installation_token(installation)
        except _InstallationGone:
            with self._lock:
                self._installations.pop(project, None)
                self._tokens.pop(installation, None)
                self._lost.add(project)
            installation = self.installation_id(project)
            if installation is None:
                if self.api_token:
                    return self.api_token
                raise NotInstalled(
                    f"the GitHub App {self.app_id} is no longer installed on {project} "
                    "(its installation was removed; install the App again, or remove the "
                    "project from the tenants)",
                    project,
                ) from None
            return self._installation_token(installation)

    def invalidate(self, project: str | None) -> bool:
        """GitHub refused the token used for ``project`` (401 Bad credentials:
        revoked with its installation, or expired early): forget it and the
        repository's installation, so the next call looks both up again.
        False when there was no App token to forget (a personal token)."""
        if not self.uses_app or project is None:
            return False
        with self._lock:
            installation = self._installations.pop(project, None)
            if installation is None:
                return False
            self._tokens.pop(installation, None)
            self._lost.add(project)
        log.info(
            "GitHub App %s: the token of installation %s was refused for %s; looking again",
            self.app_id,
            installation,
            project,
        )
        return True

    def forget_installation(self, installation: int) -> list[str]:
        """An installation was removed (GitHub's ``installation`` event): its
        token and the repositories it served are forgotten; returns those."""
        with self._lock:
            self._tokens.pop(installation, None)
            gone = sorted(p for p, i in self._installations.items() if i == installation)
            for project in gone:
                del self._installations[project]
            self._lost.update(gone)
        return gone

    def installation_id(self, project: str) -> int | None:
        with self._lock:
            if project in self._installations:
                return self._installations[project]
        status, body = self.exchange("GET", f"/repos/{project}/installation", self.app_header())
        if status == 404:
            found = None
        elif status == 200 and isinstance(body, dict) and isinstance(body.get("id"), int):
            found = int(body["id"])
        elif status == 401:
            raise self._refused(f"looking up the App installation of {project}", status, body)
        else:
            raise AuthError(f"looking up the App installation of {project}: {_said(status, body)}")
        with self._lock:
            self._installations[project] = found
            if found is not None:
                self._lost.discard(project)
        log.info("GitHub App %s: %s is served by installation %s", self.app_id, project, found)
        return found

    def _installation_token(self, installation: int) -> str:
        now = self.clock()
        with self._lock:
            cached = self._tokens.get(installation)
            if cached is not None and cached.expires_at - now > self.refresh_margin:
                return cached.token
        status, body = self.exchange(
            "POST", f"/app/installations/{installation}/access_tokens", self.app_header()
        )
        if status == 404:
            raise _InstallationGone()
        if status == 401:
            raise self._refused(f"getting a token for installation {installation}", status, body)
        if status not in (200, 201) or not isinstance(body, dict) or not body.get("token"):
            raise AuthError(
                f"getting a token for installation {installation}: {_said(status, body)}"
            )
        expires = parse_time(body.get("expires_at")) or now + 3600
        with self._lock:
            self._tokens[installation] = InstallationToken(str(body["token"]), expires)
            self.tokens_issued += 1
        log.info(
            "GitHub App %s: new token for installation %s, valid %.0fs",
            self.app_id,
            installation,
            expires - now,
        )
        return str(body["token"])

    def _refused(self, what: str, status: int, body: Any) -> AppRefused:
        with self._lock:
            self._jwt = None  # signed again next time (a key replaced meanwhile)
        return AppRefused(
            f"{what}: GitHub refused the App's JWT ({_said(status, body)}): app_key is not "
            f"a private key of GitHub App {self.app_id} (rotated or revoked in the App's "
            "settings?) or app_id is wrong; generate a key, point app_key at it and restart"
        )


class _InstallationGone(Exception):
    pass


def _said(status: int, body: Any) -> str:
    message = body.get("message") if isinstance(body, dict) else None
    return f"HTTP {status}" + (f": {message}" if message else "")
