"""Tenants: their configuration read out of git, their layouts, published.

Who calls it: the scheduler at start (``TenantRegistry.load_all``) and on
SIGHUP (``reconfigure``: the tenant config is read again, and each tenant
is reloaded by the next pass under its lock), and the tenant processor when
an event changes a project's configuration (``updates_config`` then
``reload``) or a peer scheduler published a newer layout
(``ensure_current``).

For each tenant of ``[scheduler] tenant_config`` (``main.yaml``), the
configuration files of every project-branch are read from a local mirror
(``lockgate.git.RepoCache``) and ``lockgate.config.loader.load_tenant``
builds the layout.  The pipelines' trigger entries are compiled by their
drivers (``make_trigger_filter``) so matching an event is pure.  What the
web needs — configuration errors, projects, pipelines — is published as a
``TenantLayoutState`` (``lockgate.zk.tenants.save_layout``).

Broken configuration never stops the scheduler: each error is logged and
published (``/api/tenant/{t}/config-errors``), the broken object is left
out, and everything else keeps running.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from lockgate.auth.rules import tenant_auth
from lockgate.config.discovery import CONFIG_ROOTS
from lockgate.config.errors import ConfigError
from lockgate.config.layout_model import Layout
from lockgate.config.limits import DEFAULT_LIMITS
from lockgate.config.loader import load_tenant
from lockgate.config.model import Pipeline
from lockgate.config.tenant import TenantConfig, TenantProject, TenantSpec, parse_tenant_config
from lockgate.drivers.base import Connection, TriggerFilter, TriggerFilterError
from lockgate.drivers.registry import resolve_trigger
from lockgate.git import ZERO_SHA, GitError, RepoCache
from lockgate.model.change import Change
from lockgate.model.events import TriggerEvent
from lockgate.model.tenant_state import TenantLayoutState
from lockgate.scheduler.matching import Requirement
from lockgate.zk.client import ZKClient
from lockgate.zk.layout_sources import (
    LayoutSources,
    SourceFile,
    files_digest,
    load_sources_index,
    save_sources,
)
from lockgate.zk.tenants import load_layout, save_layout

log = logging.getLogger("lockgate.scheduler.tenants")


class TenantConfigError(Exception):
    """The tenant config file cannot be read at all (one line for the user)."""


@dataclass
class Tenant:
    """A tenant as this scheduler runs it."""

    name: str
    spec: TenantSpec
    layout: Layout
    state: TenantLayoutState
    # pipeline -> trigger name -> compiled filters
    filters: dict[str, dict[str, list[TriggerFilter]]] = field(default_factory=dict)
    # pipeline -> connection -> the pipeline's require/reject, compiled
    requirements: dict[str, dict[str, Requirement]] = field(default_factory=dict)
    # (project, branch) -> digest of the configuration files read there
    config_digests: dict[tuple[str, str], str] = field(default_factory=dict)
    # (project, branch) -> the configuration files read there (published
    # with the layout for the web: ``lockgate.zk.layout_sources``)
    config_files: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)

    @property
    def uuid(self) -> str:
        return self.state.uuid

    def project(self, name: str) -> TenantProject | None:
        resolved = self.layout.resolve_project(name) or name
        return self.spec.project(resolved)


def _config_paths(project: TenantProject) -> tuple[list[str], list[str]]:
    roots = list(CONFIG_ROOTS) + [p.lstrip("/") for p in project.extra_config_paths]
    files = [r for r in roots if not r.endswith("/")]
    dirs = [r for r in roots if r.endswith("/")]
    return files, dirs


def _digest(files: Mapping[str, str] | None) -> str:
    data = json.dumps(sorted((files or {}).items())).encode()
    return hashlib.sha256(data).hexdigest()


def _unreadable(project: TenantProject, message: str) -> ConfigError:
    """A repository git cannot read, reported as a configuration error of its
    project (the tenant still loads from the others)."""
    return ConfigError(
        message, object_type="project", object_name=project.name, key="unreadable-project"
    )


class TenantLoader:
    """Reads configuration from git and builds one tenant's layout."""

    def __init__(
        self,
        connections: Mapping[str, Connection],
        repo_cache: RepoCache,
        labels: frozenset[str] | None = None,
    ) -> None:
        """``labels``: the node labels the site's providers offer (None: not
        checked), so a job asking for a label nobody offers is a
        configuration error rather than a node request that never ends."""
        self.connections = connections
        self.repo_cache = repo_cache
        self.labels = labels
        self._fetched: set[str] = set()

    def url(self, project: TenantProject) -> str:
        connection = self.connections.get(project.connection)
        if connection is None:
            raise GitError(f"project {project.name}: no connection '{project.connection}'")
        return connection.source().clone_url(project.name)

    def read_config_files(self, project: TenantProject, ref: str) -> dict[str, str] | None:
        files, dirs = _config_paths(project)
        url = self.url(project)
        if url not in self._fetched:
            self.repo_cache.update(url)
            self._fetched.add(url)
        files_read = self.repo_cache.read_files(
            url, ref, files, dirs, max_bytes=DEFAULT_LIMITS.max_file_bytes
        )
        return files_read or None

    def branches(self, project: TenantProject) -> list[str]:
        url = self.url(project)
        if url not in self._fetched:
            self.repo_cache.update(url)
            self._fetched.add(url)
        return self.repo_cache.branches(url)

    def load(self, spec: TenantSpec) -> Tenant:
        """Fetch every project, read its configuration, build the layout."""
        self._fetched = set()
        digests: dict[tuple[str, str], str] = {}
        read_errors: list[ConfigError] = []
        config_files: dict[tuple[str, str], dict[str, str]] = {}

        def read_files(project: TenantProject, branch: str) -> dict[str, str] | None:
            try:
                files = self.read_config_files(project, branch)
            except GitError as e:
                read_errors.append(
                    _unreadable(
                        project, f"cannot read the configuration of {project.name}@{branch}: {e}"
                    )
                )
                return None
            digests[(project.name, branch)] = _digest(files)
            if files:
                config_files[(project.name, branch)] = dict(files)
            return files

        def branches(project: TenantProject) -> list[str]:
            try:
                return self.branches(project)
            except GitError as e:
                read_errors.append(
                    _unreadable(project, f"cannot list the branches of {project.name}: {e}")
                )
                return []

        drivers = {name: conn.driver_name for name, conn in self.connections.items()}
        layout = load_tenant(spec, read_files, branches, drivers, labels=self.labels)
        layout.errors[:0] = read_errors
        filters, trigger_errors = compile_triggers(layout, self.connections)
        layout.errors.extend(trigger_errors)
        requirements, requirement_errors = compile_requirements(layout, self.connections)
        layout.errors.extend(requirement_errors)
        state = TenantLayoutState(
            tenant=spec.name,
            config_errors=[e.to_api() for e in layout.errors],
            projects=[p.name for p in spec.projects],
            project_connections={p.name: p.connection for p in spec.projects},
            pipelines=list(layout.pipelines),
            pipeline_info=pipeline_info(layout, self.connections),
        )
        return Tenant(
            spec.name,
            spec,
            layout,
            state,
            filters=filters,
            requirements=requirements,
            config_digests=digests,
            config_files=config_files,
        )


