"""Turn one parsed ``ConfigObject`` body into its model object.

Called by ``lockgate.config.layout`` for each object in load order.  Each
function looks at one object only (no references to other objects are
resolved here) and raises ``InterpretError`` with a user-facing message for
the first thing that makes the object unusable; the layout builder records
that as a ``ConfigError`` and skips the object.

Bodies have already passed the parser's voluptuous schema, so shapes are
mostly right; this module still checks what it relies on, so a record built
by hand (tests, speculative edits) cannot crash it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lockgate.config.errors import SourceContext
from lockgate.config.matchers import BranchMatcher, RegexError, compile_regex, parse_regexes
from lockgate.config.model import (
    ATTRIBUTE_CONTROL_ATTRIBUTES,
    DEFAULT_MESSAGES,
    REPORT_ACTIONS,
    GroupDef,
    Job,
    ManagerKind,
    NodeDef,
    Nodeset,
    OverrideMode,
    Pipeline,
    PlaybookDef,
    Pragma,
    Precedence,
    ProjectConfig,
    ProjectPipeline,
    ProjectTemplate,
    Queue,
    RoleDef,
    Secret,
    SecretUse,
    Semaphore,
    Window,
    WindowType,
    new_job,
)
from lockgate.model.jobs import RequiredProject


class InterpretError(Exception):
    """An object that cannot be used; ``str()`` is the user-facing message."""

    def __init__(self, message: str, key: str = "invalid-object") -> None:
        super().__init__(message)
        self.key = key


@dataclass(frozen=True)
class DefinitionSite:
    """What the layout builder knows about where an object is being defined."""

    project: str  # tenant project name holding the file
    trusted: bool
    branch: str | None
    connection: str | None = None
    # The implied branch matcher for jobs and templates in this file (None:
    # none applies), already decided from the project, tenant and pragma.
    implied: BranchMatcher | None = None


# --------------------------------------------------------------------------
# YAML override-control tags (``!inherit`` / ``!override``)


def split_control(value: Any) -> tuple[Any, OverrideMode | None]:
    """Unwrap an ``!inherit``/``!override`` tagged value.

    The parser represents the tags as small wrapper classes named
    ``Inherit``/``Override`` (``lockgate.config.yaml``); we recognise them by
    name so this module does not depend on how they store the value.
    """
    kind = type(value).__name__
    if kind not in ("Inherit", "Override"):
        return value, None
    mode = OverrideMode.INHERIT if kind == "Inherit" else OverrideMode.OVERRIDE
    inner = getattr(value, "value", value)
    if isinstance(inner, list):
        inner = list(inner)
    elif isinstance(inner, dict):
        inner = dict(inner)
    return inner, mode


def plain(value: Any) -> Any:
    """Strip override-control wrappers anywhere inside ``value``."""
    value, _ = split_control(value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


# --------------------------------------------------------------------------
# Small shape helpers


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _str(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise InterpretError(f"{what} must be a string, not {value!r}", "schema")
    return value


def _strs(value: Any, what: str) -> tuple[str, ...]:
    return tuple(_str(v, what) for v in _as_list(value))


def _bool(value: Any, what: str) -> bool:
    if not isinstance(value, bool):
        raise InterpretError(f"{what} must be true or false, not {value!r}", "schema")
    return value


def _int(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InterpretError(f"{what} must be an integer, not {value!r}", "schema")
    return value


def _dict(value: Any, what: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InterpretError(f"{what} must be a mapping, not {value!r}", "schema")
    return plain(value)


def _regexes(value: Any, what: str) -> Any:
    try:
        return parse_regexes(value)
    except RegexError as exc:
        raise InterpretError(f"{what}: {exc}", "regex") from None


# --------------------------------------------------------------------------
# Jobs

_SIMPLE_STR = {
    "description",
    "variant-description",
    "success-message",
    "failure-message",
    "override-checkout",
    "workspace-scheme",
    "image-build-name",
}
_SIMPLE_BOOL = {
    "final",
    "protected",
    "abstract",
    "intermediate",
    "hold-following-changes",
    "voting",
    "post-review",
    "match-on-config-updates",
    "ansible-split-streams",
}
_SIMPLE_INT = {"pre-timeout", "timeout", "post-timeout", "attempts"}
_STR_LISTS = {"tags", "provides", "requires", "failure-output"}
_VAR_DICTS = {"vars", "extra-vars", "host-vars", "group-vars"}
_CONTROLLABLE = (
    _STR_LISTS
    | _VAR_DICTS
    | {
        "files",
        "irrelevant-files",
        "required-projects",
        "include-vars",
        "dependencies",
    }
)
# Accepted and ignored, as in Zuul.
_IGNORED = {"success-url", "failure-url", "name", "_source_context", "_start_mark"}
_WORKSPACE_SCHEMES = {"golang", "flat", "unique"}


def role_install_name(project: str) -> str:
    """The default install name of a Zuul role project: its last path part
    without an ``ansible-role-``/``ansible-`` prefix."""
    short = project.rsplit("/", 1)[-1]
    for prefix in ("ansible-role-", "ansible-"):
        if short.startswith(prefix) and len(short) > len(prefix):
            return short[len(prefix) :]
    return short


def _playbooks(value: Any, attr: str, cleanup: bool = False) -> tuple[PlaybookDef, ...]:
    out = []
    for item in _as_list(value):
        if isinstance(item, str):
            out.append(PlaybookDef(item, (), cleanup))
        elif isinstance(item, dict) and isinstance(item.get("name"), str):
            sems = item.get("semaphores", item.get("semaphore"))
            out.append(
                PlaybookDef(
                    item["name"],
                    _strs(sems, f"{attr} semaphore"),
                    cleanup or bool(item.get("cleanup", False)),
                )
            )
        else:
            raise InterpretError(f"{attr} entries must be a path or {{name: path}}", "schema")
    return tuple(out)


def _semaphores(value: Any) -> tuple[dict[str, Any], ...]:
    out = []
    for item in _as_list(value):
        if isinstance(item, str):
            out.append({"name": item, "resources-first": False})
        elif isinstance(item, dict) and isinstance(item.get("name"), str):
            out.append(
                {
                    "name": item["name"],
                    "resources-first": bool(item.get("resources-first", False)),
                }
            )
        else:
            raise InterpretError("semaphores entries must be a name or {name: ...}", "schema")
    return tuple(out)


def _secrets(value: Any) -> tuple[SecretUse, ...]:
    out = []
    for item in _as_list(value):
        if isinstance(item, str):
            out.append(SecretUse(item, item))
        elif isinstance(item, dict) and isinstance(item.get("secret"), str):
            out.append(
                SecretUse(
                    _str(item.get("name", item["secret"]), "secret name"),
                    item["secret"],
                    bool(item.get("pass-to-parent", False)),
                )
            )
        else:
            raise InterpretError("secrets entries must be a name or {name, secret}", "schema")
    return tuple(out)


def _roles(value: Any) -> tuple[RoleDef, ...]:
    out = []
    for item in _as_list(value):
        if not isinstance(item, dict):
            raise InterpretError(
                "roles entries must be {zuul: project} or {galaxy: name}", "schema"
            )
        if "zuul" in item:
            src = _str(item["zuul"], "roles zuul project")
            out.append(RoleDef("zuul", src, item.get("name") or role_install_name(src)))
        elif "galaxy" in item:
            src = _str(item["galaxy"], "roles galaxy name")
            out.append(RoleDef("galaxy", src, item.get("name") or src))
        else:
            raise InterpretError("roles entries need 'zuul' or 'galaxy'", "schema")
    return tuple(out)


def _required_projects(value: Any) -> tuple[RequiredProject, ...]:
    out = []
    for item in _as_list(value):
        if isinstance(item, str):
            out.append(RequiredProject(item))
        elif isinstance(item, dict) and isinstance(item.get("name"), str):
            oc = item.get("override-checkout", item.get("override-branch"))
            out.append(RequiredProject(item["name"], override_checkout=oc))
        else:
            raise InterpretError(
                "required-projects entries must be a name or {name: ...}", "schema"
            )
    return tuple(out)


def _include_vars(value: Any) -> tuple[dict[str, Any], ...]:
    out = []
    for item in _as_list(value):
        if isinstance(item, str):
            item = {"name": item}
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise InterpretError("include-vars entries must be a path or {name: path}", "schema")
        if item.get("project") and item.get("zuul-project"):
            raise InterpretError(
                "include-vars entry may not set both 'project' and 'zuul-project'", "schema"
            )
        out.append(
            {
                "name": item["name"],
                "project": item.get("project"),
                "zuul-project": bool(item.get("zuul-project", False)),
                "use-ref": bool(item.get("use-ref", True)),
                "required": bool(item.get("required", True)),
            }
        )
    return tuple(out)


def _dependencies(value: Any) -> tuple[dict[str, Any], ...]:
    out = []
    for item in _as_list(value):
        if isinstance(item, str):
            out.append({"name": item, "soft": False})
        elif isinstance(item, dict) and isinstance(item.get("name"), str):
            out.append({"name": item["name"], "soft": bool(item.get("soft", False))})
        else:
            raise InterpretError("dependencies entries must be a job name or {name: ...}", "schema")
    return tuple(out)


def interpret_nodeset(
    body: Mapping[str, Any], ctx: SourceContext | None, project: str | None, anonymous: bool = False
) -> Nodeset:
    name = None if anonymous else body.get("name")
    alts = body.get("alternatives")
    nodes = body.get("nodes")
    groups = body.get("groups")
    if alts is not None:
        if nodes or groups:
            raise InterpretError(
                "a nodeset may have 'alternatives' or 'nodes'/'groups', not both", "nodeset"
            )
        out_alts: list[str | Nodeset] = []
        for alt in _as_list(alts):
            if isinstance(alt, str):
                out_alts.append(alt)
            elif isinstance(alt, dict):
                out_alts.append(interpret_nodeset(alt, ctx, project, anonymous=True))
            else:
                raise InterpretError("nodeset alternatives must be names or nodesets", "schema")
        return Nodeset(name, alternatives=tuple(out_alts), context=ctx, project=project)
    node_defs = []
    seen: set[str] = set()
    for node in _as_list(nodes):
        if not isinstance(node, dict):
            raise InterpretError("nodes entries must be {name, label}", "schema")
        names = _strs(node.get("name"), "node name")
        label = _str(node.get("label"), "node label")
        for n in names:
            if n in seen:
                raise InterpretError(f"node name '{n}' appears more than once", "duplicate-node")
            seen.add(n)
        node_defs.append(NodeDef(names, label))
    group_defs = []
    for group in _as_list(groups):
        if not isinstance(group, dict):
            raise InterpretError("groups entries must be {name, nodes}", "schema")
        gnodes = _strs(group.get("nodes"), "group nodes")
        for n in gnodes:
            if n not in seen:
                raise InterpretError(
                    f"group '{group.get('name')}' names unknown node '{n}'",
                    "node-from-group-not-found",
                )
        group_defs.append(GroupDef(_str(group.get("name"), "group name"), gnodes))
    return Nodeset(name, tuple(node_defs), tuple(group_defs), context=ctx, project=project)


def interpret_job(
    body: Mapping[str, Any],
    ctx: SourceContext,
    site: DefinitionSite,
    name: str | None = None,
    in_project_pipeline: bool = False,
) -> Job:
    """One ``job`` (or project-pipeline job variant) as a ``Job``."""
    if in_project_pipeline and not body and isinstance(name, str) and name:
        # A bare job name in a project pipeline (most entries): what the
        # general path below makes of an empty body, without walking it.
        return new_job(
            name=name,
            context=ctx,
            project=site.project,
            trusted=site.trusted,
            in_project_pipeline=True,
            override_modes={},
            explicit=(),
        )
    name = name or body.get("name")
    if not isinstance(name, str) or not name:
        raise InterpretError("a job needs a name", "schema")
    fields: dict[str, Any] = {}
    modes: dict[str, OverrideMode] = {}
    for key, raw in body.items():
        if key in _IGNORED:
            continue
        value, mode = split_control(raw)
        attr = key.replace("-", "_")
        if mode is not None:
            if key not in _CONTROLLABLE:
                raise InterpretError(
                    f"attribute '{key}' does not support !inherit/!override", "override-control"
                )
            modes[attr] = mode
        what = f"job '{name}' attribute '{key}'"
        if key == "parent":
            if value is None:
                fields["base_job"] = True
            else:
                fields["parent"] = _str(value, what)
        elif key == "branches":
            fields["branch_matcher"] = BranchMatcher(_regexes(value, what))
        elif key in _SIMPLE_STR:
            fields[attr] = _str(value, what)
        elif key == "override-branch":  # Zuul's older name
            fields["override_checkout"] = _str(value, what)
        elif key in _SIMPLE_BOOL:
            fields[attr] = _bool(value, what)
        elif key in _SIMPLE_INT:
            fields[attr] = _int(value, what)
        elif key in _STR_LISTS:
            fields[attr] = _strs(value, what)
        elif key in _VAR_DICTS:
            fields[attr] = _dict(value, what)
        elif key in ("files", "irrelevant-files"):
            fields[attr] = _regexes(value, what)
        elif key in ("semaphore", "semaphores"):
            fields["semaphores"] = fields.get("semaphores", ()) + _semaphores(value)
        elif key == "secrets":
            fields[attr] = _secrets(value)
        elif key == "nodeset":
            if isinstance(value, str):
                fields[attr] = value
            elif isinstance(value, dict):
                fields[attr] = interpret_nodeset(value, ctx, site.project, anonymous=True)
            else:
                raise InterpretError(f"{what} must be a nodeset name or a nodeset", "schema")
        elif key in ("pre-run", "run", "post-run"):
            fields[attr] = _playbooks(value, key)
        elif key == "cleanup-run":
            fields[attr] = _playbooks(value, key, cleanup=True)
        elif key == "roles":
            fields[attr] = _roles(value)
        elif key == "required-projects":
            fields[attr] = _required_projects(value)
        elif key == "include-vars":
            fields[attr] = _include_vars(value)
        elif key == "dependencies":
            fields[attr] = _dependencies(value)
        elif key == "allowed-projects":
            fields[attr] = frozenset(_strs(value, what))
        elif key == "attribute-control":
            control = {}
            for ckey, cval in _dict(value, what).items():
                if ckey not in ATTRIBUTE_CONTROL_ATTRIBUTES:
                    raise InterpretError(
                        f"attribute-control does not support attribute '{ckey}'",
                        "attribute-control",
                    )
                control[ckey] = bool((cval or {}).get("final", False))
            fields[attr] = control
        elif key == "ansible-version":
            fields[attr] = str(value)
        elif key in ("deduplicate", "workspace-checkout"):
            if value not in (True, False, "auto"):
                raise InterpretError(f"{what} must be true, false or auto", "schema")
            fields[attr] = value
        else:
            raise InterpretError(f"unknown attribute '{key}' in job '{name}'", "schema")
    if fields.get("workspace_scheme") not in (None, *_WORKSPACE_SCHEMES):
        raise InterpretError(
            f"job '{name}' attribute 'workspace-scheme' must be one of golang, flat, unique",
            "schema",
        )
    if fields.get("intermediate") and fields.get("abstract") is False:
        raise InterpretError(f"job '{name}' is intermediate but not abstract", "intermediate")
    if fields.get("base_job") and in_project_pipeline:
        fields.pop("base_job")
    if "branch_matcher" not in fields and not in_project_pipeline and site.implied:
        fields["branch_matcher"] = site.implied
    if fields.get("secrets") and not site.trusted:
        # Zuul's rule for secrets in untrusted projects: such a job runs only
        # after review, and only for the project that owns the secret.
        fields["post_review"] = True
        allowed = fields.get("allowed_projects")
        own = frozenset({site.project})
        fields["allowed_projects"] = own if allowed is None else allowed & own
    explicit = tuple(k for k in fields if k not in ("base_job", "branch_matcher"))
    return new_job(
        name=name,
        context=ctx,
        project=site.project,
        trusted=site.trusted,
        in_project_pipeline=in_project_pipeline,
        override_modes=modes,
        explicit=explicit,
        **fields,
    )


# --------------------------------------------------------------------------
# Secrets, semaphores, queues, pragma


def interpret_secret(body: Mapping[str, Any], ctx: SourceContext, project: str) -> Secret:
    name = _str(body.get("name"), "secret name")
    data = body.get("data")
    oidc = body.get("oidc")
    if data is None and oidc is None:
        raise InterpretError(f"secret '{name}' needs 'data' or 'oidc'", "schema")
    if data is not None and not isinstance(data, dict):
        raise InterpretError(f"secret '{name}' data must be a mapping", "schema")
    return Secret(name, ctx, project, data, oidc if isinstance(oidc, dict) else None)


def interpret_semaphore(body: Mapping[str, Any], ctx: SourceContext, project: str) -> Semaphore:
    name = _str(body.get("name"), "semaphore name")
    maximum = _int(body.get("max", 1), f"semaphore '{name}' max")
    if maximum < 1:
        raise InterpretError(f"semaphore '{name}' max must be at least 1", "schema")
    return Semaphore(name, maximum, ctx, project)


def interpret_queue(body: Mapping[str, Any], ctx: SourceContext, project: str) -> Queue:
    name = _str(body.get("name"), "queue name")
    circular = bool(body.get("allow-circular-dependencies", False))
    by_topic = bool(body.get("dependencies-by-topic", False))
    if by_topic and not circular:
        raise InterpretError(
            f"queue '{name}': dependencies-by-topic requires allow-circular-dependencies",
            "queue",
        )
    return Queue(name, bool(body.get("per-branch", False)), circular, by_topic, ctx, project)


def interpret_pragma(body: Mapping[str, Any]) -> Pragma:
    ibm = body.get("implied-branch-matchers")
    if ibm is not None and not isinstance(ibm, bool):
        raise InterpretError("pragma implied-branch-matchers must be true or false", "schema")
    branches = body.get("implied-branches")
    if branches is not None:
        branches = _strs(branches, "pragma implied-branches")
        _regexes(list(branches), "pragma implied-branches")
    return Pragma(ibm, branches)


# --------------------------------------------------------------------------
# Projects and templates

_PROJECT_KEYS = {
    "name",
    "description",
    "templates",
    "branches",
    "default-branch",
    "merge-mode",
    "vars",
    "queue",
}
MERGE_MODES = {
    "merge",
    "merge-resolve",
    "merge-recursive",
    "merge-ort",
    "cherry-pick",
    "squash-merge",
    "rebase",
}


def _project_pipelines(
    body: Mapping[str, Any], ctx: SourceContext, site: DefinitionSite, what: str
) -> tuple[dict[str, ProjectPipeline], list[InterpretError]]:
    """Pipeline stanzas of a project or template.

    A bad job entry makes only that entry unusable; it is returned as an
    error and the rest of the stanza stays.
    """
    pipelines: dict[str, ProjectPipeline] = {}
    problems: list[InterpretError] = []
    for key, value in body.items():
        if key in _PROJECT_KEYS or key in ("_source_context", "_start_mark"):
            continue
        if value is None:
            value = {}
        if not isinstance(value, dict):
            problems.append(InterpretError(f"{what} pipeline '{key}' must be a mapping", "schema"))
            continue
        jobs: list[Job] = []
        entries, _ = split_control(value.get("jobs"))
        for entry in _as_list(entries):
            try:
                if isinstance(entry, str):
                    jobs.append(interpret_job({}, ctx, site, entry, in_project_pipeline=True))
                elif isinstance(entry, dict) and len(entry) == 1:
                    ((jname, attrs),) = entry.items()
                    jobs.append(
                        interpret_job(attrs or {}, ctx, site, jname, in_project_pipeline=True)
                    )
                else:
                    raise InterpretError(
                        f"{what} pipeline '{key}' job entries must be a name or {{name: attrs}}",
                        "schema",
                    )
            except InterpretError as exc:
                problems.append(exc)
        pipelines[key] = ProjectPipeline(tuple(jobs), value.get("debug"), value.get("fail-fast"))
    return pipelines, problems


def interpret_template(
    body: Mapping[str, Any], ctx: SourceContext, site: DefinitionSite
) -> tuple[ProjectTemplate, list[InterpretError]]:
    name = _str(body.get("name"), "project-template name")
    for forbidden in ("default-branch", "merge-mode", "templates"):
        if forbidden in body:
            raise InterpretError(f"project-template '{name}' may not set '{forbidden}'", "schema")
    pipelines, problems = _project_pipelines(body, ctx, site, f"project-template '{name}'")
    tpl = ProjectTemplate(
        name=name,
        context=ctx,
        project=site.project,
        branch_matcher=site.implied,
        description=body.get("description"),
        queue=body.get("queue"),
        vars=_dict(body.get("vars"), f"project-template '{name}' vars") or None,
        pipelines=pipelines,
    )
    return tpl, problems


def interpret_project(
    body: Mapping[str, Any],
    ctx: SourceContext,
    site: DefinitionSite,
    name: str,
    resolved: str | None,
    branch_matcher: BranchMatcher | None,
) -> tuple[ProjectConfig, list[InterpretError]]:
    """A ``project`` stanza; ``resolved``/``branch_matcher`` come from the layout."""
    regex = None
    if name.startswith("^"):
        try:  # RE2 first, as Zuul: a hostile expression cannot backtrack
            regex = compile_regex(name)
        except RegexError as exc:
            raise InterpretError(f"invalid project name regex {name!r}: {exc}", "regex") from None
    if "branches" in body:
        branch_matcher = BranchMatcher(_regexes(body["branches"], f"project '{name}' branches"))
    merge_mode = body.get("merge-mode")
    if merge_mode is not None and merge_mode not in MERGE_MODES:
        raise InterpretError(
            f"project '{name}' merge-mode must be one of {', '.join(sorted(MERGE_MODES))}",
            "schema",
        )
    pipelines, problems = _project_pipelines(body, ctx, site, f"project '{name}'")
    cfg = ProjectConfig(
        name=name,
        context=ctx,
        defined_in=site.project,
        trusted=site.trusted,
        project=resolved,
        regex=regex,
        branch_matcher=branch_matcher,
        description=body.get("description"),
        templates=_strs(body.get("templates"), "project templates"),
        default_branch=body.get("default-branch"),
        merge_mode=merge_mode,
        vars=_dict(body.get("vars"), f"project '{name}' vars") or None,
        queue=body.get("queue"),
        pipelines=pipelines,
    )
    return cfg, problems


# --------------------------------------------------------------------------
# Pipelines

_PIPELINE_SCALARS = {
    "name",
    "manager",
    "description",
    "post-review",
    "precedence",
    "allow-other-connections",
    "supercedes",
    "dequeue-on-new-patchset",
    "ignore-dependencies",
    "disable-after-consecutive-failures",
    "trigger",
    "require",
    "reject",
    "window",
    "window-floor",
    "window-ceiling",
    "window-increase-type",
    "window-increase-factor",
    "window-decrease-type",
    "window-decrease-factor",
    "variant-description",
}


def interpret_pipeline(body: Mapping[str, Any], ctx: SourceContext) -> Pipeline:
    name = _str(body.get("name"), "pipeline name")
    manager_name = body.get("manager")
    try:
        manager = ManagerKind(manager_name if isinstance(manager_name, str) else "")
    except ValueError:
        raise InterpretError(
            f"pipeline '{name}' manager must be one of independent, dependent, serial, supercedent",
            "schema",
        ) from None
    try:
        precedence = Precedence(body.get("precedence", "normal"))
    except ValueError:
        raise InterpretError(
            f"pipeline '{name}' precedence must be low, normal or high", "schema"
        ) from None
    # ``trigger`` is required, but may be empty: such a pipeline only gets
    # items enqueued by Zuul itself or an operator (OpenDev's merge-check).
    trigger = body.get("trigger")
    if not isinstance(trigger, dict):
        raise InterpretError(f"pipeline '{name}' needs a 'trigger' mapping", "schema")
    triggers = {conn: [plain(f) for f in _as_list(filters)] for conn, filters in trigger.items()}
    reporters: dict[str, dict[str, Any]] = {}
    messages = dict(DEFAULT_MESSAGES)
    for key, value in body.items():
        if key in REPORT_ACTIONS:
            reporters[key] = _dict(value, f"pipeline '{name}' {key}")
        elif key in messages:
            messages[key] = _str(value, f"pipeline '{name}' {key}")
        elif key not in _PIPELINE_SCALARS:
            raise InterpretError(f"unknown attribute '{key}' in pipeline '{name}'", "schema")
    try:
        window = Window(
            initial=int(body.get("window", 20)),
            floor=int(body.get("window-floor", 3)),
            ceiling=None if body.get("window-ceiling") is None else int(body["window-ceiling"]),
            increase_type=WindowType(body.get("window-increase-type", "linear")),
            increase_factor=int(body.get("window-increase-factor", 1)),
            decrease_type=WindowType(body.get("window-decrease-type", "exponential")),
            decrease_factor=int(body.get("window-decrease-factor", 2)),
        )
    except (TypeError, ValueError) as exc:
        raise InterpretError(f"pipeline '{name}' window settings: {exc}", "schema") from None
    if window.ceiling is not None and window.ceiling < window.floor:
        raise InterpretError(
            f"pipeline '{name}' window-ceiling must be at least window-floor", "schema"
        )
    failures = body.get("disable-after-consecutive-failures")
    return Pipeline(
        name=name,
        manager=manager,
        context=ctx,
        description=body.get("description"),
        post_review=bool(body.get("post-review", False)),
        precedence=precedence,
        allow_other_connections=bool(body.get("allow-other-connections", True)),
        supercedes=_strs(body.get("supercedes"), "pipeline supercedes"),
        dequeue_on_new_patchset=bool(body.get("dequeue-on-new-patchset", True)),
        ignore_dependencies=bool(body.get("ignore-dependencies", False)),
        disable_after_consecutive_failures=None if failures is None else int(failures),
        messages=messages,
        triggers=triggers,
        require=_dict(body.get("require"), f"pipeline '{name}' require"),
        reject=_dict(body.get("reject"), f"pipeline '{name}' reject"),
        reporters=reporters,
        window=window,
    )
