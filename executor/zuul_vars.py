"""The ``zuul`` variable every playbook sees, as Zuul documents it.

The scheduler computes the item-level part (``request.zuul_vars``: change,
message, items, oldrev/newrev, ...); this module adds what only the
executor knows (``zuul.executor.*``, the checkouts in ``zuul.projects``,
the Ansible version, this attempt's number) and fills anything the
scheduler left out from the request itself.  The runner writes the result
to a vars file passed with ``-e @file``, so a job's own variables cannot
shadow it (extra-vars win over every other source in Ansible).
"""

from __future__ import annotations

import copy
import functools
from importlib import metadata
from typing import Any

from lockgate.executor.jobdir import JobDir
from lockgate.executor.repos import Checkout
from lockgate.model.builds import BuildRequest, RepoState


@functools.cache
def ansible_version() -> str:
    """The ansible-core version (``2.19``): read from package metadata, not by importing it."""
    try:
        full = metadata.version("ansible-core")
    except metadata.PackageNotFoundError:
        return "unknown"
    return ".".join(full.split(".")[:2])


def _project_entry(repo: RepoState) -> dict[str, Any]:
    hostname, _, _ = repo.canonical_name.partition("/")
    return {
        "name": repo.project,
        "short_name": repo.project.rsplit("/", 1)[-1],
        "canonical_hostname": hostname,
        "canonical_name": repo.canonical_name,
        "src_dir": f"src/{repo.canonical_name}",
    }


def build_zuul_vars(
    request: BuildRequest, jobdir: JobDir, checkouts: dict[str, Checkout], executor_hostname: str
) -> dict[str, Any]:
    job = request.job
    given = copy.deepcopy(request.zuul_vars)
    zv: dict[str, Any] = {
        "build": request.uuid,
        "buildset": request.buildset_uuid,
        "tenant": request.tenant,
        "pipeline": request.pipeline,
        "job": job.name,
        "voting": job.voting,
        "timeout": job.timeout,
        "post_timeout": job.post_timeout,
        "jobtags": list(job.tags),
        "event_id": request.event_id,
        "branch": request.project.branch,
        "ref": request.project.ref,
        "oldrev": None,
        "newrev": request.project.commit,
        "post_review": job.post_review,
        "items": [],
        "child_jobs": [],
    }
    # The scheduler's values win over our defaults...
    zv.update({k: v for k, v in given.items() if k != "projects"})
    # ...and the executor's own facts win over everything.
    trig = checkouts.get(request.project.canonical_name)
    zv["project"] = {**_project_entry(request.project), **(zv.get("project") or {})}
    if trig is not None:
        zv["project"]["src_dir"] = trig.src_dir
    zv["attempts"] = request.attempt
    zv["max_attempts"] = job.attempts
    zv["ansible_version"] = ansible_version()
    zv["executor"] = {
        "hostname": executor_hostname,
        "src_root": str(jobdir.src_root),
        "log_root": str(jobdir.log_dir),
        "work_root": str(jobdir.work_root),
        "inventory_file": str(jobdir.inventory_file),
        "result_data_file": str(jobdir.result_data_file),
    }
    required = {p.name for p in job.required_projects}
    given_projects = given.get("projects") or {}
    projects: dict[str, Any] = {}
    for name, checkout in checkouts.items():
        repo = checkout.repo
        entry = _project_entry(repo)
        entry["checkout"] = repo.branch or repo.ref
        entry["checkout_description"] = (
            "zuul branch"
            if repo.branch and repo.branch == request.project.branch
            else "project default branch"
        )
        entry["required"] = repo.project in required or name in required
        # What the scheduler says about the checkout (why this branch) wins;
        # where it is and which commit it is, we know best.
        entry.update(given_projects.get(name) or {})
        entry["src_dir"] = checkout.src_dir or entry["src_dir"]
        entry["commit"] = checkout.commit
        projects[name] = entry
    zv["projects"] = projects
    return zv
