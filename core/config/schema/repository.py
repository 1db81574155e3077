"""Schemas of the repository objects other than pipelines.

``job`` (and a job variant inside a project pipeline), ``project``,
``project-template``, ``nodeset``, ``secret``, ``semaphore``, ``queue``,
``pragma``, and the lenient ``image``/``flavor``/``label``/``section``/
``provider`` objects whose driver keys are not checked.  Called through
``lockgate.config.schema.validate`` (``validation.REPO_SCHEMAS``); built
from ``validators``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import voluptuous as vs
from lockgate.config.schema.validators import (
    AnsibleVersion,
    Attrs,
    Bool,
    Dict,
    Either,
    ListOf,
    MissingAttribute,
    NonNegativeInt,
    OneOf,
    OneOrList,
    Overridable,
    Regexes,
    Str,
    StrList,
    UnknownAttribute,
    Validator,
    Vars,
    VarsByName,
    describe,
    guard_tags,
    no_tags,
    suggest,
)

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
    "semaphore": SEMAPHORE_REF,
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


JOB = Attrs(guard_tags(_JOB_FIELDS))
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
PROJECT = Attrs(guard_tags(_PROJECT_FIELDS), extra=_pipeline_key(list(_PROJECT_FIELDS)))

_TEMPLATE_FIELDS: dict[Any, Any] = {
    vs.Required("name"): Str,
    "description": Str,
    "queue": Str,
    "vars": Vars,
}
PROJECT_TEMPLATE = Attrs(
    guard_tags(_TEMPLATE_FIELDS),
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
        vs.Required("name"): no_tags(Str),
        "data": _secret_data,
        "oidc": Attrs({"ttl": NonNegativeInt, "iss": Str, "algorithm": Str, "claims": Dict}),
    },
    exclusive=(("data", "oidc"),),
    one_of=(("data", "oidc"),),
)

SEMAPHORE = Attrs(guard_tags({vs.Required("name"): Str, "max": NonNegativeInt}))
QUEUE = Attrs(
    guard_tags(
        {
            vs.Required("name"): Str,
            "per-branch": Bool,
            "allow-circular-dependencies": Bool,
            "dependencies-by-topic": Bool,
        }
    )
)
PRAGMA = Attrs(guard_tags({"implied-branch-matchers": Bool, "implied-branches": Regexes}))


def lenient_object(value: Any) -> Any:
    """Node/image objects: the name is checked, driver keys are accepted."""
    Dict(value)
    if "name" not in value:
        raise MissingAttribute("missing required attribute 'name'")
    Str(value["name"])
    return value
