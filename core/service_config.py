"""The service configuration file: an INI file in ``zuul.conf``'s shape.

Every command reads it (``-c FILE``, default ``/etc/lockgate/lockgate.conf``).
Known sections have a declared set of keys with defaults; a wrong or missing
key raises ``ServiceConfigError`` naming the file, section and key, which the
command line prints as one line and exits with status 2.  Keys are written
with either ``_`` or ``-`` (Zuul accepts both in places); we store them with
``_``.

``[connection NAME]`` and ``[provider NAME]`` sections are open-ended: only
``driver`` is checked here, the driver (or launcher provider) validates the
rest through ``Section.require``/``Section.known``.

Every other key Zuul documents for a section is accepted too, so that a
``zuul.conf`` works unchanged: ``lockgate.service_keys`` lists those Lockgate
has no use for, with the reason, and the command line logs the ones a file
sets.  A key Zuul does not know either is refused, with a "did you mean".
"""

from __future__ import annotations

import configparser
import difflib
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from lockgate.service_keys import IGNORED, IGNORED_OPEN

DEFAULT_PATH = "/etc/lockgate/lockgate.conf"

# section -> {key: default}; a default of REQUIRED means the key must be set.
REQUIRED = object()
KNOWN_SECTIONS: dict[str, dict[str, object]] = {
    "zookeeper": {
        "hosts": REQUIRED,
        "tls_ca": None,
        "tls_cert": None,
        "tls_key": None,
        "session_timeout": "10",
        "chroot": None,
    },
    "keystore": {"password": None},
    "scheduler": {
        "tenant_config": REQUIRED,
        "state_dir": "/var/lib/lockgate",
        "hostname": None,
        # Autohold: seconds held nodes are kept when a request names none,
        # and the most a request may ask (0: until the hold is deleted).
        "default_hold_expiration": "0",
        "max_hold_expiration": "0",
        # The /metrics endpoint (lockgate.metrics): unset, none; 0, any free port.
        "prometheus_port": None,
        "prometheus_addr": None,
    },
    "merger": {
        "state_dir": "/var/lib/lockgate/merger",
        "git_dir": None,
        "hostname": None,
        "max_merges": "4",
        # The /metrics endpoint (lockgate.metrics): unset, none; 0, any free port.
        "prometheus_port": None,
        "prometheus_addr": None,
    },
    "executor": {
        "state_dir": "/var/lib/lockgate/executor",
        # The executor's git mirrors (Zuul's key); default <state_dir>/git.
        "git_dir": None,
        "private_key_file": "~/.ssh/id_rsa",
        "zone": None,
        # A zoned executor also takes unzoned builds (Zuul's key).
        "allow_unzoned": "false",
        "hostname": None,
        "variables": None,
        "trusted_ro_paths": None,
        "trusted_rw_paths": None,
        "untrusted_ro_paths": None,
        "untrusted_rw_paths": None,
        "job_dir": None,
        "keep_jobdir": "false",
        "log_root": None,
        "log_url": None,
        "max_builds": "4",
        # Whether this executor also serves merge requests (Zuul's key), and
        # how many at once.
        "merge_jobs": "true",
        "max_merges": "2",
        "sandbox": "bubblewrap",
        # Where running builds' consoles are served to the web (port 0: any).
        "console_stream_listen_address": "127.0.0.1",
        "console_stream_port": "0",
        # The /metrics endpoint (lockgate.metrics): unset, none; 0, any free port.
        "prometheus_port": None,
        "prometheus_addr": None,
    },
    "launcher": {
        "state_dir": "/var/lib/lockgate/launcher",
        "hostname": None,
        # The /metrics endpoint (lockgate.metrics): unset, none; 0, any free port.
        "prometheus_port": None,
        "prometheus_addr": None,
    },
    "web": {
        "listen_address": "127.0.0.1",
        "port": "9000",
        # The /metrics endpoint (lockgate.metrics): unset, none; 0, any free port.
        "prometheus_port": None,
        "prometheus_addr": None,
    },
    # Zuul's statsd section: every component sends its metrics there.
    "statsd": {"server": None, "port": "8125", "prefix": None},
    # Lockgate's own: how log lines are written (lockgate.logs).
    "logging": {"format": "text"},
    "database": {
        "dburi": "sqlite:////var/lib/lockgate/lockgate.db",
        "table_prefix": "",
        "pool_recycle": None,
    },
}
OPEN_SECTIONS = ("connection", "provider", "auth")


class ServiceConfigError(Exception):
    """A problem in the service config; ``str()`` is the one line users see."""


