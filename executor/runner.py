"""Running one build: workspace, inventory, variables, then the playbooks with Zuul's semantics.

The server (``lockgate.executor.server``) calls ``JobRunner.run`` in a worker
thread for each build request it claimed, after resolving the request's
nodes; tests call it directly.  It needs no ZooKeeper: it takes a
``BuildRequest``, the ``Node`` records and an ``Abort`` flag, and returns a
``BuildOutcome`` whose ``result`` is a ``BuildResult``.

Which playbook runs when, with what, and what the outcomes make of the
build are Zuul's rules, kept without I/O in ``lockgate.executor.phases``
(``PhasePlan``); this module carries them out: the built-in ``noop`` job
(no playbooks) succeeds without running anything; otherwise it prepares the
build directory, then runs each playbook the plan gives (``_playbook``: its
variables and secrets, the sandboxed ``ansible-playbook`` process, the
console lines) and tells the plan how it went.  What playbooks return with
``zuul_return`` (``lockgate.executor.result_data``) is read after the run
playbooks: on ``zuul.pause`` the ``pause`` hook is called, which returns
when the build may go on (its child jobs are done) or is aborted.  The
outcome carries the returned data.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from lockgate.executor import console
from lockgate.executor.ansible_setup import ansible_env, playbook_command, write_ansible_cfg
from lockgate.executor.file_comments import map_returned_comments
from lockgate.executor.inventory import (
    InventoryError,
    build_inventory,
    debug_inventory,
    job_variables,
    write_inventory,
)
from lockgate.executor.jobdir import JobDir
from lockgate.executor.phases import PhasePlan, PlaybookRun, Step
from lockgate.executor.process import Abort, ProcessOutcome, Status, run_process
from lockgate.executor.repos import (
    Checkout,
    PlaybookProjects,
    Sources,
    WorkspaceError,
    prepare_repos,
)
from lockgate.executor.result_data import BuildReturn, read_result_file
from lockgate.executor.secrets import SecretFiles, mask
from lockgate.executor.settings import ExecutorSettings
from lockgate.executor.ssh_agent import SshAgent, SshAgentError
from lockgate.executor.zuul_vars import build_zuul_vars
from lockgate.git import RepoCache
from lockgate.keys.keystore import KeySource, KeystoreError, KeystorePasswordError
from lockgate.keys.secrets import KeyLookup, SecretError, check_secrets, memo, playbook_secrets
from lockgate.model.builds import BuildRequest, BuildResult
from lockgate.model.jobs import PlaybookRef
from lockgate.model.nodes import Node

log = logging.getLogger("lockgate.executor.runner")


class BuildError(Exception):
    """The build cannot run; ``result`` says how it is reported."""

    def __init__(self, result: BuildResult, message: str):
        super().__init__(message)
        self.result = result


@dataclass
class BuildOutcome:
    result: BuildResult
    error_detail: str | None = None
    playbooks: list[PlaybookRun] = field(default_factory=list)
    elapsed: float = 0.0
    returned: BuildReturn = field(default_factory=BuildReturn)


@dataclass
class _Context:
    request: BuildRequest
    jobdir: JobDir
    projects: PlaybookProjects
    abort: Abort
    network: bool
    ssh_auth_sock: Path | None
    runs: list[PlaybookRun] = field(default_factory=list)
    pause: Callable[[BuildReturn], None] | None = None
    # (connection, project) -> secrets key, asked once per project per build.
    key_for: KeyLookup | None = None


class JobRunner:
    """Runs builds; ``sources`` (by connection name) let it fetch playbook
    projects that are not among a build's repositories (the config project
    with the base job's playbooks); ``keys`` (the keystore) decrypts
    secrets and gives post-review jobs their project's SSH key."""

    def __init__(
        self,
        settings: ExecutorSettings,
        cache: RepoCache | None = None,
        sources: Mapping[str, Sources] | None = None,
        keys: KeySource | None = None,
    ):
        self.settings = settings
        self.cache = cache or RepoCache(settings.git_root)
        self.sources = dict(sources or {})
        self.keys = keys

    # ------------------------------------------------------------------

    def run(
        self,
        request: BuildRequest,
        nodes: list[Node],
        abort: Abort | None = None,
        pause: Callable[[BuildReturn], None] | None = None,
    ) -> BuildOutcome:
        """Run the build to the end and return its result; never raises for build problems.

        ``pause(returned)`` is called when the job returns ``zuul.pause``
        after a successful run; it blocks until the build may go on (or
        ``abort`` is set).  Without it, the job does not pause."""
        abort = abort or Abort()
        started = time.monotonic()
        job = request.job
        if not (job.pre_run or job.run or job.post_run):
            if job.name == "noop":
                return BuildOutcome(BuildResult.SUCCESS, elapsed=0.0)
            return BuildOutcome(BuildResult.ERROR, f"job {job.name} has no playbooks")
        jobdir = JobDir.create(self.settings.builds_root, self.settings.log_root, request.uuid)
        agent: SshAgent | None = None
        try:
            console.write_lines(
                jobdir.job_output_txt,
                f"Job console starting: build {request.uuid}, job {job.name}, "
                f"attempt {request.attempt} of {job.attempts}",
            )
            key_for = memo(self._secrets_key)
            try:
                checkouts, network = self._prepare(request, nodes, jobdir)
                _check_secrets(request, key_for)
                if network:
                    agent = SshAgent(self.settings.private_key_file)
                    agent.start()
                    self._add_project_key(agent, request)
            except BuildError as e:
                console.write_lines(jobdir.job_output_txt, f"ERROR: {e}")
                return BuildOutcome(e.result, str(e), elapsed=time.monotonic() - started)
            except SshAgentError as e:
                console.write_lines(jobdir.job_output_txt, f"ERROR: {e}")
                return BuildOutcome(BuildResult.ERROR, str(e), elapsed=time.monotonic() - started)
            ctx = _Context(
                request,
                jobdir,
                PlaybookProjects(self.cache, jobdir, checkouts, self.sources),
                abort,
                network,
                agent.socket_path if agent else None,
                pause=pause,
                key_for=key_for,
            )
            try:
                result, detail = self._run_phases(ctx)
            except BuildError as e:
                console.write_lines(jobdir.job_output_txt, f"ERROR: {e}")
                result, detail = e.result, str(e)
            returned = read_result_file(jobdir.result_data_file, job.name)
            map_returned_comments(request, ctx.projects.checkouts, returned)
            for warning in returned.warnings:
                console.write_lines(jobdir.job_output_txt, f"WARNING: {warning}")
            console.write_lines(jobdir.job_output_txt, f"Job result: {result.value}")
            return BuildOutcome(
                result, detail, ctx.runs, time.monotonic() - started, returned=returned
            )
        finally:
            if agent is not None:
                agent.stop()
            if not self.settings.keep_jobdir:
                jobdir.remove()

    # ------------------------------------------------------------------

    def _prepare(
        self, request: BuildRequest, nodes: list[Node], jobdir: JobDir
    ) -> tuple[dict[str, Checkout], bool]:
        job = request.job
        try:
            checkouts = prepare_repos(self.cache, jobdir, request)
        except WorkspaceError as e:
            raise BuildError(BuildResult.ERROR, str(e)) from None
        try:
            inventory = build_inventory(
                job,
                nodes,
                local_python=sys.executable,
                known_hosts_file=jobdir.known_hosts,
                local_tmp=jobdir.tmp_root / "ansible-remote",
                parent_data=request.parent_data,
            )
        except InventoryError as e:
            raise BuildError(BuildResult.NODE_FAILURE, str(e)) from None
        write_inventory(inventory, jobdir.inventory_file, jobdir.known_hosts)
        zuul = build_zuul_vars(request, jobdir, checkouts, self.settings.hostname)
        _dump(jobdir.zuul_vars_file, {"zuul": zuul})
        extra: dict[str, Any] = dict(self.settings.site_variables)
        extra.update(job.extra_vars)
        _dump(jobdir.extra_vars_file, extra)
        # The published copy (zuul-info/inventory.yaml), without secrets.
        info = jobdir.log_dir / "zuul-info"
        info.mkdir(exist_ok=True)
        _dump(info / "inventory.yaml", debug_inventory(inventory, zuul, dict(job.extra_vars)))
        write_ansible_cfg(jobdir)
        return checkouts, inventory.remote

    def _run_phases(self, ctx: _Context) -> tuple[BuildResult, str | None]:
        """Run the playbooks ``PhasePlan`` gives, in its order, and return
        what their outcomes make of the build."""
        job = ctx.request.job
        plan = PhasePlan(job, ctx.request.attempt, time.monotonic())
        while (step := plan.next_main()) is not None:
            plan.record(self._playbook(ctx, step))
        if not plan.aborted:
            returned = read_result_file(ctx.jobdir.result_data_file, job.name)
            pauses = plan.returned(pause=returned.pause, retry=returned.retry)
            if pauses and ctx.pause is not None and self._pause(ctx, returned):
                plan.abort()
        while (step := plan.next_post()) is not None:
            plan.record(self._playbook(ctx, step))
        return plan.outcome(ctx.abort.reason)

    def _pause(self, ctx: _Context, returned: BuildReturn) -> bool:
        """Hand the build to the pause hook until it may go on; True if aborted meanwhile."""
        assert ctx.pause is not None
        console.write_lines(ctx.jobdir.job_output_txt, "Job paused")
        ctx.pause(returned)
        if ctx.abort.is_set():
            return True
        console.write_lines(ctx.jobdir.job_output_txt, "Job resumed")
        return False

    # ------------------------------------------------------------------

    def _playbook(self, ctx: _Context, step: Step) -> PlaybookRun:
        """Run one playbook: its variables and secrets, the sandboxed
        ``ansible-playbook`` process, its console lines."""
        jobdir = ctx.jobdir
        ref, index, phase = step.ref, step.index, step.phase.value
        timeout = step.time_left(time.monotonic())
        label = f"{'trusted' if ref.trusted else 'untrusted'} : {ref.project}/{ref.path}" + (
            f"@{ref.branch}" if ref.branch else ""
        )
        name = step.phase.heading
        if timeout is not None and timeout <= 0:
            console.write_lines(jobdir.job_output_txt, f"{name} SKIPPED (no time left): [{label}]")
            return self._record(ctx, PlaybookRun(step.phase, index, ref, Status.TIMED_OUT, None))
        try:
            path = ctx.projects.playbook(ref)
            roles_path = ctx.projects.roles(ref, len(ctx.runs))
        except WorkspaceError as e:
            raise BuildError(BuildResult.ERROR, str(e)) from None
        var_files = [jobdir.extra_vars_file]
        own_vars = dict(step.variables or {})
        own: Path | None = None
        if own_vars:
            # This playbook's own variables: the file exists only while it runs.
            own = jobdir.ansible_root / f"vars-{phase}-{index}.yaml"
            _dump(own, own_vars)
            os.chmod(own, 0o600)
            var_files.append(own)
        # Its secrets, decrypted now, in memory only (never in the build tree).
        secret_files = self._secret_files(ctx, ref)
        if secret_files is not None:
            var_files.append(secret_files.vars_path)
        var_files.append(jobdir.zuul_vars_file)
        command = playbook_command(jobdir, path, var_files)
        command = self.settings.sandbox.wrap(
            command,
            jobdir,
            trusted=ref.trusted,
            network=ctx.network,
            extra_rw=[str(ctx.ssh_auth_sock.parent)] if ctx.ssh_auth_sock else None,
            data_files=secret_files.data_files if secret_files is not None else (),
        )
        env = ansible_env(
            jobdir,
            phase=phase,
            index=index,
            playbook=str(path),
            trusted=ref.trusted,
            roles_path=roles_path,
            ssh_auth_sock=ctx.ssh_auth_sock,
            ssh_control_dir=self._control_dir(ctx),
        )
        if secret_files is not None:
            env.update(secret_files.env)
        raw = jobdir.raw_log_root / f"{phase}-{index}.log"
        console.write_lines(jobdir.job_output_txt, f"{name} START: [{label}]")
        try:
            outcome: ProcessOutcome = run_process(
                command,
                env=env,
                cwd=jobdir.work_root,
                output=raw,
                timeout=timeout,
                # A cleanup playbook is not stopped by an abort: it exists
                # to undo what the job did (its post-timeout still bounds it).
                abort=Abort() if step.cleanup else ctx.abort,
                pass_fds=secret_files.fds if secret_files is not None else (),
            )
        finally:
            if own is not None:
                own.unlink(missing_ok=True)
            if secret_files is not None:
                secret_files.close()
        text = raw.read_text(errors="replace").strip() if raw.exists() else ""
        if secret_files is not None and secret_files.masked and text:
            # Ansible's own messages (warnings, errors) may quote a value.
            text = mask(text, secret_files.masked)
            raw.write_text(text + "\n")
        if text:
            console.write_lines(jobdir.job_output_txt, text)
        entry = console.last_json_entry(jobdir.job_output_json, phase, index)
        # ansible-playbook's exit status 4 means "unreachable" and "parse
        # error" alike, so the callback's stats decide.
        unreachable = any(s.get("unreachable") for s in ((entry or {}).get("stats") or {}).values())
        if outcome.status is not Status.NORMAL:
            console.append_json_entry(
                jobdir.job_output_json,
                {
                    "phase": phase,
                    "index": index,
                    "playbook": str(path),
                    "trusted": ref.trusted,
                    "plays": [],
                    "stats": {},
                    "result": outcome.status.value.upper(),
                },
            )
            state = "TIMED OUT" if outcome.status is Status.TIMED_OUT else "ABORTED"
            console.write_lines(
                jobdir.job_output_txt, f"{name} {state} after {outcome.elapsed:.1f}s: [{label}]"
            )
        result_name = (
            "RESULT_NORMAL"
            if outcome.status is Status.NORMAL
            else ("RESULT_TIMED_OUT" if outcome.status is Status.TIMED_OUT else "RESULT_ABORTED")
        )
        if unreachable:
            result_name = "RESULT_UNREACHABLE"
        console.write_lines(
            jobdir.job_output_txt, f"{name} END {result_name}: rc {outcome.returncode}: [{label}]"
        )
        return self._record(
            ctx,
            PlaybookRun(step.phase, index, ref, outcome.status, outcome.returncode, unreachable),
        )

    def _control_dir(self, ctx: _Context) -> Path | None:
        """Where SSH connection sharing keeps its sockets, if it may be used:
        only in the sandbox, whose PID namespace ends every [mux] process
        with the playbook (see ``ansible_setup``)."""
        if ctx.ssh_auth_sock is None or self.settings.sandbox.kind != "bubblewrap":
            return None
        path = ctx.ssh_auth_sock.parent / "cp"
        path.mkdir(exist_ok=True)
        return path

    def _record(self, ctx: _Context, run: PlaybookRun) -> PlaybookRun:
        ctx.runs.append(run)
        return run

    def _secrets_key(self, connection: str, project: str) -> Any:
        if self.keys is None:
            raise KeystorePasswordError(
                "this executor has no keystore ([keystore] password is not configured)"
            )
        return self.keys.secrets_key(connection, project)

    def _secret_files(self, ctx: _Context, ref: PlaybookRef) -> SecretFiles | None:
        """The secrets this playbook may read (and what its parents returned
        as ``secret_data``), decrypted now, as in-memory files."""
        variables = _secret_parent_vars(ctx.request)
        masked: list[str] = []
        if ref.secrets:
            try:
                found = playbook_secrets(
                    ctx.request.job.secrets, ref.secrets, ctx.key_for or self._secrets_key
                )
            except SecretError as e:
                raise BuildError(BuildResult.ERROR, f"playbook {ref.path}: {e}") from None
            variables.update(found.variables)
            masked = found.masked
        if not variables:
            return None
        return SecretFiles.open(
            variables, masked, sandboxed=self.settings.sandbox.kind == "bubblewrap"
        )

    def _add_project_key(self, agent: SshAgent, request: BuildRequest) -> None:
        """Zuul's project key: a post-review build gets its project's SSH key
        in the agent (made now if the project has none yet: the build waits
        for that key only)."""
        if not request.zuul_vars.get("post_review") or self.keys is None:
            return
        project = request.project
        try:
            pem = self.keys.ssh_private_pem(project.connection, project.project)
        except KeystoreError as e:
            raise BuildError(BuildResult.ERROR, f"project SSH key: {e}") from None
        try:
            agent.add_key_data(pem, f"the SSH key of project {project.project}")
        except SshAgentError as e:
            raise BuildError(BuildResult.ERROR, str(e)) from None


