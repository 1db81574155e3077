"""Voluptuous schemas for every object of Zuul's configuration language.

Called by ``lockgate.config.parser`` (repository objects) and
``lockgate.config.tenant`` (tenant-config objects) through
``validate(kind, body, ...)``, which returns a list of ``SchemaProblem``
records (never raises).  The attribute lists follow Zuul's documentation; an
attribute that is not in them is an error with a "did you mean" suggestion,
as in Zuul.

Schemas check *shape* only (types, required attributes, allowed values,
regexes that compile).  References between objects (a parent job, a
nodeset name, a template) are the layout builder's job
(``lockgate.config.layout``).

Values are validated as written and returned unchanged: ``!inherit`` /
``!override`` wrappers are accepted only on the attributes that support
override control, and ``!encrypted/pkcs1-oaep`` values only inside secret
data.

Pipeline ``trigger``/``require``/``reject`` and reporter sections are keyed
by connection name.  Their driver-specific content is checked only when the
caller passes a connection -> driver map *and* the driver package exposes a
schema module ``lockgate.drivers.<driver>.schema`` with any of the functions
``trigger_schema()``, ``reporter_schema()``, ``require_schema()``,
``reject_schema()`` (each returning a voluptuous validator for one
connection's section).  Otherwise any mapping or list of mappings is
accepted.
"""

from __future__ import annotations

import difflib
import functools
import importlib
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import voluptuous as vs
from lockgate.config.yaml import Encrypted, Inherit, Override

Validator = Callable[[Any], Any]

# --------------------------------------------------------------------------
# Building blocks


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


def _no_tags(inner: Validator) -> Validator:
    """Reject ``!inherit``/``!override`` where override control is not supported."""

    def check(value: Any) -> Any:
        if isinstance(value, (Inherit, Override)):
            tag = "!inherit" if isinstance(value, Inherit) else "!override"
            raise vs.Invalid(f"the {tag} tag is not supported here")
        if isinstance(value, Encrypted):
            raise vs.Invalid("encrypted values are only allowed in secret data")
        return inner(value)

    return check


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


def Vars(value: Any) -> Any:  # noqa: N802
    """Ansible variables: a mapping with string keys, none of them reserved."""
    Dict(value)
    for key in value:
        if not isinstance(key, str):
            raise vs.Invalid(f"variable names must be strings, got {describe(key)}")
        if key in RESERVED_VARS:
            raise vs.Invalid(f"variable name '{key}' is reserved", path=[key])
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


# --------------------------------------------------------------------------
# Repository objects

SEMAPHORE_REF = Either(
    Str,
    Attrs({vs.Required("name"): Str, "resources-first": Bool}),
    what="a semaphore name or a mapping with 'name'",
)


def _playbook(cleanup: bool) -> Validator:
    fields: dict[Any, Any] = {
        vs.Required("name"): Str,
        "semaphore": StrList,
        "semaphores": StrList,
    }
    if cleanup:
        fields["cleanup"] = Bool
    item = Either(Str, Attrs(fields), what="a playbook path or a mapping with 'name'")
    return OneOrList(item, "playbooks")


ATTRIBUTE_CONTROL_ATTRS = (
    "requires",
    "provides",
    "tags",
    "files",
    "irrelevant-files",
    "required-projects",
    "vars",
    "extra-vars",
    "host-vars",
    "group-vars",
    "include-vars",
    "dependencies",
    "failure-output",
)


def AttributeControl(value: Any) -> Any:  # noqa: N802
    Dict(value)
    errors: list[vs.Invalid] = []
    final = Attrs({"final": Bool})
    for key, sub in value.items():
        if key not in ATTRIBUTE_CONTROL_ATTRS:
            errors.append(UnknownAttribute(key, suggest(key, ATTRIBUTE_CONTROL_ATTRS)))
            continue
        try:
            final(sub)
        except vs.Invalid as exc:
            exc.prepend([key])
            errors.append(exc)
    if errors:
        raise vs.MultipleInvalid(errors)
    return value


NODE = Attrs({vs.Required("name"): StrList, vs.Required("label"): Str})
GROUP = Attrs({vs.Required("name"): Str, vs.Required("nodes"): StrList})


