"""Change items: merged by the mergers, frozen on their merged state.  Pure.

Called by the managers (``base.py``) for items that test a change (Gerrit,
GitHub) rather than a ref.  A change item's life while PREPARING:

1. ask the mergers for its speculative state (``SubmitMergeRequest``): every
   change it is tested with (``item.changes``, dependencies first) merged
   onto the branch heads, plus the heads of the projects its jobs require;
2. when the answer comes (``snapshot.merges``): a conflict is reported as
   MERGE_CONFLICT; an error is retried, then reported; otherwise the item
   keeps the branch heads the merge started from (fixed from now on) and
   the resulting commits;
3. its job graph is frozen on the merged state: the files it changes, and
   the speculative layout the loop built if it changes configuration
   (``snapshot.speculative``) — errors there are a CONFIG_ERROR report with
   file comments.

Also here: what happens to an item whose change got a new patchset or was
abandoned (``dequeue``).  Ids derive from the item's (the merge request is
``merge_request_uuid(item, attempt)``), so a decision repeated after a crash
names the same request.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from lockgate.model.builds import BuildsetResult
from lockgate.model.change import Change, ChangeKey
from lockgate.model.merges import MergeRequest, MergeStep, RepoSpec
from lockgate.model.queue import ItemState, ProjectRepo, QueueItem
from lockgate.scheduler.manager import items
from lockgate.scheduler.manager.actions import (
    ItemStarted,
    SubmitMergeRequest,
)
from lockgate.scheduler.manager.context import Context
from lockgate.scheduler.manager.cycles import freeze_unit
from lockgate.scheduler.manager.snapshot import ChangeDequeue, MergeOutcome

_MERGES = uuid.UUID("3d6f1a52-8c4e-4b7a-9f20-6e1d2c3b4a51")
DEFAULT_MERGE_MODE = "merge-resolve"


def merge_request_uuid(item: QueueItem, attempt: int) -> str:
    # A restarted gate item (``resets``) asks again under a new id.
    key = f"{item.uuid}\0{attempt}" if not item.resets else f"{item.uuid}\0{item.resets}\0{attempt}"
    return uuid.uuid5(_MERGES, key).hex


def merge_mode(ctx: Context, project: str) -> str:
    layout = ctx.snap.layout
    if layout is None:
        return DEFAULT_MERGE_MODE
    return layout.get_project_metadata(project).merge_mode or DEFAULT_MERGE_MODE


def make_merge_request(ctx: Context, item: QueueItem, uuid_: str) -> MergeRequest:
    """The merge request of ``item``.  URLs are left empty: the loop fills
    them from its connections (the decision core knows no servers)."""
    steps = [
        MergeStep(
            connection=c.connection,
            project=c.project,
            branch=c.branch,
            ref=c.ref,
            commit=c.commit,
            url="",
            merge_mode=merge_mode(ctx, c.project),
            number=c.number,
            patchset=c.patchset,
        )
        for c in item.speculative_changes
    ]
    projects = {(c.connection, c.project) for c in item.speculative_changes}
    projects.update(_required_projects(ctx, item))
    return MergeRequest(
        uuid=uuid_,
        tenant=item.tenant,
        pipeline=item.pipeline,
        item_uuid=item.uuid,
        event_id=item.event_id,
        steps=steps,
        repos=[RepoSpec(connection=c, project=p, url="") for c, p in sorted(projects)],
        repo_state=dict(item.repo_state) or None,
        created=ctx.now,
    )


def _required_projects(ctx: Context, item: QueueItem) -> set[tuple[str, str]]:
    """The projects the item's jobs require, as the tenant's layout has
    them (before the change: a change adding a required project gets the
    new one's state only if the merger was asked for it anyway)."""
    probe = QueueItem.from_dict(item.to_dict())
    if items.freeze(ctx, probe):
        return set()
    return set(items.needed_projects(ctx, probe))


def prepare(ctx: Context, item: QueueItem, *, hold: bool = False) -> bool:
    """Drive a PREPARING change item; True once it is ACTIVE.

    ``hold`` (dependent pipelines): a merge conflict or configuration error
    is not reported at once but kept on the item (``held_result``), which
    goes ACTIVE without jobs; the manager reports it when the item reaches
    the head of its queue (the conflict may be with an item ahead that
    fails)."""
    if item.state is not ItemState.PREPARING:
        return True
    request = ctx.snap.merges.get(item.merge_request or "")
    if request is None:
        if item.merge_request is None:
            item.merge_request = merge_request_uuid(item, item.prepare_attempts)
            ctx.changed(item)
        if item.prepare_retry_at is None or ctx.now >= item.prepare_retry_at:
            submitted = make_merge_request(ctx, item, item.merge_request)
            if item.merge_steps != submitted.steps:
                item.merge_steps = list(submitted.steps)
                ctx.changed(item)
            ctx.emit(SubmitMergeRequest(submitted))
            ctx.debug(f"merge request {item.merge_request[:12]} submitted", item)
        return False
    if not request.done:
        return False
    result = request
    item.merge_request = None  # released by the garbage collection
    ctx.changed(item)
    if result.conflict:
        ctx.info(f"merge conflict: {result.conflict}", item)
        _fail(
            ctx,
            item,
            BuildsetResult.MERGE_CONFLICT,
            conflict_message(ctx, result.conflict),
            hold=hold,
        )
        return False
    if not result.ok:
        item.prepare_attempts += 1
        item.prepare_error = result.error or "the merger gave no answer"
        if item.prepare_attempts >= items.PREPARE_ATTEMPTS:
            items.report(
                ctx, item, BuildsetResult.ERROR, f"Could not merge the change: {item.prepare_error}"
            )
            return False
        item.prepare_retry_at = ctx.now + items.PREPARE_BACKOFF * item.prepare_attempts
        ctx.warning(f"merging failed (attempt {item.prepare_attempts}): {item.prepare_error}", item)
        return False
    files = _take_result(item, result)
    return _freeze(ctx, item, files, hold=hold)


def _fail(
    ctx: Context,
    item: QueueItem,
    result: BuildsetResult,
    message: str,
    comments: dict | None = None,
    *,
    hold: bool,
) -> None:
    if not hold:
        items.report(ctx, item, result, message, comments=comments)
        return
    item.held_result, item.held_message = result, message
    item.held_comments = dict(comments or {})
    item.jobs = []
    item.state = ItemState.ACTIVE
    ctx.changed(item)


def conflict_message(ctx: Context, detail: str) -> str:
    messages = dict(getattr(ctx.snap.pipeline, "messages", None) or {})
    intro = messages.get("merge-conflict-message") or "Merge failed."
    return f"{intro}\n\n{detail}".strip()


def _take_result(item: QueueItem, result: MergeOutcome) -> dict[str, list[str]]:
    """Keep the merge's answer on the item; returns the files the item's own
    changes touch, by project (the speculative state's files when the
    merger did not say per step)."""
    own_files: dict[str, list[str]] = {p: list(f) for p, f in result.files.items()}
    if len(result.step_files) == len(item.speculative_changes) and item.changes:
        own_files = {}
        steps = result.step_files[-len(item.changes) :]
        for change, step in zip(item.changes, steps, strict=True):
            own_files.setdefault(change.project, [])
            own_files[change.project] = sorted({*own_files[change.project], *step})
    item.repo_state = {p: dict(b) for p, b in result.repo_state.items()}
    item.merge_commits = {p: dict(b) for p, b in result.commits.items()}
    files = result.files.get(item.project)
    if item.changes_ahead and item.project in own_files:
        # Tested on items ahead: its file matchers see its own changes' files.
        files = own_files[item.project]
    item.changed_files = list(files) if files is not None else None
    repos: dict[str, ProjectRepo] = {}
    for project, heads in item.repo_state.items():
        known = dict(heads)
        known.update(item.merge_commits.get(project, {}))
        spec = result.repos.get(project)
        repos[project] = ProjectRepo(
            connection=spec.connection if spec else _connection_of(item, project),
            project=project,
            canonical_name=spec.canonical_name if spec else project,
            canonical_hostname=spec.canonical_hostname if spec else "",
            url=spec.url if spec else "",
            heads=known,
            default_branch=_default_branch(known),
        )
    item.repos = repos
    return own_files


def _connection_of(item: QueueItem, project: str) -> str:
    for change in item.changes:
        if change.project == project:
            return change.connection
    return item.connection


def _default_branch(heads: dict[str, str]) -> str:
    for name in ("master", "main"):
        if name in heads:
            return name
    return sorted(heads)[0] if heads else "master"


def _freeze(
    ctx: Context, item: QueueItem, files: dict[str, list[str]], *, hold: bool = False
) -> bool:
    speculation = ctx.snap.speculative.get(item.uuid)
    if speculation is not None and speculation.errors:
        ctx.warning("configuration error: " + "; ".join(speculation.errors), item)
        _fail(
            ctx,
            item,
            BuildsetResult.CONFIG_ERROR,
            "This change has a configuration error:\n\n" + "\n\n".join(speculation.errors),
            speculation.comments,
            hold=hold,
        )
        return False
    layout = speculation.layout if speculation is not None else None
    previous = speculation.previous_layout if speculation is not None else None
    if hold:
        # A dependent pipeline's item is one unit (a dependency cycle): the
        # jobs of every project of its changes, identical ones once.
        errors = freeze_unit(ctx, item, files, layout=layout, previous_layout=previous)
    else:
        errors = items.freeze(ctx, item, layout=layout, previous_layout=previous)
    if errors:
        ctx.warning("configuration error: " + "; ".join(errors), item)
        _fail(
            ctx,
            item,
            BuildsetResult.CONFIG_ERROR,
            "This change has a configuration error:\n\n" + "\n".join(errors),
            hold=hold,
        )
        return False
    if not item.jobs:
        ctx.info(f"no jobs for {item.change_id} in {item.pipeline}", item)
        items.report(ctx, item, BuildsetResult.NO_JOBS, "No jobs to run.")
        return False
    item.state = ItemState.ACTIVE
    item.prepare_error = None
    ctx.changed(item)
    heads = ", ".join(
        f"{p}@{(item.merge_commits.get(p, {}).get(item.branch or '') or '-')[:12]}"
        for p in sorted(item.merge_commits)
    )
    ctx.info(
        f"merged ({heads}); jobs {', '.join(js.name for js in item.jobs)}",
        item,
        buildset=item.buildset_uuid,
    )
    start = items.reporters(ctx, "start")
    if start:
        messages = dict(getattr(ctx.snap.pipeline, "messages", None) or {})
        text = messages.get("start-message") or "Starting {pipeline.name} jobs."
        ctx.emit(ItemStarted(item, _format_start(text, item), start))
    return True


def _format_start(text: str, item: QueueItem) -> str:
    return text.replace("{pipeline.name}", item.pipeline).replace(
        "{pipeline.display_name}", item.pipeline
    )


# --- dequeues ---------------------------------------------------------------------------


def same_patchset(a: Change, b: Change) -> bool:
    """Whether ``a`` and ``b`` are one patchset of one change.  A pull
    request's patchset is its head sha (``patchset_id``): its ``patchset``
    number, the head commit's date, may be shared by two heads and says
    nothing about which came first."""
    if a.key != b.key:
        return False
    if a.patchset_id and b.patchset_id:
        return a.patchset_id == b.patchset_id
    return a.patchset == b.patchset


def _at_patchset(change: Change, dequeue: ChangeDequeue) -> bool:
    if dequeue.patchset_id and change.patchset_id:
        return change.patchset_id == dequeue.patchset_id
    return change.patchset == dequeue.patchset


def matches(dequeue: ChangeDequeue, item: QueueItem, own: Sequence[Change] | None = None) -> bool:
    """Whether ``dequeue`` removes ``item``; ``own`` are the item's own
    changes (its manager says: the change, or a dependent pipeline's cycle).

    A new pull request head removes the items of every other head: heads
    have no order of their own (a rebase keeping dates or a force-push of an
    older commit gives a newer head an older date), and the GitHub driver
    announces a new head only while it is the pull request's head in
    GitHub's order (``lockgate.drivers.github.events``), so any other head
    is an older one.  Gerrit's patchsets are numbered: the lower ones leave."""
    change = item.change
    if dequeue.ref:
        return change is None and item.ref == dequeue.ref and item.project == dequeue.project
    if change is None:
        return False
    if dequeue.patchset is not None or (dequeue.patchset_id and not dequeue.new_patchset):
        return any(
            c.key == dequeue.key and _at_patchset(c, dequeue)
            for c in (own if own is not None else (change,))
        )
    if dequeue.new_patchset:
        if change.key != dequeue.key:
            return False
        if dequeue.below_patchset is None:
            return True
        if dequeue.patchset_id and change.patchset_id:
            return change.patchset_id != dequeue.patchset_id
        return change.patchset < dequeue.below_patchset
    return any(c.key == dequeue.key for c in item.changes) or change.key == dequeue.key


def dequeue_message(ctx: Context, reason: str) -> str:
    messages = dict(getattr(ctx.snap.pipeline, "messages", None) or {})
    intro = messages.get("dequeue-message") or "Build canceled."
    return f"{intro}\n\n{reason}".strip()


def dequeue_keys(dequeues: list[ChangeDequeue]) -> set[ChangeKey]:
    return {d.key for d in dequeues}
