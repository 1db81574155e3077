"""Reading Zuul configuration YAML: tags, anchors, and the line of every object.

Called by ``lockgate.config.parser`` (repository files) and
``lockgate.config.tenant`` (``main.yaml``).  It turns text into a list of
top-level items, each with the 1-based line where it starts, so that every
later error can point at ``file:line``.  It never raises on bad input: syntax
errors, binary junk, empty files and non-list documents (a Zuul v2
``layout.yaml`` is a mapping) come back as ``ConfigError`` records.

Zuul's tags are represented by small types that later stages recognise:

- ``!encrypted/pkcs1-oaep`` -> ``Encrypted`` (one scalar or a list of
  base64 chunks; decrypted only by whoever holds the project key);
- ``!inherit`` / ``!override`` -> ``Inherit`` / ``Override`` wrapping the
  tagged value (list, mapping or scalar): the layout builder uses them to
  decide how a child's attribute combines with its parent's;
- ``!unsafe`` -> ``Unsafe``, a ``str`` that Ansible must not template.

Built on libyaml (``CSafeLoader``) when it is available.  Two shortcuts make
reading cheaper than a plain ``yaml.load`` of the same text while giving
exactly its result: plain scalars' implicit types are resolved through a
bounded cache (the type of ``name`` or ``true`` depends only on the text), and
an item made only of untagged mappings, lists and plain scalars is built by
one small recursive function instead of PyYAML's general constructor.
Anything else in an item (a tag, a merge key ``<<``, a complex key, a
failure of any kind) sends that whole item through PyYAML's constructor,
which stays the authority for every unusual case and every error message.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import yaml
from lockgate.config.errors import ConfigError, Severity, SourceContext
from lockgate.config.limits import ReadBudget, size_text

try:  # libyaml is an optional part of PyYAML; fall back to the pure parser.
    _BaseLoader: type = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - depends on the PyYAML build
    _BaseLoader = yaml.SafeLoader

ENCRYPTED_TAG = "!encrypted/pkcs1-oaep"
INHERIT_TAG = "!inherit"
OVERRIDE_TAG = "!override"
UNSAFE_TAG = "!unsafe"


@dataclass(frozen=True)
class Encrypted:
    """A secret value encrypted with the project's RSA key (PKCS#1 OAEP).

    ``chunks`` are the base64 texts as written; long values are split into
    several chunks, each encrypted separately.
    """

    chunks: tuple[str, ...]


@dataclass(frozen=True)
class Inherit:
    """``!inherit``: combine this value with the parent's (lists, mappings)."""

    value: Any = field(hash=False)


@dataclass(frozen=True)
class Override:
    """``!override``: replace the parent's value instead of combining."""

    value: Any = field(hash=False)


class Unsafe(str):
    """``!unsafe``: a string Ansible must pass through without templating."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"Unsafe({str.__repr__(self)})"


_STR_TAG = "tag:yaml.org,2002:str"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_MAP_TAG = "tag:yaml.org,2002:map"
# Plain-scalar tags whose SafeConstructor functions the fast builder calls.
_SCALAR_TAGS = frozenset(
    {
        "tag:yaml.org,2002:null",
        "tag:yaml.org,2002:bool",
        "tag:yaml.org,2002:int",
        "tag:yaml.org,2002:float",
    }
)
# Resolved tags of plain scalars by text (see ``ZuulLoader.resolve``).
_PLAIN_TAGS: dict[str, str] = {}
_PLAIN_TAGS_MAX = 20_000


class ZuulLoader(_BaseLoader):
    """libyaml's safe loader plus Zuul's tags."""

    def resolve(self, kind: type, value: Any, implicit: Any) -> str:
        """PyYAML's ``Resolver.resolve`` for this loader, memoised.

        libyaml calls this once per node.  This loader has no path resolvers
        and no wildcard implicit resolvers (asserted below), so the tag is a
        function of the node kind and, for a plain scalar, of its text alone:
        the result for a text is computed once by PyYAML and remembered (in
        a bounded table, emptied when full).
        """
        if kind is yaml.ScalarNode:
            if not implicit[0]:
                return _STR_TAG  # quoted: always a string here
            tag = _PLAIN_TAGS.get(value)
            if tag is None:
                tag = super().resolve(kind, value, implicit)
                if len(_PLAIN_TAGS) >= _PLAIN_TAGS_MAX:
                    _PLAIN_TAGS.clear()
                _PLAIN_TAGS[value] = tag
            return tag
        return _SEQ_TAG if kind is yaml.SequenceNode else _MAP_TAG

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        """PyYAML's, refusing a key written twice (PyYAML keeps the last)."""
        if isinstance(node, yaml.MappingNode):
            _check_duplicate_keys(self, node)
        return super().construct_mapping(node, deep)

    # libyaml also calls these around every node; they only serve path
    # resolvers, which this loader has none of (asserted below).
    def descend_resolver(self, current_node: Any, current_index: Any) -> None:
        return None

    def ascend_resolver(self) -> None:
        return None


