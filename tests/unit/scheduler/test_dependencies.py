"""Dependency graphs of changes: git parents, Depends-On, cycles, errors."""

from __future__ import annotations

import pytest
from lockgate.model.change import Change, ChangeKey, ChangeStatus
from lockgate.scheduler.dependencies import DependencyError, resolve


def make(
    number: int,
    *,
    conn: str = "gerrit",
    parent: str = "",
    deps: tuple[str, ...] = (),
    status: ChangeStatus = ChangeStatus.NEW,
    project: str = "org/app",
) -> Change:
    message = "Subject\n\n" + "".join(f"Depends-On: {d}\n" for d in deps)
    return Change(
        conn,
        project,
        "master",
        number,
        1,
        f"{number:040x}",
        parents=[parent] if parent else [],
        status=status,
        message=message,
        url=f"https://{conn}/{number}",
    )


class Table:
    """A lookup over a fixed set of changes; counts calls."""

    def __init__(self, *changes: Change, fail: str | None = None) -> None:
        self.changes = {c.url: c for c in changes}
        self.by_commit = {c.commit: c for c in changes}
        self.fail = fail
        self.calls = 0

    def by_url(self, url: str) -> Change | None:
        self.calls += 1
        if url == self.fail:
            raise TimeoutError("query timed out")
        return self.changes.get(url)

    def git_parents(self, change: Change) -> list[Change]:
        return [self.by_commit[p] for p in change.parents if p in self.by_commit]


def numbers(changes) -> list[int]:
    return [c.number for c in changes]


def test_no_dependencies():
    root = make(1)
    graph = resolve(root, Table(root))
    assert numbers(graph.merge_order()) == [1]
    assert not graph.cycles and not graph.errors


def test_git_parent_stack_in_order():
    c1 = make(1)
    c2 = make(2, parent=c1.commit)
    c3 = make(3, parent=c2.commit)
    graph = resolve(c3, Table(c1, c2, c3))
    assert numbers(graph.merge_order()) == [1, 2, 3]
    assert graph.needs[ChangeKey("gerrit", 3)] == [ChangeKey("gerrit", 2)]


def test_depends_on_across_projects_and_connections():
    other = make(7, conn="github", project="org/lib")
    lib = make(5, project="org/lib", deps=("https://github/7",))
    root = make(9, deps=("https://gerrit/5",))
    graph = resolve(root, Table(other, lib, root))
    assert [(c.connection, c.number) for c in graph.merge_order()] == [
        ("github", 7),
        ("gerrit", 5),
        ("gerrit", 9),
    ]


def test_merged_dependencies_are_satisfied():
    done = make(4, status=ChangeStatus.MERGED)
    root = make(9, deps=("https://gerrit/4",), parent=done.commit)
    graph = resolve(root, Table(done, root))
    assert numbers(graph.merge_order()) == [9] and not graph.errors


def test_abandoned_or_unknown_dependency_is_an_error():
    gone = make(4, status=ChangeStatus.ABANDONED)
    root = make(9, deps=("https://gerrit/4", "https://nowhere/1"))
    graph = resolve(root, Table(gone, root))
    assert len(graph.errors) == 2
    assert "depends on change 4,1" in graph.errors[0] and "abandoned" in graph.errors[0]
    assert "https://nowhere/1" in graph.errors[1] and "no connection knows" in graph.errors[1]


def test_a_cycle_is_found_and_ordered_as_one_unit():
    a = make(1, deps=("https://gerrit/2",))
    b = make(2, deps=("https://gerrit/1",), project="org/lib")
    c = make(3, parent=a.commit)
    graph = resolve(c, Table(a, b, c))
    assert graph.cycles == [[ChangeKey("gerrit", 1), ChangeKey("gerrit", 2)]]
    assert graph.cycle_of(ChangeKey("gerrit", 2)) == graph.cycles[0]
    assert graph.cycle_of(ChangeKey("gerrit", 3)) is None
    assert numbers(graph.merge_order()) == [1, 2, 3]


def test_root_in_a_cycle_comes_last_of_its_component():
    a = make(1, deps=("https://gerrit/2",))
    b = make(2, deps=("https://gerrit/1",))
    graph = resolve(a, Table(a, b))
    assert numbers(graph.merge_order()) == [2, 1]
    assert len(graph.cycles) == 1


def test_diamond_visits_each_change_once():
    base = make(1)
    left = make(2, deps=("https://gerrit/1",))
    right = make(3, deps=("https://gerrit/1",))
    top = make(4, deps=("https://gerrit/2", "https://gerrit/3"))
    table = Table(base, left, right, top)
    graph = resolve(top, table)
    order = numbers(graph.merge_order())
    assert order[0] == 1 and order[-1] == 4 and sorted(order) == [1, 2, 3, 4]
    assert table.calls == 4  # 2, 3, then 1 twice (asked by both; resolved once)


def test_max_dependencies():
    chain = [make(1)]
    for n in range(2, 8):
        chain.append(make(n, parent=chain[-1].commit))
    graph = resolve(chain[-1], Table(*chain), max_dependencies=3)
    assert graph.errors and "more than 3 dependencies" in graph.errors[0]


def test_a_failed_lookup_is_a_dependency_error():
    root = make(9, deps=("https://gerrit/4",))
    with pytest.raises(
        DependencyError, match="Depends-On https://gerrit/4 of 9,1: query timed out"
    ):
        resolve(root, Table(root, fail="https://gerrit/4"))


def test_long_cycle_iteratively():
    n = 3000
    changes = [make(i, deps=(f"https://gerrit/{(i % n) + 1}",)) for i in range(1, n + 1)]
    graph = resolve(changes[0], Table(*changes), max_dependencies=n)
    assert len(graph.cycles) == 1 and len(graph.cycles[0]) == n
