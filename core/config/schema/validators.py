"""The building blocks every Lockgate schema is made of.

Validators for one value (``Str``, ``Bool``, ``OneOf``, ``Either``,
``ListOf``, ``OneOrList``, ``Regex``, ``Vars`` ...), the ``Attrs`` mapping
schema that reports every problem in a mapping with "did you mean"
suggestions, and the guards for ``!inherit``/``!override``/encrypted
values.  The object schemas in ``repository``, ``pipeline`` and ``tenant``
(this package) are built from them; ``validation`` turns the complaints
they raise into user-facing ``SchemaProblem``s.  ``describe`` and
``suggest`` are also used by ``lockgate.config.parser`` and
``lockgate.config.tenant`` for their own messages (through
``lockgate.config.schema``).
"""

from __future__ import annotations

import difflib
import functools
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import voluptuous as vs
from lockgate.config.yaml import Encrypted, Inherit, Override

Validator = Callable[[Any], Any]


class UnknownAttribute(vs.Invalid):
    """An attribute the schema does not know; carries a suggestion."""

    def __init__(self, key: Any, suggestion: str | None, path: list[Any] | None = None):
        super().__init__(f"unknown attribute '{key}'", path=path or [])
        self.key = key
        self.suggestion = suggestion


class MissingAttribute(vs.Invalid):
    """A required attribute is absent."""


def suggest(key: Any, known: Iterable[str]) -> str | None:
    """The closest known name to a mistyped one, if any is close enough."""
    if not isinstance(key, str):
        return None
    found = difflib.get_close_matches(key, list(known), n=1, cutoff=0.6)
    return found[0] if found else None


def _compiled(validator: Any) -> Validator:
    """What ``vs.Schema(validator)`` would call for one value, unwrapped.

    For a callable that is the callable itself: the caller handles the two
    ways voluptuous would have dressed its failure (``_schema_call`` shows
    them).  Validating a large tenant calls field validators some 100,000
    times, and voluptuous's two wrapper frames per call were a fifth of it.
    Anything else is compiled by voluptuous as before.
    """
    return validator if callable(validator) else vs.Schema(validator)


def _not_valid(path: list[Any]) -> vs.Invalid:
    """voluptuous's complaint when a validator raises ``ValueError``."""
    return vs.ValueInvalid("not a valid value", path)


def _schema_call(validator: Any) -> Validator:
    """Exactly ``vs.Schema(validator)``, one frame instead of three: a
    ``ValueError`` becomes "not a valid value", and any single complaint
    is wrapped in ``MultipleInvalid``."""
    if not callable(validator):
        return vs.Schema(validator)

    def check(value: Any) -> Any:
        try:
            return validator(value)
        except ValueError:
            raise vs.MultipleInvalid([_not_valid([])]) from None
        except vs.MultipleInvalid:
            raise
        except vs.Invalid as exc:
            raise vs.MultipleInvalid([exc]) from None

    return check


