"""The executor's console stream server: running builds' ``job-output.txt``, live, over TCP.

Who calls it: ``Executor`` (``lockgate.executor.server``) starts one
``ConsoleStreamServer`` and tells it when each build starts and ends
(``build_started`` / ``build_ended``); the executor also registers the
server's address for each build in ZooKeeper (``lockgate.zk.streams``), so
the web can find it.  What comes next: the web's ``console-stream`` websocket
(``lockgate.web.console_stream``) connects here and relays the frames of
``lockgate.console_stream`` to browsers and ``lockgate console``.

How: one thread, one ``selectors`` loop, every connection non-blocking.  A
follower reads the file from its own offset (``os.pread`` on one descriptor
per build), one chunk at a time, and the next chunk is read only once the
previous one left the socket: a slow client holds one chunk of memory and
slows only itself; the build never waits for anyone, because the console
file is written by Ansible whatever the followers do.  A client that goes
away is noticed by the loop (EOF or an error on its socket) and dropped with
its state; a build nobody follows costs nothing (its file is looked at only
for followers waiting for more).  New bytes are noticed by polling the
file's size every ``poll_interval`` seconds while someone waits for them.
"""

from __future__ import annotations

import errno
import logging
import os
import selectors
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from lockgate.console_stream import (
    MAX_REQUEST,
    FrameKind,
    ProtocolError,
    decode_request,
    encode_frame,
)
from lockgate.service_config import Section

log = logging.getLogger("lockgate.executor.console_stream")

CHUNK = 64 * 1024
# Chunks one follower may take in a row before the others get their turn.
BURST = 16
# How long a connection may take to send its request line.
REQUEST_TIMEOUT = 10.0
# How long an ended build stays known, for followers that looked it up in
# ZooKeeper just before it ended and connect just after.
ENDED_GRACE = 60.0


@dataclass(frozen=True)
class ConsoleStreamSettings:
    """``[executor] console_stream_listen_address`` / ``console_stream_port``."""

    listen_address: str = "127.0.0.1"
    port: int = 0  # 0: any free port (it is registered in ZooKeeper anyway)

    @classmethod
    def from_section(cls, section: Section) -> ConsoleStreamSettings:
        port = section.get_int("console_stream_port", 0) or 0
        if not 0 <= port <= 65535:
            raise section.error("console_stream_port", "must be a port number (0 for any)")
        return cls(
            listen_address=section.get("console_stream_listen_address") or "127.0.0.1",
            port=port,
        )

    def advertised_host(self, hostname: str) -> str:
        """The host the web should connect to: the listen address, unless
        it listens on every address (then this executor's hostname)."""
        if self.listen_address in ("0.0.0.0", "::", ""):
            return hostname
        return self.listen_address


@dataclass
class _Build:
    uuid: str
    path: Path
    ended: str | None = None  # the end message, once ended
    ended_at: float = 0.0
    fd: int | None = None
    inode: int | None = None
    size: int = 0


@dataclass
class _Conn:
    sock: socket.socket
    deadline: float
    request: bytearray = field(default_factory=bytearray)
    build: _Build | None = None
    offset: int = 0
    out: memoryview | None = None
    closing: bool = False  # close once ``out`` is sent
    writing: bool = False  # registered for EVENT_WRITE


