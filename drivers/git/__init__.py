"""Zuul's git driver: connections to plain git servers, polled for ref updates.

Files by role: ``driver.py`` (the registry entry), ``connection.py``
(service-config keys), ``source.py`` (branches and refs of a project),
``event_source.py`` (the poller), ``trigger.py`` and ``schema.py`` (pipeline
trigger filters).  See ``doc/drivers.md``.
"""

from lockgate.drivers.git.connection import GitConnection
from lockgate.drivers.git.driver import GitDriver
from lockgate.drivers.git.event_source import GitPoller, ref_updates
from lockgate.drivers.git.source import GitSource
from lockgate.drivers.git.trigger import GitTriggerFilter

__all__ = [
    "GitConnection",
    "GitDriver",
    "GitPoller",
    "GitSource",
    "GitTriggerFilter",
    "ref_updates",
]
