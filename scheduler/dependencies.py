"""The changes a change needs: git parents and ``Depends-On:``, as a graph.

Who calls it: the tenant processor, when a change event is about to be
enqueued (``lockgate.scheduler.changes`` gives it a ``Lookup`` that asks the
change cache and the review systems).  What comes next: the item is tested
with ``DependencyGraph.merge_order()`` — every open change it needs, then
itself — merged in that order by the merger.

Only open changes are edges: a merged dependency is already on its branch.
A needed change that is abandoned, or that no connection knows, makes the
change unready (``errors``).  Cycles (``Depends-On:`` loops, across projects
and connections) are found with Tarjan's algorithm and reported in
``cycles``; the pipeline decides what to do with them (``check`` tests a
cycle as one unit; the gate has its own rules).

Pure apart from the ``Lookup`` it is handed, so it is tested with a table.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

from lockgate.model.change import Change, ChangeKey

DEFAULT_MAX_DEPENDENCIES = 100


class Lookup(Protocol):
    """How the resolver learns about other changes (network I/O lives here)."""

    def by_url(self, url: str) -> Change | None:
        """The change a ``Depends-On:`` URL names (its current patchset);
        None when no connection claims the URL."""
        ...

    def git_parents(self, change: Change) -> list[Change]:
        """Open changes whose current patchset is a git parent of ``change``."""
        ...


class DependencyError(Exception):
    """The dependencies cannot be resolved (a query failed); try again later."""


@dataclass
class DependencyGraph:
    """``needs[k]``: the open changes ``k`` needs, in the order found (git
    parents first, then ``Depends-On:`` footers)."""

    root: ChangeKey
    changes: dict[ChangeKey, Change] = field(default_factory=dict)
    needs: dict[ChangeKey, list[ChangeKey]] = field(default_factory=dict)
    cycles: list[list[ChangeKey]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def root_change(self) -> Change:
        return self.changes[self.root]

    def cycle_of(self, key: ChangeKey) -> list[ChangeKey] | None:
        for cycle in self.cycles:
            if key in cycle:
                return cycle
        return None

    def components(self) -> list[list[ChangeKey]]:
        """Strongly connected components reachable from the root, each
        sorted, in dependency order (what a component needs comes first)."""
        return _tarjan(self.root, self.needs)

    def merge_order(self) -> list[Change]:
        """Every change the root is tested with, dependencies first, the
        root's own component last (the root last within it)."""
        order: list[Change] = []
        for component in self.components():
            keys = sorted(component, key=lambda k: (k == self.root, k))
            order.extend(self.changes[k] for k in keys)
        return order


def resolve(
    root: Change, lookup: Lookup, *, max_dependencies: int | None = None
) -> DependencyGraph:
    """The dependency graph of ``root``.  Raises ``DependencyError`` when a
    lookup fails (the review system did not answer)."""
    limit = DEFAULT_MAX_DEPENDENCIES if max_dependencies is None else max_dependencies
    graph = DependencyGraph(root=root.key, changes={root.key: root})
    pending = [root]
    while pending:
        change = pending.pop(0)
        needed = graph.needs.setdefault(change.key, [])
        for dep in _needed(change, lookup, graph):
            if dep.key == change.key or dep.key in needed:
                continue
            needed.append(dep.key)
            if dep.key not in graph.changes:
                graph.changes[dep.key] = dep
                pending.append(dep)
        if len(graph.changes) - 1 > limit:
            graph.errors.append(
                f"change {root.describe()} has more than {limit} dependencies (max_dependencies)"
            )
            break
    graph.cycles = [c for c in graph.components() if len(c) > 1]
    return graph


def _needed(change: Change, lookup: Lookup, graph: DependencyGraph) -> Iterable[Change]:
    try:
        parents = lookup.git_parents(change)
    except Exception as e:  # noqa: BLE001 - a driver's query error, with its message
        raise DependencyError(f"looking up the git parents of {change.describe()}: {e}") from e
    yield from (p for p in parents if p.is_open)
    for url in change.depends_on:
        try:
            dep = lookup.by_url(url)
        except Exception as e:  # noqa: BLE001 - as above
            raise DependencyError(f"looking up Depends-On {url} of {change.describe()}: {e}") from e
        if dep is None:
            graph.errors.append(
                f"change {change.describe()} depends on {url}, which no connection knows"
            )
        elif dep.is_merged:
            continue
        elif not dep.is_open:
            graph.errors.append(
                f"change {change.describe()} depends on change {dep.describe()} "
                f"({dep.url or dep.project}), which is {dep.status.value.lower()}"
            )
        else:
            yield dep


def _tarjan(root: ChangeKey, needs: dict[ChangeKey, list[ChangeKey]]) -> list[list[ChangeKey]]:
    """Tarjan's strongly connected components from ``root``, iteratively;
    components come out dependencies first."""
    index: dict[ChangeKey, int] = {}
    low: dict[ChangeKey, int] = {}
    on_stack: set[ChangeKey] = set()
    stack: list[ChangeKey] = []
    out: list[list[ChangeKey]] = []
    counter = 0
    work: list[tuple[ChangeKey, int]] = [(root, 0)]
    while work:
        node, i = work.pop()
        if i == 0:
            index[node] = low[node] = counter
            counter += 1
            stack.append(node)
            on_stack.add(node)
        edges = needs.get(node, [])
        if i < len(edges):
            work.append((node, i + 1))
            nxt = edges[i]
            if nxt not in index:
                work.append((nxt, 0))
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
            continue
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            out.append(sorted(component))
        if work:
            parent = work[-1][0]
            low[parent] = min(low[parent], low[node])
    return out
