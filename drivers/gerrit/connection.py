"""A Gerrit connection: ``[connection NAME]`` with ``driver=gerrit``.

Keys are Zuul's, so a ``zuul.conf`` section written for Zuul works unchanged:

- ``server`` (required): the Gerrit host; ``ssh_server`` (default: ``server``)
  if SSH goes elsewhere; ``port`` (29418) its SSH port;
- ``canonical_hostname`` (default: ``server``): first part of project names;
- ``baseurl`` (default ``https://{server}``): the web and REST root;
- ``user`` (default ``zuul``), ``sshkey`` (a private key file; default:
  paramiko's usual ``~/.ssh`` keys), ``keepalive`` (60 s, 0 disables);
- ``password`` (Gerrit's HTTP password): when set, queries, reviews and
  git go over HTTP (REST under ``/a/``), else over SSH; ``auth_type``
  (``basic`` default, ``digest``; ``form`` and ``gcloud_service`` are
  refused with a clear error: Lockgate cannot log in through a web form or
  Google's metadata server); ``verify_ssl`` (true); ``git_over_ssh``
  (false) keeps git on SSH even with a password;
- ``gitweb_url_template``, ``max_dependencies``: accepted as in Zuul;
- ``stream_events`` (true): false runs no event stream;
- ``event_delay`` (10): seconds a streamed event waits before it is queued,
  so Gerrit's replicas can catch up (Zuul waits the same); tests set 0;
- Zuul's ``kafka_*``, ``aws_kinesis_*`` and ``gcloud_pubsub_*`` keys are
  known, but those event transports are not supported: setting them is an
  error that says so, rather than a silent fallback.

Lockgate extensions: ``known_hosts`` (a file of trusted host keys; with it an
unknown host is refused, without it one is accepted with a warning as Zuul
does; a *changed* key is always refused) and ``timeout`` (30 s: HTTP
requests and SSH commands).

``GerritConfig`` is the parsed section (pure); ``GerritConnection`` adds the
clients (one SSH client, one HTTP session, made on first use) and hands out
the source, reporter and event source.
"""

from __future__ import annotations

import math
import shlex
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import quote, urlsplit, urlunsplit

from lockgate.drivers.base import EventSourceHooks
from lockgate.service_config import Section

if TYPE_CHECKING:
    from lockgate.drivers.gerrit.event_source import GerritEventSource
    from lockgate.drivers.gerrit.query import GerritHTTP, GerritQuery
    from lockgate.drivers.gerrit.reporter import GerritReporter
    from lockgate.drivers.gerrit.source import GerritSource
    from lockgate.drivers.gerrit.ssh import GerritSSH

DEFAULT_GITWEB = "{baseurl}/gitweb?p={project.name}.git;a=commitdiff;h={sha}"
AUTH_TYPES = ("basic", "digest", "form", "gcloud_service")
UNSUPPORTED_AUTH = {
    "form": "logging in through Gerrit's web form is not supported; use basic",
    "gcloud_service": "Google Cloud service-account auth is not supported; use basic",
}
# Event transports Zuul offers beside stream-events; their keys are known so
# the error can say what is wrong instead of "unknown key".
OTHER_TRANSPORTS = {
    "kafka": (
        "kafka_bootstrap_servers",
        "kafka_topic",
        "kafka_client_id",
        "kafka_group_id",
        "kafka_tls_cert",
        "kafka_tls_key",
        "kafka_tls_ca",
    ),
    "aws_kinesis": (
        "aws_kinesis_region",
        "aws_kinesis_stream",
        "aws_kinesis_access_key",
        "aws_kinesis_secret_key",
    ),
    "gcloud_pubsub": (
        "gcloud_pubsub_project",
        "gcloud_pubsub_topic",
        "gcloud_pubsub_subscription_id",
        "gcloud_pubsub_private_key",
    ),
}
KEYS = {
    "driver",
    "name",
    "server",
    "ssh_server",
    "port",
    "canonical_hostname",
    "baseurl",
    "user",
    "sshkey",
    "keepalive",
    "password",
    "auth_type",
    "verify_ssl",
    "git_over_ssh",
    "gitweb_url_template",
    "max_dependencies",
    "stream_events",
    "event_delay",
    "known_hosts",
    "timeout",
} | {key for keys in OTHER_TRANSPORTS.values() for key in keys}