def _check_secrets(request: BuildRequest, key_for: KeyLookup) -> None:
    """Every secret some playbook will read must decrypt: else the build is
    an error before anything runs (not half-way, without its post-run)."""
    job = request.job
    used = [
        i for ref in (*job.pre_run, *job.run, *job.post_run, *job.cleanup_run) for i in ref.secrets
    ]
    if not used:
        return
    try:
        check_secrets(job.secrets, used, key_for)
    except SecretError as e:
        raise BuildError(BuildResult.ERROR, str(e)) from None


def _secret_parent_vars(request: BuildRequest) -> dict[str, Any]:
    """What parent jobs returned as ``secret_data``, given like secrets but
    below every other variable: a name set anywhere else is left out."""
    if not request.secret_parent_data:
        return {}
    job = request.job
    taken = set(job_variables(job, request.parent_data)) | set(job.extra_vars)
    for values in (*job.host_vars.values(), *job.group_vars.values()):
        taken |= set(values)
    taken |= {name for s in job.secrets if (name := s.get("name")) is not None}
    return {k: v for k, v in request.secret_parent_data.items() if k not in taken and k != "zuul"}


def _dump(path: Path, data: dict[str, Any]) -> None:
    path.write_text(yaml.safe_dump(data, default_flow_style=False, sort_keys=False))