def _nodeset_attrs(name_required: bool) -> Attrs:
    name_key: Any = vs.Required("name") if name_required else "name"
    attrs = Attrs(
        {
            name_key: Str,
            "description": Str,
            "nodes": OneOrList(NODE, "nodes"),
            "groups": OneOrList(GROUP, "groups"),
            "alternatives": ListOf(
                Either(
                    Str,
                    lambda v: ANONYMOUS_NODESET(v),
                    what="a nodeset name or an anonymous nodeset",
                ),
                "nodesets",
            ),
        },
        exclusive=(("nodes", "alternatives"), ("groups", "alternatives")),
    )
    return attrs


ANONYMOUS_NODESET = _nodeset_attrs(name_required=False)
NODESET = _nodeset_attrs(name_required=True)

_JOB_FIELDS: dict[Any, Any] = {
    vs.Required("name"): Str,
    "parent": Either(None, Str, what="a job name or null"),
    "description": Str,
    "variant-description": Str,
    "final": Bool,
    "protected": Bool,
    "abstract": Bool,
    "intermediate": Bool,
    "attribute-control": AttributeControl,
    "success-message": Str,
    "failure-message": Str,
    # Accepted and ignored, as in Zuul.
    "success-url": Str,
    "failure-url": Str,
    "hold-following-changes": Bool,
    "voting": Bool,
    "semaphore": Str,
    "semaphores": OneOrList(SEMAPHORE_REF, "semaphores"),
    "tags": Overridable(StrList),
    "provides": Overridable(StrList),
    "requires": Overridable(StrList),
    "secrets": OneOrList(
        Either(
            Str,
            Attrs({vs.Required("name"): Str, vs.Required("secret"): Str, "pass-to-parent": Bool}),
            what="a secret name or a mapping with 'name' and 'secret'",
        ),
        "secrets",
    ),
    "nodeset": Either(Str, ANONYMOUS_NODESET, what="a nodeset name or an anonymous nodeset"),
    "override-checkout": Str,
    "override-branch": Str,
    "pre-timeout": NonNegativeInt,
    "timeout": NonNegativeInt,
    "post-timeout": NonNegativeInt,
    "attempts": NonNegativeInt,
    "pre-run": _playbook(cleanup=False),
    "run": _playbook(cleanup=False),
    "post-run": _playbook(cleanup=True),
    "cleanup-run": _playbook(cleanup=False),
    "ansible-split-streams": Bool,
    "ansible-version": AnsibleVersion,
    "roles": ListOf(
        Attrs(
            {"zuul": Str, "galaxy": Str, "name": Str},
            exclusive=(("zuul", "galaxy"),),
            one_of=(("zuul", "galaxy"),),
        ),
        "roles",
    ),
    "required-projects": Overridable(
        OneOrList(
            Either(
                Str,
                Attrs({vs.Required("name"): Str, "override-checkout": Str, "override-branch": Str}),
                what="a project name or a mapping with 'name'",
            ),
            "projects",
        )
    ),
    "vars": Overridable(Vars),
    "extra-vars": Overridable(Vars),
    "host-vars": Overridable(VarsByName),
    "group-vars": Overridable(VarsByName),
    "include-vars": Overridable(
        OneOrList(
            Either(
                Str,
                Attrs(
                    {
                        vs.Required("name"): Str,
                        "project": Str,
                        "zuul-project": Bool,
                        "use-ref": Bool,
                        "required": Bool,
                    },
                    exclusive=(("project", "zuul-project"),),
                ),
                what="a file name or a mapping with 'name'",
            ),
            "files",
        )
    ),
    "dependencies": Overridable(
        OneOrList(
            Either(
                Str,
                Attrs({vs.Required("name"): Str, "soft": Bool}),
                what="a job name or a mapping with 'name'",
            ),
            "jobs",
        )
    ),
    "allowed-projects": StrList,
    "post-review": Bool,
    "branches": Regexes,
    "files": Overridable(Regexes),
    "irrelevant-files": Overridable(Regexes),
    "match-on-config-updates": Bool,
    "deduplicate": OneOf(True, False, "auto"),
    "failure-output": Overridable(Regexes),
    "workspace-checkout": OneOf(True, False, "auto"),
    "workspace-scheme": OneOf("golang", "flat", "unique"),
    "image-build-name": Str,
}


def _guard_tags(fields: dict[Any, Any]) -> dict[Any, Any]:
    """Wrap every non-overridable attribute so stray tags are reported."""
    guarded = {}
    for key, validator in fields.items():
        if getattr(validator, "overridable", False):
            guarded[key] = validator
        else:
            guarded[key] = _no_tags(validator)
    return guarded


JOB = Attrs(_guard_tags(_JOB_FIELDS))
# A job variant inside a project pipeline: the name is the mapping's key.
JOB_VARIANT = JOB.without("name")


