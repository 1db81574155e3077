"""What ``lockgate up`` needs from the machine, checked before anything starts.

A missing piece is reported with the Debian package that provides it, so a
user on a fresh machine knows the one command that fixes it.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

ZOOKEEPER_JAR = Path("/usr/share/java/zookeeper.jar")


def ansible_playbook() -> str | None:
    """The ``ansible-playbook`` next to this Python (the virtualenv's), else PATH's."""
    beside = Path(sys.executable).parent / "ansible-playbook"
    return str(beside) if beside.exists() else shutil.which("ansible-playbook")


def missing() -> list[str]:
    """One line per missing prerequisite (empty when all is there)."""
    problems: list[str] = []
    checks = [
        (shutil.which("java"), "java (apt-get install default-jre-headless)"),
        (ZOOKEEPER_JAR.exists(), f"{ZOOKEEPER_JAR} (apt-get install zookeeper)"),
        (shutil.which("bwrap"), "bwrap (apt-get install bubblewrap)"),
        (Path("/usr/sbin/sshd").exists(), "/usr/sbin/sshd (apt-get install openssh-server)"),
        (shutil.which("ssh-keygen"), "ssh-keygen (apt-get install openssh-client)"),
        (shutil.which("ip"), "ip (apt-get install iproute2)"),
        (shutil.which("nft"), "nft (apt-get install nftables)"),
        (shutil.which("nsenter"), "nsenter (apt-get install util-linux)"),
        (Path("/usr/bin/python3").exists(), "/usr/bin/python3 for nodes (apt-get install python3)"),
        (shutil.which("git"), "git (apt-get install git)"),
        (shutil.which("openssl"), "openssl (apt-get install openssl)"),
        (ansible_playbook(), "ansible-playbook (pip install ansible-core)"),
    ]
    for ok, what in checks:
        if not ok:
            problems.append(f"missing {what}")
    if os.geteuid() != 0:
        problems.append("the local cloud creates network namespaces: run as root")
    return problems