@dataclass(frozen=True)
class GerritConfig:
    """One ``[connection NAME]`` section of a Gerrit connection, checked."""

    name: str
    server: str
    ssh_server: str
    port: int = 29418
    canonical_hostname: str = ""
    baseurl: str = ""
    user: str = "zuul"
    sshkey: str | None = None
    keepalive: int = 60
    password: str | None = None
    auth_type: str = "basic"
    verify_ssl: bool = True
    git_over_ssh: bool = False
    gitweb_url_template: str = DEFAULT_GITWEB
    max_dependencies: int | None = None
    stream_events: bool = True
    event_delay: float = 10.0
    known_hosts: str | None = None
    timeout: float = 30.0

    def __repr__(self) -> str:
        # Never show the password in a log line or a traceback.
        shown = "***" if self.password else None
        return f"GerritConfig(name={self.name!r}, server={self.server!r}, password={shown})"

    @property
    def use_http(self) -> bool:
        """Queries and reports go over REST (Zuul: whenever a password is set)."""
        return bool(self.password)

    @classmethod
    def from_section(cls, name: str, section: Section) -> GerritConfig:
        section.known(KEYS)
        for transport, keys in OTHER_TRANSPORTS.items():
            for key in keys:
                if section.get(key):
                    raise section.error(
                        key,
                        f"Gerrit events over {transport} are not supported by Lockgate; "
                        "remove the " + transport + "_* keys to use stream-events over SSH",
                    )
        server = section.require("server").strip()
        if not server or server.startswith("-") or "/" in server:
            raise section.error("server", f"not a host name: {server!r}")
        baseurl = (section.get("baseurl") or f"https://{server}").strip().rstrip("/")
        parts = urlsplit(baseurl)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise section.error("baseurl", f"not an http(s) URL: {baseurl!r}")
        port = section.get_int("port", 29418)
        assert port is not None
        if not 0 < port < 65536:
            raise section.error("port", f"not a TCP port: {port}")
        keepalive = section.get_int("keepalive", 60)
        assert keepalive is not None
        if keepalive < 0:
            raise section.error("keepalive", "must be 0 (off) or a number of seconds")
        auth_type = (section.get("auth_type") or "basic").strip().lower()
        if auth_type not in AUTH_TYPES:
            raise section.error(
                "auth_type", f"unknown value {auth_type!r} (known: {', '.join(AUTH_TYPES)})"
            )
        if auth_type in UNSUPPORTED_AUTH:
            raise section.error("auth_type", UNSUPPORTED_AUTH[auth_type])
        event_delay = _non_negative(section, "event_delay", 10.0)
        timeout = _non_negative(section, "timeout", 30.0)
        if timeout == 0:
            raise section.error("timeout", "must be a positive number of seconds")
        max_dependencies = section.get_int("max_dependencies")
        if max_dependencies is not None and max_dependencies < 0:
            raise section.error("max_dependencies", "must be 0 or more")
        template = section.get("gitweb_url_template") or DEFAULT_GITWEB
        return cls(
            name=name,
            server=server,
            ssh_server=(section.get("ssh_server") or server).strip(),
            port=port,
            canonical_hostname=(section.get("canonical_hostname") or server).strip(),
            baseurl=baseurl,
            user=(section.get("user") or "zuul").strip(),
            sshkey=section.get_path("sshkey"),
            keepalive=keepalive,
            password=section.get("password") or None,
            auth_type=auth_type,
            verify_ssl=section.get_bool("verify_ssl", True),
            git_over_ssh=section.get_bool("git_over_ssh", False),
            gitweb_url_template=template,
            max_dependencies=max_dependencies,
            stream_events=section.get_bool("stream_events", True),
            event_delay=event_delay,
            known_hosts=section.get_path("known_hosts"),
            timeout=timeout,
        )

    # --- derived names --------------------------------------------------------------

    def ssh_url(self, project: str) -> str:
        return f"ssh://{self.user}@{self.ssh_server}:{self.port}/{project.strip('/')}"

    def http_git_url(self, project: str, *, with_credentials: bool = True) -> str:
        """The project over HTTP: ``{baseurl}/a/{project}`` with the user and
        password in the URL (git has no other way to take them without a
        prompt); ``lockgate.git`` masks them in every message."""
        project = project.strip("/")
        if not self.password:
            return f"{self.baseurl}/{project}"
        parts = urlsplit(self.baseurl)
        netloc = parts.netloc
        if with_credentials:
            user = quote(self.user, safe="")
            secret = quote(self.password, safe="")
            netloc = f"{user}:{secret}@{netloc}"
        return urlunsplit((parts.scheme, netloc, f"{parts.path}/a/{project}", "", ""))

    def clone_url(self, project: str) -> str:
        if self.git_over_ssh or not self.password:
            return self.ssh_url(project)
        return self.http_git_url(project)

    def ssh_command(self) -> str:
        """What ``GIT_SSH_COMMAND`` should be for git over SSH to this server."""
        args = ["ssh", "-o", "BatchMode=yes"]
        if self.sshkey:
            args += ["-i", self.sshkey, "-o", "IdentitiesOnly=yes"]
        if self.known_hosts:
            args += ["-o", f"UserKnownHostsFile={self.known_hosts}"]
            args += ["-o", "StrictHostKeyChecking=yes"]
        else:
            # As the paramiko clients: accept a new host (warned), refuse a changed one.
            args += ["-o", "StrictHostKeyChecking=accept-new"]
        if self.keepalive:
            args += ["-o", f"ServerAliveInterval={self.keepalive}"]
        return " ".join(shlex.quote(a) for a in args)

    def git_env(self) -> dict[str, str]:
        """Extra environment for git commands on this connection's clone URLs
        (pass to ``lockgate.git.run_git(..., env=...)``/``ls_remote``)."""
        if self.clone_url("x").startswith("ssh://"):
            return {"GIT_SSH_COMMAND": self.ssh_command()}
        if not self.verify_ssl:
            return {"GIT_SSL_NO_VERIFY": "1"}
        return {}