# ``ZuulLoader.resolve`` relies on these; adding either kind of resolver to
# the loader means removing that shortcut.
assert not ZuulLoader.yaml_path_resolvers
assert None not in ZuulLoader.yaml_implicit_resolvers


class EncryptedValueError(yaml.constructor.ConstructorError):
    """An ``!encrypted/pkcs1-oaep`` value that can never be decrypted."""


def _check_base64(chunks: tuple[str, ...], node: yaml.Node) -> None:
    """Refuse chunks that are not base64 (whitespace, as in folded text, is
    allowed): such a secret could never be decrypted, and finding out only
    when a job runs is too late."""
    for index, chunk in enumerate(chunks):
        text = "".join(chunk.split())
        problem = None
        if not text:
            problem = "is empty"
        else:
            try:
                base64.b64decode(text, validate=True)
            except (binascii.Error, ValueError) as exc:
                problem = f"is not valid base64 ({exc})"
        if problem:
            which = f"chunk {index + 1} of " if len(chunks) > 1 else ""
            raise EncryptedValueError(
                None, None, f"{which}the {ENCRYPTED_TAG} value {problem}", node.start_mark
            )


class DuplicateKeyError(yaml.constructor.ConstructorError):
    """A mapping that holds the same key twice (Zuul refuses it)."""

    def __init__(self, key: Any, first: yaml.Node, second: yaml.Node) -> None:
        super().__init__(
            None,
            None,
            f"the key '{key}' appears more than once in one mapping (lines "
            f"{first.start_mark.line + 1} and {second.start_mark.line + 1}); duplicate keys "
            "are not permitted",
            second.start_mark,
        )


_MERGE_TAG = "tag:yaml.org,2002:merge"


def _check_duplicate_keys(loader: Any, node: yaml.MappingNode) -> None:
    """Raise ``DuplicateKeyError`` for the first key written twice in ``node``.

    Keys are compared as built (``1`` and ``0x1`` are one key); keys a merge
    (``<<``) brings in may be overridden, as YAML says.  Checked before
    PyYAML flattens merges into the node, and once per node.
    """
    checked = getattr(loader, "_keys_checked", None)
    if checked is None:
        checked = loader._keys_checked = set()
    if id(node) in checked:
        return
    checked.add(id(node))
    seen: dict[Any, yaml.Node] = {}
    for key_node, _ in node.value:
        if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == _MERGE_TAG:
            continue
        key = loader.construct_object(key_node)
        try:
            first = seen.setdefault(key, key_node)
        except TypeError:  # unhashable: PyYAML reports it
            continue
        if first is not key_node:
            raise DuplicateKeyError(key, first, key_node)


def _construct_encrypted(loader: Any, node: yaml.Node) -> Encrypted:
    if isinstance(node, yaml.ScalarNode):
        chunks: tuple[str, ...] = (str(loader.construct_scalar(node)),)
    elif isinstance(node, yaml.SequenceNode):
        items = loader.construct_sequence(node)
        if not all(isinstance(c, str) for c in items):
            raise yaml.constructor.ConstructorError(
                None, None, f"{ENCRYPTED_TAG} chunks must be strings", node.start_mark
            )
        chunks = tuple(items)
    else:
        raise yaml.constructor.ConstructorError(
            None, None, f"{ENCRYPTED_TAG} must tag a string or a list of strings", node.start_mark
        )
    _check_base64(chunks, node)
    return Encrypted(chunks)


