"""Schemas of the tenant-config objects.

``tenant`` (with its ``source`` section and the per-project options),
``authorization-rule``/``admin-rule``, ``global-semaphore`` and
``api-root``.  Called through ``lockgate.config.schema.validate``
(``validation.TENANT_SCHEMAS``); ``PROJECT_CLASSES`` is also read by
``lockgate.config.tenant`` for the default ``include`` list.
"""

from __future__ import annotations

from typing import Any

import voluptuous as vs
from lockgate.config.schema.validators import (
    AnsibleVersion,
    Attrs,
    Bool,
    Dict,
    Int,
    ListOf,
    NonNegativeInt,
    OneOf,
    OneOrList,
    Regexes,
    Str,
    StrList,
    describe,
)

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
