"""Reading the keys every provider section shares (labels, max_servers,
executor_zone).

Who calls it: each provider's constructor, with its ``[provider NAME]``
``Section``; errors are ``ServiceConfigError``s naming file, section and key.
"""

from __future__ import annotations

import re

from lockgate.service_config import Section

COMMON_KEYS = {"driver", "labels", "max_servers", "executor_zone"}
_LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")


def split_list(raw: str) -> list[str]:
    """``a, b c`` -> ``["a", "b", "c"]`` (commas, spaces and newlines all separate)."""
    return [item for item in re.split(r"[,\s]+", raw) if item]


def labels_of(section: Section, key: str = "labels", raw: str | None = None) -> list[str]:
    """Validated labels from ``key`` (or from ``raw``, reported as ``key``)."""
    value = raw if raw is not None else section.require(key)
    labels = split_list(value)
    if not labels:
        raise section.error(key, "needs at least one label")
    for label in labels:
        if not _LABEL.match(label):
            raise section.error(key, f"invalid label {label!r} (letters, digits, _ . : -)")
    return labels


def positive_int(section: Section, key: str, default: int) -> int:
    value = section.get_int(key, default)
    assert value is not None
    if value < 1:
        raise section.error(key, f"must be at least 1, got {value}")
    return value


def executor_zone_of(section: Section) -> str | None:
    """``executor-zone``: the executor zone of the provider's nodes (Zuul's
    ``executor-zone`` node attribute, which Nodepool sets with a pool's
    ``node-attributes``): builds on them go to the executors of that zone
    (``[executor] zone``).  None when not set."""
    value = (section.get("executor_zone") or "").strip()
    if not value:
        return None
    if not _LABEL.match(value):
        raise section.error("executor_zone", f"invalid zone {value!r} (letters, digits, _ . : -)")
    return value


def provider_name(section: Section) -> str:
    """The NAME of ``[provider NAME]``."""
    return section.name.split(" ", 1)[1].strip()