def _construct_untagged(loader: Any, node: yaml.Node) -> Any:
    """Build the tagged node as if it carried no tag (for !inherit/!override)."""
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    value = loader.construct_scalar(node)
    # Resolve the plain scalar the way an untagged one would be (bool, int...).
    tag = loader.resolve(yaml.ScalarNode, value, (True, False))
    return loader.construct_object(yaml.ScalarNode(tag, value, node.start_mark, node.end_mark))


def _construct_inherit(loader: Any, node: yaml.Node) -> Inherit:
    return Inherit(_construct_untagged(loader, node))


def _construct_override(loader: Any, node: yaml.Node) -> Override:
    return Override(_construct_untagged(loader, node))


def _construct_unsafe(loader: Any, node: yaml.Node) -> Unsafe:
    if not isinstance(node, yaml.ScalarNode):
        raise yaml.constructor.ConstructorError(
            None, None, f"{UNSAFE_TAG} must tag a string", node.start_mark
        )
    return Unsafe(loader.construct_scalar(node))


def _construct_unknown(loader: Any, suffix: str, node: yaml.Node) -> Any:
    raise yaml.constructor.ConstructorError(
        None, None, f"unknown YAML tag '{node.tag}'", node.start_mark
    )


ZuulLoader.add_constructor(ENCRYPTED_TAG, _construct_encrypted)
ZuulLoader.add_constructor(INHERIT_TAG, _construct_inherit)
ZuulLoader.add_constructor(OVERRIDE_TAG, _construct_override)
ZuulLoader.add_constructor(UNSAFE_TAG, _construct_unsafe)
ZuulLoader.add_multi_constructor("!", _construct_unknown)
ZuulLoader.add_multi_constructor("tag:", _construct_unknown)


class _Unusual(Exception):
    """The fast builder met something only PyYAML's constructor handles."""


def _build_plain(loader: Any, root: yaml.Node) -> Any:
    """Build ``root`` if it holds only untagged mappings, lists and plain
    scalars (strings, null, booleans, numbers); raise otherwise.

    The result equals what ``loader.construct_document(root)`` returns,
    aliases included: an aliased mapping or list is one object, as there.
    It skips the general constructor's bookkeeping (per-node dispatch,
    deferred generators, merge-key flattening, abstract hashability checks),
    which is most of PyYAML's construction time on configuration files.
    """
    memo: dict[yaml.Node, Any] = {}
    scalar_constructors = loader.yaml_constructors
    scalar_node, mapping_node, sequence_node = yaml.ScalarNode, yaml.MappingNode, yaml.SequenceNode

    def build(node: yaml.Node) -> Any:
        cls = node.__class__
        tag = node.tag
        if cls is scalar_node:
            if tag == _STR_TAG:
                return node.value
            if tag in _SCALAR_TAGS:
                return scalar_constructors[tag](loader, node)
            raise _Unusual
        found = memo.get(node)
        if found is not None:
            return found
        if cls is mapping_node and tag == _MAP_TAG:
            mapping: dict[Any, Any] = {}
            memo[node] = mapping
            for key_node, value_node in node.value:
                if key_node.__class__ is not scalar_node:
                    raise _Unusual
                mapping[build(key_node)] = build(value_node)
            if len(mapping) != len(node.value):
                raise _Unusual  # a key written twice: the constructor says which
            return mapping
        if cls is sequence_node and tag == _SEQ_TAG:
            sequence: list[Any] = []
            memo[node] = sequence
            for child in node.value:
                sequence.append(build(child))
            return sequence
        raise _Unusual

    return build(root)


# An alias is ``*name`` where a node may start: at the start of a line or
# after whitespace or a flow or block indicator.  A file without this cannot
# expand anything, and is not walked for the accounting below.
_ALIAS_SYNTAX = re.compile(r"(?<![^\s\[{,:?-])\*")


class _RecursiveAlias(Exception):
    """An alias inside the node it names: the value would be infinite."""

    def __init__(self, node: yaml.Node) -> None:
        super().__init__()
        self.node = node


