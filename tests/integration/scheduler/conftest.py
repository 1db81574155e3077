"""Fixtures the scheduler's integration tests share: ``site``, the demo
tenant in real git repositories on a real (TLS) ZooKeeper and SQLite
(``harness.make_site``), and ``scheduler``, a scheduler in this process on
that site, its loop running in a thread (``harness.running_scheduler``).

What a module changes it overrides in the module, by name: ``site`` for a
tenant of its own (its own ``site`` wins over this one, parameters and
all), ``scheduler_tick`` for another tick, or ``scheduler`` itself when
something must exist before the scheduler starts."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from tests.fixtures.git import upstream  # noqa: F401
from tests.fixtures.zk import zk_chroot, zk_client, zk_connect, zk_server  # noqa: F401
from tests.integration.scheduler.harness import Site, make_site, running_scheduler

if TYPE_CHECKING:
    from lockgate.scheduler.server import Scheduler


@pytest.fixture
def site(tmp_path, upstream, zk_server, zk_chroot, zk_client) -> Site:  # noqa: F811
    return make_site(tmp_path, upstream, zk_server, zk_chroot, zk_client)


@pytest.fixture
def scheduler_tick() -> float:
    """Seconds between the loop's passes when nothing wakes it."""
    return 0.5


@pytest.fixture
def scheduler(site: Site, scheduler_tick: float) -> Iterator[Scheduler]:
    """Started on ``site``, looping; after the test the loop ends, then the
    scheduler stops."""
    with running_scheduler(site.service_config(), tick=scheduler_tick) as sched:
        yield sched
