"""The build request of one job of an item: pure assembly, no I/O.

Called by the decision core when a job's nodes are ready (``jobs.py``).
The item's repository state (``QueueItem.repos``, resolved while the item
was PREPARING) fixes every commit, so every attempt of every job of an item
builds the same code.  The executor adds ``zuul.executor.*`` and its own
checkout paths to the ``zuul`` variables computed here.

What the job's parent jobs returned goes with it (``returned.py``): their
data as ``parent_data``/``secret_parent_data``, their artifacts and those
of the jobs it requires in ``zuul.artifacts``; ``zuul.child_jobs`` names the
jobs that depend on it directly.

Which branch a required project is checked out at follows Zuul: the
required project's ``override-checkout``, then the job's, then the item's
branch, then the project's default branch — the first that exists.
"""

from __future__ import annotations

import base64
from dataclasses import replace
from typing import Any

from lockgate.model.builds import BuildRequest, RepoState
from lockgate.model.queue import JobState, ProjectRepo, QueueItem
from lockgate.scheduler.manager import returned

ZERO_SHA = "0" * 40


def _src_dir(repo: ProjectRepo, scheme: str) -> str:
    if scheme == "flat":
        return f"src/{repo.project.rsplit('/', 1)[-1]}"
    return f"src/{repo.canonical_name}"


def _project_vars(repo: ProjectRepo, scheme: str) -> dict[str, Any]:
    return {
        "name": repo.project,
        "short_name": repo.project.rsplit("/", 1)[-1],
        "canonical_hostname": repo.canonical_hostname,
        "canonical_name": repo.canonical_name,
        "src_dir": _src_dir(repo, scheme),
    }


def item_commit(item: QueueItem) -> str | None:
    """The commit an item tests: a change item's merged state of its
    project-branch; a ref item's new revision, or (timer items, tags
    without a revision) the head of its branch when it was prepared."""
    if item.change is not None:
        return item.merge_commits.get(item.project, {}).get(item.branch or "")
    if item.newrev and item.newrev != ZERO_SHA:
        return item.newrev
    repo = item.repos.get(item.project)
    if repo is not None and item.branch:
        return repo.heads.get(item.branch)
    return None


def choose_checkout(
    repo: ProjectRepo, candidates: list[tuple[str | None, str]]
) -> tuple[str, str] | None:
    """The first (branch, why) of ``candidates`` the repository has, else its
    default branch; None if even that does not exist."""
    for branch, why in candidates:
        if branch and branch in repo.heads:
            return branch, why
    if repo.default_branch in repo.heads:
        return repo.default_branch, "project default branch"
    return None


def repo_states(item: QueueItem, js: JobState) -> tuple[RepoState, list[RepoState], dict]:
    """The triggering project's state, every repository the job needs (the
    triggering one first) and the ``zuul.projects`` entries.

    Raises ``KeyError`` naming a repository the item has no state for (the
    item was prepared before a reconfiguration added it).
    """
    job = js.job
    scheme = job.workspace_scheme or "golang"
    trig = item.repos[item.project]
    commit = item_commit(item) or ""
    project_state = _speculative(
        item,
        RepoState(
            connection=trig.connection,
            project=trig.project,
            canonical_name=trig.canonical_name,
            url=trig.url,
            branch=item.branch,
            ref=item.ref,
            commit=commit,
        ),
    )
    repos = [project_state]
    projects: dict[str, Any] = {
        trig.canonical_name: {
            **_project_vars(trig, scheme),
            "required": False,
            "checkout": item.branch or item.ref,
            "checkout_description": "zuul branch" if item.branch else "zuul ref",
            "commit": commit,
        }
    }
    for req in job.required_projects:
        name = req.name
        if not name:
            continue
        if name == item.project:
            projects[trig.canonical_name]["required"] = True
            continue
        repo = item.repos.get(name)
        if repo is None:
            raise KeyError(name)
        choice = choose_checkout(
            repo,
            [
                (req.override_checkout, "project override ref"),
                (job.override_checkout, "job override ref"),
                (item.branch, "zuul branch"),
            ],
        )
        if choice is None:
            raise KeyError(f"{name} (no usable branch)")
        branch, why = choice
        head = repo.heads[branch]
        repos.append(
            _speculative(
                item,
                RepoState(
                    connection=repo.connection,
                    project=repo.project,
                    canonical_name=repo.canonical_name,
                    url=repo.url,
                    branch=branch,
                    ref=f"refs/heads/{branch}",
                    commit=head,
                ),
            )
        )
        projects[repo.canonical_name] = {
            **_project_vars(repo, scheme),
            "required": True,
            "checkout": branch,
            "checkout_description": why,
            "commit": head,
        }
    _add_change_projects(item, scheme, repos, projects)
    return project_state, repos, projects


