"""A check + gate layout for the dependent manager's scenario tests
(``test_gate_*.py``), in the manner of Zuul's quick-start: ``gate`` is
dependent, needs an approval, votes Verified ±2 and submits; org/a and
org/b share the ``integrated`` queue, org/c has a queue of its own, org/noop
runs only ``noop``, org/docs has a job with a file matcher.  Pure: the
simulated world of ``world.py``."""

from __future__ import annotations

from collections.abc import Iterable

from lockgate.model.change import Account, Approval, Change
from lockgate.model.queue import QueueItem

from tests.unit.scheduler.world import Crash, SimWorld, make_layout, sha

MAIN = """
- tenant:
    name: demo
    source:
      gerrit:
        config-projects: [config]
        untrusted-projects: [org/a, org/b, org/c, org/noop, org/docs, org/nv, org/ff, org/x]
"""

PIPELINES = """
- pipeline:
    name: gate
    manager: dependent
    success-message: Build succeeded (gate pipeline).
    failure-message: Build failed (gate pipeline).
    trigger:
      gerrit:
        - event: comment-added
          approval:
            - Workflow: 1
    start:
      gerrit:
        Verified: 0
    success:
      gerrit:
        Verified: 2
        submit: true
    failure:
      gerrit:
        Verified: -2
    disabled:
      gerrit:
        Verified: 0
{extra}
- queue:
    name: integrated
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
    attempts: 2
- job:
    name: unit
- job:
    name: integration
- job:
    name: docs-build
    files: ['^doc/.*$']
- job:
    name: advisory
    voting: false
- project:
    name: org/a
    queue: integrated
    gate:
      jobs: [unit, integration]
- project:
    name: org/b
    queue: integrated
    gate:
      jobs: [unit, integration]
- project:
    name: org/c
    gate:
      jobs: [unit]
- project:
    name: org/noop
    gate:
      jobs: [noop]
- project:
    name: org/docs
    gate:
      jobs: [unit, docs-build]
- project:
    name: org/nv
    gate:
      jobs: [unit, advisory]
- project:
    name: org/ff
    gate:
      fail-fast: true
      jobs: [unit, integration]
- project:
    name: org/x
    queue: integrated
    gate:
      jobs: [unit]
"""

SUCCESS = {"gerrit": {"Verified": 2, "submit": True}}


def layout(extra: str = "", projects: str = ""):
    return make_layout(
        {"config": {"master": {"zuul.yaml": PIPELINES.replace("{extra}", extra) + projects}}},
        main=MAIN,
    )


def change(number: int, project: str = "org/a", patchset: int = 1, **kw) -> Change:
    return Change(
        connection="gerrit",
        project=project,
        branch="master",
        number=number,
        patchset=patchset,
        commit=sha(number * 100 + patchset),
        message=f"Change {number}\n\nChange-Id: I{number:040x}\n",
        url=f"https://review.example.org/{number}",
        owner=Account("Alice", "alice@example.org", "alice"),
        approvals=[Approval("Code-Review", 2), Approval("Workflow", 1)],
        **kw,
    )


def world(extra: str = "", **kw) -> SimWorld:
    heads = {p: {"master": sha(n)} for n, p in enumerate(("org/a", "org/b", "org/c"), 1)}
    return SimWorld(layout(extra), heads=heads, **kw)


def approve(w: SimWorld, c: Change, needs: Iterable[Change] = (), **kw) -> None:
    w.add_change(c, "gate", needs=tuple(needs), event_type="comment-added", **kw)


def failing(*pairs: tuple[int, str]):
    """A build rule: job ``name`` fails for change ``number`` (the build's
    own change), every other build succeeds."""
    bad = set(pairs)

    def rule(req) -> str:
        return "FAILURE" if (int(req.zuul_vars["change"]), req.job.name) in bad else "SUCCESS"

    return rule


def run_with_crashes(w: SimWorld, rng) -> SimWorld:  # noqa: ANN001
    """Drive the gate until it empties, killing the scheduler after a random
    side effect in most passes and letting builds finish at random."""
    for _ in range(300):
        if rng.random() < 0.7:
            w.crash_after(rng.randrange(0, 6))
        try:
            w.run_scheduler("gate")
        except Crash:
            pass
        w.crash_countdown = None
        w.run_merger()
        w.run_launcher()
        w.run_executor(finish=rng.random() < 0.7)
        w.now += 1
        if not gate(w) and not w.pending.get("gate"):
            break
    w.run_scheduler("gate")
    return w


def run(w: SimWorld, steps: int = 15) -> None:
    for _ in range(steps):
        w.step("gate")


def gate(w: SimWorld) -> list[QueueItem]:
    return w.queue("gate")


def numbers(items: Iterable[QueueItem]) -> list[int]:
    return [i.change.number for i in items if i.change is not None]


def merged(w: SimWorld) -> list[int]:
    return [int(k.rsplit("/", 1)[1]) for k in w.merge_order]


def actions_for(w: SimWorld, number: int) -> list[str]:
    """The review actions sent for change ``number``, in order (reports
    with no reporter send nothing)."""
    return [
        action
        for uuid, action, _message, reporters, _comments in w.review_reports
        if reporters and w.item_changes.get(uuid, "").split(",")[0] == str(number)
    ]


def messages_for(w: SimWorld, number: int) -> list[str]:
    return [
        message
        for uuid, _action, message, *_ in w.review_reports
        if w.item_changes.get(uuid, "").split(",")[0] == str(number)
    ]


def builds_of(w: SimWorld, number: int) -> list:
    """Every build request whose own change is ``number``, oldest first."""
    return [b for b in w.build_log if int(b.zuul_vars["change"]) == number]


def contents(build) -> list[int]:
    """The changes a build's speculative state holds (``zuul.items``)."""
    return [int(i["change"]) for i in build.zuul_vars["items"]]


def holding(*numbers_: int):
    """A hold rule: the builds of these changes keep running."""
    held = {str(n) for n in numbers_}
    return lambda req: req.zuul_vars["change"] in held
