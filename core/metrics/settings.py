"""Where a component's metrics go, read from the service config.

Who calls it: ``Metrics.for_component`` (``lockgate.metrics.registry``), at
each component's construction, so a bad value stops the start with a
one-line error naming the file, section and key.

Keys (Zuul's where Zuul has them):

- ``[scheduler]``, ``[executor]``, ``[merger]``, ``[web]`` and Lockgate's own
  ``[launcher]``: ``prometheus_port`` (unset: no endpoint; 0: any free port,
  logged) and ``prometheus_addr`` (default 127.0.0.1 -- Zuul's default is
  0.0.0.0; Lockgate listens on loopback unless told otherwise);
- ``[statsd]``: ``server`` (unset: no statsd), ``port`` (8125), ``prefix``.
"""

from __future__ import annotations

from dataclasses import dataclass

from lockgate.service_config import Section, ServiceConfig

DEFAULT_ADDR = "127.0.0.1"
DEFAULT_STATSD_PORT = 8125


@dataclass(frozen=True)
class StatsdSettings:
    server: str
    port: int = DEFAULT_STATSD_PORT
    prefix: str | None = None


@dataclass(frozen=True)
class MetricsSettings:
    prometheus_addr: str = DEFAULT_ADDR
    prometheus_port: int | None = None
    statsd: StatsdSettings | None = None


def settings_from_config(config: ServiceConfig, section_name: str) -> MetricsSettings:
    """The metrics settings of the component whose section is ``section_name``."""
    section = config.section(section_name)
    port = _port(section, "prometheus_port", None)
    addr = section.get("prometheus_addr") or DEFAULT_ADDR
    statsd = None
    if config.has("statsd"):
        stats = config.section("statsd")
        server = stats.get("server")
        if server:
            statsd = StatsdSettings(
                server=server,
                port=_port(stats, "port", DEFAULT_STATSD_PORT) or DEFAULT_STATSD_PORT,
                prefix=stats.get("prefix") or None,
            )
    return MetricsSettings(prometheus_addr=addr, prometheus_port=port, statsd=statsd)


def _port(section: Section, key: str, default: int | None) -> int | None:
    value = section.get_int(key, default)
    if value is not None and not 0 <= value <= 65535:
        raise section.error(key, f"expected a port number (0-65535), got {value}")
    return value
