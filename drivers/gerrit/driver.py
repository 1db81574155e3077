"""The Gerrit driver: Zuul's ``gerrit`` driver for Gerrit code review.

A connection (``[connection NAME]`` with ``driver=gerrit``) streams events
(``GerritEventSource``), answers project and change questions
(``GerritSource``) and reports (``GerritReporter``).  Pipelines trigger on
its events through ``trigger.py``/``schema.py`` (trigger filters and
pipeline requirements).  Registered as ``gerrit`` in
``lockgate.drivers.registry``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lockgate.drivers.base import TriggerFilter
from lockgate.drivers.gerrit.connection import GerritConnection
from lockgate.service_config import Section


class GerritDriver:
    name = "gerrit"

    def make_connection(self, name: str, section: Section) -> GerritConnection:
        return GerritConnection.from_section(name, section)

    def trigger_schema(self) -> Any:
        # Imported here: the trigger side is its own module, loaded on first use.
        from lockgate.drivers.gerrit import schema

        return schema.trigger_schema()

    def make_trigger_filter(self, connection_name: str, spec: Mapping[str, Any]) -> TriggerFilter:
        from lockgate.drivers.gerrit import trigger

        return trigger.make_trigger_filter(connection_name, spec)
