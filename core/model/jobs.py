"""The frozen job: what a build runs, fixed when the item's job graph is frozen.

``lockgate.config`` produces it (``freeze_job_graph``), the scheduler copies it
into the build request, and the executor runs it.  It holds final attribute
values only: inheritance, variants and project-pipeline overrides are already
applied.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lockgate.model.serial import from_dict, to_dict


@dataclass
class PlaybookRef:
    """One playbook of a job, with the project it comes from.

    ``trusted`` is true when the defining project is a config project: its
    playbooks run outside the untrusted sandbox rules (as in Zuul).
    """

    path: str
    connection: str
    project: str  # project name as in the tenant config
    branch: str | None = None
    trusted: bool = False
    roles: list[dict[str, Any]] = field(default_factory=list)
    semaphores: list[str] = field(default_factory=list)
    cleanup: bool = False
    # Indexes into the job's ``FrozenJob.secrets`` this playbook may read
    # (secrets are bound to the playbooks of the definition that declared
    # them, plus parents' playbooks for ``pass-to-parent``).
    secrets: list[int] = field(default_factory=list)
    # Position in the inheritance chain of the job that defined this
    # playbook (0 = the base job).  After a pre-run failure the executor
    # runs only the post-run playbooks of the levels reached (as Zuul);
    # ``None`` (unknown) is treated as level 0.
    nesting_level: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return to_dict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PlaybookRef:
        return from_dict(cls, data)


@dataclass(frozen=True)
class RequiredProject:
    """One entry of a job's ``required-projects``: a project whose repository
    the build needs, and what to check out there (``override-checkout``;
    None: the usual choice of the job's, then the item's branch).

    One record from the configuration to the executor: the config loader
    makes it (with the project's name as written), freezing names the
    project as the tenant knows it, the scheduler and executor read it."""

    name: str
    override_checkout: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return to_dict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RequiredProject:
        return from_dict(cls, data)


@dataclass
class NodeSpec:
    """A node of a nodeset: one or more names sharing one label."""

    name: list[str]
    label: str


@dataclass
class FrozenJob:
    name: str
    # Names of the inheritance chain, base first; useful in logs and the API.
    inheritance_path: list[str] = field(default_factory=list)
    nodeset_name: str | None = None
    nodes: list[NodeSpec] = field(default_factory=list)
    groups: list[dict[str, Any]] = field(default_factory=list)
    pre_run: list[PlaybookRef] = field(default_factory=list)
    run: list[PlaybookRef] = field(default_factory=list)
    post_run: list[PlaybookRef] = field(default_factory=list)
    cleanup_run: list[PlaybookRef] = field(default_factory=list)
    vars: dict[str, Any] = field(default_factory=dict)
    extra_vars: dict[str, Any] = field(default_factory=dict)
    host_vars: dict[str, dict[str, Any]] = field(default_factory=dict)
    group_vars: dict[str, dict[str, Any]] = field(default_factory=dict)
    timeout: int | None = None
    post_timeout: int | None = None
    pre_timeout: int | None = None
    attempts: int = 3
    voting: bool = True
    tags: list[str] = field(default_factory=list)
    required_projects: list[RequiredProject] = field(default_factory=list)
    dependencies: list[dict[str, Any]] = field(default_factory=list)  # {name, soft}
    semaphores: list[dict[str, Any]] = field(default_factory=list)
    override_checkout: str | None = None
    workspace_scheme: str = "golang"
    post_review: bool = False
    secrets: list[dict[str, Any]] = field(default_factory=list)
    # Where the job was defined (file:line of each variant applied).
    source_contexts: list[str] = field(default_factory=list)
    description: str | None = None
    # Added with the configuration language (all defaulted, so older
    # records still load): reporting, artifacts and execution settings.
    success_message: str | None = None
    failure_message: str | None = None
    hold_following_changes: bool = False
    provides: list[str] = field(default_factory=list)
    requires: list[str] = field(default_factory=list)
    failure_output: list[str] = field(default_factory=list)
    include_vars: list[dict[str, Any]] = field(default_factory=list)
    ansible_version: str | None = None
    ansible_split_streams: bool = False
    deduplicate: bool | str = "auto"
    workspace_checkout: bool | str = True
    image_build_name: str | None = None
    # For a nodeset with alternatives: every alternative, in the order to
    # try (breadth-first flattened); ``nodes``/``groups`` are the first.
    # Each is {"name", "nodes": [{"name": [...], "label"}], "groups": [...]}.
    nodeset_alternatives: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.nodes = [n if isinstance(n, NodeSpec) else NodeSpec(**n) for n in self.nodes]
        self.required_projects = [
            r if isinstance(r, RequiredProject) else RequiredProject.from_dict(r)
            for r in self.required_projects
        ]
        for attr in ("pre_run", "run", "post_run", "cleanup_run"):
            setattr(
                self,
                attr,
                [
                    p if isinstance(p, PlaybookRef) else PlaybookRef.from_dict(p)
                    for p in getattr(self, attr)
                ],
            )

    @property
    def labels(self) -> list[str]:
        return [n.label for n in self.nodes]

    def to_dict(self) -> dict[str, Any]:
        return to_dict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FrozenJob:
        return from_dict(cls, data)
