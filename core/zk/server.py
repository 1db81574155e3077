"""Running a ZooKeeper server from the system's installation.

Who calls it: ``lockgate up`` (one machine, data in the state directory) and
the tests (``tests/fixtures/zk.py``), which also restart it mid-test.  It
writes a ``zoo.cfg``, starts ``java ... QuorumPeerMain`` as a child process,
waits until the server serves requests, and stops it by PID.

Facts it relies on (``INFRA-NOTES.md``): Debian's jar lives in
``/usr/share/java``; its classpath lacks ``netty-codec`` and
``netty-resolver``, without which every TLS handshake fails; the admin web
server must be disabled or it listens on 0.0.0.0:8080.  Everything listens on
``host`` (loopback by default) only.
"""

from __future__ import annotations

import os
import signal
import socket
import ssl
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from lockgate.zk.certs import TLSFiles
from lockgate.zk.errors import ZKError

JAVA_DIR = Path("/usr/share/java")
CLASSPATH_JARS = [
    "zookeeper.jar",
    "zookeeper-jute.jar",
    "netty-handler.jar",
    "netty-transport.jar",
    "netty-transport-native-epoll.jar",
    "netty-transport-native-unix-common.jar",
    "netty-common.jar",
    "netty-buffer.jar",
    "netty-codec.jar",
    "netty-resolver.jar",
    "slf4j-api.jar",
    "slf4j-simple.jar",
    "metrics-core.jar",
    "snappy-java.jar",
    "commons-cli.jar",
    "commons-io.jar",
]


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on now (the kernel's pick)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


@dataclass
class ServerTLS:
    """The server's side of TLS: its keystore (key + cert PEM) and the CA it
    trusts for client certificates (clients must present one)."""

    keystore: Path
    truststore: Path

    @classmethod
    def from_files(cls, files: TLSFiles) -> ServerTLS:
        return cls(keystore=files.keystore, truststore=files.ca)


class ZooKeeperServer:
    """One standalone ZooKeeper on ``host``.

    With ``tls``, clients connect to :attr:`port` over TLS only (no plaintext
    port is opened); without, :attr:`port` is a plaintext client port.
    ``port`` is kept across :meth:`restart`, and so is the data.
    ``client_tls`` (PEM CA, cert, key) lets the readiness probe speak TLS.
    """

    def __init__(
        self,
        data_dir: Path,
        *,
        host: str = "127.0.0.1",
        port: int | None = None,
        tls: ServerTLS | None = None,
        client_tls: TLSFiles | None = None,
        tick_time_ms: int = 2000,
        force_sync: bool = True,
        java: str = "java",
        java_dir: Path = JAVA_DIR,
        heap_mb: int = 256,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.host = host
        self.port = port or free_port(host)
        self.tls = tls
        self.client_tls = client_tls
        self.tick_time_ms = tick_time_ms
        self.force_sync = force_sync
        self.java = java
        self.java_dir = Path(java_dir)
        self.heap_mb = heap_mb
        self.process: subprocess.Popen[bytes] | None = None
        if tls is not None and client_tls is None:
            raise ZKError("a TLS ZooKeeper needs client_tls for its readiness probe")

    @property
    def hosts(self) -> str:
        """The ``host:port`` string clients connect to."""
        return f"{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process and self.process.poll() is None else None

    @property
    def log_path(self) -> Path:
        return self.data_dir / "zookeeper.log"

    def classpath(self) -> str:
        jars = []
        for name in CLASSPATH_JARS:
            jar = self.java_dir / name
            if jar.exists():
                jars.append(str(jar))
        if not any(j.endswith("/zookeeper.jar") for j in jars):
            raise ZKError(f"no ZooKeeper jar in {self.java_dir}: install the 'zookeeper' package")
        return ":".join(jars)

    def write_config(self) -> Path:
        """Write ``zoo.cfg`` in the data directory; return its path."""
        data = self.data_dir / "data"
        data.mkdir(parents=True, exist_ok=True)
        lines = [
            f"tickTime={self.tick_time_ms}",
            f"dataDir={data}",
            "admin.enableServer=false",
            "4lw.commands.whitelist=ruok,srvr,stat,mntr",
            f"forceSync={'yes' if self.force_sync else 'no'}",
            "maxClientCnxns=0",
            # Keep snapshots and logs from growing without end.
            "autopurge.snapRetainCount=3",
            "autopurge.purgeInterval=1",
        ]
        if self.tls is None:
            lines += [f"clientPortAddress={self.host}", f"clientPort={self.port}"]
        else:
            lines += [
                f"secureClientPortAddress={self.host}",
                f"secureClientPort={self.port}",
                "serverCnxnFactory=org.apache.zookeeper.server.NettyServerCnxnFactory",
                f"ssl.keyStore.location={self.tls.keystore}",
                "ssl.keyStore.type=PEM",
                f"ssl.trustStore.location={self.tls.truststore}",
                "ssl.trustStore.type=PEM",
                "ssl.clientAuth=need",
            ]
        cfg = self.data_dir / "zoo.cfg"
        cfg.write_text("\n".join(lines) + "\n")
        return cfg

    def start(self, timeout: float = 30.0) -> None:
        """Start the server and wait until it serves requests (see :meth:`ready`)."""
        if self.pid is not None:
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        cfg = self.write_config()
        log = open(self.log_path, "ab")
        try:
            self.process = subprocess.Popen(
                [
                    self.java,
                    f"-Xmx{self.heap_mb}m",
                    "-Dzookeeper.jmx.log4j.disable=true",
                    "-Dzookeeper.admin.enableServer=false",
                    "-cp",
                    self.classpath(),
                    "org.apache.zookeeper.server.quorum.QuorumPeerMain",
                    str(cfg),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        except FileNotFoundError as exc:
            raise ZKError(f"cannot start ZooKeeper: {self.java!r} not found") from exc
        finally:
            log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ZKError(
                    f"ZooKeeper exited with {self.process.returncode} at start; "
                    f"see {self.log_path}:\n{self._log_tail()}"
                )
            if self.ready():
                return
            time.sleep(0.05)
        self.stop()
        raise ZKError(
            f"ZooKeeper on {self.hosts} not ready after {timeout}s; see {self.log_path}:\n"
            f"{self._log_tail()}"
        )

    def _log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def four_letter(self, word: str, timeout: float = 2.0) -> str:
        """Send a four-letter command (``ruok``, ``srvr``, ``mntr``...) and
        return the answer ('' if the server is not answering)."""
        try:
            sock = socket.create_connection((self.host, self.port), timeout=timeout)
        except OSError:
            return ""
        try:
            if self.tls is not None:
                assert self.client_tls is not None
                ctx = ssl.create_default_context(cafile=str(self.client_tls.ca))
                ctx.load_cert_chain(str(self.client_tls.cert), str(self.client_tls.key))
                sock = ctx.wrap_socket(sock, server_hostname=self.host)
            sock.sendall(word.encode())
            chunks = []
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
            return b"".join(chunks).decode(errors="replace")
        except (OSError, ssl.SSLError):
            return ""
        finally:
            sock.close()

    def ruok(self) -> bool:
        """The server process answers (it may not serve requests yet)."""
        return self.four_letter("ruok") == "imok"

    def ready(self) -> bool:
        """The server serves requests: ``ruok`` alone answers ``imok`` while
        the database is still loading, ``srvr`` tells the difference."""
        return "Mode:" in self.four_letter("srvr")

    def stop(self, timeout: float = 15.0) -> None:
        """Stop the server by its PID (SIGTERM, then SIGKILL) and reap it."""
        proc, self.process = self.process, None
        if proc is None or proc.poll() is not None:
            return
        os.kill(proc.pid, signal.SIGCONT)  # in case it was paused
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=timeout)

    def kill(self) -> None:
        """Stop the server abruptly (SIGKILL), as a crash would."""
        proc, self.process = self.process, None
        if proc is not None and proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=15)

    def pause(self) -> None:
        """Freeze the server (SIGSTOP): clients see a hung server, as in a
        network partition; their in-flight requests fail with a lost connection."""
        if self.pid is not None:
            os.kill(self.pid, signal.SIGSTOP)

    def resume(self) -> None:
        """Undo :meth:`pause` (SIGCONT)."""
        if self.pid is not None:
            os.kill(self.pid, signal.SIGCONT)

    def restart(self, timeout: float = 30.0) -> None:
        """Stop and start again on the same port with the same data."""
        self.stop()
        self.start(timeout=timeout)
