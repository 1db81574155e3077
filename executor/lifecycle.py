"""Running a component of the executor package until SIGTERM or SIGINT.

Who calls it: ``lockgate executor`` (``executor.server.main``) and
``lockgate merger`` (``executor.merger_main.main``), which differ only in
what they start: a bad service config is exit status 2, an unreachable
ZooKeeper 1, a signal stops the component cleanly and exits 0.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from collections.abc import Callable
from types import FrameType
from typing import Protocol

from lockgate.service_config import ServiceConfigError
from lockgate.zk.errors import ZKError


class Component(Protocol):
    def start(self) -> None: ...

    def stop(self) -> None: ...


def serve(name: str, make: Callable[[], Component], log: logging.Logger) -> int:
    """Make and start the component, run until a signal, stop it; the exit status."""
    try:
        component = make()
        component.start()
    except ServiceConfigError as e:
        print(str(e), file=sys.stderr)
        return 2
    except ZKError as e:
        print(f"lockgate {name}: {e}", file=sys.stderr)
        return 1
    done = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("received %s; stopping", signal.Signals(signum).name)
        done.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    while not done.wait(1.0):
        pass
    component.stop()
    return 0
