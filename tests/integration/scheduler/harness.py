"""What the scheduler's integration tests share: a real tenant in real git
repositories, a service config on a real (TLS) ZooKeeper and SQLite, and
the launcher's and executor's roles played by hand through the ZooKeeper
stores, exactly as ``lockgate.model.nodes`` and ``lockgate.model.builds``
document them."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lockgate.db import Database
from lockgate.model.builds import BuildRequest, BuildResult, BuildState
from lockgate.model.events import ResultEvent, ResultKind, TriggerEvent
from lockgate.model.nodes import NodeRequestState
from lockgate.service_config import ServiceConfig
from lockgate.zk import paths
from lockgate.zk.client import ZKClient
from lockgate.zk.queues import result_queue, trigger_queue
from lockgate.zk.requests import BuildRequestStore, NodeRequestStore

from tests.fixtures.git import Upstream, WorkTree
from tests.fixtures.waiting import wait_for
from tests.fixtures.zk import ZKEnv

if TYPE_CHECKING:
    from lockgate.scheduler.server import Scheduler

MAIN_YAML = """
- tenant:
    name: demo
    source:
      git:
        config-projects: [config]
        untrusted-projects: [org/app, org/lib, org/other]
"""

CONFIG = """
- pipeline:
    name: post
    manager: independent
    post-review: true
    trigger:
      git:
        - event: ref-updated
          ref: ^refs/heads/.*$
- nodeset:
    name: single
    nodes:
      - name: node
        label: ubuntu
- job:
    name: base
    parent: null
    nodeset: single
    run: playbooks/base.yaml
"""

APP = """
- job:
    name: build
- job:
    name: test
    dependencies: [build]
    required-projects: [org/lib]
- project:
    post:
      jobs: [build, test]
"""

OTHER = """
- job:
    name: other-job
- project:
    post:
      jobs: [other-job]
"""


@dataclass
class Site:
    """A tenant's repositories, the service config, and the clients to look."""

    root: Path
    upstream: Upstream
    zk: ZKEnv
    chroot: str
    client: ZKClient
    repos: dict[str, WorkTree] = field(default_factory=dict)

    @property
    def dburi(self) -> str:
        return f"sqlite:///{self.root}/lockgate.db"

    def config_text(self, name: str = "scheduler", poll_delay: float = 3600) -> str:
        tls = self.zk.tls.client
        state = self.root / f"state-{name}"
        return f"""
[zookeeper]
hosts = {self.zk.server.hosts}
tls_ca = {tls.ca}
tls_cert = {tls.cert}
tls_key = {tls.key}
chroot = {self.chroot}
session_timeout = 3

[scheduler]
tenant_config = {self.root / "main.yaml"}
state_dir = {state}
hostname = {name}

[database]
dburi = {self.dburi}

[connection git]
driver = git
baseurl = {self.upstream.root}
poll_delay = {poll_delay}
"""

    def config_file(self, name: str = "scheduler", poll_delay: float = 3600) -> Path:
        path = self.root / f"{name}.conf"
        path.write_text(self.config_text(name, poll_delay))
        return path

    def service_config(self, name: str = "scheduler", poll_delay: float = 3600) -> ServiceConfig:
        return ServiceConfig.load(self.config_file(name, poll_delay))

    def database(self) -> Database:
        db = Database(self.dburi)
        db.upgrade()
        return db

    # --- events, as a driver puts them -------------------------------------------------

    def push(self, project: str, files: dict[str, str | None], message: str = "change") -> str:
        tree = self.repos[project]
        old = tree.head()
        new = tree.commit_and_push(files, message=message)
        self.last_push = (project, old, new)
        return new

    def ref_updated(self, project: str, oldrev: str, newrev: str) -> TriggerEvent:
        event = TriggerEvent(
            type="ref-updated",
            connection="git",
            project=project,
            ref="refs/heads/master",
            branch="master",
            oldrev=oldrev,
            newrev=newrev,
        )
        trigger_queue(self.client, "demo").put(event.to_dict())
        return event

    def push_event(self, project: str, files: dict[str, str | None]) -> TriggerEvent:
        """Push a commit and put its ref-updated event (as the git poller would)."""
        new = self.push(project, files)
        _, old, _ = self.last_push
        return self.ref_updated(project, old, new)


