"""The web's ZooKeeper reads: what ZooKeeper refuses reaches the API as
``ClusterUnavailable`` (a 503), because ``lockgate.zk`` turns kazoo's errors
into ``ZKError``s; the web never looks at kazoo's exceptions itself."""

from __future__ import annotations

import pytest
from lockgate.web.cluster import ClusterUnavailable
from lockgate.web.zkstate import ZKClusterState
from lockgate.zk import paths
from lockgate.zk.client import ZKClient


def test_a_node_zookeeper_refuses_to_read_is_cluster_unavailable(zk_client: ZKClient) -> None:
    # kazoo is used directly here to make a node only someone else may read
    # (an ACL); this is a test of how the ZooKeeper layer reports it.
    from kazoo.security import make_digest_acl

    path = paths.tenant_layout("t")
    kz = zk_client.kazoo
    kz.ensure_path(path.rsplit("/", 1)[0])
    kz.create(path, b"{}", acl=[make_digest_acl("someone-else", "secret", all=True)])
    try:
        with pytest.raises(ClusterUnavailable, match="NoAuth"):
            ZKClusterState(zk_client).tenant_layout("t")
    finally:
        kz.delete(path)
