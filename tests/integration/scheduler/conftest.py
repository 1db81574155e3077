"""Fixtures the scheduler's integration tests share: the demo tenant's site
(``harness.make_site``) and an in-process scheduler running its loop in a
thread on it.  A test module overrides ``site`` for a different tenant,
``scheduler_tick`` for a different tick, or ``scheduler`` (taking the
parent ``scheduler`` after what must exist before it starts) to add setup."""

from collections.abc import Iterator

import pytest
from lockgate.scheduler.server import Scheduler

from tests.fixtures.git import upstream  # noqa: F401
from tests.fixtures.zk import zk_chroot, zk_client, zk_connect, zk_server  # noqa: F401
from tests.integration.scheduler.harness import Site, make_site


@pytest.fixture
def site(tmp_path, upstream, zk_server, zk_chroot, zk_client) -> Site:  # noqa: F811
    return make_site(tmp_path, upstream, zk_server, zk_chroot, zk_client)


@pytest.fixture
def scheduler_tick() -> float:
    """Seconds between the loop's passes when nothing wakes it."""
    return 0.5


@pytest.fixture
def scheduler(site: Site, scheduler_tick: float) -> Iterator[Scheduler]:
    """Started, looping in a thread; the loop ended and the scheduler
    stopped after the test, in that order."""
    sched = Scheduler(site.service_config(), tick=scheduler_tick)
    sched.start()
    stop = sched.run_in_thread()
    yield sched
    stop()
    sched.stop()
