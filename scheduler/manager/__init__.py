"""The scheduler's decision core: pipeline managers as pure functions.

``decide(snapshot) -> Decision``: given one pipeline's state and what the
world shows (events, node and build requests, prepared repositories), say
what the new state is and what to do.  No ZooKeeper, no git, no clock —
so it is tested, and simulated at thousands of items per second, without
any of them (``tests/unit/scheduler``).  The loop that loads snapshots and
applies decisions is ``lockgate.scheduler.processor``.

Modules: ``snapshot`` (the input), ``actions`` (the output and the order
it is applied in), ``context`` (one call's working set), ``items``
(events -> items, preparation, reports), ``jobs`` (one job's life),
``build_request`` (what an executor gets), ``garbage`` (releasing
requests), ``base`` and the managers: ``independent``, ``dependent``,
``serial`` (one item at a time per queue) and ``supercedent`` (only the
newest waiting item per project-branch);
the gate's parts: ``window`` (how many items run), ``speculation`` (who
builds on whom, restarts), ``merging`` (leaving the head: submit or
failure), ``cycles`` (a dependency cycle as one job graph).
"""

from __future__ import annotations

from lockgate.config.model import ManagerKind, Pipeline
from lockgate.scheduler.manager.actions import Decision
from lockgate.scheduler.manager.base import PipelineManager
from lockgate.scheduler.manager.dependent import DependentPipelineManager
from lockgate.scheduler.manager.independent import IndependentPipelineManager
from lockgate.scheduler.manager.serial import SerialPipelineManager
from lockgate.scheduler.manager.snapshot import PipelineSnapshot
from lockgate.scheduler.manager.supercedent import SupercedentPipelineManager

_MANAGERS: dict[ManagerKind, type[PipelineManager]] = {
    ManagerKind.INDEPENDENT: IndependentPipelineManager,
    ManagerKind.DEPENDENT: DependentPipelineManager,
    ManagerKind.SERIAL: SerialPipelineManager,
    ManagerKind.SUPERCEDENT: SupercedentPipelineManager,
}


class UnsupportedManager(Exception):
    """A pipeline names a manager this scheduler does not implement yet."""


def manager_for(pipeline: Pipeline | None) -> PipelineManager:
    """The manager of ``pipeline`` (a ``lockgate.config.model.Pipeline``);
    a pipeline gone from the layout (None) only dequeues, any manager does."""
    if pipeline is None:
        return IndependentPipelineManager()
    cls = _MANAGERS.get(pipeline.manager)
    if cls is None:
        raise UnsupportedManager(
            f"pipeline '{pipeline.name}': manager '{pipeline.manager}' is not supported yet "
            f"(supported: {', '.join(sorted(_MANAGERS))})"
        )
    return cls()


def decide(snapshot: PipelineSnapshot) -> Decision:
    """The decision for one pipeline (see ``lockgate.scheduler.manager.base``)."""
    return manager_for(snapshot.pipeline).decide(snapshot)


__all__ = ["Decision", "PipelineSnapshot", "decide", "manager_for", "UnsupportedManager"]
