from tests.fixtures.zk import own_zk_server, zk_chroot, zk_client, zk_connect, zk_server  # noqa: F401
