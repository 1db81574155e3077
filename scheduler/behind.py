"""The changes behind: what enters a gate after a change does.

Who calls it: the tenant processor, when a change event matches a pipeline
whose manager enqueues behind (``dependent``: Zuul's enqueue of needed-by
changes).  A change that waited for the change now entering — a git child
of it, or one whose ``Depends-On:`` names it — and that could enter the
pipeline itself now follows it in, and so on down the tree: approving the
root of a stack of approved changes enqueues the whole stack, in
dependency order.  What comes next: the processor makes a pipeline event
of each change found (with every change it needs, as for any change
event), and the dependent manager places it behind what it needs.

Pure apart from the two functions it is handed (``needing`` asks the
review systems; ``admits`` is the pipeline's requirements), so it is tested
with a table.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from lockgate.model.change import Change, ChangeKey

# At most this many changes follow one change in (Zuul's max_dependencies
# spirit: one approval must not pull in an unbounded tree).
DEFAULT_MAX_BEHIND = 100


def changes_behind(
    change: Change,
    needing: Callable[[Change], list[Change]],
    admits: Callable[[Change], str | None],
    *,
    limit: int = DEFAULT_MAX_BEHIND,
) -> tuple[list[Change], list[tuple[Change, str]]]:
    """The open changes that need ``change``, directly or through each
    other, that the pipeline admits, breadth first (parents before their
    children); and those it refused, with why — the changes needing a
    refused one are not followed (they could not be enqueued behind it)."""
    found: list[Change] = []
    refused: list[tuple[Change, str]] = []
    seen: set[ChangeKey] = {change.key}
    pending = [change]
    while pending and len(found) < limit:
        for other in needing(pending.pop(0)):
            if other.key in seen or not other.is_open:
                continue
            seen.add(other.key)
            why = admits(other)
            if why:
                refused.append((other, why))
                continue
            found.append(other)
            pending.append(other)
            if len(found) >= limit:
                break
    return found, refused


def submit_needs(change: Change, reported: Iterable[str]) -> str | None:
    """Why the review system would not merge ``change`` once the pipeline
    voted (Zuul's can-merge check, for changes that come in without an
    event of their own): labels it still needs other than those the
    pipeline's success reporters set."""
    missing = sorted(set(change.missing_labels) - set(reported))
    if missing:
        return f"it still needs {', '.join(missing)} to be submitted"
    return None


def reported_labels(reporters: Mapping[str, object], connection: str) -> list[str]:
    """The labels a pipeline's reporters (``{connection: config}``) vote on
    ``connection``."""
    config = reporters.get(connection)
    if not isinstance(config, Mapping):
        return []
    return [str(k) for k, v in config.items() if isinstance(v, int) and not isinstance(v, bool)]
