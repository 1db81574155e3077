"""Test helper: YAML text -> ``ConfigObject`` records, with file and line.

The layout tests build their inputs from small YAML snippets written from
Zuul's documentation.  This helper does only what the tests need (one file
at a time, the override-control tags as ``Inherit``/``Override`` wrappers
with a ``value``); the real reader is ``lockgate.config.parser``.
"""

from __future__ import annotations

from typing import Any

import yaml

from lockgate.config.errors import SourceContext
from lockgate.config.objects import ConfigObject


class Inherit:
    def __init__(self, value: Any) -> None:
        self.value = value


class Override:
    def __init__(self, value: Any) -> None:
        self.value = value


class Encrypted:
    def __init__(self, chunks: list[str]) -> None:
        self.ciphertext = chunks


class _Loader(yaml.SafeLoader):
    pass


def _tagged(cls: type) -> Any:
    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
        if isinstance(node, yaml.SequenceNode):
            return cls(loader.construct_sequence(node, deep=True))
        if isinstance(node, yaml.MappingNode):
            return cls(loader.construct_mapping(node, deep=True))
        return cls(loader.construct_scalar(node))

    return construct


def _encrypted(loader: yaml.SafeLoader, node: yaml.Node) -> Encrypted:
    if isinstance(node, yaml.SequenceNode):
        return Encrypted(list(loader.construct_sequence(node)))
    return Encrypted([loader.construct_scalar(node)])


_Loader.add_constructor("!inherit", _tagged(Inherit))
_Loader.add_constructor("!override", _tagged(Override))
_Loader.add_constructor("!encrypted/pkcs1-oaep", _encrypted)
_Loader.add_constructor("!unsafe", lambda loader, node: loader.construct_scalar(node))


def objects_from_yaml(
    text: str,
    project: str,
    *,
    branch: str | None = "master",
    path: str = "zuul.yaml",
    trusted: bool = False,
    connection: str = "gerrit",
) -> list[ConfigObject]:
    loader = _Loader(text)
    out: list[ConfigObject] = []
    try:
        node = loader.get_single_node()
        if node is None:
            return out
        for item in node.value:
            data = loader.construct_object(item, deep=True)
            ((kind, body),) = data.items()
            ctx = SourceContext(
                project=project,
                branch=branch,
                path=path,
                line=item.start_mark.line + 1,
                trusted=trusted,
                connection=connection,
            )
            name = body.get("name") if isinstance(body, dict) else None
            if kind == "project" and not name:
                name = project
            out.append(ConfigObject(kind, name, body, ctx))
    finally:
        loader.dispose()
    return out
