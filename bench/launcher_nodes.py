"""How fast the local provider makes and deletes nodes (prints figures).

Run as root: ``/opt/lgvenv/bin/python bench/launcher_nodes.py [-n 20]``.
For each of N rounds: create a node (namespace, veth, bubblewrap, sshd,
until sshd greets), log in over SSH once, delete it.  Then N nodes at once,
to see the cost with neighbours.  Then, through a real ZooKeeper and a
``Launcher``: node request submitted -> FULFILLED, and node set USED -> its
record deleted.  Everything is removed at the end.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from lockgate.launcher.providers.local import LocalProvider
from lockgate.launcher.server import Launcher
from lockgate.model.nodes import NodeRequest, NodeRequestState, NodeState
from lockgate.service_config import Section, ServiceConfig
from lockgate.zk import NodeRequestStore, NodeStore, ZKClient
from lockgate.zk.server import ZooKeeperServer


def wait(predicate, timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit("timed out")
        time.sleep(0.002)


def through_zookeeper(tmp: Path, pubkey: Path, rounds: int) -> tuple[list[float], list[float]]:
    server = ZooKeeperServer(tmp / "zk", force_sync=False)
    server.start()
    client = ZKClient(server.hosts)
    launcher = None
    try:
        client.connect()
        config = ServiceConfig.parse(
            f"[launcher]\nstate_dir = {tmp}/launcher\n[provider local]\ndriver = local\n"
            f"labels = debian\nauthorized_keys = {pubkey}\n",
            "<bench>",
        )
        launcher = Launcher(config, client=client)
        launcher.start()
        requests, nodes = NodeRequestStore(client), NodeStore(client)
        fulfil, delete = [], []
        for _ in range(rounds):
            request = NodeRequest(["debian"], "bench", "check", "bs", "job", "evt")
            t0 = time.monotonic()
            requests.submit(request)
            wait(lambda: requests.get(request.id).record.state is NodeRequestState.FULFILLED)  # noqa: B023
            fulfil.append(time.monotonic() - t0)
            node_id = requests.get(request.id).record.node_ids[0]
            found = nodes.get(node_id)
            found.record.state = NodeState.USED
            t0 = time.monotonic()
            nodes.update(found.record, found.version)
            wait(lambda: nodes.get(node_id) is None)  # noqa: B023
            delete.append(time.monotonic() - t0)
            requests.delete(request.id)
        return fulfil, delete
    finally:
        if launcher is not None:
            launcher.stop()
        client.disconnect()
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", type=int, default=20, help="rounds (default 20)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="lockgate-bench-") as tmp:
        key = Path(tmp) / "id"
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
        section = Section(
            "<bench>",
            "provider bench",
            {"driver": "local", "labels": "debian", "authorized_keys": f"{key}.pub",
             "max_servers": str(args.n)},
        )  # fmt: skip
        provider = LocalProvider(section, Path(tmp) / "state")
        creates, logins, deletes = [], [], []
        try:
            for _ in range(args.n):
                t0 = time.monotonic()
                node = provider.create_node("debian")
                t1 = time.monotonic()
                subprocess.run(
                    ["ssh", "-i", str(key), "-o", "StrictHostKeyChecking=no",
                     "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=error",
                     f"root@{node.interface_ip}", "true"],
                    check=True,
                )  # fmt: skip
                t2 = time.monotonic()
                provider.delete_node(node)
                t3 = time.monotonic()
                creates.append(t1 - t0)
                logins.append(t2 - t1)
                deletes.append(t3 - t2)
            t0 = time.monotonic()
            nodes = [provider.create_node("debian") for _ in range(args.n)]
            t1 = time.monotonic()
            for node in nodes:
                provider.delete_node(node)
            t2 = time.monotonic()
        finally:
            provider.cleanup_leaked([])
        fulfil, delete = through_zookeeper(Path(tmp), Path(f"{key}.pub"), args.n)
    ms = lambda xs: f"median {statistics.median(xs) * 1000:.0f} ms, max {max(xs) * 1000:.0f} ms"  # noqa: E731
    print(f"local node create (until sshd greets): {ms(creates)}")
    print(f"first SSH login + 'true':              {ms(logins)}")
    print(f"local node delete:                     {ms(deletes)}")
    print(f"{args.n} nodes side by side: create all {t1 - t0:.2f}s, delete all {t2 - t1:.2f}s")
    print(f"request submitted -> FULFILLED:       {ms(fulfil)}")
    print(f"node set USED -> record deleted:      {ms(delete)}")


if __name__ == "__main__":
    main()