class Attrs:
    """A mapping with a known set of attributes.

    Unlike a plain voluptuous dict schema it reports *every* problem in the
    mapping, names unknown attributes with a suggestion, and can hand
    attributes it does not know to ``extra`` (used for the pipeline keys of
    a project stanza) instead of rejecting them.  ``exclusive`` lists groups
    of attributes of which at most one may appear; ``one_of`` groups of which
    exactly one must.
    """

    def __init__(
        self,
        fields: Mapping[Any, Any],
        *,
        extra: Callable[[Any, Any], None] | None = None,
        exclusive: Iterable[tuple[str, ...]] = (),
        one_of: Iterable[tuple[str, ...]] = (),
    ) -> None:
        self.validators: dict[str, Validator] = {}
        self.required: list[str] = []
        for key, validator in fields.items():
            name = str(key.schema) if isinstance(key, vs.Marker) else str(key)
            if isinstance(key, vs.Required):
                self.required.append(name)
            self.validators[name] = _compiled(validator)
        self.extra = extra
        self.exclusive = tuple(exclusive)
        self.one_of = tuple(one_of)

    @property
    def names(self) -> list[str]:
        return list(self.validators)

    def without(self, *names: str) -> Attrs:
        """A copy without some attributes (for a job variant's body, say)."""
        copy = Attrs({})
        copy.validators = {k: v for k, v in self.validators.items() if k not in names}
        copy.required = [k for k in self.required if k not in names]
        copy.extra = self.extra
        copy.exclusive = self.exclusive
        copy.one_of = self.one_of
        return copy

    def __call__(self, data: Any) -> Any:
        if not isinstance(data, dict):
            raise vs.Invalid(f"expected a mapping, got {describe(data)}")
        errors: list[vs.Invalid] = []
        validators = self.validators
        for key, value in data.items():
            validator = validators.get(key) if isinstance(key, str) else None
            if validator is None:
                if self.extra is not None:
                    try:
                        self.extra(key, value)
                    except vs.MultipleInvalid as exc:
                        errors.extend(exc.errors)
                    except vs.Invalid as exc:
                        errors.append(exc)
                    continue
                errors.append(UnknownAttribute(key, suggest(key, validators)))
                continue
            try:
                validator(value)
            except vs.MultipleInvalid as exc:
                for err in exc.errors:
                    err.prepend([key])
                errors.extend(exc.errors)
            except vs.Invalid as exc:
                exc.prepend([key])
                errors.append(exc)
            except ValueError:
                errors.append(_not_valid([key]))
        for name in self.required:
            if name not in data:
                errors.append(MissingAttribute(f"missing required attribute '{name}'"))
        for group in self.exclusive:
            present = [n for n in group if n in data]
            if len(present) > 1:
                errors.append(
                    vs.Invalid(
                        "attributes "
                        + " and ".join(f"'{n}'" for n in present)
                        + " are mutually exclusive"
                    )
                )
        for group in self.one_of:
            if not any(n in data for n in group):
                errors.append(
                    MissingAttribute(
                        "one of " + ", ".join(f"'{n}'" for n in group) + " is required"
                    )
                )
        if errors:
            raise vs.MultipleInvalid(errors)
        return data


