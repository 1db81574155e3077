"""Zuul's Gerrit driver: events from ``gerrit stream-events``, changes from
Gerrit's REST API or SSH queries, votes and submits back.

Files by role: ``driver.py`` (the registry entry), ``connection.py``
(service-config keys, the shared clients), ``ssh.py`` (paramiko: commands
and streams, host keys), ``events.py`` (event JSON -> ``TriggerEvent``,
dedup keys; pure), ``event_source.py`` (the stream reader, with catch-up
after a disconnect), ``query.py`` (change queries -> ``Change``),
``source.py`` (``Source``/``ChangeSource``), ``reporter.py`` (review and
submit), ``schema.py``/``trigger.py``/``requirements.py`` (pipeline
trigger filters and requirements).  See ``doc/drivers.md``.
"""

from lockgate.drivers.gerrit.connection import GerritConfig, GerritConnection
from lockgate.drivers.gerrit.driver import GerritDriver
from lockgate.drivers.gerrit.event_source import GerritEventSource
from lockgate.drivers.gerrit.reporter import GerritReporter
from lockgate.drivers.gerrit.source import GerritSource

__all__ = [
    "GerritConfig",
    "GerritConnection",
    "GerritDriver",
    "GerritEventSource",
    "GerritReporter",
    "GerritSource",
]
