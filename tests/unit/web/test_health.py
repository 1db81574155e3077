"""``/health/live`` and ``/health/ready``: ready only when ZooKeeper and SQL both answer."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from lockgate.db import Database
from lockgate.web.zkstate import ZKClusterState
from lockgate.zk.client import ZKClient

from tests.fixtures.web import WebHarness


def test_live(web: WebHarness) -> None:
    assert web.get_json("/health/live") == {"status": "live"}


def test_ready_when_both_answer(web: WebHarness) -> None:
    assert web.get_json("/health/ready") == {
        "status": "ready",
        "checks": {"zookeeper": "ok", "database": "ok"},
    }


def test_not_ready_without_zookeeper(web: WebHarness, zk_client: ZKClient) -> None:
    zk_client.disconnect()
    body = web.get_json("/health/ready", status=503)
    assert body["status"] == "not ready"
    assert body["checks"] == {"zookeeper": "unreachable", "database": "ok"}
    assert "zookeeper" in body["reason"]
    assert web.get_json("/health/live") == {"status": "live"}


@pytest.fixture
def unreachable_db() -> Iterator[Database]:
    # Nothing listens on loopback port 1.
    database = Database("postgresql+psycopg2://lockgate@127.0.0.1:1/lockgate")
    yield database
    database.close()


def test_not_ready_without_database(unreachable_db: Database, zk_client: ZKClient) -> None:
    harness = WebHarness(unreachable_db, ZKClusterState(zk_client)).start()
    try:
        body = harness.get_json("/health/ready", status=503)
        assert body["checks"] == {"zookeeper": "ok", "database": "unreachable"}
        assert "127.0.0.1:1" in body["reason"]
        # History is unavailable too, with the reason, not a traceback.
        harness.get_json("/api/tenants")  # ZooKeeper alone still serves this
    finally:
        harness.stop()


def test_not_ready_before_migration(tmp_path: object, zk_client: ZKClient) -> None:
    database = Database(f"sqlite:///{tmp_path}/empty.db")
    harness = WebHarness(database, ZKClusterState(zk_client)).start()
    try:
        body = harness.get_json("/health/ready", status=503)
        assert body["checks"]["database"] == "unreachable"
        assert "lockgate_buildset" in body["reason"]
    finally:
        harness.stop()
        database.close()
