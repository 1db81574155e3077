"""Build a ``FrozenJob`` from a job's final inheritance state.

Nodes (nodeset alternatives flattened), playbooks with their project,
trust, roles and the secrets each may read, variables (project variables
under job variables) and every other attribute the executor needs.  The
records shared between jobs (secret tables, playbook references, secret
data) are cached in the layout.  Called by ``chain`` (``freeze_job``, the
config-change comparison) and ``recipes`` (a job's cached template), both
in this package.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from lockgate.config.errors import SourceContext
from lockgate.config.inherit import FreezeState, InheritanceError, deep_merge
from lockgate.config.layout_model import Layout
from lockgate.config.model import Job, Nodeset
from lockgate.model.jobs import FrozenJob, NodeSpec, PlaybookRef


def _copy(value: Any) -> Any:
    """A cheap deep copy of plain data (much faster than copy.deepcopy)."""
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_copy(v) for v in value]
    return value


def _jsonable(value: Any) -> Any:
    """Secret data as plain JSON; encrypted values stay encrypted, marked
    ``{"encrypted": "pkcs1-oaep", "ciphertext": [...]}``."""
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if hasattr(value, "to_dict"):
        return value.to_dict()
    chunks = getattr(value, "ciphertext", None)
    if chunks is None:
        chunks = getattr(value, "chunks", None)
    if chunks is not None:
        if isinstance(chunks, (str, bytes)):
            chunks = [chunks]
        return {
            "encrypted": "pkcs1-oaep",
            "ciphertext": [c.decode() if isinstance(c, bytes) else c for c in chunks],
        }
    return str(value)


def _secret_json(layout: Layout, secret: Any, attr: str) -> Any:
    key = ("secret-json", id(secret), attr)
    found = layout.cache.get(key)
    if found is None:
        found = layout.cache[key] = (_jsonable(getattr(secret, attr)),)
    return found[0]  # shared between frozen jobs: read-only


def _flatten_nodesets(layout: Layout, nodeset: Nodeset, origin: Job) -> list[Nodeset]:
    """Alternatives flattened breadth-first into concrete nodesets."""
    out: list[Nodeset] = []
    queue: list[Nodeset] = [nodeset]
    seen: set[str] = set()
    while queue:
        current = queue.pop(0)
        if not current.alternatives:
            out.append(current)
            continue
        for alt in current.alternatives:
            if isinstance(alt, str):
                if alt in seen:
                    raise InheritanceError(
                        f"nodeset alternatives of job '{origin.name}' loop through '{alt}'",
                        origin,
                        "nodeset-cycle",
                    )
                seen.add(alt)
                found = layout.nodesets.get(alt)
                if found is None:
                    raise InheritanceError(
                        f"job '{origin.name}' nodeset alternative '{alt}' is not defined",
                        origin,
                        "unknown-nodeset",
                    )
                queue.append(found)
            else:
                queue.append(alt)
    return out


def _nodeset_dict(ns: Nodeset) -> dict[str, Any]:
    return {
        "name": ns.name,
        "nodes": [{"name": list(n.names), "label": n.label} for n in ns.nodes],
        "groups": [{"name": g.name, "nodes": list(g.nodes)} for g in ns.groups],
    }


@dataclass(frozen=True)
class _SecretTable:
    """The secrets a chain's definitions grant, computed once per layout for
    each distinct list of grants (most jobs share their base job's).

    ``secrets`` has one entry per (definition, variable name); ``grants``
    pairs each granting definition and its level with the indexes of its
    entries.
    """

    key: tuple[tuple[int, int], ...]
    secrets: tuple[dict[str, Any], ...]
    grants: tuple[tuple[Job, int, tuple[int, ...]], ...]


def _secret_table(layout: Layout, secret_grants: tuple[tuple[Job, int], ...]) -> _SecretTable:
    # Jobs live as long as the layout, so their ids identify them here.
    key = tuple((id(job), level) for job, level in secret_grants)
    found: _SecretTable | None = layout.cache.get(("secret-table", key))
    if found is not None:
        return found
    secrets: list[dict[str, Any]] = []
    index: dict[tuple[int, str], int] = {}
    grants: list[tuple[Job, int, tuple[int, ...]]] = []
    for job, level in secret_grants:
        idxs = []
        for use in job.secrets or ():
            entry_key = (id(job), use.name)
            if entry_key not in index:
                secret = layout.secrets[use.secret]
                index[entry_key] = len(secrets)
                secrets.append(
                    {
                        "name": use.name,
                        "secret": use.secret,
                        "project": secret.project,
                        "branch": secret.context.branch,
                        "connection": secret.context.connection,
                        "trusted": job.trusted,
                        "pass_to_parent": use.pass_to_parent,
                        "data": _secret_json(layout, secret, "data"),
                        "oidc": _secret_json(layout, secret, "oidc"),
                    }
                )
            idxs.append(index[entry_key])
        grants.append((job, level, tuple(idxs)))
    table = _SecretTable(key, tuple(secrets), tuple(grants))
    layout.cache[("secret-table", key)] = table
    return table


def _playbook_refs(
    layout: Layout, placed_list: tuple[Any, ...], table: _SecretTable
) -> tuple[PlaybookRef, ...]:
    """The ``PlaybookRef``s of one of a state's playbook sequences.

    States of a chain's descendants share their ancestors' sequences (the
    same tuple), so the records are computed once per sequence and table;
    the cached value holds the sequence, so its id stays its own.
    """
    key = ("playbooks", id(placed_list), table.key)
    found: tuple[tuple[Any, ...], tuple[PlaybookRef, ...]] | None = layout.cache.get(key)
    if found is not None:
        return found[1]
    secrets = table.secrets
    out = []
    for placed in placed_list:
        job = placed.job
        readable: list[int] = []
        names: set[str] = set()
        for gjob, _glevel, idxs in table.grants:
            if gjob is job:
                for i in idxs:
                    readable.append(i)
                    names.add(secrets[i]["name"])
        for _gjob, glevel, idxs in table.grants:
            if glevel > placed.level:
                for i in idxs:
                    if secrets[i]["pass_to_parent"] and secrets[i]["name"] not in names:
                        readable.append(i)
                        names.add(secrets[i]["name"])
        ref_key = ("playbook", id(placed), tuple(readable))
        ref = layout.cache.get(ref_key)
        if ref is None:
            view = layout.project_view(job.project)
            ref = layout.cache[ref_key] = PlaybookRef(
                path=placed.definition.path,
                connection=job.context.connection or (view.connection if view else None) or "",
                project=job.project,
                branch=job.context.branch,
                trusted=job.trusted,
                roles=[_role_dict(layout, r) for r in placed.roles],
                semaphores=list(placed.definition.semaphores),
                cleanup=placed.definition.cleanup,
                secrets=readable,
                nesting_level=placed.level,
            )
        out.append(ref)
    refs = tuple(out)
    layout.cache[key] = (placed_list, refs)
    return refs


def build_frozen_job(layout: Layout, state: FreezeState, project_vars: dict[str, Any]) -> FrozenJob:
    v = state.values
    # Nodes.
    nodeset_name = None
    nodes: list[NodeSpec] = []
    groups: list[dict[str, Any]] = []
    alternatives: list[dict[str, Any]] = []
    ns = v.get("nodeset")
    if ns is not None:
        if isinstance(ns, str):
            nodeset_name = ns
            found = layout.nodesets.get(ns)
            if found is None:
                # Only the final value counts: a parent's unknown nodeset
                # that a child replaced never gets here.
                raise InheritanceError(
                    f"job '{state.name}' uses unknown nodeset '{ns}'",
                    _setter(layout, state, "nodeset"),
                    "unknown-nodeset",
                )
            ns = found
        concrete = _flatten_nodesets(layout, ns, state_origin(state)) if ns.alternatives else [ns]
        _check_labels(layout, state, concrete)
        if ns.alternatives:
            alternatives = [_nodeset_dict(c) for c in concrete]
        first = concrete[0] if concrete else Nodeset(None)
        nodes = [NodeSpec(name=list(n.names), label=n.label) for n in first.nodes]
        groups = [{"name": g.name, "nodes": list(g.nodes)} for g in first.groups]
    table = _secret_table(layout, state.secret_grants)
    # Each job gets its own entries (shallow copies), as when they were
    # built per job; playbook records are shared (see _playbook_refs).
    secrets = [dict(entry) for entry in table.secrets]

    def playbooks(placed_list: tuple[Any, ...]) -> list[PlaybookRef]:
        return list(_playbook_refs(layout, placed_list, table))

    job_vars = v.get("vars") or {}
    merged_vars = deep_merge(project_vars, job_vars) if project_vars else job_vars
    return FrozenJob(
        name=state.name,
        inheritance_path=list(state.path),
        nodeset_name=nodeset_name,
        nodes=nodes,
        groups=groups,
        nodeset_alternatives=alternatives,
        pre_run=playbooks(state.pre_run),
        run=playbooks(state.run),
        post_run=playbooks(state.post_run),
        cleanup_run=playbooks(state.cleanup_run),
        vars=_copy(merged_vars),
        extra_vars=_copy(v.get("extra_vars") or {}),
        host_vars=_copy(v.get("host_vars") or {}),
        group_vars=_copy(v.get("group_vars") or {}),
        timeout=v.get("timeout"),
        post_timeout=v.get("post_timeout"),
        pre_timeout=v.get("pre_timeout"),
        attempts=v.get("attempts", 3),
        voting=v.get("voting", True),
        tags=list(v.get("tags") or ()),
        required_projects=[
            replace(r, name=layout.resolve_project(r.name) or r.name)
            for r in v.get("required_projects") or ()
        ],
        dependencies=[dict(d) for d in v.get("dependencies") or ()],
        semaphores=[
            {"name": s["name"], "resources_first": s["resources-first"]} for s in state.semaphores
        ],
        override_checkout=v.get("override_checkout"),
        workspace_scheme=v.get("workspace_scheme", "golang"),
        post_review=state.post_review,
        secrets=secrets,
        source_contexts=list(state.contexts),
        description=v.get("description"),
        success_message=v.get("success_message"),
        failure_message=v.get("failure_message"),
        hold_following_changes=bool(v.get("hold_following_changes", False)),
        provides=list(v.get("provides") or ()),
        requires=list(v.get("requires") or ()),
        failure_output=list(v.get("failure_output") or ()),
        include_vars=[dict(i) for i in v.get("include_vars") or ()],
        ansible_version=v.get("ansible_version") or layout.tenant.default_ansible_version,
        ansible_split_streams=bool(v.get("ansible_split_streams", False)),
        deduplicate=v.get("deduplicate", "auto"),
        workspace_checkout=v.get("workspace_checkout", True),
        image_build_name=v.get("image_build_name"),
    )


def _setter(layout: Layout, state: FreezeState, attr: str) -> Job:
    """The last definition in ``state``'s chain that set ``attr`` (to blame
    for a problem with its final value)."""
    for level_name in reversed(state.level_names):
        for variant in reversed(layout.jobs.get(level_name, ())):
            if attr in variant.explicit:
                return variant
    return state_origin(state)


def _check_labels(layout: Layout, state: FreezeState, nodesets: list[Nodeset]) -> None:
    """The final nodeset's labels must be labels the tenant offers (when the
    layout knows them: ``Layout.labels``)."""
    known = layout.labels
    if known is None:
        return
    for nodeset in nodesets:
        for node in nodeset.nodes:
            if node.label not in known:
                raise InheritanceError(
                    f"job '{state.name}' uses label '{node.label}', which no provider of "
                    "the tenant offers",
                    _setter(layout, state, "nodeset"),
                    "unknown-label",
                )


def state_origin(state: FreezeState) -> Job:
    """A definition to blame for problems found while building (the last)."""
    for placed in state.run + state.pre_run + state.post_run:
        return placed.job
    return Job(
        name=state.name, context=SourceContext("<unknown>", None, "<unknown>"), project="<unknown>"
    )


def _role_dict(layout: Layout, role: Any) -> dict[str, Any]:
    """A role as the executor reads it (``zuul``/``project``, ``connection``,
    ``name``) and as Zuul's freeze-job answer shows it (``target_name``,
    ``project_canonical_name``, ``implicit``)."""
    out = role.to_dict()
    if role.kind == "zuul":
        resolved = layout.resolve_project(role.source) or role.source
        out["project"] = resolved
        view = layout.project_view(resolved)
        if view is not None and view.connection:
            out["connection"] = view.connection
        out["target_name"] = role.name
        out["project_canonical_name"] = (view.canonical_name if view else None) or resolved
        out["implicit"] = bool(role.implicit)
    return out