class _Expansion:
    """What a file's aliases add, item by item.

    An alias is composed into the very node it names, so a value that names
    an anchor ten times holds that node ten times: later stages (copying,
    validating, freezing) see it ten times over, and nested anchors multiply.
    ``item(node)`` says how many more nodes an item holds than it adds to
    the file, counting each node as often as it is reached; a node first
    built for an earlier item and reached again counts too.  Linear in the
    file's distinct nodes (sizes are remembered per node).
    """

    def __init__(self) -> None:
        self.sizes: dict[yaml.Node, int] = {}

    def item(self, root: yaml.Node) -> int:
        before = len(self.sizes)
        total = self._size(root)
        return total - (len(self.sizes) - before)

    def _size(self, root: yaml.Node) -> int:
        sizes = self.sizes
        if root in sizes:
            return sizes[root]
        stack = [root]
        open_nodes: set[yaml.Node] = set()
        while stack:
            node = stack[-1]
            if node in sizes:
                stack.pop()
                continue
            children = _children(node)
            if node not in open_nodes:
                open_nodes.add(node)
                pending = [c for c in children if c not in sizes]
                for child in pending:
                    if child in open_nodes:
                        raise _RecursiveAlias(child)
                if pending:
                    stack.extend(pending)
                    continue
            total = 1
            for child in children:
                total += sizes[child]
            sizes[node] = total
            open_nodes.discard(node)
            stack.pop()
        return sizes[root]


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


@dataclass
class YamlItem:
    """One top-level list item of a configuration file and its start line."""

    value: Any
    line: int  # 1-based


@dataclass
class YamlDocument:
    """The result of reading one file: its items and what went wrong."""

    items: list[YamlItem] = field(default_factory=list)
    errors: list[ConfigError] = field(default_factory=list)

    def __iter__(self) -> Iterator[YamlItem]:
        return iter(self.items)


def _error(
    context: SourceContext,
    line: int | None,
    message: str,
    key: str,
    severity: Severity = Severity.ERROR,
) -> ConfigError:
    return ConfigError(
        message=message,
        context=replace(context, line=line),
        severity=severity,
        key=key,
    )


def _mark_line(exc: BaseException) -> int | None:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    if mark is None:
        return None
    return int(mark.line) + 1


def _describe_yaml_error(exc: yaml.YAMLError) -> str:
    problem = getattr(exc, "problem", None)
    context = getattr(exc, "context", None)
    if isinstance(exc, yaml.reader.ReaderError):
        return f"file is not valid text: {exc.reason}"
    if isinstance(exc, yaml.constructor.ConstructorError) and problem:
        return f"YAML error: {problem}" if not context else f"YAML error: {context}, {problem}"
    if problem and context:
        return f"YAML syntax error: {context}, {problem}"
    if problem:
        return f"YAML syntax error: {problem}"
    return f"YAML syntax error: {exc}"


def _kind_of(node: yaml.Node) -> str:
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if isinstance(node, yaml.ScalarNode):
        return "a scalar"
    return "something else"


