"""The GitHub driver: Zuul's ``github`` driver for pull requests.

A connection (``[connection NAME]`` with ``driver=github``) takes webhooks
through the web and turns them into trigger events in the scheduler
(``GithubEventSource``), answers repository and pull request questions
(``GithubSource``) and reports (``GithubReporter``).  Pipelines trigger on
its events through ``trigger.py``/``schema.py`` and require through
``requirements.py``.  Registered as ``github`` in ``lockgate.drivers.registry``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lockgate.drivers.base import TriggerFilter
from lockgate.drivers.github.connection import GithubConnection
from lockgate.service_config import Section


class GithubDriver:
    name = "github"

    def make_connection(self, name: str, section: Section) -> GithubConnection:
        return GithubConnection.from_section(name, section)

    def trigger_schema(self) -> Any:
        from lockgate.drivers.github import schema

        return schema.trigger_schema()

    def make_trigger_filter(self, connection_name: str, spec: Mapping[str, Any]) -> TriggerFilter:
        from lockgate.drivers.github import trigger

        return trigger.make_trigger_filter(connection_name, spec)
