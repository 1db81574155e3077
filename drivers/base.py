"""What a driver can do, declared once as ``typing.Protocol``s.

Every driver lives in ``drivers/<name>/`` with files named by role
(``driver.py``, ``connection.py``, ``source.py``, ``event_source.py``,
``trigger.py``, ``schema.py``, ``model.py``) and is listed by name in
``lockgate.drivers.registry``.  The scheduler, the executor and the config
loader only speak to drivers through these protocols:

- ``Driver``: a name, a trigger schema and trigger filters for pipelines,
  and (for drivers that have them) connections made from
  ``[connection NAME]`` sections of the service config;
- ``EventProducer``: whatever the scheduler runs an ``EventSource`` for, by
  the trigger name pipelines use: each connection, and each connectionless
  driver (``timer``); ``event_source(hooks)`` makes it;
- ``Connection``: one configured connection, an ``EventProducer``; gives a
  ``Source`` (what the code-review system knows about projects) and an
  ``EventSource`` (a thread that turns what happens there into
  ``TriggerEvent``s);
- ``Source``: project URLs and names, branches, ref heads;
- ``TriggerFilter``: one parsed entry of a pipeline's ``trigger`` list;
  ``matches(event)`` is pure, so pipeline matching needs no I/O;
- ``EventSource``: ``start()``/``stop()``; it calls back into the scheduler
  through the ``EventSourceHooks`` it was given, never the other way round
  (the same hooks for every producer: a poller reads ``projects``, the
  timer ``triggers``);
- ``ChangeSource`` (review systems: Gerrit, GitHub): a ``Source`` that also
  answers questions about changes (``lockgate.model.change.Change``);
- ``NeededBySource`` (optional): which changes need a change;
- ``ChangeReporter``: votes, comments and merges on a change.

A driver with no connection (``timer``) is named directly under a pipeline's
``trigger``; ``lockgate.drivers.registry.resolve_trigger`` tells the two apart,
and ``lockgate.drivers.registry.event_producers`` lists it beside the
connections (the driver is its own ``EventProducer``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import voluptuous as vs
from lockgate.model.change import Change
from lockgate.model.events import TriggerEvent
from lockgate.service_config import Section

# Where events go: the scheduler's function that puts one on the trigger queue
# of every tenant with the event's project.
EventSink = Callable[[TriggerEvent], None]
# Where an event for one tenant goes (``tenant_sink(tenant, event)``): the
# timer's events are each for one pipeline of one tenant.
TenantEventSink = Callable[[str, TriggerEvent], None]
# A small persistent key-value store scoped to one connection (ZooKeeper in
# production): read a key's last saved value, or save one.
StateGet = Callable[[str], "dict[str, Any] | None"]
StateSet = Callable[[str, "dict[str, Any]"], None]


class TriggerFilterError(ValueError):
    """A pipeline trigger entry is invalid; ``str()`` is the user-facing message."""


class TriggerFilter(Protocol):
    """One entry of ``pipeline.trigger.<connection>``, parsed and compiled.
    ``change`` is the event's change as last known (None for ref events):
    filters with requirements on the change (approvals) read it."""

    def matches(self, event: TriggerEvent, change: Change | None = None) -> bool: ...


class Source(Protocol):
    """What the connection's code-review system (or git server) knows about projects."""

    @property
    def connection_name(self) -> str: ...

    @property
    def canonical_hostname(self) -> str: ...

    def clone_url(self, project: str) -> str: ...

    def canonical_name(self, project: str) -> str:
        """``<canonical_hostname>/<project>``, Zuul's globally unique project name."""
        ...

    def get_branches(self, project: str) -> list[str]: ...

    def get_ref_sha(self, project: str, ref: str) -> str | None:
        """The sha ``ref`` (a full ref or a branch name) points at, or None if absent."""
        ...


class ChangeQueryError(Exception):
    """The review system could not answer (unreachable, timed out, refused,
    no such change); ``str()`` says which change and why.  ``permanent``:
    asking again cannot help until someone acts on the review system (an
    App uninstalled, a repository gone); otherwise it may answer later."""

    permanent: bool = False


@runtime_checkable
class ChangeSource(Protocol):
    """What a review system knows about changes.  Every call may do network
    I/O and raises ``ChangeQueryError`` when the system cannot answer."""

    # Whether change numbers are unique only within a repository (GitHub's
    # pull requests): then a change is named by project and number, and
    # ``get_change`` needs ``project``.  Gerrit numbers changes per server.
    numbers_per_project: bool

    def get_change(
        self, number: int, patchset: int | str | None = None, *, project: str | None = None
    ) -> Change:
        """The change at ``patchset`` (None: its current patchset; a head sha
        where patchsets are commits), asked of the server now (the caller
        caches).  ``project`` is for systems that number changes per
        repository (GitHub); the others ignore it."""
        ...

    def change_number_from_url(self, url: str) -> int | None:
        """The number of the change a ``Depends-On:`` URL names, if the URL
        is one of this connection's; None otherwise."""
        ...

    def open_changes_by_commit(self, project: str, commits: list[str]) -> list[Change]:
        """Open changes of ``project`` whose current patchset is one of
        ``commits`` (the git parents of a change that are changes too)."""
        ...

    def changes_updated_since(self, since: float) -> list[Change]:
        """Changes updated at or after ``since`` (epoch seconds), current
        patchsets (catching up after a disconnect)."""
        ...


@runtime_checkable
class NeededBySource(Protocol):
    """A review system that can say which changes need a change (the gate
    enqueues them behind it).  Apart from ``ChangeSource``: optional."""

    def changes_needing(self, change: Change) -> list[Change]:
        """Open changes, current patchsets, that need ``change`` (of any
        connection): its git children here, and changes here whose
        ``Depends-On:`` names it.  Raises ``ChangeQueryError``."""
        ...


