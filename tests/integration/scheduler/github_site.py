"""What the GitHub scheduler tests share: the GitHub emulator sending signed
webhooks to a real ``lockgate web`` process, which stores them in a real
(TLS) ZooKeeper; an in-process scheduler holding the GitHub event source;
the real merger; SQLite.  The launcher and executor are played by hand
(``harness``).

``github_system(...)`` is a context manager the check and gate tests wrap
in their fixtures with their own pipelines; ``connection_keys`` adds keys
to ``[connection github]``, and ``other_githubs`` starts more emulators (a
second GitHub, as a GitHub Enterprise server would be) with connections
of those names, their webhooks going to the same web process.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from lockgate.drivers.github.event_source import delivery_queue
from lockgate.executor.merger import MergeServer
from lockgate.git import RepoCache
from lockgate.git.merge_runner import MergeRunner
from lockgate.model.builds import BuildRequest
from lockgate.scheduler.server import Scheduler
from lockgate.service_config import ServiceConfig
from lockgate.zk.client import ZKClient
from lockgate.zk.queues import trigger_queue

from tests.fixtures.github.client import GitHubControl
from tests.fixtures.github.fixture import GitHubEmulator
from tests.fixtures.network import free_port, http_get
from tests.fixtures.waiting import wait_for
from tests.integration.scheduler.harness import build_requests, fulfil_node_requests


@dataclass
class GithubSite:
    client: ZKClient
    github: GitHubEmulator
    web_url: str
    root: Path
    others: dict[str, GitHubEmulator] = field(default_factory=dict)

    @property
    def control(self) -> GitHubControl:
        return self.github.control


class WebProcess:
    """``python -m lockgate.cli -c FILE web`` (stopped by PID)."""

    def __init__(self, config: Path, log: Path, port: int) -> None:
        self.config, self.log, self.port = config, log, port
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> WebProcess:
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "lockgate.cli", "-c", str(self.config), "web"],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=dict(os.environ, PYTHONUNBUFFERED="1"),
            )
        proc = self.proc
        wait_for(
            lambda: http_get(self.url + "/health/ready")[0] == 200 or proc.poll() is not None,
            60,
            "the web process to be ready",
        )
        if proc.poll() is not None:
            raise RuntimeError("web exited: " + self.log.read_text(errors="replace"))
        return self

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(timeout=30)


def service_config_text(
    root: Path,
    zk_server,  # noqa: ANN001
    chroot: str,
    upstream_root: Path,
    github: GitHubEmulator,
    web_port: int,
    connection_keys: dict[str, str] | None = None,
    others: dict[str, GitHubEmulator] | None = None,
) -> str:
    tls = zk_server.tls.client
    extra = "".join(f"{k}={v}\n" for k, v in (connection_keys or {}).items())
    extra += "".join(
        "\n" + other.zuul_conf_text(name) for name, other in sorted((others or {}).items())
    )
    return (
        f"""
[zookeeper]
hosts = {zk_server.server.hosts}
tls_ca = {tls.ca}
tls_cert = {tls.cert}
tls_key = {tls.key}
chroot = {chroot}
session_timeout = 3

[scheduler]
tenant_config = {root / "main.yaml"}
state_dir = {root / "state"}

[web]
listen_address = 127.0.0.1
port = {web_port}

[executor]
state_dir = {root / "executor"}

[database]
dburi = sqlite:///{root}/lockgate.db

[connection git]
driver = git
baseurl = {upstream_root}
poll_delay = 3600

"""
        + github.zuul_conf_text()
        + extra
    )


@contextmanager
def github_system(
    root: Path,
    upstream,  # noqa: ANN001
    zk_server,  # noqa: ANN001
    chroot: str,
    client: ZKClient,
    *,
    main_yaml: str,
    config_yaml: str,
    repos: dict[str, dict[str, str]],
    repo_options: dict[str, dict] | None = None,
    connection_keys: dict[str, str] | None = None,
    other_githubs: dict[str, dict[str, dict[str, str]]] | None = None,
) -> Iterator[GithubSite]:
    """The emulator with ``repos`` (owner/name -> files), the config project
    in plain git, a web process taking the emulator's webhooks, the merger
    and a scheduler running in a thread."""
    github = GitHubEmulator(root / "github").start()
    others: dict[str, GitHubEmulator] = {}
    web: WebProcess | None = None
    merger = sched = stop = None
    try:
        for name, files in repos.items():
            github.control.create_repo(name, files, **(repo_options or {}).get(name, {}))
        for connection, other_repos in (other_githubs or {}).items():
            others[connection] = GitHubEmulator(root / f"github-{connection}", app_id=8).start()
            for name, files in other_repos.items():
                others[connection].control.create_repo(name, files)
        (root / "main.yaml").write_text(main_yaml)
        upstream.create(
            "config", {"zuul.yaml": config_yaml, "playbooks/base.yaml": "- hosts: all\n"}
        )
        port = free_port()
        conf = root / "lockgate.conf"
        conf.write_text(
            service_config_text(
                root, zk_server, chroot, upstream.root, github, port, connection_keys, others
            )
        )
        web = WebProcess(conf, root / "web.log", port).start()
        github.control.set_webhook(url=f"{web.url}/api/connection/github/payload")
        for connection, other in others.items():
            other.control.set_webhook(url=f"{web.url}/api/connection/{connection}/payload")
        merger = MergeServer(
            client, MergeRunner(RepoCache(root / "merger-git"), root / "merger-work"), "test-merger"
        )
        merger.start()
        sched = Scheduler(ServiceConfig.load(conf), tick=0.5)
        sched.start()
        stop = sched.run_in_thread()
        yield GithubSite(client, github, web.url, root, others)
    finally:
        if stop is not None:
            stop()
        if sched is not None:
            sched.stop()
        if merger is not None:
            merger.stop()
        if web is not None:
            web.stop()
        for other in others.values():
            other.stop()
        github.stop()


def requested_for(client: ZKClient, project: str, number: int) -> list[BuildRequest]:
    """REQUESTED build requests of pull request ``project#number`` (nodes
    fulfilled on the way)."""
    fulfil_node_requests(client)
    return [
        r
        for r in build_requests(client)
        if r.state.value == "requested"
        and r.zuul_vars.get("change") == str(number)
        and r.zuul_vars.get("project", {}).get("name") == project
    ]


def build_for(
    client: ZKClient, project: str, number: int, *, job: str | None = None, timeout: float = 60
) -> BuildRequest:
    def find() -> BuildRequest | None:
        for r in requested_for(client, project, number):
            if job is None or r.job.name == job:
                return r
        return None

    return wait_for(find, timeout, f"a build request for {project}#{number}")


def events_settled(client: ZKClient, tenant: str, connection: str = "github") -> bool:
    """Every stored delivery of ``connection`` mapped, and every trigger
    event of ``tenant`` taken by the scheduler."""
    return (
        not delivery_queue(client, connection).list() and not trigger_queue(client, tenant).list()
    )