def make_site(
    root: Path, upstream: Upstream, zk: ZKEnv, chroot: str, client: ZKClient, app: str = APP
) -> Site:
    site = Site(root, upstream, zk, chroot, client)
    (root / "main.yaml").write_text(MAIN_YAML)
    site.repos["config"] = upstream.create(
        "config", {"zuul.yaml": CONFIG, "playbooks/base.yaml": "- hosts: all\n"}
    )
    site.repos["org/app"] = upstream.create("org/app", {".zuul.yaml": app, "README": "app\n"})
    site.repos["org/lib"] = upstream.create("org/lib", {"README": "lib\n"})
    site.repos["org/other"] = upstream.create("org/other", {".zuul.yaml": OTHER})
    return site


# --- the launcher's and the executor's roles ------------------------------------------


def wait_poller_ready(site: Site, timeout: float = 30) -> None:
    """Wait until the git poller has recorded every project's refs once: from
    then on, a push is an event (the first poll of a project emits nothing)."""
    from lockgate.zk.state import JsonState

    def ready() -> bool:
        return all(
            JsonState(site.client, paths.event_source_state("git", p)).load() for p in site.repos
        )

    wait_for(ready, timeout, "the git poller's first round")


def polled(site: Site, project: str, sha: str) -> bool:
    """Whether the git poller has seen (and put the event of) ``sha`` on master."""
    from lockgate.zk.state import JsonState

    state = JsonState(site.client, paths.event_source_state("git", project)).load()
    return (state or {}).get("refs", {}).get("refs/heads/master") == sha


def push_polled(site: Site, project: str, files: dict[str, str | None], timeout: float = 60) -> str:
    """Push, then wait for the poller to emit its event.  (A poller reports
    the newest state of a ref: two pushes before one poll are one event.)"""
    sha = site.push(project, files)
    wait_for(lambda: polled(site, project, sha), timeout, f"the poller to see {sha[:12]}")
    return sha


def fulfil_node_requests(
    client: ZKClient, fail: bool = False, executor_zone: str | None = None
) -> list[str]:
    """Fulfil every REQUESTED node request (one fake node per label; the
    nodes in ``executor_zone``, as a provider with ``executor-zone`` says)."""
    store = NodeRequestStore(client)
    done = []
    for versioned in store.pending():
        req = versioned.record
        lock = store.lock(req.id)
        if lock is None:
            continue
        try:
            current = store.get(req.id)
            if current is None or current.record.state is not NodeRequestState.REQUESTED:
                continue
            req = current.record
            req.state = NodeRequestState.FAILED if fail else NodeRequestState.FULFILLED
            req.node_ids = [] if fail else [f"node-{req.id}-{i}" for i in range(len(req.labels))]
            req.provider = "test"
            req.executor_zone = None if fail else executor_zone
            store.update(req, current.version)
            result_queue(client, req.tenant).put(
                ResultEvent(
                    kind=ResultKind.NODES_PROVISIONED,
                    tenant=req.tenant,
                    pipeline=req.pipeline,
                    buildset_uuid=req.buildset_uuid,
                    request_id=req.id,
                    result=req.state,
                    event_id=req.event_id,
                ).to_dict()
            )
            done.append(req.id)
        finally:
            lock.release()
    return done


def build_requests(
    client: ZKClient, state: BuildState | None = None, zone: str = "default"
) -> list[BuildRequest]:
    store = BuildRequestStore(client, zone)
    return [v.record for v in store.list() if state is None or v.record.state is state]


@contextmanager
def running_build(client: ZKClient, uuid: str, zone: str = "default") -> Iterator[BuildRequest]:
    """Claim a build request and set it RUNNING, as an executor (of ``zone``)
    does; the lock is held for the block (leave without completing = the
    executor died)."""
    store = BuildRequestStore(client, zone)
    lock = store.lock(uuid)
    assert lock is not None, f"build request {uuid} is claimed already"
    try:
        found = store.get(uuid)
        assert found is not None
        req = found.record
        req.state, req.start_time, req.worker = BuildState.RUNNING, time.time(), "test-executor"
        store.update(req, found.version)
        yield req
    finally:
        lock.release()


def complete_build(
    client: ZKClient,
    uuid: str,
    result: BuildResult | str = BuildResult.SUCCESS,
    zone: str = "default",
) -> None:
    """Run a build to its end: claim, RUNNING, COMPLETED with ``result`` (a
    ``BuildResult``, or its value), the result event, let go."""
    result = BuildResult(result)
    store = BuildRequestStore(client, zone)
    with running_build(client, uuid, zone):
        found = store.get(uuid)
        assert found is not None
        req = found.record
        req.state, req.result, req.end_time = BuildState.COMPLETED, result, time.time()
        req.log_url = f"http://logs.example/{uuid}/"
        store.update(req, found.version)
        result_queue(client, req.tenant).put(
            ResultEvent(
                kind=ResultKind.BUILD_COMPLETED,
                tenant=req.tenant,
                pipeline=req.pipeline,
                buildset_uuid=req.buildset_uuid,
                request_id=uuid,
                result=result,
                event_id=req.event_id,
            ).to_dict()
        )


