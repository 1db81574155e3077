"""Running a component process until it is told to stop, and stopping it in bounded time.

Who calls it: the ``main`` of every component (``lockgate scheduler``,
``executor``, ``merger``, ``launcher``, ``web``): threaded components through
``serve``, the asyncio ones (scheduler, web) through ``Shutdown`` directly.
What comes next: the component's own ``stop()``.

The promise (``doc/operating.md``, "Stopping"):

- the first SIGTERM or SIGINT stops the component gracefully (no new work;
  builds handed back; registrations removed), and the process exits within
  ``STOP_DEADLINE`` seconds whatever the state of ZooKeeper, the database or
  its children: past the deadline it is ended (status 1), after its
  ``on_force`` hooks have killed what it started;
- a second SIGTERM or SIGINT ends it at once (status 128 + the signal),
  after the same hooks;
- a graceful stop exits 0.

Why a pipe and a thread: a Python signal handler runs on the main thread
between two bytecodes, possibly while that thread holds a lock the handler
would need (an ``Event``'s condition, a logging handler).  The handler only
writes the signal number to a pipe; this module's thread reads it, logs,
and runs the callbacks.  The second signal needs no lock: it exits from the
handler itself.
"""

from __future__ import annotations

import faulthandler
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import Protocol

from lockgate.service_config import ServiceConfigError
from lockgate.zk.errors import ZKError

#: Seconds from the first signal to a forced exit; the promise to operators
#: is 10 s, the difference covers killing children and the exit itself.
STOP_DEADLINE = 8.0
SIGNALS = (signal.SIGTERM, signal.SIGINT)

Callback = Callable[[], None]


class Shutdown:
    """The signals of one component process: request, deadline, forced exit.

    ``install()`` from the main thread before starting the component;
    ``on_request`` callbacks run (on this module's thread) at the first
    signal, ``on_force`` hooks just before a forced exit; ``finished(code)``
    says the graceful stop is over (the process then exits with ``code``,
    at the deadline at the latest, even if a thread lingers).
    """

    def __init__(self, name: str, log: logging.Logger, *, deadline: float = STOP_DEADLINE):
        self.name = name
        self.log = log
        self.deadline = deadline
        self.requested = threading.Event()
        self._lock = threading.Lock()
        self._on_request: list[Callback] = []
        self._on_force: list[Callback] = []
        self._finished = threading.Event()
        self._fired = False  # the request callbacks have been taken
        self._code = 0
        self._signals = 0
        self._previous: dict[int, object] = {}
        self._pipe: tuple[int, int] | None = None

    # --- set-up (main thread) ------------------------------------------------------------

    def install(self) -> None:
        """Take SIGTERM and SIGINT (only the main thread may; elsewhere, e.g. a
        test running a ``main`` in a thread, nothing is installed)."""
        if threading.current_thread() is not threading.main_thread():
            return
        read, write = os.pipe()
        os.set_blocking(write, False)
        self._pipe = (read, write)
        threading.Thread(target=self._watch, name=f"{self.name}-shutdown", daemon=True).start()
        for sig in SIGNALS:
            self._previous[sig] = signal.signal(sig, self._on_signal)

    def restore(self) -> None:
        """Put the previous handlers back (a caller that runs on, e.g. a test)."""
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)  # type: ignore[arg-type]
        self._previous.clear()

    def on_request(self, callback: Callback) -> None:
        """Run ``callback`` at the first signal (now, if it came already),
        before ``requested`` is set: before the main thread calls ``stop``."""
        with self._lock:
            if not self._fired:
                self._on_request.append(callback)
                return
        self._call(callback)

    def on_force(self, hook: Callback) -> None:
        """Run ``hook`` before a forced exit: kill children, nothing slow."""
        with self._lock:
            self._on_force.append(hook)

    @property
    def asked(self) -> bool:
        """A stop was asked for (its callbacks may still be running)."""
        return self._fired or self.requested.is_set()

    def wait(self) -> None:
        """Block the main thread until a stop is requested."""
        while not self.requested.wait(1.0):
            pass

    def finished(self, code: int = 0) -> None:
        """The graceful stop is over: ``code`` is the exit status."""
        self._code = code
        self._finished.set()

    # --- signals -----------------------------------------------------------------------

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        self._signals += 1
        if self._signals > 1:
            name = signal.Signals(signum).name
            self._exit(128 + signum, f"lockgate {self.name}: {name} again; exiting now\n")
        assert self._pipe is not None
        try:
            os.write(self._pipe[1], bytes([signum]))
        except OSError:
            pass

    def _watch(self) -> None:
        assert self._pipe is not None
        data = os.read(self._pipe[0], 1)
        started = time.monotonic()
        name = signal.Signals(data[0]).name if data else "a stop request"
        self.log.info(
            "received %s; stopping (exits within %.0f s; send it again to exit at once)",
            name,
            self.deadline,
        )
        with self._lock:
            self._fired = True
            callbacks = list(self._on_request)
        for callback in callbacks:
            self._call(callback)
        self.requested.set()
        if not self._finished.wait(max(0.0, self.deadline - (time.monotonic() - started))):
            self.log.error(
                "did not stop within %.0f s; exiting anyway (what each thread was doing follows)",
                self.deadline,
            )
            try:
                faulthandler.dump_traceback(file=sys.stderr, all_threads=True)
            except (OSError, ValueError, AttributeError):
                pass  # no usable stderr
            self._exit(1, "")
        # Stopped: the process exits by itself, unless a thread lingers.
        time.sleep(max(0.0, self.deadline - (time.monotonic() - started)))
        self._exit(self._code, "")

    def _call(self, callback: Callback) -> None:
        try:
            callback()
        except Exception:
            self.log.exception("stop callback %r failed", callback)

    def _exit(self, code: int, message: str) -> None:
        with self._lock:
            hooks = list(self._on_force)
        for hook in hooks:
            try:
                hook()
            except Exception:  # noqa: BLE001 - exiting regardless
                pass
        if message:
            try:
                os.write(2, message.encode())
            except OSError:
                pass
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:  # noqa: BLE001 - exiting regardless
                pass
        os._exit(code)


