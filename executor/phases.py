"""Zuul's rules for a build's playbooks: which runs next, with what, and the
build's result.  Decisions without I/O.

Who calls it: ``JobRunner`` (``lockgate.executor.runner``), once per build.
It makes a ``PhasePlan`` for the job and asks it for each playbook in turn
(``next_main``: pre-run and run; ``next_post``: post-run and cleanup), runs
the playbook (the process and the console: I/O) and tells the plan how it
went (``record``); between the two it hands over what the job returned with
``zuul_return`` (``returned``), pausing if the plan says so; at the end
``result`` is the build's result.  Keeping the rules here, as
``lockgate.launcher.planning`` does for nodes, lets them be tested without
a process or Ansible (``tests/unit/executor/test_phases.py``).

The rules (Zuul's):

- pre-run playbooks run in order; a failure (or an unreachable node) asks
  for a retry: ``RETRY``, or ``RETRY_LIMIT`` when this was the last attempt;
  then only the post-run playbooks of the nesting levels reached run;
- run playbooks run in order and stop at the first failure (``FAILURE``);
  an unreachable node asks for a retry;
- post-run playbooks always run (with ``zuul_success`` and
  ``zuul_will_retry`` set); a failure there turns a success into
  ``POST_FAILURE``, an unreachable node asks for a retry;
- ``timeout`` bounds pre-run plus run (``TIMED_OUT``), ``pre_timeout`` the
  pre-run phase as well, ``post_timeout`` each post-run and cleanup playbook;
  a playbook with no time left is not run and counts as timed out;
- cleanup-run playbooks run among the post-run ones by nesting level (a
  child's cleanup before its parents' post-run), always — after an abort
  too, when every other playbook is skipped — and their result is ignored;
  an abort (cancel, shutdown) stops whatever else runs (``ABORTED``);
- after the run playbooks, ``zuul.pause`` on a success pauses the build
  (the runner's hook; an abort meanwhile is an abort), and ``zuul.retry:
  false`` turns a failed pre-run into ``FAILURE`` instead of a retry.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lockgate.executor.process import Status
from lockgate.model.builds import BuildResult
from lockgate.model.jobs import FrozenJob, PlaybookRef


class Phase(enum.StrEnum):
    """A playbook's phase; the value names its files (``pre-0.log``) and
    its ``job-output.json`` entries."""

    PRE = "pre"
    RUN = "run"
    POST = "post"
    CLEANUP = "cleanup"

    @property
    def heading(self) -> str:
        """As Zuul's console names it (``PRE-RUN START: [...]``)."""
        return _HEADINGS[self]


_HEADINGS = {
    Phase.PRE: "PRE-RUN",
    Phase.RUN: "RUN",
    Phase.POST: "POST-RUN",
    Phase.CLEANUP: "CLEANUP",
}


@dataclass(frozen=True)
class Step:
    """One playbook to run, and how."""

    phase: Phase
    index: int  # in the job's list of that phase
    ref: PlaybookRef
    # What bounds it: a time on the runner's monotonic clock (pre-run, run:
    # the job's timeout), or seconds of its own (post-run, cleanup).
    deadline: float | None = None
    timeout: float | None = None
    # Its own variables (post-run and cleanup: zuul_success, zuul_will_retry).
    variables: Mapping[str, Any] | None = None
    # Runs after an abort too and is not stopped by one; its result is ignored.
    cleanup: bool = False

    def time_left(self, now: float) -> float | None:
        """Seconds it may run from ``now``: None for no bound; zero or less:
        none left, and then it is not run (``Status.TIMED_OUT``)."""
        return self.deadline - now if self.deadline is not None else self.timeout


@dataclass
class PlaybookRun:
    """How one playbook went, as the runner saw it."""

    phase: Phase
    index: int
    ref: PlaybookRef
    status: Status
    returncode: int | None
    unreachable: bool = False

    @property
    def ok(self) -> bool:
        return self.status is Status.NORMAL and self.returncode == 0


def level(ref: PlaybookRef) -> int:
    """The playbook's nesting level (0: the base job's)."""
    return ref.nesting_level or 0


def post_sequence(job: FrozenJob) -> list[tuple[Phase, int, PlaybookRef]]:
    """Post-run and cleanup playbooks in the order they run, as Zuul orders
    them: each cleanup playbook goes before the first post-run playbook of a
    lower nesting level (the post-run list runs child first)."""
    out: list[tuple[Phase, int, PlaybookRef]] = [
        (Phase.POST, i, ref) for i, ref in enumerate(job.post_run)
    ]
    for index, ref in enumerate(job.cleanup_run):
        for pos, (_, _, other) in enumerate(out):
            if other is not ref and level(ref) > level(other):
                out.insert(pos, (Phase.CLEANUP, index, ref))
                break
        else:
            out.append((Phase.CLEANUP, index, ref))
    return out


