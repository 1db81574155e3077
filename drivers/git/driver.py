"""The git driver: Zuul's ``git`` driver for plain git servers and local repositories.

A connection polls refs (``GitPoller``) and answers project questions
(``GitSource``); pipelines trigger on its ``ref-updated`` events
(``GitTriggerFilter``).  Registered as ``git`` in ``lockgate.drivers.registry``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import voluptuous as vs
from lockgate.drivers.git import schema, trigger
from lockgate.drivers.git.connection import GitConnection
from lockgate.service_config import Section


class GitDriver:
    name = "git"

    def make_connection(self, name: str, section: Section) -> GitConnection:
        return GitConnection.from_section(name, section)

    def trigger_schema(self) -> vs.Schema:
        return schema.trigger_schema()

    def make_trigger_filter(
        self, connection_name: str, spec: Mapping[str, Any]
    ) -> trigger.GitTriggerFilter:
        return trigger.make_trigger_filter(connection_name, spec)
