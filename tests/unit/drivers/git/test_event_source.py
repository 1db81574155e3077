"""GitPoller: ref-updated events from real repositories; state across restarts."""

from __future__ import annotations

import threading

from lockgate.drivers.base import EventSourceHooks
from lockgate.drivers.git import GitConnection, GitPoller, ref_updates
from lockgate.git import ZERO_SHA
from lockgate.model.events import TriggerEvent

from tests.fixtures.waiting import wait_for


class Harness:
    """The scheduler's side of a poller: a sink that records, a dict as the state store."""

    def __init__(self, projects: list[str]):
        self.projects = projects
        self.events: list[TriggerEvent] = []
        self.state: dict[str, dict] = {}
        self.lock = threading.Lock()
        self.fail_sink = 0  # how many next sink calls raise

    def sink(self, event: TriggerEvent) -> None:
        with self.lock:
            if self.fail_sink:
                self.fail_sink -= 1
                raise RuntimeError("trigger queue unavailable")
            self.events.append(event)

    def hooks(self) -> EventSourceHooks:
        return EventSourceHooks(
            sink=self.sink,
            projects=lambda: list(self.projects),
            state_get=lambda project: self.state.get(project),
            state_set=self.state.__setitem__,
        )

    def take(self) -> list[TriggerEvent]:
        with self.lock:
            events, self.events = self.events, []
        return events


def poller(baseurl: str, harness: Harness, poll_delay: float = 7200.0) -> GitPoller:
    return GitPoller(GitConnection("src", baseurl, poll_delay=poll_delay), harness.hooks())


def summary(events: list[TriggerEvent]) -> list[tuple]:
    return [(e.project, e.ref, e.branch, e.oldrev, e.newrev) for e in events]


def test_first_poll_records_without_events_then_push_emits(upstream):
    work = upstream.create("org/a")
    first = work.head()
    h = Harness(["org/a"])
    p = poller(str(upstream.root), h)
    assert p.poll_once() == 0
    assert h.take() == []
    assert h.state["org/a"]["refs"] == {"refs/heads/master": first}

    second = work.commit_and_push({"file": "x"})
    assert p.poll_once() == 1
    [event] = h.take()
    assert (event.type, event.connection, event.project) == ("ref-updated", "src", "org/a")
    assert (event.ref, event.branch, event.oldrev, event.newrev) == (
        "refs/heads/master",
        "master",
        first,
        second,
    )
    assert event.event_id
    assert p.poll_once() == 0  # nothing changed since: nothing emitted


def test_new_branch_deleted_branch_and_tags(upstream):
    work = upstream.create("org/a")
    head = work.head()
    h = Harness(["org/a"])
    p = poller(str(upstream.root), h)
    p.poll_once()

    work.create_branch("feature")
    light = work.tag("v1")
    annotated = work.tag("v2", annotated=True)
    p.poll_once()
    assert summary(h.take()) == [
        ("org/a", "refs/heads/feature", "feature", ZERO_SHA, head),
        ("org/a", "refs/tags/v1", None, ZERO_SHA, light),
        ("org/a", "refs/tags/v2", None, ZERO_SHA, annotated),
    ]
    assert light == head and annotated != head

    work.delete_ref("refs/heads/feature")
    work.delete_ref("refs/tags/v1")
    p.poll_once()
    assert summary(h.take()) == [
        ("org/a", "refs/heads/feature", "feature", head, ZERO_SHA),
        ("org/a", "refs/tags/v1", None, head, ZERO_SHA),
    ]
    assert set(h.state["org/a"]["refs"]) == {"refs/heads/master", "refs/tags/v2"}


def test_force_push_reports_the_rewound_sha(upstream):
    work = upstream.create("org/a")
    base = work.head()
    h = Harness(["org/a"])
    p = poller(str(upstream.root), h)
    ahead = work.commit_and_push({"f": "1"})
    p.poll_once()
    work.git("reset", "-q", "--hard", base)
    work.push("HEAD:refs/heads/master", force=True)
    p.poll_once()
    assert summary(h.take()) == [("org/a", "refs/heads/master", "master", ahead, base)]


def test_restart_with_stored_state_loses_nothing_and_repeats_nothing(upstream):
    work = upstream.create("org/a")
    upstream.create("org/b")
    h = Harness(["org/a", "org/b"])
    p = poller(str(upstream.root), h)
    p.poll_once()
    old = work.head()
    new = work.commit_and_push({"f": "1"})
    p.poll_once()
    assert summary(h.take()) == [("org/a", "refs/heads/master", "master", old, new)]
    del p  # the poller "crashes"; only the store survives

    # Changes while no poller ran.
    newer = work.commit_and_push({"f": "2"})
    work.create_branch("stable", new)

    restarted = poller(str(upstream.root), h)
    restarted.poll_once()
    assert summary(h.take()) == [
        ("org/a", "refs/heads/master", "master", new, newer),
        ("org/a", "refs/heads/stable", "stable", ZERO_SHA, new),
    ]
    restarted.poll_once()
    assert h.take() == []


