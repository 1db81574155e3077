"""Every ZooKeeper path Lockgate uses, one function per path.

This module is the single owner of the ZooKeeper tree (``doc/zookeeper.md``
lists each path with its record, writers and readers).  No other module may
spell a ``/lockgate`` path: they call these functions, and
``tests/test_architecture.py`` fails on a ``"/lockgate`` literal anywhere else.

Tests isolate themselves with a client *chroot* (``ZKClient(chroot=...)``), not
with a different root: the paths below are the same in every deployment.

Names that come from users (tenants, pipelines, projects) may contain ``/``
(``org/project``) or other characters ZooKeeper reserves, so they are quoted
into one path segment by :func:`segment`.
"""

from __future__ import annotations

from urllib.parse import quote, unquote

ROOT = "/lockgate"

# Child names used inside the structures that queues.py, requests.py and
# records.py build under a path.  Kept here so the whole tree is in one file.
QUEUE_ENTRIES = "entries"
QUEUE_DEDUP = "dedup"
SHARDS = "shards"
LOCK_CHILD_MARK = "__lock__"


def segment(name: str) -> str:
    """Quote a user-supplied name into a single, reversible path segment.

    ``/`` and ``%`` are quoted so ``org/project`` stays one segment; ``.`` and
    ``..`` are quoted because ZooKeeper rejects them as segments.
    """
    if not name:
        raise ValueError("a ZooKeeper path segment cannot be empty")
    quoted = quote(name, safe="-_+@:=,~!$&'()*;")
    if quoted in (".", ".."):
        quoted = quoted.replace(".", "%2E")
    return quoted


def unsegment(quoted: str) -> str:
    """The name :func:`segment` quoted."""
    return unquote(quoted)


def join(*parts: str) -> str:
    """Join already-quoted segments under the root."""
    return "/".join((ROOT, *parts))


# --- components ------------------------------------------------------------


def components() -> str:
    """Parent of every component kind (scheduler, executor, launcher, web)."""
    return join("components")


def component_kind(kind: str) -> str:
    """Parent of the registrations of one kind of component."""
    return join("components", segment(kind))


def component(kind: str, name: str) -> str:
    """One ephemeral registration; ``name`` is ``<hostname>-<uuid>``."""
    return join("components", segment(kind), segment(name))


# --- live consoles ------------------------------------------------------------


def console_streams() -> str:
    """Parent of the registrations of running builds' console streams."""
    return join("streams")


def console_stream(uuid: str) -> str:
    """Where one running build's console is served (ephemeral; the executor
    running it writes it when the build starts, deletes it when it ends)."""
    return join("streams", segment(uuid))


# --- tenant event queues ----------------------------------------------------


def tenant_events(tenant: str) -> str:
    """Parent of a tenant's three event queues."""
    return join("events", "tenant", segment(tenant))


def trigger_queue(tenant: str) -> str:
    """Incoming trigger events (drivers write, schedulers consume)."""
    return join("events", "tenant", segment(tenant), "trigger")


def management_queue(tenant: str) -> str:
    """Management events: enqueue, dequeue, promote, reconfigure (web writes)."""
    return join("events", "tenant", segment(tenant), "management")


def result_queue(tenant: str) -> str:
    """Build, merge and node results (executors and launchers write)."""
    return join("events", "tenant", segment(tenant), "result")


def queue_entries(queue: str) -> str:
    """The sequential entries of the event queue at ``queue``."""
    return f"{queue}/{QUEUE_ENTRIES}"


def queue_dedup(queue: str) -> str:
    """Markers of the event ids an event queue has already accepted."""
    return f"{queue}/{QUEUE_DEDUP}"


def queue_dedup_marker(queue: str, key: str) -> str:
    return f"{queue}/{QUEUE_DEDUP}/{segment(key)}"


# --- tenant state -------------------------------------------------------------


def tenants() -> str:
    """Parent of every tenant's persistent state (its children are tenants)."""
    return join("tenant")


