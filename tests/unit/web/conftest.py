# ruff: noqa: F811  (fixtures imported by name and used as parameters)
from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from lockgate.db import Database
from lockgate.model.tenant_state import TenantLayoutState
from lockgate.web.zkstate import ZKClusterState
from lockgate.zk.client import ZKClient
from lockgate.zk.tenants import save_layout

from tests.fixtures.database import db, dburi, module_db  # noqa: F401
from tests.fixtures.postgres import postgres_dburi, postgres_server  # noqa: F401
from tests.fixtures.web import WebHarness
from tests.fixtures.zk import zk_chroot, zk_client, zk_connect, zk_server  # noqa: F401


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Iterator[Database]:
    """A migrated SQLite database, for web tests whose subject is not SQL."""
    database = Database(f"sqlite:///{tmp_path}/web.db")
    database.upgrade()
    yield database
    database.close()


@pytest.fixture
def publish(zk_client: ZKClient) -> Callable[..., TenantLayoutState]:
    """``publish("tenant", **fields)``: write a tenant layout as the scheduler does."""

    def publish(tenant: str, **fields: object) -> TenantLayoutState:
        layout = TenantLayoutState(tenant=tenant, **fields)  # type: ignore[arg-type]
        save_layout(zk_client, layout)
        return layout

    return publish


@pytest.fixture
def log_root(tmp_path: Path) -> Path:
    root = tmp_path / "logs"
    root.mkdir()
    return root


def _harness(db: Database, zk: ZKClient, log_root: Path) -> Iterator[WebHarness]:
    harness = WebHarness(db, ZKClusterState(zk), str(log_root)).start()
    try:
        yield harness
    finally:
        harness.stop()


@pytest.fixture
def web(sqlite_db: Database, zk_client: ZKClient, log_root: Path) -> Iterator[WebHarness]:
    """The app on SQLite and the test's ZooKeeper chroot."""
    yield from _harness(sqlite_db, zk_client, log_root)


@pytest.fixture
def web_any_db(db: Database, zk_client: ZKClient, log_root: Path) -> Iterator[WebHarness]:
    """The app on each database backend (SQLite, PostgreSQL)."""
    yield from _harness(db, zk_client, log_root)
