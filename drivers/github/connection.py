"""A GitHub connection: ``[connection NAME]`` with ``driver=github``.

Keys are Zuul's, so a ``zuul.conf`` section written for Zuul's GitHub
driver works unchanged:

- ``server`` (``github.com``): the GitHub host; a GitHub Enterprise server's
  API is ``https://{server}/api/v3``, github.com's ``https://api.github.com``;
- ``canonical_hostname`` (default: ``server``): first part of project names;
- ``api_token``: a personal access token; or ``app_id`` with ``app_key`` (a
  PEM file with the App's private key) to act as a GitHub App (installation
  tokens per repository, ``lockgate.drivers.github.auth``).  One of the two
  is required; with both, the App is used and the token is the fallback for
  repositories the App is not installed on, as in Zuul;
- ``webhook_token``: the webhook secret (HMAC of every delivery); without it
  the web refuses this connection's webhooks;
- ``sshkey``: accepted as in Zuul; git goes over HTTPS with the token here,
  so it is unused (said once in the log);
- ``verify_ssl`` (true), ``rate_limit_logging`` (true);
- ``repo_cache``: a GitHub Enterprise repository cache host that git
  fetches from; ``repo_retry_timeout`` (600 s with a cache, else 0);
- ``max_threads_per_installation`` (1): accepted; events are processed in
  order by one thread here, which is within any such limit.

Lockgate extensions: ``baseurl`` (the web root, default ``https://{server}``;
an ``http://`` root serves tests and the emulator), ``api_url`` (default
derived as above from ``server``, or ``{baseurl}/api/v3`` when ``baseurl``
is given), ``timeout`` (30 s per HTTP request), ``max_rate_limit_wait``
(900 s: the longest a rate-limited call waits before it fails),
``api_retry_timeout`` (60 s: how long a call keeps retrying while GitHub
fails — 5xx — or cannot be reached, before it fails).

``GithubConfig`` is the parsed section (pure; its ``repr`` hides secrets);
``GithubConnection`` adds the HTTP client (made on first use) and hands out
the source, reporter and event source.
"""

from __future__ import annotations

import logging
import math
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from lockgate.drivers.base import EventSourceHooks
from lockgate.service_config import Section

if TYPE_CHECKING:
    from lockgate.drivers.github.client import GithubClient
    from lockgate.drivers.github.event_source import GithubEventSource
    from lockgate.drivers.github.reporter import GithubReporter
    from lockgate.drivers.github.source import GithubSource

log = logging.getLogger("lockgate.drivers.github")

KEYS = {
    "driver",
    "name",
    "server",
    "canonical_hostname",
    "api_token",
    "app_id",
    "app_key",
    "webhook_token",
    "sshkey",
    "verify_ssl",
    "rate_limit_logging",
    "repo_cache",
    "repo_retry_timeout",
    "max_threads_per_installation",
    # Lockgate's
    "baseurl",
    "api_url",
    "timeout",
    "max_rate_limit_wait",
    "api_retry_timeout",
}


