"""The YAML reader's fast builder gives exactly what PyYAML's constructor gives.

``lockgate.config.yaml`` builds plain items (untagged mappings, lists and
plain scalars) itself and hands everything else to PyYAML.  These tests
compare the two on every corpus file and on the cases where they must part.
"""

from __future__ import annotations

from typing import Any

import pytest
from lockgate.config import yaml as lgyaml

from tests.fixtures.corpus import ZUUL_CONFIG

CORPUS_FILES = sorted(ZUUL_CONFIG.rglob("*.yaml"))


def _strict(value: Any) -> Any:
    """The value with every type spelled out (``True`` is not ``1``)."""
    if isinstance(value, dict):
        return ("dict", [(_strict(k), _strict(v)) for k, v in value.items()])
    if isinstance(value, list):
        return ("list", [_strict(v) for v in value])
    return (type(value).__name__, value)


def _both(text: str) -> list[tuple[Any, Any]]:
    """(fast, PyYAML) for each top-level item the fast builder accepts."""
    loader = lgyaml.ZuulLoader(text)
    try:
        root = loader.get_single_node()
        if root is None or root.tag != "tag:yaml.org,2002:seq":
            return []  # not a list of items: the builder is never asked
        out = []
        for node in root.value:
            try:
                fast = lgyaml._build_plain(loader, node)
            except lgyaml._Unusual:
                continue
            out.append((fast, loader.construct_document(node)))
        return out
    finally:
        loader.dispose()


def test_corpus_files_build_alike():
    assert len(CORPUS_FILES) > 40
    built = 0
    for path in CORPUS_FILES:
        for fast, slow in _both(path.read_text()):
            assert _strict(fast) == _strict(slow), path
            built += 1
    assert built > 1500  # nearly every corpus item takes the fast path


def test_aliases_stay_shared_and_recursive_structures_build():
    ((fast, slow),) = _both("- {a: &v {x: [1, 2]}, b: *v}\n")
    assert fast == slow and fast["a"] is fast["b"]
    ((fast, _),) = _both("- &m {self: *m}\n")
    assert fast["self"] is fast


@pytest.mark.parametrize(
    "text",
    [
        "- {<<: {a: 1}, b: 2}\n",  # merge key
        "- {a: !inherit [1]}\n",  # Zuul tag
        "- {a: !!set {x, y}}\n",  # explicit YAML tag
        "- {? [a, b]: 1}\n",  # complex key
        "- {a: 2001-01-01}\n",  # timestamp
    ],
)
def test_unusual_items_go_to_pyyaml(text):
    assert _both(text) == []
    doc = lgyaml.load_config_yaml(text, _context())
    assert doc.items or doc.errors  # PyYAML decided


def test_scalar_types_resolve_as_pyyaml_does():
    text = "- {a: yes, b: Off, c: ~, d: '', e: 0x1F, f: 1_000, g: .inf, h: '1', i: null}\n"
    ((fast, slow),) = _both(text)
    assert _strict(fast) == _strict(slow)


def _context():
    from lockgate.config.errors import SourceContext

    return SourceContext("org/project", "master", "zuul.yaml")