def compile_requirements(
    layout: Layout, connections: Mapping[str, Connection]
) -> tuple[dict[str, dict[str, Requirement]], list[ConfigError]]:
    """Every pipeline's ``require``/``reject`` per connection, compiled by the
    connection's driver (``lockgate.drivers.<driver>.requirements``).  A
    requirement that cannot be compiled is a configuration error of the
    pipeline, which then enqueues nothing from that connection (refusing is
    safer than ignoring a requirement)."""
    out: dict[str, dict[str, Requirement]] = {}
    errors: list[ConfigError] = []
    for name, pipeline in layout.pipelines.items():
        per_conn: dict[str, Requirement] = {}
        for conn in sorted(set(pipeline.require or {}) | set(pipeline.reject or {})):
            connection = connections.get(conn)
            try:
                if connection is None:
                    raise ValueError(f"no connection '{conn}'")
                module = importlib.import_module(
                    f"lockgate.drivers.{connection.driver_name}.requirements"
                )
                per_conn[conn] = module.make_requirement(
                    conn, (pipeline.require or {}).get(conn), (pipeline.reject or {}).get(conn)
                )
            except (ImportError, AttributeError):
                per_conn[conn] = _Refuse(f"the {conn} driver has no pipeline requirements")
                errors.append(_requirement_error(pipeline, name, conn, "not supported"))
            except Exception as e:  # noqa: BLE001 - the driver's message names what and where
                per_conn[conn] = _Refuse(f"invalid requirements: {e}")
                errors.append(
                    ConfigError(str(e), pipeline.context, "pipeline", name, key="require")
                )
        out[name] = per_conn
    return out, errors