def test_sink_failure_keeps_the_event_for_the_next_round(upstream):
    work = upstream.create("org/a")
    h = Harness(["org/a"])
    p = poller(str(upstream.root), h)
    p.poll_once()
    old = work.head()
    new = work.commit_and_push({"f": "1"})
    work.create_branch("zz-later")
    h.fail_sink = 1
    assert p.poll_once() == 0  # the first event failed; the round stops for this project
    assert h.take() == []
    p.poll_once()
    assert summary(h.take()) == [
        ("org/a", "refs/heads/master", "master", old, new),
        ("org/a", "refs/heads/zz-later", "zz-later", ZERO_SHA, new),
    ]


def test_a_broken_project_does_not_stop_the_others(upstream):
    work = upstream.create("org/a")
    h = Harness(["org/gone", "org/a"])
    p = poller(str(upstream.root), h)
    p.poll_once()
    assert "org/gone" not in h.state
    new = work.commit_and_push({"f": "1"})
    assert p.poll_once() == 1
    assert [e.newrev for e in h.take()] == [new]


def test_projects_are_asked_each_round(upstream):
    upstream.create("org/a")
    later = upstream.create("org/b")
    h = Harness(["org/a"])
    p = poller(str(upstream.root), h)
    p.poll_once()
    assert set(h.state) == {"org/a"}
    h.projects.append("org/b")
    assert p.poll_once() == 0  # first sight of org/b: recorded, not emitted
    new = later.commit_and_push({"f": "1"})
    p.poll_once()
    assert summary(h.take()) == [
        ("org/b", "refs/heads/master", "master", later.upstream_sha("HEAD~1"), new)
    ]


def test_threaded_poller_over_git_daemon_with_fractional_delay(upstream, git_daemon):
    work = upstream.create("org/served")
    baseurl = git_daemon(upstream.root)
    h = Harness(["org/served"])
    p = poller(baseurl, h, poll_delay=0.05)
    p.start()
    try:
        wait_for(lambda: "org/served" in h.state, 10, "the first poll")
        old = work.head()
        new = work.commit_and_push({"f": "1"})
        events = wait_for(lambda: list(h.events), 10, "a ref-updated event")
        assert summary(events) == [("org/served", "refs/heads/master", "master", old, new)]
        rounds = p.rounds
        assert p.wait_rounds(rounds + 2, 10)
        assert summary(h.take()) == summary(events)  # no duplicate in later rounds
    finally:
        p.stop()
    assert not any(t.name == "git-poller-src" for t in threading.enumerate())


def test_poll_now_wakes_a_long_delay(upstream):
    work = upstream.create("org/a")
    h = Harness(["org/a"])
    p = poller(str(upstream.root), h, poll_delay=3600)
    p.start()
    try:
        assert p.wait_rounds(1, 10)
        new = work.commit_and_push({"f": "1"})
        p.poll_now()
        wait_for(lambda: [e for e in h.events if e.newrev == new], 10, "the woken poll")
    finally:
        p.stop()


def test_ref_updates_is_pure_and_sorted():
    events = ref_updates(
        "c",
        "p",
        {"refs/heads/b": "1" * 40, "refs/heads/a": "2" * 40},
        {"refs/heads/a": "3" * 40, "refs/tags/t": "4" * 40},
    )
    assert [(e.ref, e.oldrev, e.newrev) for e in events] == [
        ("refs/heads/a", "2" * 40, "3" * 40),
        ("refs/heads/b", "1" * 40, ZERO_SHA),
        ("refs/tags/t", ZERO_SHA, "4" * 40),
    ]


def test_projects_are_polled_concurrently_within_the_bound(upstream):
    """A round asks several projects at once: three polls must be under way
    together to pass the barrier (one at a time, it breaks), and never more
    than ``poll_workers``."""
    projects = [f"org/p{i}" for i in range(6)]
    works = {p: upstream.create(p) for p in projects}
    h = Harness(projects)
    barrier = threading.Barrier(3, timeout=20)
    inside = {"now": 0, "most": 0}
    guard = threading.Lock()

    def state_get(project):
        with guard:
            inside["now"] += 1
            inside["most"] = max(inside["most"], inside["now"])
        try:
            barrier.wait()
            return h.state.get(project)
        finally:
            with guard:
                inside["now"] -= 1

    hooks = h.hooks()
    hooks = EventSourceHooks(
        sink=hooks.sink, projects=hooks.projects, state_get=state_get, state_set=hooks.state_set
    )
    polling = GitPoller(GitConnection("src", str(upstream.root), poll_workers=3), hooks)
    assert polling.poll_once() == 0
    assert sorted(h.state) == projects  # every project recorded: the barrier held
    pushed = {name: works[name].commit_and_push({"f": name}) for name in projects}
    assert polling.poll_once() == len(projects)
    assert {e.project: e.newrev for e in h.take()} == pushed
    assert inside["most"] == 3
