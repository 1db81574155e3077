"""SSH to Gerrit: run a command and read all it says, or stream its lines.

Who calls it: ``GerritQuery`` and ``GerritReporter`` (``run``: ``gerrit
query``, ``gerrit review``) through the connection's shared client, and the
event source (``open_stream``: ``gerrit stream-events``) through a client of
its own.  paramiko, as Zuul.

Host keys.  With ``known_hosts`` (a Lockgate key of the connection) only the
keys in that file are trusted: an unknown host is refused.  Without it we do
as Zuul: the system's known hosts are loaded and an unknown host is accepted
with a warning (paramiko's ``WarningPolicy``) — and, beyond Zuul, the key
first accepted is remembered for the life of the process, so a key that
changes under a running scheduler is refused.  A key that does not match
the one trusted is always ``HostKeyMismatch``: logged by the caller and
retried with back-off, never silently accepted.

Errors are ``GerritSSHError`` (``HostKeyMismatch``, ``SSHAuthError``) with
a one-line message naming the server and what went wrong.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator

import paramiko

log = logging.getLogger("lockgate.drivers.gerrit.ssh")


class GerritSSHError(Exception):
    """SSH to Gerrit failed; ``str()`` names the server and why.

    ``refused`` is True when Gerrit ran the command and said no (a non-zero
    exit status): sending it again will not help."""

    def __init__(self, message: str, *, refused: bool = False) -> None:
        super().__init__(message)
        self.refused = refused


class HostKeyMismatch(GerritSSHError):
    """The server's host key is not the one we trust."""


class SSHAuthError(GerritSSHError):
    """The server refused our user or key."""


def fingerprint(key: paramiko.PKey) -> str:
    return f"{key.get_name()} SHA256:{key.fingerprint.split(':', 1)[-1]}"


class _RememberNewHosts(paramiko.MissingHostKeyPolicy):
    """Zuul's policy (accept an unknown host, warn) plus memory of what was accepted."""

    def __init__(self, learned: dict[str, paramiko.PKey]) -> None:
        self.learned = learned

    def missing_host_key(
        self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey
    ) -> None:
        log.warning(
            "SSH host %s is not in any known_hosts file; accepting its key %s "
            "(set known_hosts on the connection to check it)",
            hostname,
            fingerprint(key),
        )
        self.learned[hostname] = key


class SSHStream:
    """A running remote command whose standard output is read line by line."""

    def __init__(self, client: paramiko.SSHClient, channel: paramiko.Channel, what: str) -> None:
        self.client = client
        self.channel = channel
        self.what = what
        self._closed = False

    def lines(self, poll: float = 0.5) -> Iterator[bytes | None]:
        """Each complete line (without its newline); ``None`` after every
        ``poll`` seconds of silence, so the reader can look up (stop, timers).

        Ends when the command ends or the connection drops; a last line
        without a newline is yielded as is (the caller's parser says it is
        truncated)."""
        self.channel.settimeout(poll)
        buffer = b""
        while not self._closed:
            try:
                chunk = self.channel.recv(65536)
            except TimeoutError:
                yield None
                continue
            except (OSError, EOFError, paramiko.SSHException):
                break
            if not chunk:
                break
            buffer += chunk
            *complete, buffer = buffer.split(b"\n")
            yield from complete
        if buffer.strip() and not self._closed:
            yield buffer

    def exit_status(self) -> int | None:
        return self.channel.recv_exit_status() if self.channel.exit_status_ready() else None

    def error(self) -> str:
        """What the command said on standard error (for the log when it ends)."""
        try:
            data = self.channel.recv_stderr(4096) if self.channel.recv_stderr_ready() else b""
        except (OSError, EOFError, paramiko.SSHException):
            return ""
        return " ".join(data.decode("utf-8", "replace").split())[:200]

    def close(self) -> None:
        """Close the channel and its connection (unblocks a reader at once); safe twice."""
        self._closed = True
        try:
            self.channel.close()
        except (OSError, EOFError, paramiko.SSHException):
            pass  # the connection is gone already: nothing left to close on it
        finally:
            self.client.close()


