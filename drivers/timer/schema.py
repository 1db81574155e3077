"""Voluptuous schema of one ``pipeline.trigger.timer`` entry.

Zuul's attributes: ``time`` (required; one value or a list, see
``lockgate.drivers.timer.timespec``) and ``dereference`` (default false: the
event names only the branch; true: it also carries the branch head's sha, so
a new tick enqueues again even while an item for that branch is queued).
"""

from __future__ import annotations

import voluptuous as vs
from lockgate.drivers.base import scalar_or_list


def trigger_schema() -> vs.Schema:
    return vs.Schema(
        {
            vs.Required("time"): scalar_or_list(str),
            "dereference": bool,
        }
    )
