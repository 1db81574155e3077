"""Query-string parameters: parsed once, with a 400 naming the bad parameter.

Zuul's list endpoints take each filter once or repeated (``?result=FAILURE&
result=POST_FAILURE`` matches either); a repeated parameter becomes a list.

Integers are bounded by what the database holds, so that ``skip=10**30`` or
``change=2**63`` is a 400 naming the parameter rather than a driver's
overflow deep in a query: values compared with an integer column (a change
number, a build id) at most ``COLUMN_MAX`` (SQL ``INTEGER``), counts and
offsets at most ``COUNT_MAX`` (SQL ``BIGINT``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from lockgate.web.errors import bad_request
from multidict import MultiMapping

COLUMN_MAX = 2**31 - 1
COUNT_MAX = 2**63 - 1

TRUE = ("1", "true", "yes", "on")
FALSE = ("0", "false", "no", "off")


class Query:
    """The query of one request, restricted to the parameters an endpoint knows."""

    def __init__(self, query: MultiMapping[str], known: Iterable[str]) -> None:
        self.query = query
        known = set(known)
        unknown = sorted(set(query) - known)
        if unknown:
            raise bad_request(
                f"unknown query parameter {unknown[0]!r}; this endpoint takes: "
                + ", ".join(sorted(known))
            )

    def strings(self, name: str) -> str | list[str] | None:
        values = [v for v in self.query.getall(name, []) if v != ""]
        if not values:
            return None
        return values[0] if len(values) == 1 else values

    def string(self, name: str) -> str | None:
        values = self.query.getall(name, [])
        return values[-1] if values and values[-1] != "" else None

    def integer(
        self,
        name: str,
        default: int | None = None,
        *,
        minimum: int = 0,
        maximum: int = COUNT_MAX,
    ) -> int | None:
        raw = self.string(name)
        if raw is None:
            return default
        return parse_integer(name, raw, minimum, maximum)

    def integers(
        self, name: str, *, minimum: int = 0, maximum: int = COLUMN_MAX
    ) -> int | list[int] | None:
        raw = self.strings(name)
        if raw is None:
            return None
        values = raw if isinstance(raw, list) else [raw]
        ints = [parse_integer(name, v, minimum, maximum) for v in values]
        return ints[0] if len(ints) == 1 else ints

    def column_integer(self, name: str, default: int | None = None) -> int | None:
        """An integer compared with an integer column (an id)."""
        return self.integer(name, default, maximum=COLUMN_MAX)

    def boolean(self, name: str) -> bool | None:
        raw = self.string(name)
        if raw is None:
            return None
        lowered = raw.lower()
        if lowered in TRUE:
            return True
        if lowered in FALSE:
            return False
        raise bad_request(f"query parameter {name!r} must be true or false, got {raw!r}")

    def as_kwargs(self, spec: dict[str, str]) -> dict[str, Any]:
        """Parse each parameter of ``spec`` ({name: "str"|"int"|"bool"})."""
        out: dict[str, Any] = {}
        for name, kind in spec.items():
            if kind == "str":
                out[name] = self.strings(name)
            elif kind == "int":
                out[name] = self.integers(name)
            elif kind == "bool":
                out[name] = self.boolean(name)
            else:  # pragma: no cover - a programming error in a spec
                raise ValueError(kind)
        return out


def parse_integer(name: str, raw: str, minimum: int = 0, maximum: int = COUNT_MAX) -> int:
    """``raw`` as an integer within bounds, or a 400 naming ``name``.

    The text is checked for length before ``int()`` sees it: a parameter of
    a million digits is refused without the quadratic conversion."""
    text = raw.strip()
    digits = text.lstrip("+-")
    if not digits.isdigit() or not digits.isascii():
        shown = raw if len(raw) <= 40 else raw[:40] + "..."
        raise bad_request(f"query parameter {name!r} must be an integer, got {shown!r}")
    if len(digits.lstrip("0")) > len(str(maximum)):
        raise bad_request(f"query parameter {name!r} must be at most {maximum}")
    value = int(text)
    if value < minimum:
        raise bad_request(f"query parameter {name!r} must be at least {minimum}")
    if value > maximum:
        raise bad_request(f"query parameter {name!r} must be at most {maximum}")
    return value
