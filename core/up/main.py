"""``lockgate up``: start ZooKeeper, a Gerrit and the four components, in order, with progress.

Order matters only for a quiet start: ZooKeeper first (everything needs it),
the review system (``lockgate.up.review``: the Gerrit emulator, seeded with
the gated demo project), then launcher and executor (so the first build
finds them), then the scheduler and the web.  When everything is ready it
pushes one commit to the demo project and proposes one change in Gerrit, so
a fresh machine shows a real build and a real review vote within seconds,
and prints where the dashboard is and how to start more.

Stopping: Ctrl-C, SIGTERM or SIGHUP stops the components by PID (all at
once; each exits within 10 s), then the review system, then ZooKeeper; a
second one kills what is left at once.  Whatever happens to the output (a
pipe closed: ``lockgate up | head -1``, a ``tee`` killed by the same
Ctrl-C) ``up`` goes on to stop what it started: progress that cannot be
written is dropped (``say``).  Every process it starts is recorded in
``STATE/run/processes.json`` (``lockgate.up.pids``), so that what a killed
``up`` left running is stopped by the next ``up`` on the same state
directory.
"""

from __future__ import annotations

import argparse
import functools
import json
import logging
import os
import signal
import sys
import time
import urllib.request
from contextlib import AbstractContextManager
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

from lockgate.up import demo, prereqs, seed
from lockgate.up.nodes import remove_local_nodes
from lockgate.up.pids import UP, PidFile, alive, identity, record_of, signal_record, stop_records
from lockgate.up.replicas import replica_name, write_replica_configs
from lockgate.up.review import ReviewServer
from lockgate.up.supervisor import ComponentProcess, stop_all, wait_until
from lockgate.zk import ZKClient, ZKError, list_components
from lockgate.zk.server import ServerTLS, ZooKeeperServer
from lockgate.zk.tenants import load_layout

COMPONENTS = ("launcher", "executor", "scheduler", "web")
# Each stops ``up``; SIGHUP too (the terminal closed), or it would die
# without stopping what it started.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Stop(Exception):
    """Raised by the signal handler to unwind start-up or the wait loop."""


def say(message: str, *, end: str = "\n", stream: str = "stdout") -> None:
    """Print progress; never raise.  Once the stream cannot be written (its
    reader is gone: a closed pipe, a killed ``tee``) it is pointed at
    /dev/null, so that neither this nor the interpreter's last flush can
    stop ``up`` before it has stopped what it started."""
    out = sys.stdout if stream == "stdout" else sys.stderr
    try:
        out.write(message + end)
        out.flush()
    except (OSError, ValueError):
        _silence(out)


def _silence(out: TextIO) -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, out.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


def step(label: str) -> AbstractContextManager[None]:
    """Print ``label ...`` then ``ok (0.4 s)`` around a start-up step."""

    class _Step:
        def __enter__(self) -> None:
            self.start = time.monotonic()
            say(f"  {label} ...", end=" ")

        def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
            took = time.monotonic() - self.start
            say(f"ok ({took:.1f} s)" if exc_type is None else "FAILED")

    return _Step()


def http_json(url: str, timeout: float = 2.0) -> object | None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (loopback)
            return json.loads(response.read())
    except (OSError, ValueError):
        return None