def _requirement_error(pipeline: Pipeline, name: str, conn: str, message: str) -> ConfigError:
    return ConfigError(
        f"require/reject '{conn}': {message}", pipeline.context, "pipeline", name, key="require"
    )


@dataclass(frozen=True)
class _Refuse:
    """A requirement that could not be compiled: nothing satisfies it."""

    reason: str

    def check(self, change: Change, now: float) -> str | None:
        return self.reason


def compile_triggers(
    layout: Layout, connections: Mapping[str, Connection]
) -> tuple[dict[str, dict[str, list[TriggerFilter]]], list[ConfigError]]:
    """Every pipeline's trigger entries as the drivers' filters; problems
    (an unknown connection, a bad entry) are configuration errors of the
    pipeline, which then has no trigger from that connection."""
    filters: dict[str, dict[str, list[TriggerFilter]]] = {}
    errors: list[ConfigError] = []
    for name, pipeline in layout.pipelines.items():
        per_conn: dict[str, list[TriggerFilter]] = {}
        for trigger_name, specs in (pipeline.triggers or {}).items():
            try:
                driver, _connection = resolve_trigger(trigger_name, connections)
            except KeyError:
                errors.append(
                    ConfigError(
                        f"trigger '{trigger_name}': no connection or driver of that name",
                        pipeline.context,
                        "pipeline",
                        name,
                        key="unknown-connection",
                    )
                )
                continue
            entries = specs if isinstance(specs, list) else [specs]
            compiled = []
            for spec in entries:
                try:
                    compiled.append(driver.make_trigger_filter(trigger_name, spec or {}))
                except TriggerFilterError as e:
                    errors.append(
                        ConfigError(str(e), pipeline.context, "pipeline", name, key="trigger")
                    )
            per_conn[trigger_name] = compiled
        filters[name] = per_conn
    return filters, errors


def pipeline_info(layout: Layout, connections: Mapping[str, Connection]) -> dict[str, dict]:
    """What the status API shows of each pipeline before any item exists."""
    out: dict[str, dict] = {}
    for name, pipeline in layout.pipelines.items():
        triggers = []
        for trigger_name in pipeline.triggers or {}:
            conn = connections.get(trigger_name)
            triggers.append(
                {
                    "name": trigger_name,
                    "driver": conn.driver_name if conn is not None else trigger_name,
                }
            )
        out[name] = {
            "description": pipeline.description or "",
            "manager": getattr(pipeline.manager, "value", str(pipeline.manager)),
            "triggers": triggers,
        }
    return out


def _canonical(data: Any) -> Any:
    """``data`` as it reads back from ZooKeeper (JSON: tuples are lists)."""
    return json.loads(json.dumps(data, sort_keys=True, default=str))


def _canonical_sources(sources: LayoutSources) -> Any:
    data = _canonical(sources.to_dict())
    data["files"] = sorted(
        data["files"], key=lambda f: (f["connection"], f["project"], f["branch"])
    )
    return data