class ConsoleStreamServer:
    def __init__(
        self,
        log_root: Path,
        settings: ConsoleStreamSettings | None = None,
        *,
        poll_interval: float = 0.05,
    ) -> None:
        self.log_root = Path(log_root)
        self.settings = settings or ConsoleStreamSettings()
        self.poll_interval = poll_interval
        self._builds: dict[str, _Build] = {}
        self._lock = threading.Lock()
        self._conns: dict[int, _Conn] = {}
        self._selector = selectors.DefaultSelector()
        self._listener: socket.socket | None = None
        self._wake_r: socket.socket | None = None
        self._wake_w: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stopping = False
        self.port = 0

    # -- life cycle ---------------------------------------------------------

    def start(self) -> None:
        family = socket.AF_INET6 if ":" in self.settings.listen_address else socket.AF_INET
        listener = socket.socket(family, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((self.settings.listen_address, self.settings.port))
        listener.listen(128)
        listener.setblocking(False)
        self._listener = listener
        self.port = listener.getsockname()[1]
        self._selector.register(listener, selectors.EVENT_READ, "listener")
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._selector.register(self._wake_r, selectors.EVENT_READ, "wake")
        self._thread = threading.Thread(target=self._loop, name="console-stream", daemon=True)
        self._thread.start()
        log.info(
            "console stream server listening on %s:%s", self.settings.listen_address, self.port
        )

    def stop(self) -> None:
        """Close every connection (followers see the stream break off) and stop."""
        self._stopping = True
        self._wake()
        if self._thread is not None:
            self._thread.join(10)
        for conn in list(self._conns.values()):
            self._close(conn)
        if self._listener is not None:
            self._listener.close()
        with self._lock:
            for build in self._builds.values():
                _close_fd(build)
            self._builds.clear()
        self._selector.close()
        for sock in (self._wake_r, self._wake_w):
            if sock is not None:
                sock.close()

    # -- what the executor tells it (any thread) --------------------------------

    def build_started(self, uuid: str) -> None:
        with self._lock:
            self._builds[uuid] = _Build(uuid, self.log_root / uuid / "job-output.txt")

    def build_ended(self, uuid: str, message: str) -> None:
        """Followers get the rest of the file, then ``message``, then the end."""
        with self._lock:
            build = self._builds.get(uuid)
            if build is not None:
                build.ended = message
                build.ended_at = time.monotonic()
        self._wake()

    def followers(self, uuid: str | None = None) -> int:
        """Connections following ``uuid`` (every build if None); for tests and stats."""
        return sum(
            1
            for c in self._conns.copy().values()
            if c.build is not None and (uuid is None or c.build.uuid == uuid)
        )

    def _wake(self) -> None:
        if self._wake_w is None:
            return
        try:
            self._wake_w.send(b"x")
        except OSError:
            pass  # full (a wake-up is pending anyway) or closed (stopping)

    # -- the loop -------------------------------------------------------------------

    def _loop(self) -> None:
        busy = False
        while not self._stopping:
            try:
                events = self._selector.select(self._timeout(busy))
            except OSError as e:  # pragma: no cover - the selector itself failed
                log.error("console stream selector failed: %s", e)
                return
            for key, mask in events:
                if key.data == "listener":
                    self._accept()
                elif key.data == "wake":
                    assert self._wake_r is not None
                    try:
                        while self._wake_r.recv(4096):
                            pass
                    except BlockingIOError:
                        pass
                else:
                    conn = self._conns.get(key.fd)
                    if conn is None:
                        continue
                    if mask & selectors.EVENT_READ:
                        self._on_readable(conn)
                    if mask & selectors.EVENT_WRITE and conn.sock.fileno() >= 0:
                        self._flush(conn)
            try:
                busy = self._pump()
            except Exception:  # pragma: no cover - a bug here must not stop streaming
                log.exception("console stream error")
                busy = False

    def _timeout(self, busy: bool) -> float | None:
        """Poll files only while someone waits for their next bytes."""
        if busy:
            return 0.0
        if any(c.build is not None and c.out is None for c in self._conns.values()):
            return self.poll_interval
        if self._conns:
            return 1.0  # request deadlines
        return None

    def _accept(self) -> None:
        assert self._listener is not None
        while True:
            try:
                sock, _ = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as e:
                log.warning("console stream accept failed: %s", e)
                return
            sock.setblocking(False)
            conn = _Conn(sock, deadline=time.monotonic() + REQUEST_TIMEOUT)
            self._conns[sock.fileno()] = conn
            self._selector.register(sock, selectors.EVENT_READ, "conn")

    def _on_readable(self, conn: _Conn) -> None:
        try:
            data = conn.sock.recv(4096)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:  # the client went away
            self._close(conn)
            return
        if conn.build is not None or conn.closing:
            return  # nothing more is expected from a follower
        conn.request += data
        if b"\n" not in conn.request:
            if len(conn.request) > MAX_REQUEST:
                self._refuse(conn, "the request line is too long")
            return
        line = bytes(conn.request.split(b"\n", 1)[0])
        try:
            uuid = decode_request(line)
        except ProtocolError as e:
            self._refuse(conn, str(e))
            return
        with self._lock:
            build = self._builds.get(uuid)
        if build is None:
            self._refuse(conn, f"build {uuid} is not running on this executor")
            return
        conn.build = build

    def _refuse(self, conn: _Conn, message: str) -> None:
        conn.out = memoryview(encode_frame(FrameKind.ERROR, message.encode()))
        conn.closing = True
        self._flush(conn)

    def _pump(self) -> bool:
        """Give each waiting follower its next chunks; drop what is over.
        True if a follower could take more at once (poll again without waiting)."""
        now = time.monotonic()
        # Whether each build had ended *before* its size was looked at: only
        # then is "no more bytes" the end of its console.
        ended: dict[str, str | None] = {}
        busy = False
        for conn in list(self._conns.values()):
            build = conn.build
            if build is None:
                if not conn.closing and now > conn.deadline:
                    self._refuse(conn, "no request received in time")
                continue
            if build.uuid not in ended:
                ended[build.uuid] = build.ended
                self._refresh(build)
            for _ in range(BURST):
                if conn.out is not None or conn.closing:
                    break
                chunk = b""
                if build.fd is not None and conn.offset < build.size:
                    try:
                        chunk = os.pread(build.fd, CHUNK, conn.offset)
                    except OSError as e:
                        log.warning("cannot read the console of %s: %s", build.uuid, e)
                if chunk:
                    conn.offset += len(chunk)
                    conn.out = memoryview(encode_frame(FrameKind.DATA, chunk))
                elif ended[build.uuid] is not None:
                    message = ended[build.uuid] or ""
                    conn.out = memoryview(encode_frame(FrameKind.END, message.encode()))
                    conn.closing = True
                else:
                    break
                self._flush(conn)
            if conn.out is None and not conn.closing and conn.offset < build.size:
                busy = True
        self._forget_ended(now)
        return busy

    def _refresh(self, build: _Build) -> None:
        """Open the build's file once it exists, notice it growing (or being
        replaced: a build run again here starts a new file)."""
        try:
            st = os.stat(build.path)
        except FileNotFoundError:
            return
        except OSError as e:
            log.warning("cannot look at the console of %s: %s", build.uuid, e)
            return
        if build.fd is None or st.st_ino != build.inode:
            _close_fd(build)
            try:
                build.fd = os.open(build.path, os.O_RDONLY)
            except OSError:
                return
            build.inode = os.fstat(build.fd).st_ino
            for conn in self._conns.values():
                if conn.build is build:
                    conn.offset = 0
        build.size = st.st_size

    def _forget_ended(self, now: float) -> None:
        with self._lock:
            for uuid, build in list(self._builds.items()):
                if build.ended is None or now - build.ended_at < ENDED_GRACE:
                    continue
                if any(c.build is build for c in self._conns.values()):
                    continue
                _close_fd(build)
                del self._builds[uuid]

    def _flush(self, conn: _Conn) -> None:
        while conn.out is not None:
            try:
                sent = conn.sock.send(conn.out)
            except (BlockingIOError, InterruptedError):
                sent = 0
            except OSError as e:
                if e.errno not in (errno.EPIPE, errno.ECONNRESET):
                    log.debug("console stream send failed: %s", e)
                self._close(conn)
                return
            if sent == 0:
                self._want_write(conn, True)
                return
            rest = conn.out[sent:]
            conn.out = rest if len(rest) else None
        self._want_write(conn, False)
        if conn.closing:
            self._close(conn)

    def _want_write(self, conn: _Conn, on: bool) -> None:
        if conn.writing == on:
            return
        conn.writing = on
        events = selectors.EVENT_READ | (selectors.EVENT_WRITE if on else 0)
        self._selector.modify(conn.sock, events, "conn")

    def _close(self, conn: _Conn) -> None:
        fd = conn.sock.fileno()
        if fd < 0:
            return
        self._conns.pop(fd, None)
        try:
            self._selector.unregister(conn.sock)
        except (KeyError, ValueError):
            pass
        conn.sock.close()
        conn.out = None


def _close_fd(build: _Build) -> None:
    if build.fd is not None:
        try:
            os.close(build.fd)
        except OSError:
            pass
        build.fd = None