class System:
    """One machine's Lockgate: ZooKeeper plus the four components as processes.

    ``projects`` are the tenant's untrusted projects on the local git server
    and their initial files (the demo project for ``lockgate up``; tests pass
    their own); ``review_projects`` those in the Gerrit.
    """

    def __init__(
        self,
        state_dir: Path,
        *,
        web_listen: str = "127.0.0.1",
        web_port: int = 9000,
        projects: dict[str, dict[str, str | bytes]] | None = None,
        config_files: dict[str, str | bytes] | None = None,
        poll_delay: float = 0.5,
        review_projects: dict[str, dict[str, str | bytes]] | None = None,
        extra_connections: str = "",
        extra_sources: dict[str, list[str]] | None = None,
        replicas: int = 1,
    ) -> None:
        """``extra_connections``: more ``[connection ...]`` INI text for every
        component, ``extra_sources``: their untrusted projects in the tenant
        (connection -> projects); tests use them for a GitHub emulator.
        ``replicas``: copies of each component (``lockgate.up.replicas``;
        copy k's web listens on ``web_port + k - 1``)."""
        if replicas < 1:
            raise ValueError(f"replicas must be at least 1, not {replicas}")
        self.replicas = replicas
        self.state = seed.StateDir(Path(state_dir).expanduser().absolute())
        self.extra_connections = extra_connections
        self.extra_sources = extra_sources
        self.web_listen = web_listen
        self.web_port = web_port
        self.projects = projects if projects is not None else {seed.DEMO_PROJECT: demo.FILES}
        self.review_projects = (
            review_projects
            if review_projects is not None
            else {seed.GATED_PROJECT: demo.GATED_FILES}
        )
        self.review = ReviewServer(self.state.root / "gerrit")
        # The config project's files; None means the stock zuul.d/ and playbooks/.
        self.config_files = config_files
        self.poll_delay = poll_delay
        self.zookeeper: ZooKeeperServer | None = None
        self.client: ZKClient | None = None
        self.components: list[ComponentProcess] = []
        self.pids = PidFile(self.state.root / "run" / "processes.json")
        self._owns_pids = False  # the records are ours (not another live up's)

    @property
    def web_url(self) -> str:
        host = "127.0.0.1" if self.web_listen in ("0.0.0.0", "::") else self.web_listen
        return f"http://{host}:{self.web_port}"

    def stop_leftovers(self) -> None:
        """Stop what an earlier ``up`` on this state directory left running
        (it was killed before it could); refuse if that ``up`` still runs."""
        records = self.pids.records()
        for record in records:
            if record.name == UP and record.pid != os.getpid() and alive(record):
                raise RuntimeError(
                    f"another lockgate up (pid {record.pid}) runs on {self.state.root}; "
                    "stop it first (Ctrl-C, or kill it: the next up cleans up after it)"
                )
        leftovers = [r for r in records if r.name != UP]
        if leftovers:
            say("  cleaning up after an earlier lockgate up that did not stop")
            # The components first (they unregister from ZooKeeper), then the rest.
            stop_records(
                [r for r in leftovers if r.group and r.name != "zookeeper"], grace=15, say=say
            )
            stop_records(
                [r for r in leftovers if not r.group or r.name == "zookeeper"], grace=15, say=say
            )
        self.pids.clear()
        self.pids.add(record_of(UP, os.getpid(), identity_argv()))
        self._owns_pids = True

    def start(self) -> None:
        state = self.state
        say(f"Starting Lockgate in {state.root}")
        state.root.mkdir(parents=True, exist_ok=True)
        self.stop_leftovers()
        with step("keys, certificates and demo repositories"):
            seed.ensure_ssh_key(state)
            tls = seed.ensure_tls(state)
            seed.seed_repositories(state, self.projects, self.config_files)
            seed.write_tenant_config(
                state, list(self.projects), list(self.review_projects), self.extra_sources
            )
        with step("ZooKeeper (TLS, loopback)"):
            self.zookeeper = ZooKeeperServer(
                state.zookeeper, tls=ServerTLS.from_files(tls.server), client_tls=tls.client
            )
            self.zookeeper.start()
            zk_process = self.zookeeper.process
            assert zk_process is not None
            self.pids.add(record_of("zookeeper", zk_process.pid, zk_process.args, group=True))
        with step("Gerrit (the review system, loopback)"):
            self.review.start(self.review_projects)
            gerrit = self.review.emulator.process
            self.pids.add(record_of("gerrit", gerrit.pid, gerrit.args))
        config = seed.write_service_config(
            state,
            zk_hosts=self.zookeeper.hosts,
            tls=tls,
            web_listen=self.web_listen,
            web_port=self.web_port,
            poll_delay=self.poll_delay,
            review_section=self.review.connection_section(),
            extra_sections=self.extra_connections,
        )
        self.client = ZKClient(
            self.zookeeper.hosts,
            tls_ca=str(tls.client.ca),
            tls_cert=str(tls.client.cert),
            tls_key=str(tls.client.key),
        )
        self.client.connect(timeout=30)
        configs = write_replica_configs(config, self.replicas)
        for name in COMPONENTS:
            # The copies of one component start together.
            labels = [replica_name(name, k) for k in range(1, len(configs) + 1)]
            with step(" and ".join(labels)):
                procs = []
                for label, conf in zip(labels, configs, strict=True):
                    proc = ComponentProcess(label, conf, state.logs / f"{label}.log", command=name)
                    self.components.append(proc)
                    proc.start()
                    assert proc.process is not None
                    self.pids.add(record_of(label, proc.process.pid, proc.process.args, group=True))
                    procs.append(proc)
                for k, proc in enumerate(procs, start=1):
                    if not wait_until(functools.partial(self._ready, proc, name, k), timeout=60):
                        raise RuntimeError(self._failure(proc))
        with step(f"tenant '{seed.TENANT}' configuration"):
            if not wait_until(lambda: self._tenant_loaded(), timeout=60):
                raise RuntimeError(
                    "the scheduler did not publish the demo tenant's layout; "
                    f"see {state.logs / 'scheduler.log'}"
                )

    def _ready(self, proc: ComponentProcess, name: str, k: int = 1) -> bool:
        if proc.exited() is not None:
            raise RuntimeError(self._failure(proc))
        if name == "web":
            return http_json(f"{self.replica_web_url(k)}/api/info") is not None
        assert self.client is not None
        return len(list_components(self.client, name)) >= k

    def replica_web_url(self, k: int) -> str:
        """Copy ``k``'s web (copy 1: ``web_url``)."""
        host = "127.0.0.1" if self.web_listen in ("0.0.0.0", "::") else self.web_listen
        return f"http://{host}:{self.web_port + k - 1}"

    def _failure(self, proc: ComponentProcess) -> str:
        code = proc.exited()
        status = f"exited with status {code}" if code is not None else "did not become ready"
        return f"{proc.name} {status}; last lines of {proc.log_path}:\n{proc.log_tail()}"

    def _tenant_loaded(self) -> bool:
        assert self.client is not None
        return load_layout(self.client, seed.TENANT) is not None

    def push(
        self,
        project: str,
        files: dict[str, str | bytes] | None = None,
        message: str | None = None,
        branch: str = "main",
    ) -> str:
        """Commit ``files`` (or nothing) in the project's working clone and push
        it to ``branch`` of the repository the git connection polls; returns
        the new commit."""
        clone = self.state.work_clone(project)
        seed.write_files(clone, files or {})
        message = message or f"Build at {time.strftime('%Y-%m-%d %H:%M:%S')}"
        seed.run_git("add", "-A", cwd=clone)
        seed.run_git("commit", "-q", "--allow-empty", "-m", message, cwd=clone)
        seed.run_git("push", "-q", "origin", f"HEAD:refs/heads/{branch}", cwd=clone)
        return seed.run_git("rev-parse", "HEAD", cwd=clone)

    def wait_for_build(self, newrev: str, timeout: float = 180) -> dict[str, Any] | None:
        url = f"{self.web_url}/api/tenant/{seed.TENANT}/builds?newrev={newrev}&complete=true"

        def finished() -> dict[str, Any] | None:
            self.check_alive()
            builds = http_json(url)
            return builds[0] if isinstance(builds, list) and builds else None

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            build = finished()
            if build:
                return build
            time.sleep(0.5)
        return None

    def wait_for_buildset(
        self, newrev: str, pipeline: str = "post", timeout: float = 180
    ) -> dict[str, Any] | None:
        """The completed buildset of ``pipeline`` for commit ``newrev``, with
        its builds (the REST API's single-buildset shape), or None in time."""
        api = f"{self.web_url}/api/tenant/{seed.TENANT}"
        query = f"newrev={newrev}&pipeline={pipeline}&complete=true"

        def completed() -> dict[str, Any] | None:
            self.check_alive()
            found = http_json(f"{api}/buildsets?{query}")
            if not isinstance(found, list) or not found:
                return None
            detail = http_json(f"{api}/buildset/{found[0]['uuid']}")
            return detail if isinstance(detail, dict) else None

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            buildset = completed()
            if buildset:
                return buildset
            time.sleep(0.5)
        return None

    def wait_for_review(
        self, number: int, votes: tuple[int, ...] = (1, -1), timeout: float = 180
    ) -> dict[str, Any] | None:
        """Lockgate's first review of change ``number`` in the Gerrit whose
        Verified vote is one of ``votes``."""

        def posted() -> dict[str, Any] | None:
            self.check_alive()
            for review in self.review.control.reviews(change=number):
                if review["account"] == "lockgate" and review["kind"] == "review":
                    if review["labels"].get("Verified") in votes:
                        return review
            return None

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = posted()
            if found:
                return found
            time.sleep(0.5)
        return None

    def check_alive(self) -> None:
        for proc in self.components:
            if proc.exited() is not None:
                raise RuntimeError(self._failure(proc))

    def stop(self) -> None:
        """Stop everything this system started: the components at once, then
        the Gerrit, then ZooKeeper; then forget their records."""
        running = [p for p in self.components if p.process is not None]
        for proc in reversed(running):
            say(f"  stopping {proc.name} (pid {proc.pid})")
        stop_all(list(reversed(running)))
        if running:
            for node in remove_local_nodes(self.state.config_file, self.replicas):
                say(f"  removed local node {node}")
        if self.client is not None:
            self.client.begin_shutdown()
            self.client.disconnect()
        if self.review.emulator is not None:
            say("  stopping Gerrit")
            self.review.stop()
        if self.zookeeper is not None:
            say("  stopping ZooKeeper")
            self.zookeeper.stop()
        if self._owns_pids:  # a refused start leaves the other up's records alone
            self.pids.clear()

    def kill_now(self) -> None:
        """SIGKILL everything recorded (a second Ctrl-C while stopping): safe
        from a signal handler, it only sends signals."""
        for record in self.pids.records():
            if record.name != UP:
                signal_record(record, signal.SIGKILL)

    def print_welcome(self) -> None:
        clone = self.state.work_clone(seed.DEMO_PROJECT)
        say("")
        say(f"Lockgate is up.  Dashboard: {self.web_url}/t/{seed.TENANT}/builds")
        say(f"  REST API:      {self.web_url}/api/tenant/{seed.TENANT}/builds")
        for k in range(2, self.replicas + 1):
            say(f"  web copy {k}:    {self.replica_web_url(k)}/t/{seed.TENANT}/builds")
        say(f"  Logs of each component: {self.state.logs}/")
        say("To start a build, push a commit to the demo project:")
        say(f"  cd {clone}")
        say("  git commit --allow-empty -m 'Try Lockgate' && git push origin HEAD:main")
        if seed.GATED_PROJECT in self.review_projects:
            say(f"To propose a change for review (Gerrit at {self.review.baseurl}):")
            say(f"  git clone {self.review.user_clone_url(seed.GATED_PROJECT)} gated && cd gated")
            say(
                "  git commit --allow-empty -m 'Try the gate' && git push origin HEAD:refs/for/main"
            )
            say("  then approve it (Code-Review +2, Workflow +1) to gate and merge it.")
        say("Admin actions (zuul-client or lockgate client) take a token from:")
        say(
            f"  lockgate -c {self.state.config_file} create-auth-token "
            f"--auth-config {seed.AUTH_NAME} --user {seed.ADMIN_USER} --tenant {seed.TENANT}"
        )
        say("Press Ctrl-C to stop.")


