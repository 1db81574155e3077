"""Helpers for the GitHub emulator's tests: a webhook receiver (a small HTTP
server in a thread that records each delivery and answers the status a test
chooses), a JSON-Schema (draft-07) checker for the corpus schemas, and a
recursive key-set and value-type comparison against the corpus examples.

The checker implements the keywords the corpus schemas use (``type``,
``properties``, ``required``, ``additionalProperties``, ``items``, ``enum``,
``const``, ``oneOf``, ``anyOf``, ``allOf``, ``$ref`` to files and
``#/definitions``, ``minimum``); ``format`` is not checked.  jsonschema is not
installed here; this is enough for these schemas and says where a value breaks
one.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.corpus import corpus_root

WEBHOOKS = corpus_root() / "github-webhooks"
EXAMPLES = WEBHOOKS / "examples"
SCHEMAS = WEBHOOKS / "schemas"


# -- webhook receiver ---------------------------------------------------------------


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes

    @property
    def event(self) -> str:
        return self.headers["X-GitHub-Event"]

    @property
    def payload(self) -> dict[str, Any]:
        return json.loads(self.body)


@dataclass
class Receiver:
    url: str
    received: list[Received] = field(default_factory=list)
    status: int = 200

    def events(self, event: str | None = None, action: str | None = None) -> list[Received]:
        return [
            r
            for r in list(self.received)
            if (event is None or r.event == event)
            and (action is None or r.payload.get("action") == action)
        ]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    holder: dict[str, Receiver] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            length = int(self.headers.get("Content-Length", 0))
            body = self.rfile.read(length)
            rec = holder["r"]
            rec.received.append(Received(dict(self.headers.items()), body))
            self.send_response(rec.status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    holder["r"] = Receiver(f"http://127.0.0.1:{server.server_address[1]}/payload")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield holder["r"]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


# -- JSON Schema (draft-07 subset) ------------------------------------------------------

TYPES = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}


class SchemaChecker:
    def __init__(self, root: Path = SCHEMAS):
        self.root = root
        self._cache: dict[Path, dict[str, Any]] = {}

    def load(self, path: Path) -> dict[str, Any]:
        path = path.resolve()
        if path not in self._cache:
            self._cache[path] = json.loads(path.read_text())
        return self._cache[path]

    def errors(self, value: Any, schema_file: Path) -> list[str]:
        out: list[str] = []
        self._check(value, self.load(schema_file), schema_file, "$", out)
        return out

    def _resolve(self, ref: str, base: Path) -> tuple[dict[str, Any], Path]:
        file_part, _, pointer = ref.partition("#")
        target = (
            base
            if not file_part
            else (
                self.root / file_part
                if file_part.startswith("common/")
                else base.parent / file_part
            )
        )
        schema = self.load(target)
        for part in [p for p in pointer.split("/") if p]:
            schema = schema[part]
        return schema, target

    def _check(
        self, value: Any, schema: dict[str, Any], base: Path, where: str, out: list[str]
    ) -> None:
        if "$ref" in schema:
            target, target_base = self._resolve(schema["$ref"], base)
            self._check(value, target, target_base, where, out)
        types = schema.get("type")
        if types is not None:
            names = types if isinstance(types, list) else [types]
            if not any(TYPES[n](value) for n in names):
                out.append(f"{where}: {type(value).__name__} {value!r:.60} is not {names}")
                return
        if "enum" in schema and value not in schema["enum"]:
            out.append(f"{where}: {value!r} not in {schema['enum']}")
        if "const" in schema and value != schema["const"]:
            out.append(f"{where}: {value!r} is not {schema['const']!r}")
        if "minimum" in schema and isinstance(value, int | float) and value < schema["minimum"]:
            out.append(f"{where}: {value} < {schema['minimum']}")
        for sub in schema.get("allOf", []):
            self._check(value, sub, base, where, out)
        for key in ("oneOf", "anyOf"):
            if key in schema:
                results = []
                for sub in schema[key]:
                    errs: list[str] = []
                    self._check(value, sub, base, where, errs)
                    results.append(errs)
                passing = sum(1 for r in results if not r)
                if passing == 0 or (key == "oneOf" and passing > 1):
                    best = min(results, key=len)
                    out.append(
                        f"{where}: {key} matched {passing} of {len(results)}"
                        + (f" (closest: {best[:3]})" if best else "")
                    )
        if isinstance(value, dict):
            props = schema.get("properties", {})
            for name in schema.get("required", []):
                if name not in value:
                    out.append(f"{where}: missing required {name!r}")
            extra = schema.get("additionalProperties", True)
            for name, item in value.items():
                if name in props:
                    self._check(item, props[name], base, f"{where}.{name}", out)
                elif extra is False:
                    out.append(f"{where}: unexpected key {name!r}")
                elif isinstance(extra, dict):
                    self._check(item, extra, base, f"{where}.{name}", out)
        if isinstance(value, list) and isinstance(schema.get("items"), dict):
            for i, item in enumerate(value):
                self._check(item, schema["items"], base, f"{where}[{i}]", out)


# -- shape comparison with the examples -------------------------------------------------------


def shape_differences(ours: Any, example: Any, where: str = "$") -> list[str]:
    """Key sets and value types, recursively; ``null`` on either side is not a
    type difference (the schemas say which fields may be null), and a list is
    compared through its first elements when both have one."""
    if ours is None or example is None:
        return []
    if isinstance(example, dict):
        if not isinstance(ours, dict):
            return [f"{where}: {type(ours).__name__}, example has an object"]
        diffs = [f"{where}: missing {k!r}" for k in example if k not in ours]
        diffs += [f"{where}: extra {k!r}" for k in ours if k not in example]
        for k in example:
            if k in ours:
                diffs += shape_differences(ours[k], example[k], f"{where}.{k}")
        return diffs
    if isinstance(example, list):
        if not isinstance(ours, list):
            return [f"{where}: {type(ours).__name__}, example has a list"]
        if ours and example:
            return shape_differences(ours[0], example[0], f"{where}[0]")
        return []
    number = (int, float)
    if isinstance(example, bool) or isinstance(ours, bool):
        same = isinstance(example, bool) and isinstance(ours, bool)
    elif isinstance(example, number) and isinstance(ours, number):
        same = True
    else:
        same = type(ours) is type(example)
    return [] if same else [f"{where}: {type(ours).__name__}, example has {type(example).__name__}"]
