from tests.fixtures.postgres import postgres_dburi, postgres_server  # noqa: F401
from tests.fixtures.zk import zk_chroot, zk_client, zk_connect, zk_server  # noqa: F401
