"""Parsed configuration objects: the hand-off between reading and meaning.

The parser (``lockgate.config.parser``) turns a project's YAML files into a
list of ``ConfigObject`` records: one per top-level list item that passed its
schema, in file order.  The layout builder (``lockgate.config.layout``) takes
these records and gives them Zuul's meaning (inheritance, variants, merging).
Nothing here knows about either side; it is only the record they share.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lockgate.config.errors import SourceContext

# Object classes a repository may define, in Zuul's vocabulary.  These are
# also the names a tenant project's ``include``/``exclude`` lists use.
REPO_OBJECT_KINDS: tuple[str, ...] = (
    "pipeline",
    "job",
    "project",
    "project-template",
    "nodeset",
    "secret",
    "semaphore",
    "queue",
    "pragma",
    "image",
    "flavor",
    "label",
    "section",
    "provider",
)

# Object classes a tenant config file (``main.yaml``) may define.
TENANT_OBJECT_KINDS: tuple[str, ...] = (
    "tenant",
    "authorization-rule",
    "admin-rule",
    "global-semaphore",
    "api-root",
)


@dataclass(frozen=True)
class ConfigObject:
    """One validated top-level object from a repository file.

    ``kind`` is the top-level key (``"job"``, ``"project"``, ...).  ``name``
    is the object's ``name`` attribute; a ``project`` stanza without a name
    gets the name of the repository it lives in, and a ``pragma`` has none.
    ``body`` is the mapping under the key, schema-validated but otherwise as
    written: YAML tag wrappers (``Encrypted``, ``Inherit``, ``Override``,
    ``Unsafe`` from ``lockgate.config.yaml``) are kept so the layout builder
    can apply them.  ``context`` says where it came from (file and line of
    the list item).
    """

    kind: str
    name: str | None
    body: dict[str, Any] = field(hash=False)
    context: SourceContext
