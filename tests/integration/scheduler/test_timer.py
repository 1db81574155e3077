"""The scheduler's timer: a pipeline with a ``timer`` trigger gets an item
for each project-branch with jobs in it, from the timer driver's event
source the scheduler runs like every other (real ZooKeeper, real git);
with ``dereference`` the item is the branch head's commit, resolved when
the timer fires."""

from __future__ import annotations

import pytest
from lockgate.zk.pipelines import read_pipelines
from lockgate.zk.requests import NodeRequestStore

from tests.fixtures.waiting import wait_for
from tests.integration.scheduler.harness import APP, CONFIG, make_site

# Every second: the first tick comes within one.
PERIODIC = """
- pipeline:
    name: periodic
    manager: independent
    post-review: true
    trigger:
      timer:
        - time: '* * * * * *'
"""

NIGHTLY = """
- job:
    name: nightly
- project:
    periodic:
      jobs: [nightly]
"""


@pytest.fixture(params=[False, True], ids=["branch", "dereference"])
def site(request, tmp_path, upstream, zk_server, zk_chroot, zk_client):
    """This module's own: the demo tenant with a periodic (timer) pipeline,
    its items at the branch or (``dereference``) at the head's commit."""
    site = make_site(tmp_path, upstream, zk_server, zk_chroot, zk_client, app=APP + NIGHTLY)
    pipeline = PERIODIC + ("          dereference: true\n" if request.param else "")
    site.repos["config"].commit_and_push({"zuul.yaml": CONFIG + pipeline}, message="periodic")
    site.dereference = request.param  # type: ignore[attr-defined]
    return site


def test_timer_pipeline_gets_an_item_per_project_branch(site, scheduler):
    def nightly():
        found = [
            v.record
            for v in NodeRequestStore(site.client).pending()
            if v.record.job_name == "nightly"
        ]
        return found or None

    [request] = wait_for(nightly, 30, "a node request for the timer pipeline's job")
    assert (request.tenant, request.pipeline) == ("demo", "periodic")
    # Only org/app has jobs in the periodic pipeline: nothing for the others.
    assert {v.record.job_name for v in NodeRequestStore(site.client).pending()} == {"nightly"}
    # The timer's event source runs under its own event-source lock, as the
    # connections' do.
    assert {s.name for s in scheduler.sources if s.source is not None} == {"git", "timer"}

    # The item: the branch (resolved when prepared) or, with ``dereference``,
    # the commit the branch pointed at when the timer fired.
    _, items = read_pipelines(site.client, "demo")["periodic"]
    [item] = [i for i in items.values() if i.project == "org/app"]
    head = site.repos["org/app"].head()
    assert item.newrev == (head if site.dereference else None)