def _job_entry(value: Any) -> Any:
    """One entry of a project pipeline's ``jobs``: a name or {name: variant}."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        if len(value) != 1:
            raise vs.Invalid(
                f"a job entry must be a job name or a mapping with one job name as its key, "
                f"got a mapping with {len(value)} keys"
            )
        ((name, body),) = value.items()
        if not isinstance(name, str):
            raise vs.Invalid(f"job names must be strings, got {describe(name)}")
        if body is None:
            return value
        try:
            JOB_VARIANT(body)
        except vs.Invalid as exc:
            exc.prepend([name])
            raise
        return value
    raise vs.Invalid(f"expected a job name or a mapping, got {describe(value)}")


PROJECT_PIPELINE = Attrs(
    {
        "jobs": ListOf(_job_entry, "jobs"),
        "debug": Bool,
        "fail-fast": Bool,
        # Zuul < 4 put the shared queue here; still accepted (deprecated).
        "queue": Str,
    }
)

MERGE_MODES = (
    "merge",
    "merge-resolve",
    "merge-recursive",
    "merge-ort",
    "cherry-pick",
    "squash-merge",
    "rebase",
)


def _pipeline_key(known: list[str], not_here: Iterable[str] = ()) -> Callable[[Any, Any], None]:
    """Validate a key of a project stanza that is not one of its attributes.

    Such a key names a pipeline (which pipelines exist is the layout's
    business: Zuul ignores project-pipeline sections for pipelines the
    tenant does not have).  If the value cannot be a pipeline section and
    the key looks like a misspelt attribute, say so.
    """

    def check(key: Any, value: Any) -> None:
        if not isinstance(key, str) or key in not_here:
            raise UnknownAttribute(key, None)
        if not isinstance(value, dict) and value is not None:
            close = suggest(key, known)
            if close:
                raise UnknownAttribute(key, close)
            raise vs.Invalid(
                f"pipeline section '{key}' must be a mapping with 'jobs', got {describe(value)}"
            )
        if value is None:
            return
        try:
            PROJECT_PIPELINE(value)
        except vs.Invalid as exc:
            exc.prepend([key])
            raise

    return check


_PROJECT_FIELDS: dict[Any, Any] = {
    "name": Str,
    "description": Str,
    "templates": StrList,
    "branches": Regexes,
    "default-branch": Str,
    "merge-mode": OneOf(*MERGE_MODES),
    "vars": Vars,
    "queue": Str,
}
PROJECT = Attrs(_guard_tags(_PROJECT_FIELDS), extra=_pipeline_key(list(_PROJECT_FIELDS)))

_TEMPLATE_FIELDS: dict[Any, Any] = {
    vs.Required("name"): Str,
    "description": Str,
    "queue": Str,
    "vars": Vars,
}
PROJECT_TEMPLATE = Attrs(
    _guard_tags(_TEMPLATE_FIELDS),
    extra=_pipeline_key(
        [str(getattr(k, "schema", k)) for k in _TEMPLATE_FIELDS],
        not_here=("merge-mode", "default-branch", "branches", "templates"),
    ),
)


def _secret_data(value: Any) -> Any:
    Dict(value)
    return value


SECRET = Attrs(
    {
        vs.Required("name"): _no_tags(Str),
        "data": _secret_data,
        "oidc": Attrs({"ttl": NonNegativeInt, "iss": Str, "algorithm": Str, "claims": Dict}),
    },
    exclusive=(("data", "oidc"),),
    one_of=(("data", "oidc"),),
)

SEMAPHORE = Attrs(_guard_tags({vs.Required("name"): Str, "max": NonNegativeInt}))
QUEUE = Attrs(
    _guard_tags(
        {
            vs.Required("name"): Str,
            "per-branch": Bool,
            "allow-circular-dependencies": Bool,
            "dependencies-by-topic": Bool,
        }
    )
)
PRAGMA = Attrs(_guard_tags({"implied-branch-matchers": Bool, "implied-branches": Regexes}))


def _lenient(value: Any) -> Any:
    """Node/image objects: the name is checked, driver keys are accepted."""
    Dict(value)
    if "name" not in value:
        raise MissingAttribute("missing required attribute 'name'")
    Str(value["name"])
    return value


# --------------------------------------------------------------------------
# Pipelines

PIPELINE_MANAGERS = ("independent", "dependent", "serial", "supercedent")
REPORTER_ACTIONS = (
    "enqueue",
    "start",
    "success",
    "failure",
    "merge-conflict",
    "merge-failure",
    "config-error",
    "no-jobs",
    "disabled",
    "dequeue",
)
_DRIVER_SECTIONS = ("trigger", "require", "reject") + REPORTER_ACTIONS


@functools.lru_cache(maxsize=64)
def _driver_schema(driver: str, section: str) -> Validator | None:
    """The driver's own validator for one connection's section, if it has one."""
    try:
        module = importlib.import_module(f"lockgate.drivers.{driver}.schema")
    except ImportError:
        return None
    func = "reporter_schema" if section in REPORTER_ACTIONS else f"{section}_schema"
    factory = getattr(module, func, None)
    if factory is None:
        return None
    return vs.Schema(factory())


# Drivers Zuul provides without a ``[connection]`` section: their name is
# both the connection and the driver.
IMPLICIT_CONNECTIONS = {"timer": "timer", "zuul": "zuul"}


def _connection_section(section: str, connections: Mapping[str, str] | None) -> Validator:
    if connections is not None:
        connections = {**IMPLICIT_CONNECTIONS, **connections}

    def check(value: Any) -> Any:
        if value is None and section != "trigger":
            return value
        Dict(value)
        errors: list[vs.Invalid] = []
        for conn, content in value.items():
            if not isinstance(conn, str):
                errors.append(vs.Invalid(f"connection names must be strings, got {describe(conn)}"))
                continue
            if connections is not None and conn not in connections:
                errors.append(
                    vs.Invalid(
                        f"unknown connection '{conn}'"
                        + (f" (did you mean '{s}'?)" if (s := suggest(conn, connections)) else ""),
                        path=[conn],
                    )
                )
                continue
            try:
                _section_content(section, conn, content, connections)
            except vs.MultipleInvalid as exc:
                for err in exc.errors:
                    err.prepend([conn])
                errors.extend(exc.errors)
            except vs.Invalid as exc:
                exc.prepend([conn])
                errors.append(exc)
        if errors:
            raise vs.MultipleInvalid(errors)
        return value

    return check


def _section_content(
    section: str, conn: str, content: Any, connections: Mapping[str, str] | None
) -> None:
    driver_validator = None
    if connections is not None:
        driver_validator = _driver_schema(connections[conn], section)
    if section == "trigger":
        # A list of event filters (a single mapping is accepted, as in Zuul);
        # the driver's schema describes one filter.
        OneOrList(Dict, "event filters")(content)
        if driver_validator is not None:
            filters = content if isinstance(content, list) else [content]
            errors: list[vs.Invalid] = []
            for index, spec in enumerate(filters):
                try:
                    driver_validator(spec)
                except vs.MultipleInvalid as exc:
                    for err in exc.errors:
                        err.prepend([index])
                    errors.extend(exc.errors)
                except vs.Invalid as exc:
                    exc.prepend([index])
                    errors.append(exc)
            if errors:
                raise vs.MultipleInvalid(errors)
        return
    if driver_validator is not None:
        driver_validator(content)
    elif content is not None and not isinstance(content, (dict, list)):
        raise vs.Invalid(f"expected a mapping, got {describe(content)}")


def pipeline_schema(connections: Mapping[str, str] | None = None) -> Attrs:
    fields: dict[Any, Any] = {
        vs.Required("name"): Str,
        vs.Required("manager"): OneOf(*PIPELINE_MANAGERS),
        "description": Str,
        "variant-description": Str,
        "post-review": Bool,
        "allow-other-connections": Bool,
        "precedence": OneOf("low", "normal", "high"),
        "supercedes": StrList,
        "success-message": Str,
        "failure-message": Str,
        "start-message": Str,
        "enqueue-message": Str,
        "merge-conflict-message": Str,
        "merge-failure-message": Str,
        "no-jobs-message": Str,
        "dequeue-message": Str,
        "footer-message": Str,
        "dequeue-on-new-patchset": Bool,
        "ignore-dependencies": Bool,
        "disable-after-consecutive-failures": NonNegativeInt,
        "window": NonNegativeInt,
        "window-floor": NonNegativeInt,
        "window-ceiling": Either(None, NonNegativeInt, what="an integer or null"),
        "window-increase-type": OneOf("linear", "exponential"),
        "window-increase-factor": NonNegativeInt,
        "window-decrease-type": OneOf("linear", "exponential"),
        "window-decrease-factor": NonNegativeInt,
    }
    for section in _DRIVER_SECTIONS:
        key: Any = vs.Required(section) if section == "trigger" else section
        fields[key] = _connection_section(section, connections)
    return Attrs(_guard_tags(fields))


PIPELINE = pipeline_schema(None)

# --------------------------------------------------------------------------
# Tenant-config objects

PROJECT_CLASSES = (
    "pipeline",
    "job",
    "semaphore",
    "project",
    "project-template",
    "nodeset",
    "secret",
    "queue",
    "image",
    "flavor",
    "label",
    "section",
    "provider",
)
ProjectClasses = OneOrList(OneOf(*PROJECT_CLASSES), "configuration object classes")

TENANT_PROJECT_OPTIONS: dict[Any, Any] = {
    "include": ProjectClasses,
    "exclude": ProjectClasses,
    "shadow": StrList,
    "exclude-unprotected-branches": Bool,
    "exclude-locked-branches": Bool,
    "include-branches": Regexes,
    "exclude-branches": Regexes,
    "always-dynamic-branches": Regexes,
    "implied-branch-matchers": Bool,
    "extra-config-paths": StrList,
    "load-branch": Str,
    "configure-projects": StrList,
    "allow-circular-dependencies": Bool,
    "allow-base-jobs": Bool,
    "include-provider-config": Bool,
}
TENANT_PROJECT = Attrs(TENANT_PROJECT_OPTIONS)


def _tenant_project_entry(value: Any) -> Any:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "projects" in value:
        Attrs(
            {
                "include": ProjectClasses,
                "exclude": ProjectClasses,
                vs.Required("projects"): ListOf(_tenant_project_entry, "projects"),
            }
        )(value)
        return value
    if isinstance(value, dict):
        if len(value) != 1:
            raise vs.Invalid(
                "a project entry must be a name, a mapping of one name to its "
                "options, or a group with 'projects'"
            )
        ((name, options),) = value.items()
        if not isinstance(name, str):
            raise vs.Invalid(f"project names must be strings, got {describe(name)}")
        if options is not None:
            try:
                TENANT_PROJECT(options)
            except vs.Invalid as exc:
                exc.prepend([name])
                raise
        return value
    raise vs.Invalid(f"expected a project name or a mapping, got {describe(value)}")


TENANT_SOURCE = Attrs(
    {
        "config-projects": ListOf(_tenant_project_entry, "projects"),
        "untrusted-projects": ListOf(_tenant_project_entry, "projects"),
    }
)


def _sources(value: Any) -> Any:
    Dict(value)
    errors: list[vs.Invalid] = []
    for conn, section in value.items():
        try:
            if section is not None:
                TENANT_SOURCE(section)
        except vs.MultipleInvalid as exc:
            for err in exc.errors:
                err.prepend([conn])
            errors.extend(exc.errors)
        except vs.Invalid as exc:
            exc.prepend([conn])
            errors.append(exc)
    if errors:
        raise vs.MultipleInvalid(errors)
    return value


TENANT = Attrs(
    {
        vs.Required("name"): Str,
        vs.Required("source"): _sources,
        "max-changes-per-pipeline": NonNegativeInt,
        "max-dependencies": NonNegativeInt,
        "max-nodes-per-job": Int,
        "max-job-timeout": Int,
        "max-oidc-ttl": NonNegativeInt,
        "allowed-oidc-issuers": StrList,
        "exclude-unprotected-branches": Bool,
        "exclude-locked-branches": Bool,
        "allowed-triggers": StrList,
        "allowed-reporters": StrList,
        "allowed-labels": StrList,
        "disallowed-labels": StrList,
        "allow-circular-dependencies": Bool,
        "default-parent": Str,
        "default-ansible-version": AnsibleVersion,
        "access-rules": StrList,
        "admin-rules": StrList,
        "semaphores": StrList,
        "authentication-realm": Str,
        "web-root": Str,
        "use-nodepool": Bool,
    }
)

AUTHORIZATION_RULE = Attrs(
    {vs.Required("name"): Str, vs.Required("conditions"): OneOrList(Dict, "conditions")}
)
GLOBAL_SEMAPHORE = Attrs({vs.Required("name"): Str, "max": NonNegativeInt})
API_ROOT = Attrs({"authentication-realm": Str, "access-rules": StrList})

# --------------------------------------------------------------------------
# Entry point

REPO_SCHEMAS: dict[str, Validator] = {
    "pipeline": PIPELINE,
    "job": JOB,
    "project": PROJECT,
    "project-template": PROJECT_TEMPLATE,
    "nodeset": NODESET,
    "secret": SECRET,
    "semaphore": SEMAPHORE,
    "queue": QUEUE,
    "pragma": PRAGMA,
    "image": _lenient,
    "flavor": _lenient,
    "label": _lenient,
    "section": _lenient,
    "provider": _lenient,
}

TENANT_SCHEMAS: dict[str, Validator] = {
    "tenant": TENANT,
    "authorization-rule": AUTHORIZATION_RULE,
    "admin-rule": AUTHORIZATION_RULE,
    "global-semaphore": GLOBAL_SEMAPHORE,
    "api-root": API_ROOT,
}


@dataclass(frozen=True)
class SchemaProblem:
    """One thing wrong with an object, already phrased for a user."""

    message: str
    path: tuple[Any, ...]  # where inside the object, e.g. ("secrets", 0, "name")
    key: str  # "unknown-attribute", "missing-attribute" or "schema"


def format_path(path: Iterable[Any]) -> str:
    """``secrets[0].name`` from ``["secrets", 0, "name"]``."""
    text = ""
    for part in path:
        if isinstance(part, int) and not isinstance(part, bool):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + str(part)
    return text


def _flatten(exc: vs.Invalid) -> list[vs.Invalid]:
    if isinstance(exc, vs.MultipleInvalid):
        out: list[vs.Invalid] = []
        for err in exc.errors:
            out.extend(_flatten(err))
        return out
    return [exc]


def _phrase(err: vs.Invalid, where: str) -> SchemaProblem:
    path = tuple(err.path)
    at = f" at {format_path(path)}" if path else ""
    if isinstance(err, UnknownAttribute):
        hint = f" (did you mean '{err.suggestion}'?)" if err.suggestion else ""
        return SchemaProblem(
            f"unknown attribute '{err.key}' in {where}{at}{hint}", path, "unknown-attribute"
        )
    if isinstance(err, MissingAttribute):
        return SchemaProblem(f"{err.error_message} in {where}{at}", path, "missing-attribute")
    # Drivers' schemas are plain voluptuous: say their errors in our words.
    if path and err.error_message == "extra keys not allowed":
        parent = f" at {format_path(path[:-1])}" if path[:-1] else ""
        return SchemaProblem(
            f"unknown attribute '{path[-1]}' in {where}{parent}", path, "unknown-attribute"
        )
    if path and err.error_message == "required key not provided":
        parent = f" at {format_path(path[:-1])}" if path[:-1] else ""
        return SchemaProblem(
            f"missing required attribute '{path[-1]}' in {where}{parent}",
            path,
            "missing-attribute",
        )
    if path:
        return SchemaProblem(
            f"invalid value for '{format_path(path)}' in {where}: {err.error_message}",
            path,
            "schema",
        )
    return SchemaProblem(f"invalid {where}: {err.error_message}", path, "schema")


def object_label(kind: str, name: Any) -> str:
    """``job 'x'`` or just ``job`` when the object has no usable name."""
    if isinstance(name, str):
        return f"{kind} '{name}'"
    return kind


def validate(
    kind: str,
    body: Any,
    *,
    name: str | None = None,
    connections: Mapping[str, str] | None = None,
) -> list[SchemaProblem]:
    """Check one object's body against its kind's schema; [] if it is valid.

    ``name`` is used in messages (defaults to the body's ``name``);
    ``connections`` maps connection names to driver names for pipelines.
    """
    validator = REPO_SCHEMAS.get(kind) or TENANT_SCHEMAS.get(kind)
    if validator is None:
        raise KeyError(kind)
    if kind == "pipeline" and connections is not None:
        validator = _pipeline_schema_for(tuple(sorted(connections.items())))
    if name is None and isinstance(body, dict):
        maybe = body.get("name")
        name = maybe if isinstance(maybe, str) else None
    where = object_label(kind, name)
    try:
        validator(body)
    except vs.Invalid as exc:
        return [_phrase(err, where) for err in _flatten(exc)]
    except (RecursionError, TypeError, ValueError) as exc:
        # A validator tripping over something truly strange is still the
        # input's fault: report it rather than crash the load.
        return [SchemaProblem(f"invalid {where}: {exc}", (), "schema")]
    return []


@functools.lru_cache(maxsize=32)
def _pipeline_schema_for(connections: tuple[tuple[str, str], ...]) -> Attrs:
    return pipeline_schema(dict(connections))
