"""The ``zuul.conf`` keys Lockgate accepts without using them, and why.

An operator's ``zuul.conf`` must start Lockgate unchanged: every key Zuul
documents for a section is accepted.  Keys Lockgate has the feature for are
declared with their defaults in ``lockgate.service_config.KNOWN_SECTIONS``
and read by their component; the rest are listed here, each with the reason
it has no effect.

Who calls it: ``lockgate.service_config`` accepts these keys when it parses
the file; the command line (``lockgate.cli``) asks ``ignored_settings`` at the
start of a component and logs each ignored key the file sets, once, from
the components that would read it in Zuul.

When Lockgate gains one of these features, move the key to
``KNOWN_SECTIONS`` and read it; ``tests/unit/core/test_service_keys.py``
fails while a key listed here is read by the code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lockgate.service_config import ServiceConfig

_NO_SOCKET = (
    "Lockgate has no command socket: SIGTERM stops a component, "
    "SIGHUP makes the scheduler re-read its tenant config"
)
_LOG_CONFIG = "logging is set by the command line (-d for debug)"
_PIDFILE = "Lockgate writes no PID file; its supervisor knows the PID"
_STATS_GRAPHS = "the dashboard draws no graphs from statsd"
_TRACING = "Lockgate exports no OpenTelemetry traces"
_FINGER = "Lockgate has no finger gateway: the web streams live consoles"
_ONE_ANSIBLE = "Lockgate runs the Ansible installed with it"
_NO_WINRM = "Lockgate reaches nodes over SSH only"
_NO_GOVERNOR = "an executor takes builds up to [executor] max_builds, whatever its load"
_GIT_LIMITS = "git runs without Zuul's transfer limits"

#: section -> {key: why Lockgate ignores it}.  Sections named here and not in
#: ``KNOWN_SECTIONS`` are accepted whole.
IGNORED: dict[str, dict[str, str]] = {
    "tracing": {
        key: _TRACING
        for key in (
            "enabled",
            "protocol",
            "endpoint",
            "service_name",
            "tls_cert",
            "tls_key",
            "tls_ca",
            "certificate_file",
            "insecure",
            "timeout",
            "compression",
        )
    },
    "scheduler": {
        "command_socket": _NO_SOCKET,
        "tenant_config_script": "not supported: name the file with tenant_config",
        "default_ansible_version": _ONE_ANSIBLE,
        "log_config": _LOG_CONFIG,
        "pidfile": _PIDFILE,
        "relative_priority": "node requests are not prioritised by queue position",
    },
    "merger": {
        "command_socket": _NO_SOCKET,
        "git_http_low_speed_limit": _GIT_LIMITS,
        "git_http_low_speed_time": _GIT_LIMITS,
        "git_timeout": _GIT_LIMITS,
        "git_user_email": "merge commits have a fixed identity, so that executors "
        "rebuild exactly the commits the merger made",
        "git_user_name": "merge commits have a fixed identity, so that executors "
        "rebuild exactly the commits the merger made",
        "log_config": _LOG_CONFIG,
        "pidfile": _PIDFILE,
    },
    "executor": {
        "command_socket": _NO_SOCKET,
        "finger_port": _FINGER,
        "log_config": _LOG_CONFIG,
        "pidfile": _PIDFILE,
        "default_username": "a node's user name comes from its provider ([provider NAME])",
        "winrm_cert_key_file": _NO_WINRM,
        "winrm_cert_pem_file": _NO_WINRM,
        "winrm_operation_timeout_sec": _NO_WINRM,
        "winrm_read_timeout_sec": _NO_WINRM,
        "manage_ansible": _ONE_ANSIBLE,
        "ansible_root": _ONE_ANSIBLE,
        "ansible_setup_timeout": _ONE_ANSIBLE,
        "disk_limit_per_job": "build directories have no size limit",
        "load_multiplier": _NO_GOVERNOR,
        "max_starting_builds": _NO_GOVERNOR,
        "min_avail_hdd": _NO_GOVERNOR,
        "min_avail_inodes": _NO_GOVERNOR,
        "min_avail_mem": _NO_GOVERNOR,
        "output_max_bytes": "a playbook's output is not cut",
        "paused_on_start": "an executor takes builds as soon as it starts",
        "sigterm_method": "SIGTERM always hands running builds back to be retried elsewhere",
    },
    "web": {
        "command_socket": _NO_SOCKET,
        "log_config": _LOG_CONFIG,
        "pidfile": _PIDFILE,
        "root": "links in reports and the dashboard are not built from it yet",
        "status_url": "reports carry no status link yet",
        "websocket_url": "the console stream is served by the web itself",
        "stats_url": _STATS_GRAPHS,
        "stats_type": _STATS_GRAPHS,
        "static_path": "the dashboard's files are served from the package",
        "static_cache_expiry": "the dashboard's files are served without a cache header",
        "zone": "the web reaches every executor's console directly",
    },
    "fingergw": {
        key: _FINGER
        for key in (
            "command_socket",
            "listen_address",
            "log_config",
            "pidfile",
            "port",
            "user",
            "hostname",
            "zone",
            "tls_cert",
            "tls_key",
            "tls_ca",
            "tls_verify_hostnames",
            "tls_client_only",
        )
    },
    "webclient": {
        "url": "zuul-client's section: Lockgate's admin commands are not there yet",
        "verify_ssl": "zuul-client's section: Lockgate's admin commands are not there yet",
    },
}

#: Open sections (``[KIND NAME]``) that are accepted whole and ignored.
IGNORED_OPEN: dict[str, str] = {
    "ansible_callback": "jobs run with Lockgate's own Ansible callbacks only",
}

#: The sections each command reads (as the matching Zuul component would):
#: an ignored key is reported by the components that would have used it.
SECTIONS_OF: dict[str, tuple[str, ...]] = {
    "scheduler": ("zookeeper", "keystore", "scheduler", "web", "database", "statsd", "tracing"),
    "executor": ("zookeeper", "keystore", "executor", "merger", "statsd", "tracing"),
    "merger": ("zookeeper", "keystore", "merger", "statsd", "tracing"),
    "launcher": ("zookeeper", "launcher", "statsd", "tracing"),
    "web": (
        "zookeeper",
        "keystore",
        "web",
        "database",
        "statsd",
        "tracing",
        "fingergw",
        "webclient",
    ),
}
_OPEN_OF = {"ansible_callback": "executor"}


@dataclass(frozen=True)
class IgnoredSetting:
    """A key (or a whole ``[KIND NAME]`` section) of the file with no effect here."""

    section: str
    key: str | None
    why: str

    def __str__(self) -> str:
        where = f"[{self.section}] {self.key}" if self.key else f"[{self.section}]"
        return f"{where}: ignored (a zuul.conf setting Lockgate has no use for): {self.why}"


def ignored_settings(config: ServiceConfig, command: str) -> list[IgnoredSetting]:
    """The settings of ``config`` that ``command`` (scheduler, executor, ...)
    would read in Zuul and that have no effect in Lockgate, in file order."""
    wanted = SECTIONS_OF.get(command, ())
    found: list[IgnoredSetting] = []
    for name, section in config.sections.items():
        kind = name.split(" ", 1)[0]
        if kind in IGNORED_OPEN and " " in name:
            if _OPEN_OF.get(kind) == command:
                found.append(IgnoredSetting(name, None, IGNORED_OPEN[kind]))
            continue
        if name not in wanted:
            continue
        reasons = IGNORED.get(name, {})
        for key in section.explicit:
            if key in reasons:
                found.append(IgnoredSetting(name, key, reasons[key]))
    return found
