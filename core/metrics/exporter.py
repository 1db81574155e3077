"""The HTTP endpoint a component's metrics are scraped from.

Who calls it: ``lockgate.metrics.registry.Metrics.start``, when the
component's section sets ``prometheus_port``.  It serves, as Zuul's
monitoring server does:

- ``/metrics``: the component's registry in Prometheus' text format
  (``prometheus_client.generate_latest``); gauges read at scrape time are
  read now, on this server's thread;
- ``/health/live``: 200 while the process runs;
- ``/health/ready``: 200 once the component has started (running), 503
  before and while it stops;
- ``/health/status``: 200 with the component's state as the text body.

One small threaded ``http.server`` per component: a scrape never waits for
the component's own loop, and the component never waits for a scrape.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

log = logging.getLogger("lockgate.metrics")

READY_STATES = ("running", "paused")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    registry: CollectorRegistry
    state: Callable[[], str]


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        path = self.path.split("?", 1)[0]
        if path == "/metrics":
            try:
                body = generate_latest(self.server.registry)
            except Exception:  # noqa: BLE001 - a scrape must not kill the server
                log.exception("collecting metrics failed")
                self._answer(500, b"collecting metrics failed (see the component's log)\n")
                return
            self._answer(200, body, CONTENT_TYPE_LATEST)
        elif path == "/health/live":
            self._answer(200, b"OK\n")
        elif path == "/health/ready":
            state = self.server.state()
            self._answer(200 if state in READY_STATES else 503, f"{state}\n".encode())
        elif path == "/health/status":
            self._answer(200, f"{self.server.state()}\n".encode())
        else:
            self._answer(404, b"not found: try /metrics or /health/ready\n")

    def _answer(self, status: int, body: bytes, content_type: str = "text/plain") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass  # a scrape every few seconds is not worth a log line


class MetricsServer:
    """Serves ``registry`` on ``addr``:``port`` (port 0: any free one, see ``port``)."""

    def __init__(
        self, registry: CollectorRegistry, addr: str, port: int, state: Callable[[], str]
    ) -> None:
        server_class = type(
            "_Server6" if ":" in addr else "_Server4",
            (_Server,),
            {"address_family": socket.AF_INET6 if ":" in addr else socket.AF_INET},
        )
        try:
            self._server = server_class((addr, port), _Handler)
        except OSError as e:
            raise OSError(f"cannot serve metrics on {addr}:{port}: {e.strerror or e}") from None
        self._server.registry = registry
        self._server.state = state
        self.addr = addr
        self.port = int(self._server.server_address[1])
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host = f"[{self.addr}]" if ":" in self.addr else self.addr
        return f"http://{host}:{self.port}/metrics"

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.2},
            name="metrics-http",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(2.0)
        self._server.server_close()
