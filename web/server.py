"""``lockgate web``: the web service process.

``WebServer(config)`` opens the database (migrating it), connects to
ZooKeeper, and serves ``lockgate.web.app`` on ``[web] listen_address``:``port``
(default 127.0.0.1:9000) until stopped.  ZooKeeper being away at start is not
fatal: the service answers history requests, ``/health/ready`` says 503 with
the reason, and the connection is retried in the background.  A database that
cannot be opened at all (bad URI, missing driver) is a one-line error and exit
status 1; a config problem exits 2 (as every command does).

Build logs are served from ``[executor] log_root``, or ``<[executor]
state_dir>/logs`` when that is not set — the executor writes there by the
same rule.

Stopping (SIGTERM, SIGINT; ``lockgate.lifecycle``): ``request_stop`` (safe
from any thread) ends ``run``, which closes the listener, ZooKeeper (bounded)
and the database.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys

from aiohttp import web
from lockgate.db import Database, DatabaseError
from lockgate.lifecycle import Shutdown
from lockgate.metrics import Metrics
from lockgate.service_config import ServiceConfig, ServiceConfigError
from lockgate.web import api_admin, api_keys, api_nodes, webhooks
from lockgate.web.app import make_app
from lockgate.web.cluster import ClusterView
from lockgate.web.context import WebContext
from lockgate.web.http import WebRunner
from lockgate.web.metrics import METRICS
from lockgate.web.zkstate import ZKClusterState
from lockgate.zk.client import ZKClient, client_from_config
from lockgate.zk.errors import ZKError

log = logging.getLogger("lockgate.web")

# Seconds between attempts to reach ZooKeeper when it was away at start, and
# how long one attempt may take (short, so that stopping is never held up long).
ZK_RETRY_INTERVAL = 2.0
ZK_CONNECT_TIMEOUT = 3.0


def log_root_from_config(config: ServiceConfig) -> str:
    section = config.section("executor")
    root = section.get_path("log_root")
    if root:
        return root
    state_dir = section.get_path("state_dir") or "/var/lib/lockgate/executor"
    return os.path.join(state_dir, "logs")


class WebServer:
    def __init__(
        self, config: ServiceConfig, *, zk: ZKClient | None = None, db: Database | None = None
    ) -> None:
        """``zk``/``db``: share a process's existing client or database (``lockgate
        up``); the server then neither connects nor closes them."""
        self.config = config
        web_section = config.section("web")
        self.listen_address = web_section.get("listen_address") or "127.0.0.1"
        self.port = web_section.get_int("port", 9000) or 0
        self._own_db = db is None
        self._own_zk = zk is None
        self.db = db if db is not None else Database.from_config(config)
        self.zk = (
            zk if zk is not None else client_from_config(config.require_section("zookeeper").values)
        )
        self.cluster = ClusterView(ZKClusterState(self.zk))
        self.context = WebContext(
            db=self.db, cluster=self.cluster, log_root=log_root_from_config(config)
        )
        self.app = make_app(self.context)
        # After a tenant's first status answer, the process's objects leave
        # the garbage collector's sight (its full collections stall requests).
        self.context.status.settle_garbage = True
        self.metrics = Metrics.for_component(config, "web")
        self.app[METRICS] = self.metrics
        webhooks.configure(self.app, config, self.zk)
        api_nodes.configure(self.app, config)
        api_admin.configure(self.app, config, self.zk)
        api_keys.configure(self.app, config, self.zk)
        self._runner: web.AppRunner | None = None
        self._zk_task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def url(self) -> str:
        return f"http://{self.listen_address}:{self.port}"

    async def _connect_zk(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                await loop.run_in_executor(None, self.zk.connect, ZK_CONNECT_TIMEOUT)
                log.info("connected to ZooKeeper at %s", self.zk.hosts)
                return
            except Exception as e:  # noqa: BLE001 - logged and retried
                log.warning("%s; retrying in %ss", e, ZK_RETRY_INTERVAL)
                await asyncio.sleep(ZK_RETRY_INTERVAL)

    async def start(self) -> None:
        """Migrate the database, start reaching ZooKeeper, and listen."""
        loop = asyncio.get_running_loop()
        self.metrics.start(self.zk)
        await loop.run_in_executor(None, self.db.upgrade)
        self._runner = WebRunner(self.app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.listen_address, self.port)
        await site.start()
        if self.port == 0:  # an ephemeral port: report the one we got
            self.port = int(self._runner.addresses[0][1])
        # Listening first: a taken port fails before anything else starts.
        if self._own_zk:
            self._zk_task = asyncio.create_task(self._connect_zk())
        self.metrics.ready()
        log.info("web serving on %s", self.url)

    async def stop(self) -> None:
        if self._zk_task is not None:
            self._zk_task.cancel()
        if self._runner is not None:
            await self._runner.cleanup()
        self.context.close()
        self.cluster.close()
        loop = asyncio.get_running_loop()
        if self._own_zk:
            await loop.run_in_executor(None, self.zk.disconnect)
        if self._own_db:
            await loop.run_in_executor(None, self.db.close)
        self.metrics.stop()

    def request_stop(self) -> None:
        """End ``run`` (from any thread: a signal's, a test's)."""
        if self._own_zk:
            self.zk.begin_shutdown()
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._stopping.set)
        else:
            self._stopping.set()

    async def run(self) -> None:
        """Serve until ``request_stop``."""
        self._loop = asyncio.get_running_loop()
        await self.start()
        try:
            await self._stopping.wait()
        finally:
            await self.stop()


def main(config: ServiceConfig) -> int:
    """Run the web service; the exit status for ``lockgate web``."""
    try:
        server = WebServer(config)
    except ServiceConfigError as e:
        print(f"lockgate web: {e}", file=sys.stderr)
        return 2
    except (DatabaseError, ZKError) as e:
        print(f"lockgate web: {e}", file=sys.stderr)
        return 1
    shutdown = Shutdown("web", log)
    shutdown.install()
    shutdown.on_request(server.request_stop)
    try:
        asyncio.run(server.run())
    except DatabaseError as e:
        print(f"lockgate web: {e}", file=sys.stderr)
        return 1
    except OSError as e:  # e.g. the port is taken
        print(
            f"lockgate web: cannot listen on {server.listen_address}:{server.port}: "
            f"{e.strerror or e}",
            file=sys.stderr,
        )
        return 1
    finally:
        shutdown.restore()
    shutdown.finished(0)
    return 0