def tenant(tenant: str) -> str:
    """Parent of a tenant's persistent state."""
    return join("tenant", segment(tenant))


def tenant_layout(tenant: str) -> str:
    """The identity (uuid, config hashes) of the tenant's current layout."""
    return join("tenant", segment(tenant), "layout")


def tenant_layout_sources(tenant: str) -> str:
    """What the tenant's current layout was built from (the tenant config,
    branches, digests of each project-branch's files in ``config_cache``),
    so the web builds the same layout (``lockgate.zk.layout_sources``)."""
    return join("tenant", segment(tenant), "layout-sources")


def tenant_event_state(tenant: str) -> str:
    """Whether the tenant's trigger events are processed, left queued or
    discarded, and its results processed (``lockgate.model.event_state``;
    an admin sets it through the web, the scheduler honours it)."""
    return join("tenant", segment(tenant), "event-state")


def pipelines(tenant: str) -> str:
    """Parent of the tenant's pipeline states."""
    return join("tenant", segment(tenant), "pipeline")


def pipeline_state(tenant: str, pipeline: str) -> str:
    """A pipeline's queues and items: the speculative state."""
    return join("tenant", segment(tenant), "pipeline", segment(pipeline))


def pipeline_items(tenant: str, pipeline: str) -> str:
    """Parent of a pipeline's queue items (one record per item)."""
    return join("tenant", segment(tenant), "pipeline", segment(pipeline), "item")


def pipeline_item(tenant: str, pipeline: str, item: str) -> str:
    """One queue item (``lockgate.model.queue.QueueItem``), by its uuid."""
    return join("tenant", segment(tenant), "pipeline", segment(pipeline), "item", segment(item))


def semaphores(tenant: str) -> str:
    return join("semaphores", segment(tenant))


def semaphore(tenant: str, name: str) -> str:
    """Holders of one semaphore."""
    return join("semaphores", segment(tenant), segment(name))


# --- locks ------------------------------------------------------------------------


def locks() -> str:
    return join("locks")


def tenant_lock(tenant: str) -> str:
    """Held by the scheduler processing a tenant's events."""
    return join("locks", "tenant", segment(tenant))


def pipeline_lock(tenant: str, pipeline: str) -> str:
    """Held by the scheduler processing one pipeline."""
    return join("locks", "pipeline", segment(tenant), segment(pipeline))


def change_lock(tenant: str, project: str, change: str) -> str:
    """Held while a change is enqueued or dequeued by a management event."""
    return join("locks", "change", segment(tenant), segment(project), segment(change))


def event_source_lock(connection: str) -> str:
    """Held by the one scheduler running a connection's event source
    (a git poller, the timer), so peers never emit the same event twice."""
    return join("locks", "event-source", segment(connection))


def provider_lock(scope: str) -> str:
    """Held by the launcher making nodes of a provider whose capacity several
    launchers share (``scope``: the provider's name, with the machine's for
    local nodes), so that together they never exceed it."""
    return join("locks", "provider", segment(scope))


def named_lock(name: str) -> str:
    """A lock for anything else (e.g. a periodic cleanup that one process runs)."""
    return join("locks", "named", segment(name))


# --- requests ---------------------------------------------------------------------


def merge_requests() -> str:
    """Merge / cat / file-list requests (schedulers write, executors take)."""
    return join("requests", "merge")


def merge_request(uuid: str) -> str:
    return join("requests", "merge", segment(uuid))


def merge_request_lock(uuid: str) -> str:
    return join("requests", "merge-locks", segment(uuid))


def build_request_zones() -> str:
    """Parent of every executor zone's build requests: its children are the
    zones (quoted; :func:`unsegment` gives a zone's name) that ever had one."""
    return join("requests", "build")


def build_requests(zone: str) -> str:
    """Build requests of one executor zone ("default" when unzoned)."""
    return join("requests", "build", segment(zone))


