"""The statsd side of a component's metrics (Zuul's ``[statsd]`` section).

Who calls it: ``lockgate.metrics.registry.Metrics``, when ``[statsd] server``
is set.  Counts and timings go out the moment they are recorded (one UDP
datagram each, as Zuul sends them); gauges -- those set by the component and
those read at each scrape -- are sent every ``interval`` seconds by a thread
of this sender, which reads them from the component's Prometheus registry,
so statsd receives the same figures a scrape shows.

Sending is the ``statsd`` package's ``StatsClient`` (the client Zuul uses,
served by the package mirror): fire and forget over UDP, a send error is
dropped rather than slowing the component.  Keys are
``[prefix.]lockgate.<spec key>`` (``lockgate.metrics.catalog``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable

import statsd as statsd_client
from lockgate.metrics.settings import StatsdSettings

log = logging.getLogger("lockgate.metrics")

#: Seconds between two sends of every gauge.
GAUGE_INTERVAL = 10.0

Gauges = Callable[[], Iterable[tuple[str, float]]]


class StatsdSender:
    """One component's statsd client and its gauge thread."""

    def __init__(self, settings: StatsdSettings, gauges: Gauges, interval: float = GAUGE_INTERVAL):
        try:
            self.client = statsd_client.StatsClient(
                settings.server, settings.port, prefix=settings.prefix
            )
        except OSError as e:  # the name does not resolve
            raise OSError(
                f"[statsd] server {settings.server}:{settings.port}: cannot send to it: "
                f"{e.strerror or e}"
            ) from None
        self.settings = settings
        self.gauges = gauges
        self.interval = interval
        self._stop = threading.Event()
        self._lock = threading.Lock()  # sends and the close
        self._closed = False
        self._thread: threading.Thread | None = None

    def count(self, key: str, amount: float) -> None:
        with self._lock:
            if not self._closed:
                self.client.incr(key, _number(amount))

    def timing(self, key: str, seconds: float) -> None:
        with self._lock:
            if not self._closed:
                self.client.timing(key, seconds * 1000.0)

    def send_gauges(self) -> int:
        """Send every gauge now (batched into few datagrams); how many."""
        gauges = list(self.gauges())
        with self._lock:
            if self._closed or not gauges:
                return 0
            pipe = self.client.pipeline()
            for key, value in gauges:
                pipe.gauge(key, _number(value))
            pipe.send()
        return len(gauges)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="statsd-gauges", daemon=True)
        self._thread.start()
        log.info(
            "sending metrics to statsd at %s:%s%s",
            self.settings.server,
            self.settings.port,
            f" (prefix {self.settings.prefix})" if self.settings.prefix else "",
        )

    def _run(self) -> None:
        while True:
            try:
                self.send_gauges()
            except Exception:  # noqa: BLE001 - metrics never stop the component
                log.warning("sending gauges to statsd failed", exc_info=True)
            if self._stop.wait(self.interval):
                return

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        with self._lock:
            self._closed = True
            self.client.close()


def _number(value: float) -> int | float:
    """``3`` rather than ``3.0`` on the wire, as statsd's examples write it."""
    return int(value) if float(value).is_integer() else value