@dataclass(frozen=True)
class GithubConfig:
    """One ``[connection NAME]`` section of a GitHub connection, checked."""

    name: str
    server: str = "github.com"
    canonical_hostname: str = "github.com"
    baseurl: str = "https://github.com"
    api_url: str = "https://api.github.com"
    api_token: str | None = None
    app_id: int | None = None
    app_key: str | None = None  # the PEM text, read at start
    app_key_path: str | None = None
    webhook_token: str | None = None
    sshkey: str | None = None
    verify_ssl: bool = True
    rate_limit_logging: bool = True
    repo_cache: str | None = None
    repo_retry_timeout: float = 0.0
    max_threads_per_installation: int = 1
    timeout: float = 30.0
    max_rate_limit_wait: float = 900.0
    api_retry_timeout: float = 60.0

    def __repr__(self) -> str:
        # Never show a token, a key or the webhook secret in a log line or a traceback.
        return (
            f"GithubConfig(name={self.name!r}, server={self.server!r}, "
            f"api_url={self.api_url!r}, app_id={self.app_id!r}, "
            f"api_token={'***' if self.api_token else None}, "
            f"webhook_token={'***' if self.webhook_token else None})"
        )

    @property
    def uses_app(self) -> bool:
        return self.app_id is not None and self.app_key is not None

    @classmethod
    def from_section(cls, name: str, section: Section) -> GithubConfig:
        section.known(KEYS)
        server = (section.get("server") or "github.com").strip()
        if not server or server.startswith("-") or "/" in server:
            raise section.error("server", f"not a host name: {server!r}")
        given_base = section.get("baseurl")
        baseurl = _url(section, "baseurl", given_base or f"https://{server}")
        if section.get("api_url"):
            api_url = _url(section, "api_url", section.get("api_url") or "")
        elif given_base:
            api_url = f"{baseurl}/api/v3"
        elif server == "github.com":
            api_url = "https://api.github.com"
        else:
            api_url = f"https://{server}/api/v3"
        api_token = (section.get("api_token") or "").strip() or None
        app_id_text = (section.get("app_id") or "").strip()
        app_key_path = section.get_path("app_key")
        app_id: int | None = None
        if app_id_text:
            try:
                app_id = int(app_id_text)
            except ValueError:
                raise section.error(
                    "app_id", f"expected the App's numeric id, got {app_id_text!r}"
                ) from None
        if (app_id is None) != (app_key_path is None):
            missing = "app_key" if app_key_path is None else "app_id"
            raise section.error(missing, "a GitHub App needs both app_id and app_key")
        app_key = None
        if app_key_path is not None:
            try:
                with open(app_key_path) as f:
                    app_key = f.read()
            except OSError as e:
                raise section.error(
                    "app_key", f"cannot read {app_key_path}: {e.strerror or e}"
                ) from None
            if "PRIVATE KEY" not in app_key:
                raise section.error("app_key", f"{app_key_path} holds no PEM private key")
        if api_token is None and app_id is None:
            raise section.error(
                "api_token", "a GitHub connection needs api_token, or app_id and app_key"
            )
        repo_cache = (section.get("repo_cache") or "").strip() or None
        retry = _non_negative(section, "repo_retry_timeout", 600.0 if repo_cache else 0.0)
        threads = section.get_int("max_threads_per_installation", 1)
        assert threads is not None
        if threads < 1:
            raise section.error("max_threads_per_installation", "must be 1 or more")
        timeout = _non_negative(section, "timeout", 30.0)
        if timeout == 0:
            raise section.error("timeout", "must be a positive number of seconds")
        sshkey = section.get_path("sshkey")
        if sshkey and repo_cache:
            raise section.error("repo_cache", "cannot be used with sshkey (as in Zuul)")
        return cls(
            name=name,
            server=server,
            canonical_hostname=(section.get("canonical_hostname") or server).strip(),
            baseurl=baseurl,
            api_url=api_url,
            api_token=api_token,
            app_id=app_id,
            app_key=app_key,
            app_key_path=app_key_path,
            webhook_token=section.get("webhook_token") or None,
            sshkey=sshkey,
            verify_ssl=section.get_bool("verify_ssl", True),
            rate_limit_logging=section.get_bool("rate_limit_logging", True),
            repo_cache=repo_cache,
            repo_retry_timeout=retry,
            max_threads_per_installation=threads,
            timeout=timeout,
            max_rate_limit_wait=_non_negative(section, "max_rate_limit_wait", 900.0),
            api_retry_timeout=_non_negative(section, "api_retry_timeout", 60.0),
        )

    # --- derived names --------------------------------------------------------------

    @property
    def web_host(self) -> str:
        """``host[:port]`` of the web root (what pull request URLs start with)."""
        return urlsplit(self.baseurl).netloc

    def git_url(self, project: str) -> str:
        """The project's HTTPS git URL without credentials (the repo cache's
        host when one is set)."""
        project = project.strip("/")
        if self.repo_cache:
            scheme = urlsplit(self.baseurl).scheme
            return f"{scheme}://{self.repo_cache}/{project}.git"
        return f"{self.baseurl}/{project}.git"


def _url(section: Section, key: str, value: str) -> str:
    value = value.strip().rstrip("/")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise section.error(key, f"not an http(s) URL: {value!r}")
    return value


def _non_negative(section: Section, key: str, default: float) -> float:
    value = section.get_float(key, default)
    assert value is not None
    if not math.isfinite(value) or value < 0:
        raise section.error(key, f"must be 0 or more seconds, got {section.get(key)!r}")
    return value


class GithubConnection:
    """A live GitHub connection: its config and the HTTP client made from it
    (shared by the source, the reporter and the event source; thread-safe)."""

    driver_name = "github"

    def __init__(self, config: GithubConfig) -> None:
        self.config = config
        self._lock = threading.Lock()
        self._client: GithubClient | None = None
        if config.sshkey:
            log.info(
                "GitHub %s: sshkey is set; git goes over HTTPS with the API token here",
                config.name,
            )

    def __repr__(self) -> str:
        return f"GithubConnection({self.config.name!r}, {self.config.server!r})"

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def canonical_hostname(self) -> str:
        return self.config.canonical_hostname

    @classmethod
    def from_section(cls, name: str, section: Section) -> GithubConnection:
        return cls(GithubConfig.from_section(name, section))

    def client(self) -> GithubClient:
        from lockgate.drivers.github.client import GithubClient

        with self._lock:
            if self._client is None:
                self._client = GithubClient(self.config)
            return self._client

    def close(self) -> None:
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    # --- what the scheduler asks for ------------------------------------------------

    def source(self) -> GithubSource:
        from lockgate.drivers.github.source import GithubSource

        return GithubSource(self)

    def reporter(self) -> GithubReporter:
        from lockgate.drivers.github.reporter import GithubReporter

        return GithubReporter(self)

    def event_source(self, hooks: EventSourceHooks) -> GithubEventSource | None:
        """Reads the deliveries the web stored (``lockgate.web.webhooks``) from
        this connection's event queue in ZooKeeper: needs the scheduler's
        ZooKeeper client in ``hooks.zk``; without one there is nothing to read."""
        from lockgate.drivers.github.event_source import GithubEventSource

        zk: Any = getattr(hooks, "zk", None)
        if zk is None:
            log.error(
                "GitHub %s: the scheduler gave no ZooKeeper client to the event source; "
                "webhook deliveries of this connection stay queued",
                self.name,
            )
            return None
        return GithubEventSource(self, hooks, zk)