class ReportError(Exception):
    """A vote, comment or merge was refused or could not be sent.

    ``permanent`` says whether sending it again can help (a 409 refusal of a
    submit is permanent; a connection error is not)."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


@runtime_checkable
class ChangeReporter(Protocol):
    """Reporting back to a review system."""

    def review(
        self,
        change: Change,
        message: str,
        labels: Mapping[str, int] | None = None,
        comments: Mapping[str, list[dict[str, Any]]] | None = None,
    ) -> None:
        """Post a review on ``change``'s patchset: a message, votes
        (``{"Verified": 1}``) and file comments (``{path: [{"line": 3,
        "message": "..."}]}``).  Raises ``ReportError``."""
        ...

    def submit(self, change: Change) -> None:
        """Merge ``change`` (Gerrit's submit).  Raises ``ReportError``."""
        ...


class EventSource(Protocol):
    """A background thread producing ``TriggerEvent``s; safe to ``stop`` twice."""

    def start(self) -> None: ...

    def stop(self) -> None: ...


@dataclass(frozen=True)
class PipelineTrigger:
    """One pipeline's trigger entries under one trigger name, as a current
    layout has them: ``filters`` compiled by the name's driver, and the
    project-branches with jobs in the pipeline (what a timer fires for)."""

    tenant: str
    pipeline: str
    filters: tuple[TriggerFilter, ...]
    project_branches: tuple[tuple[str, str], ...]


def _no_triggers() -> Iterable[PipelineTrigger]:
    return ()


def _no_tenant_sink(tenant: str, event: TriggerEvent) -> None:
    raise RuntimeError(f"no tenant_sink given for event {event.event_id} (tenant {tenant})")


#: ``branch_head(tenant, project, branch)``: the sha the branch points at now.
BranchHead = Callable[[str, str, str], "str | None"]


def _no_branch_head(tenant: str, project: str, branch: str) -> str | None:
    return None


@dataclass(frozen=True)
class EventSourceHooks:
    """What the scheduler hands every event source (a connection's or a
    connectionless driver's, alike).

    ``sink`` must be durable when it returns (the event is on the trigger
    queue of every tenant with the event's project); ``tenant_sink`` puts an
    event on one tenant's trigger queue only, deduplicated by its
    ``dedup_key`` or else its ``event_id``.  ``projects`` returns the project
    names this connection serves in the current layouts and ``triggers`` the
    ``PipelineTrigger`` of every pipeline whose trigger names this
    producer; both are called before every round of work, so
    reconfiguration needs no restart.  ``state_get``/``state_set`` are keyed
    by project and scoped to this producer.  ``zk`` is the scheduler's
    ZooKeeper client, for sources that read what another process stored
    (the GitHub webhooks the web put on the connection's queue).
    ``branch_head(tenant, project, branch)`` resolves a tenant project's
    branch to the sha it points at now (None if it cannot), for an event
    that names a commit rather than a branch (the timer's ``dereference``).
    """

    sink: EventSink
    projects: Callable[[], Iterable[str]]
    state_get: StateGet
    state_set: StateSet
    zk: Any = None  # lockgate.zk.client.ZKClient
    triggers: Callable[[], Iterable[PipelineTrigger]] = _no_triggers
    tenant_sink: TenantEventSink = _no_tenant_sink
    branch_head: BranchHead = _no_branch_head


@runtime_checkable
class EventProducer(Protocol):
    """Something the scheduler runs one ``EventSource`` for (under a lock
    named ``name``, on one scheduler at a time): each connection, and each
    connectionless driver."""

    @property
    def name(self) -> str: ...

    def event_source(self, hooks: EventSourceHooks) -> EventSource | None:
        """The event source, not started; None if there is none."""
        ...


class Connection(EventProducer, Protocol):
    """One ``[connection NAME]`` section, made live by its driver."""

    @property
    def driver_name(self) -> str: ...

    def source(self) -> Source: ...


class Driver(Protocol):
    @property
    def name(self) -> str: ...

    def make_connection(self, name: str, section: Section) -> Connection:
        """Validate ``section`` (keys, values) and build the connection.

        Raises ``ServiceConfigError`` naming file, section and key.
        """
        ...

    def trigger_schema(self) -> vs.Schema:
        """Voluptuous schema of one entry of ``pipeline.trigger.<name>``."""
        ...

    def make_trigger_filter(self, connection_name: str, spec: Mapping[str, Any]) -> TriggerFilter:
        """Validate and compile one trigger entry; raises ``TriggerFilterError``."""
        ...


def validate(schema: vs.Schema, spec: Any, what: str) -> Any:
    """Apply ``schema`` and turn voluptuous' complaint into one readable line."""
    try:
        return schema(spec)
    except vs.MultipleInvalid as e:
        raise TriggerFilterError(f"{what}: {describe_invalid(e.errors[0])}") from None
    except vs.Invalid as e:
        raise TriggerFilterError(f"{what}: {describe_invalid(e)}") from None


def describe_invalid(error: vs.Invalid) -> str:
    where = ".".join(str(p) for p in error.path)
    message = error.error_message
    if message == "extra keys not allowed":
        return f"unknown attribute '{where}'"
    if message == "required key not provided":
        return f"missing required attribute '{where}'"
    return f"{where}: {message}" if where else message


def as_list(value: Any) -> list[Any]:
    """Zuul's scalar-or-list convention."""
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def scalar_or_list(validator: Any) -> Any:
    return vs.Any(validator, [validator])