def describe(value: Any) -> str:
    """A short description of a bad value for an error message."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, (int, float)):
        return f"number {value}"
    if isinstance(value, str):
        text = value if len(value) <= 40 else value[:37] + "..."
        return f"string {text!r}"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, Encrypted):
        return "an encrypted value"
    if isinstance(value, (Inherit, Override)):
        tag = "!inherit" if isinstance(value, Inherit) else "!override"
        return f"a {tag} value"
    return type(value).__name__


def _type_check(kind: type | tuple[type, ...], what: str) -> Validator:
    def check(value: Any) -> Any:
        if isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,)):
            raise vs.Invalid(f"expected {what}, got {describe(value)}")
        if not isinstance(value, kind):
            raise vs.Invalid(f"expected {what}, got {describe(value)}")
        return value

    return check


Str = _type_check(str, "a string")
Bool = _type_check(bool, "a boolean (true or false)")
Int = _type_check(int, "an integer")
Dict = _type_check(dict, "a mapping")


def NonNegativeInt(value: Any) -> Any:  # noqa: N802 - a validator, named like a type
    Int(value)
    if value < 0:
        raise vs.Invalid(f"expected a non-negative integer, got {value}")
    return value


def OneOf(*choices: Any) -> Validator:  # noqa: N802
    allowed = ", ".join(repr(c) if not isinstance(c, bool) else str(c).lower() for c in choices)

    def check(value: Any) -> Any:
        # ``True in (1,)`` is true in Python; compare types too.
        for choice in choices:
            if value == choice and type(value) is type(choice):
                return value
        raise vs.Invalid(f"expected one of {allowed}, got {describe(value)}")

    return check


def Either(*validators: Any, what: str) -> Validator:  # noqa: N802
    """The first validator that accepts; otherwise the deepest complaint.

    If a value has the right *shape* for one alternative (e.g. a mapping for
    a mapping schema) the errors of that alternative are the useful ones; a
    bare "expected X or Y" is given only when nothing fits at all.
    """
    # Plain callables, not vs.Schema: a Schema wraps every error in a
    # MultipleInvalid, which would hide which alternative fit the shape.
    compiled = [v if callable(v) else _equals(v) for v in validators]

    def check(value: Any) -> Any:
        nested: vs.Invalid | None = None  # an alternative that fit the shape
        substantive: vs.Invalid | None = None  # a complaint other than the type
        for validator in compiled:
            try:
                return validator(value)
            except vs.Invalid as exc:
                if isinstance(exc, vs.MultipleInvalid) or exc.path:
                    nested = nested or exc
                elif not exc.error_message.startswith("expected ") and substantive is None:
                    substantive = exc
        if nested is not None:
            raise nested
        if substantive is not None:
            raise substantive
        raise vs.Invalid(f"expected {what}, got {describe(value)}")

    return check


def _equals(expected: Any) -> Validator:
    def check(value: Any) -> Any:
        if value is not expected and value != expected:
            raise vs.Invalid(f"expected {describe(expected)}, got {describe(value)}")
        return value

    return check


def ListOf(item: Any, what: str) -> Validator:  # noqa: N802
    compiled = _compiled(item)

    def check(value: Any) -> Any:
        if not isinstance(value, list):
            raise vs.Invalid(f"expected a list of {what}, got {describe(value)}")
        errors: list[vs.Invalid] = []
        for index, element in enumerate(value):
            try:
                compiled(element)
            except vs.MultipleInvalid as exc:
                for err in exc.errors:
                    err.prepend([index])
                errors.extend(exc.errors)
            except vs.Invalid as exc:
                exc.prepend([index])
                errors.append(exc)
            except ValueError:
                errors.append(_not_valid([index]))
        if errors:
            raise vs.MultipleInvalid(errors)
        return value

    return check


def OneOrList(item: Any, what: str) -> Validator:  # noqa: N802
    """Zuul's "a value or a list of them"."""
    single = _schema_call(item)
    many = ListOf(item, what)

    def check(value: Any) -> Any:
        if isinstance(value, list):
            return many(value)
        return single(value)

    return check


def Overridable(inner: Validator) -> Validator:  # noqa: N802
    """Accept ``!inherit``/``!override`` around a value that ``inner`` accepts."""

    def check(value: Any) -> Any:
        if isinstance(value, (Inherit, Override)):
            inner(value.value)
            return value
        return inner(value)

    check.overridable = True  # type: ignore[attr-defined]
    return check


def no_tags(inner: Validator) -> Validator:
    """Reject ``!inherit``/``!override`` where override control is not supported."""

    def check(value: Any) -> Any:
        if isinstance(value, (Inherit, Override)):
            tag = "!inherit" if isinstance(value, Inherit) else "!override"
            raise vs.Invalid(f"the {tag} tag is not supported here")
        if isinstance(value, Encrypted):
            raise vs.Invalid("encrypted values are only allowed in secret data")
        return inner(value)

    return check


def guard_tags(fields: dict[Any, Any]) -> dict[Any, Any]:
    """Wrap every non-overridable attribute so stray tags are reported."""
    guarded = {}
    for key, validator in fields.items():
        if getattr(validator, "overridable", False):
            guarded[key] = validator
        else:
            guarded[key] = no_tags(validator)
    return guarded


try:  # Zuul's regular expressions are RE2; real configs rely on its syntax.
    import re2 as _re2

    _RE2_OPTIONS = _re2.Options()
    _RE2_OPTIONS.log_errors = False  # report through ConfigErrors, not stderr
except ImportError:  # pragma: no cover - google-re2 is a dependency
    _re2 = None


