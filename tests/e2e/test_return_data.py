"""End to end: what a job returns reaches the jobs after it, and a paused job
waits for its child.  Every component its own process (``lockgate up``'s
``System``), real ZooKeeper, real ``ansible-playbook`` on local nodes, SQLite.

- ``provider`` returns a variable and an artifact with ``zuul_return``;
  ``consumer`` (which depends on it) sees both, and its playbook uses a role
  from its own repository's ``roles/`` (the implicit role) and one from
  another repository named in ``roles:``.  The artifact is in the builds
  API, and the build's inventory is published under ``zuul-info/``.
- ``server`` pauses after its run playbook; ``client`` runs meanwhile with
  the server's returned data; then ``server`` resumes, runs its post-run
  playbook and finishes after the client.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import yaml

from tests.fixtures.system import LockgateSystem

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the local cloud needs root")


def play(*tasks: str, roles: str = "") -> str:
    return "- hosts: all\n  gather_facts: false\n" + roles + "  tasks:\n" + "".join(tasks)


RETURNS_ZUUL_YAML = """
- job:
    name: provider
    run: playbooks/provide.yaml
- job:
    name: consumer
    run: playbooks/consume.yaml
    roles:
      - zuul: e2e/shared-roles
- project:
    post:
      jobs:
        - provider
        - consumer:
            dependencies: [provider]
"""

PROVIDE = play(
    "    - zuul_return:\n"
    "        data:\n"
    '          image_tag: "tag-{{ zuul.newrev[:8] }}"\n'
    "          zuul:\n"
    "            artifacts:\n"
    "              - name: image\n"
    '                url: "https://registry.example/app:{{ zuul.newrev[:8] }}"\n'
    "                metadata: {type: container_image}\n"
)

CONSUME = play(
    "    - name: Show what the parent returned\n"
    "      ansible.builtin.command: >-\n"
    "        echo CONSUMED-{{ image_tag }}-{{ zuul.artifacts[0].name }}"
    "-{{ zuul.artifacts[0].job }}-{{ zuul.artifacts[0].url }}\n",
    roles="  roles:\n    - own-role\n    - shared-role\n",
)


def role(marker: str) -> str:
    return f"- ansible.builtin.command: echo {marker}\n"


PAUSE_ZUUL_YAML = """
- job:
    name: server
    run: playbooks/server.yaml
    post-run: playbooks/server-post.yaml
- job:
    name: client
    run: playbooks/client.yaml
- project:
    post:
      jobs:
        - server
        - client:
            dependencies: [server]
"""

SERVER = play(
    "    - zuul_return:\n"
    '        data: {zuul: {pause: true}, server_address: "server-{{ zuul.build[:8] }}"}\n'
)
SERVER_POST = play("    - ansible.builtin.command: echo SERVER-POST-RUN\n")
CLIENT = play("    - ansible.builtin.command: echo CLIENT-SAW-{{ server_address }}\n")

PROJECTS: dict[str, dict[str, str | bytes]] = {
    "e2e/returns": {
        ".zuul.yaml": RETURNS_ZUUL_YAML,
        "playbooks/provide.yaml": PROVIDE,
        "playbooks/consume.yaml": CONSUME,
        "roles/own-role/tasks/main.yaml": role("OWN-ROLE-RAN"),
    },
    "e2e/shared-roles": {"roles/shared-role/tasks/main.yaml": role("SHARED-ROLE-RAN")},
    "e2e/pause": {
        ".zuul.yaml": PAUSE_ZUUL_YAML,
        "playbooks/server.yaml": SERVER,
        "playbooks/server-post.yaml": SERVER_POST,
        "playbooks/client.yaml": CLIENT,
    },
}


@pytest.fixture(scope="module")
def lockgate(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LockgateSystem]:
    system = LockgateSystem(tmp_path_factory.mktemp("lockgate-e2e-returns"), PROJECTS)
    try:
        system.start()
        yield system
    finally:
        system.stop()


def test_returned_data_and_artifacts_reach_the_child_job(lockgate: LockgateSystem) -> None:
    newrev = lockgate.push("e2e/returns", message="Provide and consume")
    consumer = lockgate.wait_for_build(newrev, "consumer")
    assert consumer["result"] == "SUCCESS", consumer
    provider = lockgate.wait_for_build(newrev, "provider")
    assert provider["result"] == "SUCCESS", provider
    short = newrev[:8]
    output = lockgate.get_text(consumer["log_url"] + "job-output.txt")
    assert f"CONSUMED-tag-{short}-image-provider-https://registry.example/app:{short}" in output
    # The playbook's own repository's role (implicit) and another's (roles:).
    assert "OWN-ROLE-RAN" in output and "SHARED-ROLE-RAN" in output
    # The provider's artifact is recorded with its build.
    assert provider["artifacts"] == [
        {
            "name": "image",
            "url": f"https://registry.example/app:{short}",
            "metadata": {"type": "container_image"},
        }
    ]
    # The consumer's inventory, published with its logs, carries the
    # returned variable and the zuul variables.
    inventory = yaml.safe_load(lockgate.get_text(consumer["log_url"] + "zuul-info/inventory.yaml"))
    assert inventory["all"]["vars"]["image_tag"] == f"tag-{short}"
    assert inventory["all"]["vars"]["zuul"]["job"] == "consumer"


def test_a_paused_job_lets_its_child_run_then_finishes(lockgate: LockgateSystem) -> None:
    newrev = lockgate.push("e2e/pause", message="Pause for the client")
    client = lockgate.wait_for_build(newrev, "client")
    server = lockgate.wait_for_build(newrev, "server")
    assert client["result"] == "SUCCESS", client
    assert server["result"] == "SUCCESS", server
    assert f"CLIENT-SAW-server-{server['uuid'][:8]}" in lockgate.get_text(
        client["log_url"] + "job-output.txt"
    )
    console = lockgate.get_text(server["log_url"] + "job-output.txt")
    assert (
        console.index("Job paused")
        < console.index("Job resumed")
        < console.index("SERVER-POST-RUN")
    )
    # The server started before the client and ended after it.
    assert server["start_time"] < client["start_time"]
    assert server["end_time"] >= client["end_time"]