class GerritSSH:
    """One SSH connection to Gerrit, opened on first use and reopened when lost."""

    def __init__(
        self,
        host: str,
        port: int,
        user: str,
        *,
        key_filename: str | None = None,
        known_hosts: str | None = None,
        keepalive: int = 60,
        timeout: float = 30.0,
    ) -> None:
        self.host = host
        self.port = port
        self.user = user
        self.key_filename = key_filename
        self.known_hosts = known_hosts
        self.keepalive = keepalive
        self.timeout = timeout
        self._learned: dict[str, paramiko.PKey] = {}
        self._lock = threading.Lock()
        self._client: paramiko.SSHClient | None = None

    @property
    def where(self) -> str:
        return f"{self.user}@{self.host}:{self.port}"

    def connect(self) -> paramiko.SSHClient:
        """A new, authenticated client; raises ``GerritSSHError``."""
        client = paramiko.SSHClient()
        try:
            if self.known_hosts:
                try:
                    client.load_host_keys(self.known_hosts)
                except OSError as e:
                    raise GerritSSHError(
                        f"SSH {self.where}: cannot read known_hosts {self.known_hosts}: "
                        f"{e.strerror or e}"
                    ) from None
                client.set_missing_host_key_policy(paramiko.RejectPolicy())
            else:
                client.load_system_host_keys()
                keys = client.get_host_keys()
                for name, key in self._learned.items():
                    keys.add(name, key.get_name(), key)
                client.set_missing_host_key_policy(_RememberNewHosts(self._learned))
            client.connect(
                self.host,
                port=self.port,
                username=self.user,
                key_filename=self.key_filename,
                look_for_keys=self.key_filename is None,
                allow_agent=False,
                timeout=self.timeout,
                banner_timeout=self.timeout,
                auth_timeout=self.timeout,
            )
            transport = client.get_transport()
            if transport is not None and self.keepalive:
                transport.set_keepalive(self.keepalive)
            return client
        except paramiko.BadHostKeyException as e:
            client.close()
            raise HostKeyMismatch(
                f"SSH {self.where}: host key mismatch: the server offered "
                f"{fingerprint(e.key)}, but {fingerprint(e.expected_key)} is trusted "
                "(a changed server key, or someone in between); refusing to connect"
            ) from None
        except paramiko.SSHException as e:
            client.close()
            text = str(e)
            if "not found in known_hosts" in text:
                raise HostKeyMismatch(
                    f"SSH {self.where}: host key not in {self.known_hosts}; refusing to connect"
                ) from None
            if isinstance(e, paramiko.AuthenticationException):
                raise SSHAuthError(
                    f"SSH {self.where}: authentication failed "
                    f"(key {self.key_filename or 'from ~/.ssh'}): {text}"
                ) from None
            raise GerritSSHError(f"SSH {self.where}: {text or type(e).__name__}") from None
        except TimeoutError:
            client.close()
            raise GerritSSHError(f"SSH {self.where}: timed out after {self.timeout:g}s") from None
        except OSError as e:
            client.close()
            raise GerritSSHError(f"SSH {self.where}: unreachable: {e.strerror or e}") from None
        except GerritSSHError:
            client.close()
            raise

    def _shared(self) -> paramiko.SSHClient:
        with self._lock:
            transport = self._client.get_transport() if self._client else None
            if self._client is None or transport is None or not transport.is_active():
                if self._client is not None:
                    self._client.close()
                self._client = None
                self._client = self.connect()
            return self._client

    def _drop(self, client: paramiko.SSHClient) -> None:
        with self._lock:
            if self._client is client:
                self._client = None
        client.close()

    def run(
        self, command: str, *, stdin: str | bytes | None = None, timeout: float | None = None
    ) -> str:
        """Run ``command``; return its whole standard output.  A non-zero exit
        status raises ``GerritSSHError`` (``refused``) with Gerrit's message."""
        timeout = self.timeout if timeout is None else timeout
        verb = " ".join(command.split()[:2])
        for attempt in (1, 2):
            client = self._shared()
            try:
                channel = client.get_transport().open_session(timeout=timeout)
                break
            except (paramiko.SSHException, OSError, EOFError, AttributeError) as e:
                # The shared connection died since its last use: reconnect once.
                self._drop(client)
                if attempt == 2:
                    raise GerritSSHError(
                        f"SSH {self.where}: {verb}: {e or type(e).__name__}"
                    ) from None
        try:
            channel.settimeout(timeout)
            channel.exec_command(command)
            if stdin is not None:
                channel.sendall(stdin.encode("utf-8") if isinstance(stdin, str) else stdin)
            channel.shutdown_write()
            out = _read_all(channel, channel.recv)
            err = _read_all(channel, channel.recv_stderr)
            status = channel.recv_exit_status()
        except TimeoutError:
            channel.close()
            raise GerritSSHError(
                f"SSH {self.where}: {verb}: timed out after {timeout:g}s"
            ) from None
        except (paramiko.SSHException, OSError, EOFError) as e:
            channel.close()
            raise GerritSSHError(f"SSH {self.where}: {verb}: {e or type(e).__name__}") from None
        channel.close()
        if status != 0:
            message = " ".join(err.decode("utf-8", "replace").split())[:300]
            raise GerritSSHError(
                f"SSH {self.where}: {verb}: exit status {status}"
                + (f": {message}" if message else ""),
                refused=True,
            )
        return out.decode("utf-8", "replace")

    def open_stream(self, command: str) -> SSHStream:
        """Start ``command`` on a connection of its own (closing the stream closes it)."""
        client = self.connect()
        try:
            transport = client.get_transport()
            assert transport is not None
            channel = transport.open_session(timeout=self.timeout)
            channel.exec_command(command)
        except (paramiko.SSHException, OSError, EOFError) as e:
            client.close()
            raise GerritSSHError(f"SSH {self.where}: {command}: {e or type(e).__name__}") from None
        return SSHStream(client, channel, command)

    def close(self) -> None:
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()


def _read_all(channel: paramiko.Channel, recv: Callable[[int], bytes]) -> bytes:
    chunks: list[bytes] = []
    while True:
        chunk = recv(65536)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
