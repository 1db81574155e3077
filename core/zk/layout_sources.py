"""What a tenant's layout was built from, published so the web can build it too.

Who calls it: the scheduler that loads a tenant publishes its sources with
:func:`save_sources` just before it publishes the layout identity
(``lockgate.zk.tenants.save_layout``); the web reads them with
:func:`load_sources` when it meets a layout uuid it has not built yet, and
builds the same ``Layout`` (``lockgate.config.loader``) for the jobs,
projects and freeze-job endpoints.  This is Zuul's way (its web reads the
unparsed config cache): the web never reads git.

Two kinds of records (``lockgate.zk.paths``):

- ``tenant_layout_sources(t)``: ``LayoutSources`` — the layout uuid, the
  tenant config's text, the connections' drivers, each project's branches,
  and one ``SourceFile`` entry (connection, project, branch, digest) per
  project-branch that has configuration;
- ``config_cache(connection, project, branch)``: ``{"digest", "files"}``,
  the configuration files read there.  Written only when its digest
  changed, so a reload that changed one branch writes one record.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lockgate.model.serial import from_dict, to_dict
from lockgate.zk import paths
from lockgate.zk.client import ZKClient
from lockgate.zk.errors import translate_kazoo_errors
from lockgate.zk.records import RecordStore

SCHEMA = 1


def files_digest(files: Mapping[str, str] | None) -> str:
    """The digest of one project-branch's configuration files."""
    data = json.dumps(sorted((files or {}).items())).encode()
    return hashlib.sha256(data).hexdigest()


@dataclass
class SourceFile:
    connection: str
    project: str
    branch: str
    digest: str


@dataclass
class LayoutSources:
    tenant: str
    layout_uuid: str
    tenant_config: str  # the text of the tenant config file
    tenant_config_path: str = "main.yaml"
    connections: dict[str, str] = field(default_factory=dict)  # name -> driver
    branches: dict[str, list[str]] = field(default_factory=dict)  # project -> branches
    files: list[SourceFile] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.files = [f if isinstance(f, SourceFile) else SourceFile(**f) for f in self.files]

    def to_dict(self) -> dict[str, Any]:
        return to_dict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LayoutSources:
        return from_dict(cls, data)


@translate_kazoo_errors
def save_sources(
    client: ZKClient,
    sources: LayoutSources,
    files: Mapping[tuple[str, str], Mapping[str, str]],
) -> int:
    """Publish ``sources``; ``files`` maps (project, branch) to its files,
    for every entry of ``sources.files``.  Returns how many file records
    were written (those whose digest changed)."""
    store = RecordStore(client, schema=SCHEMA)
    index_path = paths.tenant_layout_sources(sources.tenant)
    previous = store.load(index_path)
    known: dict[tuple[str, str, str], str] = {}
    if previous is not None:
        for entry in LayoutSources.from_dict(previous.data).files:
            known[(entry.connection, entry.project, entry.branch)] = entry.digest
    written = 0
    for entry in sources.files:
        key = (entry.connection, entry.project, entry.branch)
        if known.get(key) == entry.digest:
            continue
        content = dict(files[(entry.project, entry.branch)])
        store.save(
            paths.config_cache(entry.connection, entry.project, entry.branch),
            {"digest": entry.digest, "files": content},
        )
        written += 1
    store.save(index_path, sources.to_dict())
    for key in set(known) - {(f.connection, f.project, f.branch) for f in sources.files}:
        store.delete(paths.config_cache(*key))
    return written


@translate_kazoo_errors
def load_sources_index(client: ZKClient, tenant: str) -> LayoutSources | None:
    """The tenant's published sources without the files (their digests
    only), or None: what a starting scheduler compares its own with."""
    loaded = RecordStore(client, schema=SCHEMA).load(paths.tenant_layout_sources(tenant))
    return None if loaded is None else LayoutSources.from_dict(loaded.data)


@translate_kazoo_errors
def load_sources(
    client: ZKClient, tenant: str
) -> tuple[LayoutSources, dict[tuple[str, str], dict[str, str]]] | None:
    """The tenant's published sources and every project-branch's files
    (keyed by (project, branch)), or None if none were published.  A file
    record whose digest differs from the index (a newer publication under
    way) is used as found: the next layout uuid brings the matching index."""
    store = RecordStore(client, schema=SCHEMA)
    loaded = store.load(paths.tenant_layout_sources(tenant))
    if loaded is None:
        return None
    sources = LayoutSources.from_dict(loaded.data)
    wanted = {
        (f.project, f.branch): paths.config_cache(f.connection, f.project, f.branch)
        for f in sources.files
    }
    found = store.load_many(wanted.values())
    files: dict[tuple[str, str], dict[str, str]] = {}
    for key, path in wanted.items():
        record = found.get(path)
        if record is not None:
            files[key] = dict(record.data.get("files") or {})
    return sources, files
