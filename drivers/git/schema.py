"""Voluptuous schema of one ``pipeline.trigger.<git connection>`` entry.

Zuul's attributes: ``event`` (required; only ``ref-updated``), ``ref`` (Zuul
regular expressions, matched at the start of the full ref), ``ignore-deletes``
(default true), ``debug``.  Lockgate adds ``branch`` (regular expressions
matched against the branch name of ``refs/heads/*`` updates, as Gerrit's
trigger has); configurations meant to run on Zuul too should use ``ref``.

Used by the config loader (through ``GitDriver.trigger_schema``) and by
``lockgate.drivers.git.trigger`` before compiling a filter.
"""

from __future__ import annotations

import voluptuous as vs
from lockgate.drivers.base import scalar_or_list

EVENTS = ("ref-updated",)

# A Zuul regular expression: a string, or {regex: ..., negate: bool}.
ZUUL_REGEX = vs.Any(str, {vs.Required("regex"): str, "negate": bool})


def trigger_schema() -> vs.Schema:
    event = vs.In(EVENTS, msg="the git driver's only event is 'ref-updated'")
    return vs.Schema(
        {
            vs.Required("event"): scalar_or_list(event),
            "ref": scalar_or_list(ZUUL_REGEX),
            "branch": scalar_or_list(ZUUL_REGEX),
            "ignore-deletes": bool,
            "debug": bool,
        }
    )
