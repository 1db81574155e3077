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

This package's modules, one job each:

* ``validators``: the building blocks (``Attrs``, ``Str``, ``Either``,
  ``OneOrList``, ``Regex``, ``Vars`` ...) and ``describe``/``suggest``;
* ``repository``: job, project, project-template, nodeset, secret,
  semaphore, queue, pragma and the lenient image/flavor/label/section/
  provider objects;
* ``pipeline``: the pipeline schema and its connection-keyed driver
  sections (a driver may supply ``lockgate.drivers.<driver>.schema``);
* ``tenant``: tenant, authorization/admin rules, global semaphores, api-root;
* ``validation``: ``validate``, ``SchemaProblem`` and the error phrasing.

Callers import this package (``from lockgate.config import schema``); it
re-exports the public names below so they need not know the split.
"""

from lockgate.config.schema.pipeline import (
    IMPLICIT_CONNECTIONS,
    PIPELINE,
    PIPELINE_MANAGERS,
    REPORTER_ACTIONS,
    pipeline_schema,
)
from lockgate.config.schema.repository import (
    ANONYMOUS_NODESET,
    ATTRIBUTE_CONTROL_ATTRS,
    GROUP,
    JOB,
    JOB_VARIANT,
    MERGE_MODES,
    NODE,
    NODESET,
    PRAGMA,
    PROJECT,
    PROJECT_PIPELINE,
    PROJECT_TEMPLATE,
    QUEUE,
    SECRET,
    SEMAPHORE,
    SEMAPHORE_REF,
    AttributeControl,
)
from lockgate.config.schema.tenant import (
    API_ROOT,
    AUTHORIZATION_RULE,
    GLOBAL_SEMAPHORE,
    PROJECT_CLASSES,
    TENANT,
    TENANT_PROJECT,
    TENANT_PROJECT_OPTIONS,
    TENANT_SOURCE,
    ProjectClasses,
)
from lockgate.config.schema.validation import (
    REPO_SCHEMAS,
    TENANT_SCHEMAS,
    SchemaProblem,
    format_path,
    object_label,
    validate,
)
from lockgate.config.schema.validators import (
    RESERVED_VARS,
    AnsibleVersion,
    Attrs,
    Bool,
    Dict,
    Either,
    Int,
    ListOf,
    MissingAttribute,
    NonNegativeInt,
    OneOf,
    OneOrList,
    Overridable,
    Regex,
    Regexes,
    RegexItem,
    Str,
    StrList,
    UnknownAttribute,
    Validator,
    Vars,
    VarsByName,
    describe,
    suggest,
)

__all__ = [
    "ANONYMOUS_NODESET",
    "API_ROOT",
    "ATTRIBUTE_CONTROL_ATTRS",
    "AUTHORIZATION_RULE",
    "GLOBAL_SEMAPHORE",
    "GROUP",
    "IMPLICIT_CONNECTIONS",
    "JOB",
    "JOB_VARIANT",
    "MERGE_MODES",
    "NODE",
    "NODESET",
    "PIPELINE",
    "PIPELINE_MANAGERS",
    "PRAGMA",
    "PROJECT",
    "PROJECT_CLASSES",
    "PROJECT_PIPELINE",
    "PROJECT_TEMPLATE",
    "QUEUE",
    "REPORTER_ACTIONS",
    "REPO_SCHEMAS",
    "RESERVED_VARS",
    "SECRET",
    "SEMAPHORE",
    "SEMAPHORE_REF",
    "TENANT",
    "TENANT_PROJECT",
    "TENANT_PROJECT_OPTIONS",
    "TENANT_SCHEMAS",
    "TENANT_SOURCE",
    "AnsibleVersion",
    "AttributeControl",
    "Attrs",
    "Bool",
    "Dict",
    "Either",
    "Int",
    "ListOf",
    "MissingAttribute",
    "NonNegativeInt",
    "OneOf",
    "OneOrList",
    "Overridable",
    "ProjectClasses",
    "Regex",
    "RegexItem",
    "Regexes",
    "SchemaProblem",
    "Str",
    "StrList",
    "UnknownAttribute",
    "Validator",
    "Vars",
    "VarsByName",
    "describe",
    "format_path",
    "object_label",
    "pipeline_schema",
    "suggest",
    "validate",
]