@functools.lru_cache(maxsize=4096)
def _compile_regex(pattern: str) -> str | None:
    """None if ``pattern`` compiles (Python ``re`` or RE2), else why not.

    Python's ``re`` is tried first (it is what most matchers use); a pattern
    only RE2 accepts (``^*/stable`` is common in OpenStack's config) is still
    valid Zuul syntax.
    """
    try:
        re.compile(pattern)
        return None
    except (re.error, RecursionError, OverflowError, ValueError) as exc:
        problem = str(exc)
    if _re2 is not None:
        try:
            _re2.compile(pattern, options=_RE2_OPTIONS)
            return None
        except Exception:  # noqa: BLE001 - re2 raises its own error type
            pass
    return problem


def Regex(value: Any) -> Any:  # noqa: N802
    Str(value)
    problem = _compile_regex(value)
    if problem:
        raise vs.Invalid(f"invalid regular expression {value!r}: {problem}")
    return value


# A regex may also be written as a mapping with ``negate``.
RegexItem = Either(
    Regex, Attrs({vs.Required("regex"): Regex, "negate": Bool}), what="a regular expression"
)
Regexes = OneOrList(RegexItem, "regular expressions")
StrList = OneOrList(Str, "strings")
AnsibleVersion = Either(Str, Int, _type_check(float, "a number"), what="an Ansible version")

RESERVED_VARS = frozenset({"zuul", "nodepool", "unsafe_vars"})


_CONTAINERS = (dict, list, Encrypted, Inherit, Override)


def _has_encrypted(value: Any) -> bool:
    """Whether an ``!encrypted`` value is anywhere inside ``value`` (a walk
    that builds nothing per node: variables can be large).  Containers
    shared through YAML aliases are visited once."""
    seen: set[int] = set()
    stack = [value]
    while stack:
        current = stack.pop()
        if isinstance(current, Encrypted):
            return True
        if isinstance(current, (Inherit, Override)):
            current = current.value
        if isinstance(current, dict):
            children: Any = current.values()
        elif isinstance(current, list):
            children = current
        else:
            continue
        if id(current) in seen:
            continue
        seen.add(id(current))
        stack.extend(child for child in children if isinstance(child, _CONTAINERS))
    return False


def _encrypted_at(value: Any) -> list[Any] | None:
    """The path of the first ``!encrypted`` value inside ``value``, if any."""
    if not _has_encrypted(value):
        return None
    stack: list[tuple[Any, list[Any]]] = [(value, [])]
    seen: set[int] = set()
    while stack:
        current, path = stack.pop()
        if isinstance(current, Encrypted):
            return path
        if isinstance(current, (Inherit, Override)):
            current = current.value
        if isinstance(current, (dict, list)):
            if id(current) in seen:
                continue
            seen.add(id(current))
            pairs = current.items() if isinstance(current, dict) else enumerate(current)
            stack.extend((child, [*path, key]) for key, child in reversed(list(pairs)))
    return None  # pragma: no cover - _has_encrypted found one


def Vars(value: Any) -> Any:  # noqa: N802
    """Ansible variables: a mapping with string keys, none of them reserved,
    holding no ``!encrypted`` value (only a secret's data may: nothing would
    decrypt it here, and the ciphertext would reach the job as text)."""
    Dict(value)
    for key in value:
        if not isinstance(key, str):
            raise vs.Invalid(f"variable names must be strings, got {describe(key)}")
        if key in RESERVED_VARS:
            raise vs.Invalid(f"variable name '{key}' is reserved", path=[key])
    found = _encrypted_at(value)
    if found is not None:
        raise vs.Invalid("encrypted values are only allowed in secret data", path=found)
    return value


def VarsByName(value: Any) -> Any:  # noqa: N802
    """host-vars / group-vars: node or group name -> variables."""
    Dict(value)
    errors = []
    for key, sub in value.items():
        try:
            Vars(sub)
        except vs.Invalid as exc:
            exc.prepend([key])
            errors.append(exc)
    if errors:
        raise vs.MultipleInvalid(errors)
    return value
