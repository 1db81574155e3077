"""lockgate.executor.phases: Zuul's playbook order and result rules, without
a process: each test plays a build through ``PhasePlan`` with the outcomes
it chooses, as ``JobRunner`` does with real ``ansible-playbook`` runs."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from lockgate.executor.phases import Phase, PhasePlan, PlaybookRun, Step, post_sequence
from lockgate.executor.process import Status
from lockgate.model.builds import BuildResult
from lockgate.model.jobs import FrozenJob, PlaybookRef

OK = (Status.NORMAL, 0, False)
FAIL = (Status.NORMAL, 2, False)
UNREACHABLE = (Status.NORMAL, 4, True)
TIMED_OUT = (Status.TIMED_OUT, None, False)
ABORTED = (Status.ABORTED, None, False)


def ref(path: str, level: int | None = None, *, cleanup: bool = False) -> PlaybookRef:
    return PlaybookRef(
        path=path, connection="git", project="org/app", nesting_level=level, cleanup=cleanup
    )


def job(
    pre: list[PlaybookRef] = (),  # type: ignore[assignment]
    run: list[PlaybookRef] = (),  # type: ignore[assignment]
    post: list[PlaybookRef] = (),  # type: ignore[assignment]
    cleanup: list[PlaybookRef] = (),  # type: ignore[assignment]
    **attrs,
) -> FrozenJob:
    return FrozenJob(
        name="job",
        pre_run=list(pre),
        run=list(run),
        post_run=list(post),
        cleanup_run=list(cleanup),
        **attrs,
    )


@dataclass
class Played:
    """What a build did: the steps in order, the result, and whether it paused."""

    steps: list[Step] = field(default_factory=list)
    result: tuple[BuildResult, str | None] | None = None
    paused: bool = False

    @property
    def ran(self) -> list[str]:
        return [s.ref.path for s in self.steps]

    def step(self, path: str) -> Step:
        [found] = [s for s in self.steps if s.ref.path == path]
        return found


def play(
    build: FrozenJob,
    outcomes: dict[str, tuple[Status, int | None, bool]] | None = None,
    *,
    attempt: int = 1,
    pause: bool = False,
    retry: bool | None = None,
    abort_while_paused: bool = False,
) -> Played:
    """Drive the plan as the runner does; a playbook not in ``outcomes`` succeeds."""
    outcomes = outcomes or {}
    plan = PhasePlan(build, attempt, now=100.0)
    played = Played()

    def run(step: Step) -> None:
        played.steps.append(step)
        status, rc, unreachable = outcomes.get(step.ref.path, OK)
        plan.record(PlaybookRun(step.phase, step.index, step.ref, status, rc, unreachable))

    while (step := plan.next_main()) is not None:
        run(step)
    if not plan.aborted and plan.returned(pause=pause, retry=retry):
        played.paused = True
        if abort_while_paused:
            plan.abort()
    while (step := plan.next_post()) is not None:
        run(step)
    played.result = plan.outcome("canceled by the scheduler")
    return played


def test_every_playbook_succeeds():
    played = play(job([ref("pre")], [ref("run1"), ref("run2")], [ref("post")]))
    assert played.ran == ["pre", "run1", "run2", "post"]
    assert [s.phase for s in played.steps] == [Phase.PRE, Phase.RUN, Phase.RUN, Phase.POST]
    assert [s.index for s in played.steps] == [0, 0, 1, 0]
    assert played.result == (BuildResult.SUCCESS, None)
    assert played.step("post").variables == {"zuul_success": True, "zuul_will_retry": False}
    assert played.step("run1").variables is None


def test_a_job_without_run_playbooks_succeeds():
    assert play(job([ref("pre")], [], [ref("post")])).result == (BuildResult.SUCCESS, None)


def test_a_failing_run_stops_the_run_phase_and_post_runs_knowing_it():
    played = play(job([], [ref("run1"), ref("run2")], [ref("post")]), {"run1": FAIL})
    assert played.ran == ["run1", "post"]
    assert played.result == (BuildResult.FAILURE, None)
    assert played.step("post").variables == {"zuul_success": False, "zuul_will_retry": False}


def test_a_failing_post_run_is_a_post_failure_and_the_rest_still_runs():
    played = play(job([], [ref("run")], [ref("post1"), ref("post2")]), {"post1": FAIL})
    assert played.ran == ["run", "post1", "post2"]
    assert played.result == (BuildResult.POST_FAILURE, None)


def test_a_failing_post_run_does_not_hide_a_failure():
    played = play(job([], [ref("run")], [ref("post")]), {"run": FAIL, "post": FAIL})
    assert played.result == (BuildResult.FAILURE, None)


@pytest.mark.parametrize(
    "attempt, expected, will_retry",
    [
        (1, BuildResult.RETRY, True),
        (2, BuildResult.RETRY, True),
        (3, BuildResult.RETRY_LIMIT, False),
    ],
)
def test_a_failing_pre_run_retries_and_only_reached_levels_post_run(attempt, expected, will_retry):
    build = job(
        [ref("pre0", 0), ref("pre1", 1), ref("pre2", 2)],
        [ref("run", 2)],
        [ref("post2", 2), ref("post1", 1), ref("post0", 0)],
        attempts=3,
    )
    played = play(build, {"pre1": FAIL}, attempt=attempt)
    assert played.ran == ["pre0", "pre1", "post1", "post0"]
    assert played.result == (expected, "pre-run pre1 failed")
    assert played.step("post0").variables == {"zuul_success": False, "zuul_will_retry": will_retry}


def test_an_unreachable_node_in_pre_run_says_so():
    played = play(job([ref("pre")], [ref("run")]), {"pre": UNREACHABLE})
    assert played.result == (BuildResult.RETRY, "pre-run pre failed (node unreachable)")


def test_a_pre_run_without_a_level_counts_as_level_zero():
    played = play(job([ref("pre")], [ref("run")], [ref("post1", 1), ref("post0")]), {"pre": FAIL})
    assert played.ran == ["pre", "post0"]


def test_zuul_retry_false_turns_a_failed_pre_run_into_a_failure():
    played = play(job([ref("pre")], [ref("run")], [ref("post")]), {"pre": FAIL}, retry=False)
    assert played.result == (BuildResult.FAILURE, "pre-run pre failed")
    assert played.step("post").variables == {"zuul_success": False, "zuul_will_retry": False}


def test_zuul_retry_false_leaves_an_unreachable_run_node_retried():
    played = play(job([], [ref("run")]), {"run": UNREACHABLE}, retry=False)
    assert played.result == (BuildResult.RETRY, "run run: node unreachable")


def test_an_unreachable_node_in_run_retries_and_every_post_run_runs():
    played = play(
        job([], [ref("run", 2)], [ref("post2", 2), ref("post0", 0)]), {"run": UNREACHABLE}
    )
    assert played.ran == ["run", "post2", "post0"]
    assert played.result == (BuildResult.RETRY, "run run: node unreachable")
    assert played.step("post2").variables == {"zuul_success": False, "zuul_will_retry": True}


def test_an_unreachable_node_in_post_run_retries_and_later_post_runs_know():
    played = play(job([], [ref("run")], [ref("post1"), ref("post2")]), {"post1": UNREACHABLE})
    assert played.ran == ["run", "post1", "post2"]
    assert played.step("post1").variables == {"zuul_success": True, "zuul_will_retry": False}
    assert played.step("post2").variables == {"zuul_success": True, "zuul_will_retry": True}
    assert played.result == (BuildResult.RETRY, "post-run post1: node unreachable")


def test_an_unreachable_post_run_after_a_retry_keeps_the_first_reason():
    played = play(
        job([], [ref("run")], [ref("post1"), ref("post2")]),
        {"run": UNREACHABLE, "post1": UNREACHABLE},
    )
    assert played.result == (BuildResult.RETRY, "run run: node unreachable")


def test_pre_run_timed_out():
    build = job(
        [ref("pre0", 0), ref("pre1", 1)], [ref("run", 1)], [ref("post1", 1), ref("post0", 0)]
    )
    played = play(build, {"pre0": TIMED_OUT})
    assert played.ran == ["pre0", "post0"]
    assert played.result == (BuildResult.TIMED_OUT, "pre-run pre0 timed out")


def test_run_timed_out_and_post_still_runs():
    played = play(job([], [ref("run"), ref("run2")], [ref("post")]), {"run": TIMED_OUT})
    assert played.ran == ["run", "post"]
    assert played.result == (BuildResult.TIMED_OUT, "run run timed out")


def test_an_abort_runs_only_the_cleanup_playbooks_and_ignores_them():
    build = job(
        [],
        [ref("run", 1), ref("run2", 1)],
        [ref("post1", 1), ref("post0", 0)],
        cleanup=[ref("clean1", 1), ref("clean0", 0)],
    )
    played = play(build, {"run": ABORTED, "clean1": FAIL})
    assert played.ran == ["run", "clean1", "clean0"]
    assert all(s.cleanup for s in played.steps[1:])
    assert played.result == (BuildResult.ABORTED, "canceled by the scheduler")


def test_an_abort_in_post_run_skips_the_other_post_runs_but_not_cleanup():
    build = job([], [ref("run")], [ref("post1"), ref("post2")], cleanup=[ref("clean")])
    played = play(build, {"post1": ABORTED})
    assert played.ran == ["run", "post1", "clean"]
    assert played.result[0] is BuildResult.ABORTED


def test_a_post_run_marked_cleanup_is_treated_as_cleanup():
    build = job([], [ref("run")], [ref("post", cleanup=True), ref("post2")])
    played = play(build, {"run": ABORTED, "post": FAIL})
    assert played.ran == ["run", "post"]
    assert played.step("post").cleanup and played.step("post").phase is Phase.POST
    assert played.result[0] is BuildResult.ABORTED


def test_a_failing_cleanup_playbook_changes_nothing():
    build = job([], [ref("run")], [ref("post")], cleanup=[ref("clean")])
    played = play(build, {"clean": FAIL})
    assert played.ran == ["run", "post", "clean"]
    assert played.result == (BuildResult.SUCCESS, None)


def test_pause_only_after_a_successful_run():
    assert play(job([], [ref("run")]), pause=True).paused
    failed = play(job([], [ref("run")]), {"run": FAIL}, pause=True)
    assert not failed.paused and failed.result[0] is BuildResult.FAILURE
    retried = play(job([ref("pre")], [ref("run")]), {"pre": FAIL}, pause=True)
    assert not retried.paused


def test_aborted_while_paused_is_aborted_and_only_cleanup_runs():
    build = job([], [ref("run")], [ref("post")], cleanup=[ref("clean")])
    played = play(build, pause=True, abort_while_paused=True)
    assert played.paused and played.ran == ["run", "clean"]
    assert played.result == (BuildResult.ABORTED, "canceled by the scheduler")


def test_deadlines_timeout_and_pre_timeout():
    build = job([ref("pre")], [ref("run")], [ref("post")], timeout=60, pre_timeout=10)
    plan = PhasePlan(build, 1, now=100.0)
    pre = plan.next_main()
    assert pre is not None and pre.deadline == 110.0 and pre.time_left(104.0) == 6.0
    plan.record(PlaybookRun(pre.phase, 0, pre.ref, Status.NORMAL, 0))
    run = plan.next_main()
    assert run is not None and run.deadline == 160.0 and run.time_left(170.0) == -10.0


def test_pre_timeout_longer_than_timeout_is_bounded_by_it():
    plan = PhasePlan(job([ref("pre")], timeout=30, pre_timeout=100), 1, now=0.0)
    step = plan.next_main()
    assert step is not None and step.deadline == 30.0


def test_no_timeout_is_no_bound_and_post_timeout_bounds_each_post_run():
    build = job([ref("pre")], [ref("run")], [ref("post")], post_timeout=30)
    plan = PhasePlan(build, 1, now=0.0)
    steps = []
    while (step := plan.next_main()) is not None:
        steps.append(step)
        plan.record(PlaybookRun(step.phase, step.index, step.ref, Status.NORMAL, 0))
    plan.returned(pause=False, retry=None)
    while (step := plan.next_post()) is not None:
        steps.append(step)
    assert [s.time_left(1e9) for s in steps] == [None, None, 30]


def test_post_sequence_puts_each_cleanup_before_lower_levels_post_run():
    build = job(
        post=[ref("post2", 2), ref("post1", 1), ref("post0", 0)],
        cleanup=[ref("clean1", 1), ref("clean0", 0), ref("clean2", 2)],
    )
    assert [(p, i, r.path) for p, i, r in post_sequence(build)] == [
        (Phase.POST, 0, "post2"),
        (Phase.CLEANUP, 2, "clean2"),
        (Phase.POST, 1, "post1"),
        (Phase.CLEANUP, 0, "clean1"),
        (Phase.POST, 2, "post0"),
        (Phase.CLEANUP, 1, "clean0"),
    ]


def test_phase_names_for_files_and_console():
    assert [p.value for p in Phase] == ["pre", "run", "post", "cleanup"]
    assert f"{Phase.PRE}-0.log" == "pre-0.log"
    assert [p.heading for p in Phase] == ["PRE-RUN", "RUN", "POST-RUN", "CLEANUP"]


def test_outcome_before_the_run_phase_is_over_is_a_bug():
    plan = PhasePlan(job([], [ref("run")]), 1, now=0.0)
    with pytest.raises(AssertionError):
        plan.outcome(None)