def load_config_yaml(
    text: str | bytes, context: SourceContext, budget: ReadBudget | None = None
) -> YamlDocument:
    """Read one configuration file into its top-level items.

    ``context`` names the file (project, branch, path); errors get a copy of
    it with the line filled in.  A file whose top level is not a list yields
    one error; an item whose YAML cannot be built (a bad tag, a key written
    twice) yields an error for that item and the others are kept.

    ``budget`` bounds the read (``lockgate.config.limits``; the parser
    shares one over a project-branch's files): a file larger than its
    ``max_file_bytes`` is not parsed, and an item whose aliases would take
    the branch past ``max_alias_nodes`` is refused, so no input costs more
    than the bounds allow.
    """
    doc = YamlDocument()
    budget = budget if budget is not None else ReadBudget()
    limit = budget.limits.max_file_bytes
    if len(text) > limit:
        doc.errors.append(
            _error(
                context,
                None,
                f"file is larger than {size_text(limit)} (the limit for one configuration "
                "file); it is not read",
                "file-too-large",
            )
        )
        return doc
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            doc.errors.append(
                _error(
                    context,
                    None,
                    f"file is not valid UTF-8 text ({exc.reason} at byte {exc.start})",
                    "yaml-syntax",
                )
            )
            return doc
    loader = ZuulLoader(text)
    try:
        try:
            root = loader.get_single_node()
        except yaml.YAMLError as exc:
            doc.errors.append(
                _error(context, _mark_line(exc), _describe_yaml_error(exc), "yaml-syntax")
            )
            return doc
        except (ValueError, RecursionError) as exc:  # libyaml on pathological input
            doc.errors.append(_error(context, None, f"YAML error: {exc}", "yaml-syntax"))
            return doc
        if root is None or (
            isinstance(root, yaml.ScalarNode) and root.tag == "tag:yaml.org,2002:null"
        ):
            doc.errors.append(
                _error(
                    context,
                    None,
                    "file contains no configuration objects",
                    "empty-file",
                    Severity.WARNING,
                )
            )
            return doc
        if not isinstance(root, yaml.SequenceNode):
            hint = ""
            if isinstance(root, yaml.MappingNode):
                hint = " (a Zuul v2 layout.yaml is a mapping; Zuul v3 configuration is a list)"
            doc.errors.append(
                _error(
                    context,
                    root.start_mark.line + 1,
                    f"expected a list of configuration objects at the top level, "
                    f"found {_kind_of(root)}{hint}",
                    "yaml-not-a-list",
                )
            )
            return doc
        if root.tag != "tag:yaml.org,2002:seq":
            doc.errors.append(
                _error(
                    context,
                    root.start_mark.line + 1,
                    f"unexpected YAML tag '{root.tag}' on the top-level list",
                    "yaml-tag",
                )
            )
            return doc
        expansion = _Expansion() if _ALIAS_SYNTAX.search(text) else None
        for node in root.value:
            line = node.start_mark.line + 1
            if not budget.take_object():
                doc.errors.append(
                    _error(
                        context,
                        line,
                        f"more than {budget.limits.max_objects:,} configuration objects in "
                        "this project-branch (the limit); this one and the rest are not read",
                        "too-many-objects",
                    )
                )
                break
            if expansion is not None and not _within_alias_budget(
                expansion, node, budget, context, line, doc
            ):
                continue
            try:
                doc.items.append(YamlItem(_build_plain(loader, node), line))
                continue
            except Exception:  # noqa: BLE001, S112 - PyYAML's constructor decides below
                pass
            try:
                value = loader.construct_document(node)
            except yaml.YAMLError as exc:
                key = "yaml-tag"
                if isinstance(exc, EncryptedValueError):
                    key = "encrypted"
                elif isinstance(exc, DuplicateKeyError):
                    key = "duplicate-key"
                doc.errors.append(
                    _error(context, _mark_line(exc) or line, _describe_yaml_error(exc), key)
                )
                loader.constructed_objects = {}
                loader.recursive_objects = {}
                continue
            except (TypeError, ValueError, RecursionError) as exc:
                # e.g. an unhashable mapping key such as ``? [a, b]``.
                doc.errors.append(_error(context, line, f"YAML error: {exc}", "yaml-syntax"))
                loader.constructed_objects = {}
                loader.recursive_objects = {}
                continue
            doc.items.append(YamlItem(value, line))
    finally:
        loader.dispose()
    return doc


def _within_alias_budget(
    expansion: _Expansion,
    node: yaml.Node,
    budget: ReadBudget,
    context: SourceContext,
    line: int,
    doc: YamlDocument,
) -> bool:
    """Spend what ``node``'s aliases add; False (and an error) if it may not."""
    try:
        added = expansion.item(node)
    except _RecursiveAlias as exc:
        doc.errors.append(
            _error(
                context,
                line,
                f"YAML error: the value anchored at line {exc.node.start_mark.line + 1} "
                "contains an alias to itself (it would be infinite)",
                "yaml-alias",
            )
        )
        return False
    if added and not budget.take_alias_nodes(added):
        doc.errors.append(
            _error(
                context,
                line,
                f"YAML error: the aliases in this item expand to {added:,} more nodes than it "
                f"holds; at most {budget.limits.max_alias_nodes:,} may be reached through "
                "aliases in one project-branch's configuration",
                "yaml-alias",
            )
        )
        return False
    return True