def _speculative(item: QueueItem, state: RepoState) -> RepoState:
    """``state`` at the item's merged state: the merger's commit, with the
    branch head it started from and the steps to replay there (the executor
    rebuilds that commit with the merger's own code)."""
    if item.change is None or not state.branch:
        return state
    commit = item.merge_commits.get(state.project, {}).get(state.branch)
    if commit is None:
        return state
    url = state.url
    steps = [
        replace(s, url=url)
        for s in item.merge_steps
        if s.project == state.project and s.branch == state.branch
    ]
    base = item.repo_state.get(state.project, {}).get(state.branch)
    if not steps or base is None:
        return replace(state, commit=commit)
    return replace(state, commit=commit, base=base, steps=steps)


def _add_change_projects(
    item: QueueItem, scheme: str, repos: list[RepoState], projects: dict[str, Any]
) -> None:
    """The projects of every change the item is tested with are in the
    build's workspace too, at their merged state (as Zuul has them)."""
    present = {r.project for r in repos}
    for change in item.speculative_changes:
        repo = item.repos.get(change.project)
        if change.project in present or repo is None:
            continue
        present.add(change.project)
        state = _speculative(
            item,
            RepoState(
                connection=repo.connection,
                project=repo.project,
                canonical_name=repo.canonical_name,
                url=repo.url,
                branch=change.branch,
                ref=f"refs/heads/{change.branch}",
                commit=repo.heads.get(change.branch, ""),
            ),
        )
        repos.append(state)
        projects[repo.canonical_name] = {
            **_project_vars(repo, scheme),
            "required": False,
            "checkout": change.branch,
            "checkout_description": "zuul branch",
            "commit": state.commit,
        }


def _b64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def change_vars(item: QueueItem, repos: dict[str, ProjectRepo], scheme: str) -> dict[str, Any]:
    """A change item's ``zuul`` variables, as Zuul gives them: the change
    (number and patchset as strings, the commit message base64-encoded) and
    ``items``, every change of the speculative state in merge order."""
    change = item.change
    assert change is not None
    entries = []
    for c in item.speculative_changes or [change]:
        repo = repos.get(c.project)
        project = (
            _project_vars(repo, scheme)
            if repo is not None
            else {"name": c.project, "short_name": c.project.rsplit("/", 1)[-1]}
        )
        entries.append(
            {
                "project": project,
                "branch": c.branch,
                "change": str(c.number),
                "patchset": c.patchset_id or str(c.patchset),
                "change_url": c.url,
                "change_message": _b64(c.message),
                "commit_id": c.commit,
                "topic": c.topic,
                "ref": c.ref,
            }
        )
    return {
        "change": str(change.number),
        "patchset": change.patchset_id or str(change.patchset),
        "change_url": change.url,
        "message": _b64(change.message),
        "topic": change.topic,
        "commit_id": change.commit,
        "owner": change.owner.to_dict(),
        "items": entries,
    }


def make_build_request(
    item: QueueItem, js: JobState, *, now: float, post_review: bool = False
) -> BuildRequest:
    """The ``BuildRequest`` for ``js``'s current attempt (uuid, attempt and
    nodes already recorded in ``js``)."""
    assert js.build_uuid is not None
    job = js.job
    project_state, repos, projects = repo_states(item, js)
    trig = item.repos[item.project]
    scheme = job.workspace_scheme or "golang"
    item_vars = {
        "project": _project_vars(trig, scheme),
        "branch": item.branch,
        "ref": item.ref,
        "oldrev": item.oldrev,
        "newrev": project_state.commit,
    }
    zuul_vars: dict[str, Any] = {
        "build": js.build_uuid,
        "buildset": item.buildset_uuid,
        "tenant": item.tenant,
        "pipeline": item.pipeline,
        "job": job.name,
        "voting": job.voting,
        "post_review": post_review or job.post_review,
        "project": item_vars["project"],
        "branch": item.branch,
        "ref": item.ref,
        "oldrev": item.oldrev,
        "newrev": project_state.commit,
        "override_checkout": job.override_checkout,
        "projects": projects,
        "items": [item_vars],
        "child_jobs": [c.name for c in returned.children(item, js.name)],
        "jobtags": list(job.tags),
        "timeout": job.timeout,
        "post_timeout": job.post_timeout,
        "attempts": js.tries,
        "max_attempts": job.attempts,
        "event_id": item.event_id,
    }
    if item.change is not None:
        zuul_vars.update(change_vars(item, item.repos, scheme))
        zuul_vars.pop("oldrev", None)
        zuul_vars.pop("newrev", None)
    artifacts = returned.artifacts_for(item, js)
    if artifacts:
        zuul_vars["artifacts"] = artifacts
    parent_data, secret_parent_data = returned.parent_data(item, js)
    return BuildRequest(
        uuid=js.build_uuid,
        tenant=item.tenant,
        pipeline=item.pipeline,
        buildset_uuid=item.buildset_uuid,
        event_id=item.event_id,
        job=job,
        project=project_state,
        repos=repos,
        node_ids=list(js.node_ids),
        node_request_id=js.node_request_id,
        zone=js.zone,
        attempt=js.tries,
        zuul_vars=zuul_vars,
        created=now,
        parent_data=parent_data,
        secret_parent_data=secret_parent_data,
    )