def build_request(zone: str, uuid: str) -> str:
    return join("requests", "build", segment(zone), segment(uuid))


def build_request_locks(zone: str) -> str:
    return join("requests", "build-locks", segment(zone))


def build_request_lock(zone: str, uuid: str) -> str:
    """An executor's claim on a build request (ephemeral lock node inside)."""
    return join("requests", "build-locks", segment(zone), segment(uuid))


def node_requests() -> str:
    """Node requests (schedulers write, launchers take)."""
    return join("requests", "node")


def node_request(request_id: str) -> str:
    return join("requests", "node", segment(request_id))


def node_request_locks() -> str:
    return join("requests", "node-locks")


def node_request_lock(request_id: str) -> str:
    """A launcher's claim on a node request."""
    return join("requests", "node-locks", segment(request_id))


# --- nodes --------------------------------------------------------------------------


def nodes() -> str:
    """Node records (launchers write; executors and schedulers read)."""
    return join("nodes", "records")


def node(node_id: str) -> str:
    return join("nodes", "records", segment(node_id))


def node_locks() -> str:
    return join("nodes", "locks")


def node_lock(node_id: str) -> str:
    """Held while a node is in use (executor) or being deleted (launcher)."""
    return join("nodes", "locks", segment(node_id))


# --- autohold ------------------------------------------------------------------------


def hold_requests() -> str:
    """Autohold requests (the web writes; executors count holds; launchers
    keep held nodes while their request exists)."""
    return join("holds", "requests")


def hold_request(request_id: str) -> str:
    return join("holds", "requests", segment(request_id))


def hold_request_locks() -> str:
    return join("holds", "locks")


def hold_request_lock(request_id: str) -> str:
    """Held while an executor records a hold in the request (count, nodes)."""
    return join("holds", "locks", segment(request_id))


# --- keys and caches ------------------------------------------------------------


def keys_root() -> str:
    """Parent of every connection's project keys."""
    return join("keys")


def key_connection(connection: str) -> str:
    """Parent of the keys of one connection's projects."""
    return join("keys", segment(connection))


def keys(connection: str, project: str) -> str:
    """A project's keys (``lockgate.model.keys.ProjectKeys``): the secrets key
    pair and the SSH key, private halves encrypted with the keystore password."""
    return join("keys", segment(connection), segment(project))


def key_lock(connection: str, project: str) -> str:
    """Held while a project's keys are made, so that one process makes them
    and the others needing them wait for that one key."""
    return join("locks", "keys", segment(connection), segment(project))


def event_source_state(connection: str, key: str) -> str:
    """What a connection's event source last saw of ``key`` (a git poller:
    a project's refs), so a restarted or peer poller resumes from there."""
    return join("connections", segment(connection), "event-source", segment(key))


def change_cache(connection: str) -> str:
    """The change cache of one review-system connection (children: changes)."""
    return join("cache", "changes", segment(connection))


def cached_change(connection: str, number: int, project: str = "") -> str:
    """One change as last seen (``lockgate.zk.changes``): its newest patchset.
    ``project`` for review systems that number changes per repository
    (``ChangeKey.project``): ``<number>@<project>``."""
    name = str(int(number)) + (f"@{project}" if project else "")
    return join("cache", "changes", segment(connection), segment(name))


def config_cache(connection: str, project: str, branch: str) -> str:
    """Cached configuration files of one project-branch."""
    return join("cache", "config", segment(connection), segment(project), segment(branch))


def record_shards(record: str) -> str:
    """Where records.py keeps the shards of a value too large for one node."""
    return f"{record}/{SHARDS}"


# --- connection event queues ----------------------------------------------------


def connection_event_queue(connection: str) -> str:
    """Deliveries a connection received (GitHub webhooks, stored by the web
    before it answers; dedup markers are the delivery ids), consumed in order
    by the connection's event source in the scheduler that holds its lock."""
    return join("events", "connection", segment(connection))