def _non_negative(section: Section, key: str, default: float) -> float:
    value = section.get_float(key, default)
    assert value is not None
    if not math.isfinite(value) or value < 0:
        raise section.error(key, f"must be 0 or more seconds, got {section.get(key)!r}")
    return value


class GerritConnection:
    """A live Gerrit connection: its config and the clients made from it.

    The SSH client and the HTTP session are made on first use and shared by
    the source, the reporter and the queries of this connection (both are
    safe to use from several threads); the event stream opens its own SSH
    connection, so a stalled stream never blocks a query.
    """

    driver_name = "gerrit"

    def __init__(self, config: GerritConfig) -> None:
        self.config = config
        self._lock = threading.Lock()
        self._ssh: GerritSSH | None = None
        self._http: GerritHTTP | None = None
        self._query: GerritQuery | None = None

    def __repr__(self) -> str:
        return f"GerritConnection({self.config.name!r}, {self.config.server!r})"

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def canonical_hostname(self) -> str:
        return self.config.canonical_hostname

    @property
    def baseurl(self) -> str:
        return self.config.baseurl

    @classmethod
    def from_section(cls, name: str, section: Section) -> GerritConnection:
        return cls(GerritConfig.from_section(name, section))

    # --- clients --------------------------------------------------------------------

    def new_ssh(self) -> GerritSSH:
        """A new SSH client for this server (the event stream keeps its own)."""
        from lockgate.drivers.gerrit.ssh import GerritSSH

        c = self.config
        return GerritSSH(
            c.ssh_server,
            c.port,
            c.user,
            key_filename=c.sshkey,
            known_hosts=c.known_hosts,
            keepalive=c.keepalive,
            timeout=c.timeout,
        )

    def ssh(self) -> GerritSSH:
        with self._lock:
            if self._ssh is None:
                self._ssh = self.new_ssh()
            return self._ssh

    def http(self) -> GerritHTTP:
        from lockgate.drivers.gerrit.query import GerritHTTP

        with self._lock:
            if self._http is None:
                c = self.config
                self._http = GerritHTTP(
                    c.baseurl,
                    c.user,
                    c.password or "",
                    auth_type=c.auth_type,
                    verify_ssl=c.verify_ssl,
                    timeout=c.timeout,
                )
            return self._http

    def query(self) -> GerritQuery:
        from lockgate.drivers.gerrit.query import GerritQuery

        with self._lock:
            if self._query is None:
                self._query = GerritQuery(self)
            return self._query

    def close(self) -> None:
        """Close the shared clients (they reopen on next use)."""
        with self._lock:
            ssh, self._ssh = self._ssh, None
            http, self._http = self._http, None
        if ssh is not None:
            ssh.close()
        if http is not None:
            http.close()

    # --- what the scheduler asks for ------------------------------------------------

    def source(self) -> GerritSource:
        from lockgate.drivers.gerrit.source import GerritSource

        return GerritSource(self)

    def reporter(self) -> GerritReporter:
        from lockgate.drivers.gerrit.reporter import GerritReporter

        return GerritReporter(self)

    def event_source(self, hooks: EventSourceHooks) -> GerritEventSource | None:
        if not self.config.stream_events:
            return None
        from lockgate.drivers.gerrit.event_source import GerritEventSource

        return GerritEventSource(self, hooks)
