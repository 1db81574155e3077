"""Following a running build's console on a real executor (ZooKeeper, Ansible).

The executor registers the build's console stream in ZooKeeper when the
build starts; a follower that connects there gets the console from its
first line, live, and the build's result when it ends; the registration
goes with the build.
"""

from __future__ import annotations

from lockgate.console_stream import FrameKind, encode_request
from lockgate.executor.server import Executor
from lockgate.zk import BuildRequestStore, list_components
from lockgate.zk.streams import find_stream

from tests.fixtures.console import Follower
from tests.fixtures.executor import make_config, make_request, playbooks
from tests.fixtures.waiting import wait_for

SLOW = """
- hosts: all
  gather_facts: false
  tasks:
    - command: echo CONSOLE-MARKER
    - command: sleep 3603
"""


def test_a_running_build_is_followed_until_it_ends(zk_client, upstream, tmp_path):
    ex = Executor(make_config(tmp_path), client=zk_client)
    ex.start()
    try:
        tree = upstream.create("org/app", {"run.yaml": SLOW})
        request = make_request(tree, run=playbooks(tree, ["run.yaml"]))
        BuildRequestStore(zk_client, "default").submit(request)
        location = wait_for(
            lambda: find_stream(zk_client, request.uuid), 60, "the stream registration"
        )
        assert (location.tenant, location.host, location.port) == (
            "example",
            "127.0.0.1",
            ex.console.port,
        )
        [info] = list_components(zk_client, "executor")
        assert info.state["console_stream"] == f"127.0.0.1:{ex.console.port}"
        followers = [
            Follower(location.host, location.port, encode_request(request.uuid)) for _ in range(3)
        ]
        for follower in followers:
            follower.until("TASK [command]")
        followers[0].until("localhost | CONSOLE-MARKER")
        followers[2].close()  # a follower leaving changes nothing for the build
        assert ex.cancel(request.uuid)
        for follower in followers[:2]:
            end = follower.to_end()
            assert end.kind is FrameKind.END and end.text == "build ended: ABORTED"
            assert b"CONSOLE-MARKER" in follower.data
            follower.close()
        wait_for(lambda: find_stream(zk_client, request.uuid) is None, 10, "the registration to go")
    finally:
        ex.stop()