@dataclass
class Section:
    """One section's values, with the file and section name for errors."""

    path: str
    name: str
    values: dict[str, str] = field(default_factory=dict)
    #: The keys the file sets (``values`` also holds defaults).
    explicit: frozenset[str] = frozenset()

    def error(self, key: str, message: str) -> ServiceConfigError:
        return ServiceConfigError(f"{self.path}: [{self.name}] {key}: {message}")

    def get(self, key: str, default: str | None = None) -> str | None:
        value = self.values.get(key, default)
        return value

    def require(self, key: str) -> str:
        value = self.values.get(key)
        if value is None or value == "":
            raise self.error(key, "missing required key")
        return value

    def get_int(self, key: str, default: int | None = None) -> int | None:
        raw = self.values.get(key)
        if raw is None:
            return default
        try:
            return int(raw)
        except ValueError:
            raise self.error(key, f"expected an integer, got {raw!r}") from None

    def get_float(self, key: str, default: float | None = None) -> float | None:
        raw = self.values.get(key)
        if raw is None:
            return default
        try:
            return float(raw)
        except ValueError:
            raise self.error(key, f"expected a number, got {raw!r}") from None

    def get_bool(self, key: str, default: bool = False) -> bool:
        raw = self.values.get(key)
        if raw is None:
            return default
        lowered = raw.strip().lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        raise self.error(key, f"expected true or false, got {raw!r}")

    def get_path(self, key: str, default: str | None = None) -> str | None:
        value = self.values.get(key, default)
        return os.path.expanduser(value) if value else value

    def known(self, keys: set[str] | dict[str, object]) -> None:
        """Reject keys outside ``keys`` (for open sections validated by their owner)."""
        for key in self.values:
            if key not in keys:
                raise self.error(key, "unknown key" + _suggest(key, keys))


@dataclass
class ServiceConfig:
    path: str
    sections: dict[str, Section]

    def section(self, name: str) -> Section:
        """A known section, with defaults filled in (present or not in the file)."""
        return self.sections.get(name) or Section(self.path, name, _defaults(name))

    def has(self, name: str) -> bool:
        return name in self.sections

    def named(self, kind: str) -> dict[str, Section]:
        """Open sections of one kind: ``named("connection")`` -> {NAME: Section}."""
        prefix = kind + " "
        return {
            name[len(prefix) :].strip(): section
            for name, section in self.sections.items()
            if name.startswith(prefix)
        }

    @property
    def connections(self) -> dict[str, Section]:
        return self.named("connection")

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> ServiceConfig:
        path = str(path)
        try:
            text = Path(path).read_text()
        except OSError as e:
            raise ServiceConfigError(f"{path}: cannot read: {e.strerror or e}") from None
        return cls.parse(text, path)

    @classmethod
    def parse(cls, text: str, path: str = "<config>") -> ServiceConfig:
        parser = configparser.ConfigParser(interpolation=None, strict=True)
        try:
            parser.read_string(text, source=path)
        except configparser.Error as e:
            first = str(e).splitlines()[0]
            raise ServiceConfigError(f"{path}: {first}") from None
        sections: dict[str, Section] = {}
        for name in parser.sections():
            values = {k.replace("-", "_"): v for k, v in parser.items(name)}
            kind = name.split(" ", 1)[0]
            if kind in IGNORED_OPEN and " " in name.strip():
                sections[name] = Section(path, name, values, frozenset(values))
                continue
            if kind in OPEN_SECTIONS:
                if " " not in name.strip():
                    raise ServiceConfigError(
                        f"{path}: [{name}]: section needs a name, e.g. [{kind} NAME]"
                    )
                section = Section(path, name, values)
                if kind in ("connection", "provider"):
                    section.require("driver")
                sections[name] = section
                continue
            if name not in KNOWN_SECTIONS and name not in IGNORED:
                raise ServiceConfigError(
                    f"{path}: [{name}]: unknown section"
                    + _suggest(
                        name,
                        list(KNOWN_SECTIONS)
                        + list(IGNORED)
                        + [f"{k} NAME" for k in (*OPEN_SECTIONS, *IGNORED_OPEN)],
                    )
                )
            section = Section(path, name, _defaults(name) | values, frozenset(values))
            section.known(KNOWN_SECTIONS.get(name, {}) | IGNORED.get(name, {}))
            for key, default in KNOWN_SECTIONS.get(name, {}).items():
                if default is REQUIRED:
                    section.require(key)
            sections[name] = section
        return cls(path, sections)

    def require_section(self, name: str) -> Section:
        if name not in self.sections:
            raise ServiceConfigError(f"{self.path}: [{name}]: missing section")
        return self.sections[name]


def _defaults(name: str) -> dict[str, str]:
    return {k: v for k, v in KNOWN_SECTIONS.get(name, {}).items() if isinstance(v, str)}


def _suggest(word: str, choices: Iterable[str]) -> str:
    match = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean '{match[0]}'?)" if match else ""
