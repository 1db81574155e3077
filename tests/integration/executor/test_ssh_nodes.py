"""Jobs on a node reached over SSH (a plain sshd on loopback), through the
per-build ssh-agent, with host keys checked."""

from __future__ import annotations

import dataclasses

from lockgate.executor.runner import JobRunner
from lockgate.model.builds import BuildResult
from lockgate.model.jobs import NodeSpec

from tests.fixtures.executor import make_request, make_settings, playbooks

RUN = """
- hosts: all
  gather_facts: false
  tasks:
    - name: on the node
      command: echo SSH-MARKER-{{ inventory_hostname }}
    - name: in the sandbox on the executor
      command: echo LOCAL-MARKER
      delegate_to: localhost
"""


def test_job_on_an_ssh_node(upstream, sshd_node, tmp_path):
    settings = make_settings(tmp_path, private_key_file=str(sshd_node.key.private))
    tree = upstream.create("org/app", {"run.yaml": RUN})
    request = make_request(
        tree,
        run=playbooks(tree, ["run.yaml"]),
        nodes=[NodeSpec(name=["controller"], label="test-node")],
        groups=[{"name": "ctl", "nodes": ["controller"]}],
    )
    outcome = JobRunner(settings).run(request, [sshd_node.node])
    console = (settings.log_root / request.uuid / "job-output.txt").read_text()
    assert outcome.result is BuildResult.SUCCESS, console
    assert "| controller | SSH-MARKER-controller" in console
    assert "| controller | LOCAL-MARKER" in console
    # No ssh multiplexer of this build outlives it (another test run on the
    # machine may have its own: this build's carry its job dir in their
    # environment, under tmp_path).
    assert not _processes_with("[mux]", str(tmp_path))


def _processes_with(text: str, environment: str) -> list[str]:
    """ssh processes whose command line has ``text`` and whose environment
    mentions ``environment``."""
    import os

    found = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                cmd = open(f"/proc/{pid}/cmdline", "rb").read().replace(b"\0", b" ").decode()
                env = open(f"/proc/{pid}/environ", "rb").read().decode(errors="replace")
            except OSError:
                continue
            if text in cmd and "ssh" in cmd and environment in env:
                found.append(cmd)
    return found


def test_unreachable_node_asks_for_retry(upstream, sshd_node, tmp_path):
    settings = make_settings(tmp_path, private_key_file=str(sshd_node.key.private))
    tree = upstream.create("org/app", {"run.yaml": RUN})
    # A wrong host key makes the node unreachable (ssh refuses it).
    other = dataclasses.replace(
        sshd_node.node,
        host_keys=[
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"
        ],
    )
    for attempt, expected in ((1, BuildResult.RETRY), (3, BuildResult.RETRY_LIMIT)):
        request = make_request(
            tree,
            run=playbooks(tree, ["run.yaml"]),
            attempt=attempt,
            nodes=[NodeSpec(name=["controller"], label="test-node")],
        )
        outcome = JobRunner(settings).run(request, [other])
        assert outcome.result is expected, outcome
        assert "unreachable" in outcome.error_detail


def test_missing_private_key_is_an_error(upstream, sshd_node, tmp_path):
    settings = make_settings(tmp_path, private_key_file=str(tmp_path / "absent"))
    tree = upstream.create("org/app", {"run.yaml": RUN})
    request = make_request(
        tree,
        run=playbooks(tree, ["run.yaml"]),
        nodes=[NodeSpec(name=["controller"], label="test-node")],
    )
    outcome = JobRunner(settings).run(request, [sshd_node.node])
    assert outcome.result is BuildResult.ERROR
    assert "private_key_file" in outcome.error_detail


def test_node_count_mismatch_is_node_failure(upstream, tmp_path):
    settings = make_settings(tmp_path)
    tree = upstream.create("org/app", {"run.yaml": RUN})
    request = make_request(
        tree,
        run=playbooks(tree, ["run.yaml"]),
        nodes=[NodeSpec(name=["controller"], label="test-node")],
    )
    outcome = JobRunner(settings).run(request, [])
    assert outcome.result is BuildResult.NODE_FAILURE
    assert "needs 1 node" in outcome.error_detail