class TenantRegistry:
    """The tenants this scheduler runs; thread-safe."""

    def __init__(
        self,
        tenant_config: str,
        loader: TenantLoader,
        client: ZKClient | None = None,
    ) -> None:
        self.tenant_config = tenant_config
        self.loader = loader
        self.client = client
        self.tenants: dict[str, Tenant] = {}
        self.config: TenantConfig | None = None
        # Tenants to load again from the tenant config re-read by
        # ``reconfigure`` (the next pass does it, under the tenant's lock).
        self._pending: set[str] = set()
        # Why the last re-read of the tenant config was refused (published
        # with every tenant's configuration errors until a re-read succeeds).
        self.tenant_config_errors: list[ConfigError] = []
        self._republish: set[str] = set()
        self._lock = threading.RLock()
        # The text of the tenant config last read and of the one adopted.
        self._text_read = ""
        self.config_text = ""

    def read_tenant_config(self) -> TenantConfig:
        try:
            text = Path(self.tenant_config).read_text()
            self._text_read = text
        except OSError as e:
            raise TenantConfigError(
                f"[scheduler] tenant_config {self.tenant_config}: cannot read: {e.strerror or e}"
            ) from None
        config = parse_tenant_config(text, self.tenant_config)
        for error in config.errors:
            log.error("tenant config: %s", error.format())
        return config

    def load_all(self) -> None:
        """Read the tenant config and load every tenant.  Each layout is
        published unless the one a peer published was built from the same
        sources into the same state: then its identity is adopted, so that a
        scheduler joining (or rejoining) running peers does not make every
        one of them load every tenant again."""
        config = self.read_tenant_config()
        self._adopt(config)
        for spec in config.tenants.values():
            tenant = self.reload(spec.name, "start", publish=False)
            twin = self._published_twin(tenant)
            if twin is not None:
                tenant.state = twin
                log.info(
                    "tenant %s: layout %s published by a peer has the same sources; adopted",
                    spec.name,
                    twin.uuid[:12],
                )
            elif self.client is not None:
                self._publish(tenant)

    def _published_twin(self, tenant: Tenant) -> TenantLayoutState | None:
        """The published layout of ``tenant``'s name if it is ``tenant`` but
        for its identity: same tenant config, connections, branches and
        configuration files, and the same published state."""
        if self.client is None:
            return None
        published = load_layout(self.client, tenant.name)
        if published is None:
            return None
        sources = load_sources_index(self.client, tenant.name)
        if sources is None or sources.layout_uuid != published.uuid:
            return None  # a publication under way, or none: ours goes out
        mine = self._sources(tenant)
        mine.layout_uuid = published.uuid
        if _canonical_sources(mine) != _canonical_sources(sources):
            return None
        ours = replace(tenant.state, uuid=published.uuid, loaded_at=published.loaded_at)
        if _canonical(ours.to_dict()) != _canonical(published.to_dict()):
            return None
        return published

    def _publish(self, tenant: Tenant) -> None:
        assert self.client is not None
        self._publish_sources(tenant)
        save_layout(self.client, tenant.state)

    def _adopt(self, config: TenantConfig) -> None:
        """Make ``config`` the tenant config; drop the tenants it no longer has
        (their queues and items stay in ZooKeeper, untouched)."""
        with self._lock:
            self.config = config
            self.config_text = self._text_read
            for name in list(self.tenants):
                if name not in config.tenants:
                    log.info("tenant %s is no longer in the tenant config", name)
                    del self.tenants[name]
            self._pending &= set(config.tenants)

    def reconfigure(self) -> bool:
        """Read the tenant config again (SIGHUP).  Accepted only without a
        single error: then the tenants gone are dropped and every tenant it
        names is marked for reloading, which the next pass over each does
        under the tenant's lock (``is_pending``).  Refused: the tenants run
        on as they are, and the errors are logged and published with each
        tenant's configuration errors.  Returns whether it was accepted."""
        try:
            config = self.read_tenant_config()
            errors = list(config.errors)
        except TenantConfigError as e:
            errors = [ConfigError(str(e), key="tenant-config")]
        if errors:
            log.error(
                "tenant config %s not reloaded (%d errors); the tenants keep running as they are",
                self.tenant_config,
                len(errors),
            )
            with self._lock:
                self.tenant_config_errors = errors
                self._republish = set(self.tenants)
            return False
        with self._lock:
            self.tenant_config_errors = []
            self._republish.clear()
            self._adopt(config)
            self._pending = set(config.tenants)
        log.info(
            "tenant config %s re-read: tenants %s",
            self.tenant_config,
            ", ".join(sorted(config.tenants)) or "(none)",
        )
        return True

    def is_pending(self, name: str) -> bool:
        """Whether tenant ``name`` waits to be reloaded after ``reconfigure``."""
        with self._lock:
            return name in self._pending

    def names(self) -> list[str]:
        """The tenants this scheduler runs, with those waiting for their first load."""
        with self._lock:
            return sorted(set(self.tenants) | self._pending)

    def get(self, name: str) -> Tenant | None:
        with self._lock:
            return self.tenants.get(name)

    def reload(self, name: str, reason: str, *, publish: bool = True) -> Tenant:
        """Load tenant ``name`` again from git; publish its new layout."""
        assert self.config is not None
        with self._lock:
            spec = self.config.tenants[name]
            rules = self.config.authorization_rules
            api_root = self.config.api_root
            # Whatever the outcome, this tenant has been loaded from this spec.
            self._pending.discard(name)
            self._republish.discard(name)
        tenant = self.loader.load(spec)
        tenant.state.auth = tenant_auth(spec, rules, api_root).to_dict()
        with self._lock:
            refused = list(self.tenant_config_errors)
        tenant.state.config_errors += [e.to_api() for e in refused]
        errors = tenant.state.config_errors
        log.info(
            "tenant %s loaded (%s): %d pipelines, %d projects, %d configuration errors",
            name,
            reason,
            len(tenant.state.pipelines),
            len(tenant.state.projects),
            len(errors),
        )
        for error in tenant.layout.errors:
            log.error("tenant %s: configuration error: %s", name, error.format())
        if publish and self.client is not None:
            self._publish(tenant)
        with self._lock:
            self.tenants[name] = tenant
        return tenant

    def _publish_sources(self, tenant: Tenant) -> None:
        """What the layout was built from, for the web to build it too.  A
        failure here is logged, not raised: the layout is still published
        and the web's configuration endpoints wait for the next reload."""
        assert self.client is not None
        try:
            save_sources(self.client, self._sources(tenant), tenant.config_files)
        except Exception as e:  # noqa: BLE001 - the layout itself must still be published
            log.warning("tenant %s: cannot publish the layout's sources: %s", tenant.name, e)

    def _sources(self, tenant: Tenant) -> LayoutSources:
        """What ``tenant``'s layout was built from (``lockgate.zk.layout_sources``)."""
        # Config files are read only from the tenant's projects.
        connection_of = {p.name: p.connection for p in tenant.spec.projects}
        return LayoutSources(
            tenant=tenant.name,
            layout_uuid=tenant.uuid,
            tenant_config=self.config_text,
            tenant_config_path=self.tenant_config,
            connections={name: conn.driver_name for name, conn in self.loader.connections.items()},
            branches={p: list(b) for p, b in tenant.layout.branches.items()},
            files=[
                SourceFile(
                    connection_of[project],
                    project,
                    branch,
                    files_digest(files),
                )
                for (project, branch), files in sorted(tenant.config_files.items())
            ],
        )

    def ensure_current(self, name: str) -> Tenant | None:
        """The tenant, reloaded first if a peer published a newer layout."""
        tenant = self.get(name)
        if tenant is None or self.client is None:
            return tenant
        with self._lock:
            republish = name in self._republish
            self._republish.discard(name)
        if republish:
            return self._publish_tenant_config_errors(tenant)
        published = load_layout(self.client, name)
        if published is not None and published.uuid != tenant.uuid:
            tenant = self.reload(
                name, f"a peer published layout {published.uuid[:12]}", publish=False
            )
            # Adopt the published identity, so the peer need not reload in turn.
            tenant.state = published
        return tenant

    def _publish_tenant_config_errors(self, tenant: Tenant) -> Tenant:
        """Publish the tenant's layout again (same uuid: peers need not reload)
        with the refused tenant config's errors after its own."""
        assert self.client is not None
        errors = [e.to_api() for e in tenant.layout.errors]
        errors += [e.to_api() for e in self.tenant_config_errors]
        for error in self.tenant_config_errors:
            log.error("tenant %s: tenant config error: %s", tenant.name, error.format())
        tenant.state = replace(tenant.state, config_errors=errors)
        save_layout(self.client, tenant.state)
        return tenant

    def updates_config(self, tenant: Tenant, event: TriggerEvent) -> bool:
        """Whether ``event`` (a ref update) changes configuration ``tenant`` reads."""
        if event.type != "ref-updated" or not event.branch:
            return False
        project = tenant.project(event.project)
        if project is None or not project.include:
            return False
        if project.trusted and event.branch != (project.load_branch or "master"):
            return False
        key = (project.name, event.branch)
        if event.newrev in (None, ZERO_SHA):
            return key in tenant.config_digests  # a branch with configuration deleted
        try:
            self.loader._fetched.discard(self.loader.url(project))
            files = self.loader.read_config_files(project, event.newrev or event.branch)
        except GitError as e:
            log.warning(
                "[e: %s] cannot read the configuration of %s@%s: %s",
                event.event_id,
                project.name,
                event.branch,
                e,
            )
            return False
        old = tenant.config_digests.get(key)
        if old is None:
            return bool(files)
        return _digest(files) != old