def review_demo(system: System) -> None:
    """Propose a change in the Gerrit, show check's vote, approve it, show the
    gate merging it."""
    control = system.review.control
    say(f"Proposing a change to {seed.GATED_PROJECT} (pipelines 'check', then 'gate') ...")
    change = control.create_change(
        seed.GATED_PROJECT, {"NOTES.md": "Proposed through Gerrit.\n"}, "Demo change", branch="main"
    )
    number = int(change["number"])
    review = system.wait_for_review(number)
    if review is None:
        say("  check did not vote in time; see the dashboard and logs")
        return
    say(f"  check: Verified {review['labels'].get('Verified')}")
    control.approve(number)
    gated = system.wait_for_review(number, (2, -2))
    if gated is None:
        say("  the gate did not report in time; see the dashboard and logs")
        return
    wait_until(lambda: control.change(number)["status"] == "MERGED", timeout=30)
    status = control.change(number)["status"]
    say(f"  gate: Verified {gated['labels'].get('Verified')}, change {number} {status}")


def main(args: argparse.Namespace) -> int:
    # Progress lines are the interface here; components log to their own files.
    logging.getLogger("kazoo").setLevel(logging.WARNING)
    problems = prereqs.missing()
    if problems:
        for line in problems:
            print(f"lockgate up: {line}", file=sys.stderr)
        return 2
    projects = {} if args.no_demo else {seed.DEMO_PROJECT: demo.FILES}
    review_projects = {} if args.no_demo else {seed.GATED_PROJECT: demo.GATED_FILES}
    system = System(
        Path(args.state_dir),
        web_listen=args.listen,
        web_port=args.web_port,
        projects=projects,
        review_projects=review_projects,
        replicas=args.replicas,
    )

    def on_signal(signum: int, frame: FrameType | None) -> None:
        raise Stop()

    def hurry(signum: int, frame: FrameType | None) -> None:
        # A second signal while stopping: what is left goes now.
        system.kill_now()

    # A pipe's reader gone is an error on write (handled by say), not death.
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    for sig in STOP_SIGNALS:
        signal.signal(sig, on_signal)
    code = 0
    try:
        system.start()
        if seed.DEMO_PROJECT in system.projects:
            demo_buildset(system)
        if seed.GATED_PROJECT in system.review_projects:
            review_demo(system)
        system.print_welcome()
        while True:
            system.check_alive()
            time.sleep(1)
    except Stop:
        say("\nStopping Lockgate ...")
    except (RuntimeError, OSError, ZKError) as e:
        say(f"lockgate up: {e}", stream="stderr")
        code = 1
    finally:
        for sig in STOP_SIGNALS:
            signal.signal(sig, hurry)
        system.stop()
    return code


def identity_argv() -> tuple[str, ...]:
    """This process's own command line, as /proc shows it."""
    found = identity(os.getpid())
    return found[1] if found else ()


def demo_buildset(system: System) -> None:
    """Push one commit to the demo project and report its buildset's jobs by name."""
    say(f"Running the demo buildset ({seed.DEMO_PROJECT}, pipeline 'post') ...")
    newrev = system.push(seed.DEMO_PROJECT, message="Demo build")
    buildset = system.wait_for_buildset(newrev)
    if buildset is None:
        say("  the demo buildset did not finish in time; see the dashboard and logs")
        return
    say(f"  demo buildset: {buildset.get('result')}")
    builds = [b for b in buildset.get("builds", []) if b.get("final") is not False]
    for build in sorted(builds, key=lambda b: str(b.get("job_name"))):
        say(f"    {build.get('job_name')}: {build.get('result')}  log: {build.get('log_url')}")
