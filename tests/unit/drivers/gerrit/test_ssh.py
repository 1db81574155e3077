"""SSH client errors that need no server: they name the server and the file."""

from __future__ import annotations

import socket

import pytest
from lockgate.drivers.gerrit.ssh import GerritSSH, GerritSSHError


def test_unreadable_known_hosts_is_named(tmp_path):
    ssh = GerritSSH("127.0.0.1", 29418, "zuul", known_hosts=str(tmp_path / "missing"))
    with pytest.raises(
        GerritSSHError, match=r"zuul@127.0.0.1:29418: cannot read known_hosts .*missing"
    ):
        ssh.run("gerrit version")


def test_refused_connection_says_unreachable(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, not listening: connections are refused
        ssh = GerritSSH("127.0.0.1", port, "zuul", timeout=2)
        with pytest.raises(GerritSSHError, match=f"zuul@127.0.0.1:{port}: unreachable"):
            ssh.run("gerrit version")
