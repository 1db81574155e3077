"""A job on a node of the launcher's ``local`` provider (its own network
namespace and filesystem view, reached over SSH), as ``lockgate up`` runs it."""

from __future__ import annotations

import json

from lockgate.executor.runner import JobRunner
from lockgate.model.builds import BuildResult
from lockgate.model.jobs import NodeSpec

from tests.fixtures.executor import make_request, make_settings, playbooks

RUN = """
- hosts: all
  gather_facts: false
  tasks:
    - command: echo LOCAL-NODE-MARKER
    - name: try to write to the executor's state
      shell: "echo x > {state}/from-node"
      register: escape
      failed_when: false
    - copy:
        content: "{{{{ escape.rc }}}}"
        dest: "{{{{ zuul.executor.log_root }}}}/escape-rc"
      delegate_to: localhost
"""


def test_job_on_a_local_provider_node(local_provider, ssh_keypair, upstream, tmp_path):
    provider = local_provider()
    node = provider.create_node("debian")
    try:
        settings = make_settings(tmp_path, private_key_file=str(ssh_keypair.private))
        tree = upstream.create("org/app", {"run.yaml": RUN.format(state=settings.state_dir)})
        request = make_request(
            tree, run=playbooks(tree, ["run.yaml"]), nodes=[NodeSpec(name=["node"], label="debian")]
        )
        outcome = JobRunner(settings).run(request, [node])
        logs = settings.log_root / request.uuid
        console = (logs / "job-output.txt").read_text()
        assert outcome.result is BuildResult.SUCCESS, console
        assert "| node | LOCAL-NODE-MARKER" in console
        # The node sees its own filesystem, not the executor's.
        assert json.loads((logs / "escape-rc").read_text()) != 0
        assert not (settings.state_dir / "from-node").exists()
    finally:
        provider.delete_node(node)
