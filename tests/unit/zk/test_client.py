"""ZKClient: connecting, clear errors, chroot isolation, session callbacks."""

from __future__ import annotations

import logging
import os
import threading
import uuid

import pytest
from kazoo.retry import InterruptedError as RetryInterrupted
from lockgate.zk.certs import make_tls
from lockgate.zk.client import ZKClient, client_from_config
from lockgate.zk.errors import ZKConnectionError
from lockgate.zk.queues import trigger_queue
from lockgate.zk.server import free_port

from tests.fixtures.waiting import wait_for
from tests.fixtures.zk import expire_session


def test_unreachable_zookeeper_is_a_clear_error():
    port = free_port()
    client = ZKClient(f"127.0.0.1:{port}")
    with pytest.raises(ZKConnectionError, match=rf"cannot reach ZooKeeper at 127.0.0.1:{port}"):
        client.connect(timeout=1.0)
    assert not client.connected


def test_untrusted_server_certificate_is_a_clear_error(zk_server, tmp_path):
    other = make_tls(tmp_path / "other-ca")
    client = ZKClient(
        zk_server.server.hosts,
        tls_ca=str(other.client.ca),
        tls_cert=str(other.client.cert),
        tls_key=str(other.client.key),
    )
    with pytest.raises(ZKConnectionError, match="cannot reach ZooKeeper at 127.0.0.1"):
        client.connect(timeout=2.0)


def test_partial_tls_settings_are_refused():
    with pytest.raises(ZKConnectionError, match="all three"):
        ZKClient("127.0.0.1:1", tls_ca="/ca.pem")


def test_missing_certificate_file_is_a_clear_error(zk_server, tmp_path):
    client = ZKClient(
        zk_server.server.hosts,
        tls_ca=str(tmp_path / "nope.pem"),
        tls_cert=str(zk_server.tls.client.cert),
        tls_key=str(zk_server.tls.client.key),
    )
    with pytest.raises(ZKConnectionError, match="cannot reach ZooKeeper"):
        client.connect(timeout=2.0)


def test_chroots_isolate_clients(zk_server):
    a = zk_server.client(f"/iso-a-{uuid.uuid4().hex}")
    b = zk_server.client(f"/iso-b-{uuid.uuid4().hex}")
    a.connect()
    b.connect()
    try:
        trigger_queue(a, "t").put({"n": 1})
        assert len(trigger_queue(a, "t")) == 1
        assert len(trigger_queue(b, "t")) == 0
    finally:
        for c in (a, b):
            c.disconnect()


def test_session_loss_runs_callbacks_then_reconnects(zk_server, zk_client):
    lost = threading.Event()
    back = threading.Event()
    zk_client.on_session_lost(lost.set)
    zk_client.on_reconnect(back.set)
    before = zk_client.session_id
    expire_session(zk_server, zk_client)
    wait_for(lost.is_set, 20, "session lost callback")
    wait_for(back.is_set, 20, "reconnect callback")
    assert zk_client.connected
    assert zk_client.session_id != before
    # And it works in the new session.
    assert trigger_queue(zk_client, "t").put({"after": True})


def test_keep_ephemeral_restores_node_in_new_session(zk_server, zk_client, zk_connect):
    observer = zk_connect()
    path = "/".join(["", "eph-test", "node"])  # not a /lockgate path: a client feature
    zk_client.keep_ephemeral(path, lambda: b"hello")
    assert observer.kazoo.get(path)[0] == b"hello"
    expire_session(zk_server, zk_client)
    wait_for(
        lambda: (
            (stat := observer.kazoo.exists(path)) is not None
            and stat.ephemeralOwner == zk_client.session_id
        ),
        20,
        "ephemeral restored in new session",
    )
    zk_client.forget_ephemeral(path)
    assert observer.kazoo.exists(path) is None


def test_client_from_config_section(zk_server):
    chroot = f"/from-config-{uuid.uuid4().hex}"
    tls = zk_server.tls.client
    client = client_from_config(
        {
            "hosts": zk_server.server.hosts,
            "tls_ca": str(tls.ca),
            "tls_cert": str(tls.cert),
            "tls_key": str(tls.key),
            "session_timeout": "5",
            "chroot": chroot,
        }
    )
    assert client.session_timeout == 5.0 and client.chroot == chroot
    client.connect()
    try:
        assert client.connected
    finally:
        client.disconnect()
    with pytest.raises(ZKConnectionError, match="hosts is required"):
        client_from_config({})
    for bad in ("soon", "0", "-5"):
        with pytest.raises(ZKConnectionError, match="session_timeout must be a positive number"):
            client_from_config({"hosts": "h:1", "session_timeout": bad})


def test_client_from_config_expands_home_in_tls_paths():
    """Every component reads ``[zookeeper]`` through this one factory; ``~``
    in the TLS paths is the home directory (as the web's own factory did)."""
    client = client_from_config(
        {"hosts": "h:1", "tls_ca": "~/ca.pem", "tls_cert": "~/c.pem", "tls_key": "/k.pem"}
    )
    home = os.path.expanduser("~")
    assert client._tls == (f"{home}/ca.pem", f"{home}/c.pem", "/k.pem")
    assert client.session_timeout == 10.0 and client.chroot is None


def test_a_watch_interrupted_by_stopping_is_not_an_error(caplog):
    # What kazoo's worker thread logs when a ChildrenWatch fires while the
    # process stops (its read's retry interrupted by begin_shutdown).
    kazoo_log = logging.getLogger("kazoo.handlers.threading")
    with caplog.at_level(logging.DEBUG):
        try:
            raise RetryInterrupted()
        except RetryInterrupted:
            kazoo_log.exception("Exception in worker queue thread")
        try:
            raise ValueError("a real fault")
        except ValueError:
            kazoo_log.exception("Exception in worker queue thread")
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert [r.exc_info[1].args for r in errors] == [("a real fault",)]
    assert any("ended as the process stopped" in r.getMessage() for r in caplog.records)
