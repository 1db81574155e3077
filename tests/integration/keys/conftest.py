from __future__ import annotations

import pytest
from lockgate.keys import crypto

from tests.fixtures.zk import zk_chroot, zk_client, zk_connect, zk_server  # noqa: F401


@pytest.fixture(scope="session")
def fast_keys():
    """Makers handing out pre-made keys: tests of who makes keys when need
    not spend a second of CPU per RSA 4096 key."""
    secrets_keys = [crypto.generate_secrets_key() for _ in range(2)]
    ssh_key = crypto.generate_ssh_key()
    counter = iter(range(10**6))
    return {
        "make_secrets_key": lambda: secrets_keys[next(counter) % 2],
        "make_ssh_key": lambda: ssh_key,
    }
