"""Fixtures of the executor integration tests: ZooKeeper, an upstream repo,
nodes, and ``executor`` (real Executors on that ZooKeeper, each stopped at
the end of the test)."""

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from lockgate.executor.server import Executor
from lockgate.zk.client import ZKClient

from tests.fixtures.executor import make_config
from tests.fixtures.git import upstream  # noqa: F401
from tests.fixtures.launcher import local_provider, ssh_keypair  # noqa: F401
from tests.fixtures.sshd import sshd_node  # noqa: F401
from tests.fixtures.zk import zk_chroot, zk_client, zk_connect, zk_server  # noqa: F401


@pytest.fixture
def executor(zk_client: ZKClient, tmp_path: Path) -> Iterator[Callable[..., Executor]]:  # noqa: F811
    """``start(**keys)``: an executor on the test's state folder, its
    ``[executor]`` keys ``keys``; ``start(name, **keys)``: one of several,
    with its own folder and ``hostname = name``."""
    started: list[Executor] = []

    def start(name: str | None = None, **keys: str) -> Executor:
        root = tmp_path
        if name is not None:
            root = tmp_path / name
            root.mkdir()
            keys = {"hostname": name, **keys}
        ex = Executor(make_config(root, **keys), client=zk_client)
        ex.start()
        started.append(ex)
        return ex

    yield start
    for ex in started:
        ex.stop()