class PhasePlan:
    """One build's playbooks and what their outcomes make of the build.

    ``now`` is the runner's monotonic clock when the playbooks start: the
    job's ``timeout`` and ``pre_timeout`` count from it.
    """

    def __init__(self, job: FrozenJob, attempt: int, now: float) -> None:
        self.job = job
        self.attempt = attempt
        deadline = now + job.timeout if job.timeout else None
        pre_deadline = deadline
        if job.pre_timeout:
            pre_limit = now + job.pre_timeout
            pre_deadline = min(pre_limit, deadline) if deadline else pre_limit
        self._main = [
            Step(Phase.PRE, i, ref, deadline=pre_deadline) for i, ref in enumerate(job.pre_run)
        ] + [Step(Phase.RUN, i, ref, deadline=deadline) for i, ref in enumerate(job.run)]
        self._post = post_sequence(job)
        self._next_main = 0
        self._next_post = 0
        # What the outcomes so far make of the build.
        self.result: BuildResult | None = None
        self.detail: str | None = None
        self.retry = False  # another attempt is asked for
        self.aborted = False
        self.post_failed = False
        # The level of the pre-run playbook that failed: deeper post-runs
        # belong to levels that never started.
        self.failed_level: int | None = None

    @property
    def will_retry(self) -> bool:
        """A retry is asked for and this is not the last attempt."""
        return self.retry and self.attempt < self.job.attempts

    # --- pre-run and run ----------------------------------------------------------------

    def next_main(self) -> Step | None:
        """The next pre-run or run playbook; None when they are over: every
        one succeeded (the build is a ``SUCCESS`` so far), or one ended them."""
        if self.aborted or self.retry or self.result is not None:
            return None
        if self._next_main < len(self._main):
            self._next_main += 1
            return self._main[self._next_main - 1]
        self.result = BuildResult.SUCCESS
        return None

    def returned(self, *, pause: bool, retry: bool | None) -> bool:
        """Take what the job returned after its run playbooks (``zuul.pause``,
        ``zuul.retry``); True if the build pauses now.  Not called after an
        abort (nothing more of the job is read)."""
        if self.retry and self.failed_level is not None and retry is False:
            # The job said a failed pre-run is not worth another attempt.
            self.retry, self.result = False, BuildResult.FAILURE
        return pause and self.result is BuildResult.SUCCESS

    def abort(self) -> None:
        """The build was aborted outside a playbook (while paused)."""
        self.aborted = True

    # --- post-run and cleanup -------------------------------------------------------------

    def next_post(self) -> Step | None:
        """The next post-run or cleanup playbook to run; None when done.
        Those of levels that never started are skipped, and after an abort
        every one but the cleanup playbooks."""
        while self._next_post < len(self._post):
            phase, index, ref = self._post[self._next_post]
            self._next_post += 1
            cleanup = phase is Phase.CLEANUP or ref.cleanup
            if self.failed_level is not None and level(ref) > self.failed_level:
                continue  # that level's pre-run never ran
            if self.aborted and not cleanup:
                continue
            return Step(
                phase,
                index,
                ref,
                timeout=self.job.post_timeout,
                variables={
                    "zuul_success": self.result is BuildResult.SUCCESS,
                    "zuul_will_retry": self.will_retry,
                },
                cleanup=cleanup,
            )
        return None

    # --- outcomes -------------------------------------------------------------------------

    def record(self, run: PlaybookRun) -> None:
        """What ``run`` (the playbook of the last step) makes of the build."""
        ref = run.ref
        if run.phase is Phase.PRE:
            if run.status is Status.ABORTED:
                self.aborted = True
            elif run.status is Status.TIMED_OUT:
                self.result, self.detail = BuildResult.TIMED_OUT, f"pre-run {ref.path} timed out"
                self.failed_level = level(ref)
            elif not run.ok:
                self.retry = True
                self.failed_level = level(ref)
                self.detail = f"pre-run {ref.path} failed" + (
                    " (node unreachable)" if run.unreachable else ""
                )
        elif run.phase is Phase.RUN:
            if run.status is Status.ABORTED:
                self.aborted = True
            elif run.status is Status.TIMED_OUT:
                self.result, self.detail = BuildResult.TIMED_OUT, f"run {ref.path} timed out"
            elif run.unreachable:
                self.retry, self.detail = True, f"run {ref.path}: node unreachable"
            elif not run.ok:
                self.result, self.detail = BuildResult.FAILURE, None
        elif run.phase is Phase.CLEANUP or ref.cleanup:
            return  # a cleanup playbook's result is ignored
        elif run.status is Status.ABORTED:
            self.aborted = True
        elif run.unreachable and not self.retry:
            self.retry, self.detail = True, f"post-run {ref.path}: node unreachable"
        elif not run.ok:
            self.post_failed = True

    def outcome(self, abort_reason: str | None) -> tuple[BuildResult, str | None]:
        """The build's result and its detail, once every step is done;
        ``abort_reason`` is the detail of an aborted build."""
        if self.aborted:
            return BuildResult.ABORTED, abort_reason
        if self.retry:
            return (BuildResult.RETRY if self.will_retry else BuildResult.RETRY_LIMIT), self.detail
        assert self.result is not None, "outcome() before the run playbooks were over"
        if self.result is BuildResult.SUCCESS and self.post_failed:
            return BuildResult.POST_FAILURE, None
        return self.result, self.detail
