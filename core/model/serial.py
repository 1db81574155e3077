"""Plain-JSON round-tripping for the model's dataclasses.

Records cross process boundaries as JSON in ZooKeeper.  One helper does the
conversion so that every record type behaves the same way: unknown keys from a
newer writer are ignored (rolling upgrades), missing keys take their defaults.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
from typing import Any, TypeVar

T = TypeVar("T")


def to_dict(record: Any) -> dict[str, Any]:
    """A JSON-ready dict of a dataclass; enums become their values."""
    out: dict[str, Any] = {}
    for field in dataclasses.fields(record):
        out[field.name] = _plain(getattr(record, field.name))
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return to_dict(value)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


@functools.cache
def _field_names(cls: type) -> frozenset[str]:
    # Records are decoded by the thousand per scheduler pass: look the
    # fields up once per class.
    return frozenset(f.name for f in dataclasses.fields(cls))


def from_dict(cls: type[T], data: dict[str, Any]) -> T:
    """Build ``cls`` from ``data``, ignoring keys the class does not know."""
    kind: type = cls  # every class is hashable; mypy does not see it through type[T]
    names = _field_names(kind)
    return cls(**{k: v for k, v in data.items() if k in names})