def wait_build_request(
    client: ZKClient,
    job: str,
    timeout: float = 30,
    state: BuildState = BuildState.REQUESTED,
    zone: str = "default",
) -> BuildRequest:
    def find() -> BuildRequest | None:
        for req in build_requests(client, state, zone):
            if req.job.name == job:
                return req
        return None

    return wait_for(find, timeout, f"a {state.value} build request for job {job}")


def wait_node_request(client: ZKClient, job: str, timeout: float = 30) -> str:
    def find() -> str | None:
        for v in NodeRequestStore(client).pending():
            if v.record.job_name == job:
                return v.record.id
        return None

    return wait_for(find, timeout, f"a node request for job {job}")


def run_job(client: ZKClient, job: str, result: str = "SUCCESS", timeout: float = 30) -> str:
    """Fulfil the job's nodes (unless done already), wait for its build
    request, complete it."""

    def ready() -> bool:
        nodes = any(v.record.job_name == job for v in NodeRequestStore(client).pending())
        return nodes or any(r.job.name == job for r in build_requests(client, BuildState.REQUESTED))

    wait_for(ready, timeout, f"a node or build request for job {job}")
    fulfil_node_requests(client)
    req = wait_build_request(client, job, timeout)
    complete_build(client, req.uuid, result)
    return req.uuid


def pipeline_path(chroot: str) -> str:
    return chroot + paths.pipeline_state("demo", "post")


# --- the scheduler in this process ------------------------------------------------------


@contextmanager
def running_scheduler(
    config: ServiceConfig, *, tick: float = 0.5, client: ZKClient | None = None
) -> Iterator[Scheduler]:
    """A scheduler in this process, started, its loop in a thread of its own
    passing every ``tick`` seconds when nothing wakes it.  When the block
    ends the loop ends, then the scheduler stops (also when its start
    failed, so that what it started is stopped).  ``client``: a ZooKeeper
    client to use instead of one of its own from ``config``."""
    from lockgate.scheduler.server import Scheduler

    sched = Scheduler(config, client=client, tick=tick)
    try:
        sched.start()
        stop = sched.run_in_thread()
        try:
            yield sched
        finally:
            stop()
    finally:
        sched.stop()


# --- the scheduler as a process ---------------------------------------------------------


class SchedulerProcess:
    """``python -m lockgate.scheduler -c FILE`` in a subprocess (killed by PID)."""

    def __init__(self, config: Path, log: Path) -> None:
        self.config = config
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> SchedulerProcess:
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "lockgate.scheduler", "-c", str(self.config), "-d"],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
            )
        return self

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()  # SIGKILL
        self.proc.wait(timeout=30)

    def terminate(self) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                return self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                return self.proc.wait(timeout=30)
        return self.proc.returncode

    def output(self) -> str:
        return self.log.read_text(errors="replace")


# --- a scheduler and a merger against a review system -----------------------------------


def review_site_config(
    root: Path, zk: ZKEnv, chroot: str, upstream: Upstream, connection_text: str
) -> ServiceConfig:
    """The service config of a scheduler whose config project is on the git
    connection ``git`` (``upstream``) and whose review system is described by
    ``connection_text`` (a ``[connection ...]`` section)."""
    tls = zk.tls.client
    conf = root / "scheduler.conf"
    conf.write_text(
        f"""
[zookeeper]
hosts = {zk.server.hosts}
tls_ca = {tls.ca}
tls_cert = {tls.cert}
tls_key = {tls.key}
chroot = {chroot}
session_timeout = 3

[scheduler]
tenant_config = {root / "main.yaml"}
state_dir = {root / "state"}

[database]
dburi = sqlite:///{root}/lockgate.db

[connection git]
driver = git
baseurl = {upstream.root}
poll_delay = 3600

"""
        + connection_text
    )
    return ServiceConfig.load(conf)


@contextmanager
def scheduler_with_merger(root: Path, config: ServiceConfig, client: ZKClient) -> Iterator[Any]:
    """A scheduler in a thread and the executor's merge thread (real merges),
    stopped when the block ends."""
    from lockgate.executor.merger import MergeServer
    from lockgate.git import RepoCache
    from lockgate.git.merge_runner import MergeRunner

    merger = MergeServer(
        client, MergeRunner(RepoCache(root / "merger-git"), root / "merger-work"), "test-merger"
    )
    merger.start()
    try:
        with running_scheduler(config) as sched:
            yield sched
    finally:
        merger.stop()