class Component(Protocol):
    """What ``serve`` runs: ``request_stop`` is called at the signal (from
    another thread, possibly while ``start`` still runs: make waits give up),
    ``stop`` then on the main thread."""

    def start(self) -> None: ...

    def request_stop(self) -> None: ...

    def stop(self) -> None: ...


def serve(
    name: str,
    make: Callable[[], Component],
    log: logging.Logger,
    *,
    fatal: tuple[type[BaseException], ...] = (ZKError, OSError),
    force: Callback | None = None,
    deadline: float = STOP_DEADLINE,
) -> int:
    """Make and start a threaded component, run it until a signal, stop it.

    The exit status: 0 after a graceful stop, 2 for a bad service config, 1
    when ``make`` or ``start`` raises one of ``fatal`` (one line on stderr).
    ``force``: kills what the component started, before a forced exit."""
    shutdown = Shutdown(name, log, deadline=deadline)
    shutdown.install()
    if force is not None:
        shutdown.on_force(force)
    try:
        try:
            component = make()
        except ServiceConfigError as e:
            print(f"lockgate {name}: {e}", file=sys.stderr)
            return 2
        except fatal as e:
            print(f"lockgate {name}: {e}", file=sys.stderr)
            return 1
        shutdown.on_request(component.request_stop)
        try:
            component.start()
        except fatal as e:
            _stop_quietly(component, log)
            if shutdown.asked:  # told to stop while starting
                shutdown.finished(0)
                return 0
            print(f"lockgate {name}: {e}", file=sys.stderr)
            return 1
        shutdown.wait()
        component.stop()
        shutdown.finished(0)
        return 0
    finally:
        shutdown.restore()


def _stop_quietly(component: Component, log: logging.Logger) -> None:
    """Undo a start that failed half way (registered, then something broke)."""
    try:
        component.stop()
    except Exception:  # noqa: BLE001 - the start error is the one to report
        log.debug("stopping after a failed start", exc_info=True)
