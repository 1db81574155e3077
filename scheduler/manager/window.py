"""A dependent queue's window: how many items at its head may run jobs.  Pure.

Zuul's rule, like TCP's congestion window: a queue starts at the
pipeline's ``window`` (0: no limit); each item that merges grows it
(``window-increase-type`` linear: ``+ factor``; exponential: ``* factor``)
up to ``window-ceiling``; each item that fails its jobs shrinks it
(``window-decrease-type`` linear: ``- factor``; exponential: ``/ factor``)
down to ``window-floor``.  Only the first ``window`` items of a queue
(failing ones included) prepare and run jobs; the rest wait their turn.

Called by ``dependent.py`` when it creates a queue, reports an item, and
walks the queue.
"""

from __future__ import annotations

from typing import Any

from lockgate.config.model import Pipeline, Window
from lockgate.model.queue import ChangeQueue


def _settings(pipeline: Pipeline | None) -> Window | None:
    return getattr(pipeline, "window", None)


def initial(pipeline: Pipeline | None) -> int:
    w = _settings(pipeline)
    return int(w.initial) if w is not None else 20


def _kind(value: Any) -> str:
    return str(getattr(value, "value", value))


def grow(queue: ChangeQueue, pipeline: Pipeline | None) -> int:
    """After an item merged: the new window."""
    w = _settings(pipeline)
    if w is None or not queue.window:
        return queue.window
    if _kind(w.increase_type) == "exponential":
        size = queue.window * w.increase_factor
    else:
        size = queue.window + w.increase_factor
    if w.ceiling is not None:
        size = min(size, int(w.ceiling))
    queue.window = max(size, 1)
    return queue.window


def shrink(queue: ChangeQueue, pipeline: Pipeline | None) -> int:
    """After an item failed its jobs: the new window."""
    w = _settings(pipeline)
    if w is None or not queue.window:
        return queue.window
    if _kind(w.decrease_type) == "exponential":
        size = int(queue.window / w.decrease_factor) if w.decrease_factor else queue.window
    else:
        size = queue.window - w.decrease_factor
    queue.window = max(size, int(w.floor), 1)
    return queue.window


def actionable(queue: ChangeQueue, position: int) -> bool:
    """Whether the item at ``position`` (0: the head) is inside the window."""
    return not queue.window or position < queue.window
