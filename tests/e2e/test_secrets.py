"""End to end: a secret used by a trusted post-run playbook of a parent job,
the shape of OpenDev's ``base`` job, with every component a process.

The secret is made the way a user makes one: ``lockgate encrypt`` fetches
the config project's public key from the web (the key made by the
scheduler's background generator, or by the web on that request), and the
stanza is pushed to the config project.  A job of an untrusted project
inherits the parent; its own playbook looks for the secret in its
variables, on its node and on the executor side (the build directory, /tmp,
HOME, every process), and finds nothing; the trusted post-run playbook gets
it, and the console shows it masked.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator

import pytest
from lockgate.up import seed

from tests.fixtures.system import TENANT, LockgateSystem
from tests.fixtures.waiting import wait_for

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the local cloud needs root")

TOKEN = "e2e-token-" + uuid.uuid4().hex
HALF = len(TOKEN) // 2

# The trusted "log upload" of the parent: proves it has the secret without
# writing it, and prints it (the console must mask it).
UPLOAD = """- hosts: localhost
  gather_facts: false
  tasks:
    - name: Upload the logs (with the secret)
      copy:
        content: "{{ {'token_sha1': upload_creds.token | hash('sha1'),
                      'user': upload_creds.user} | to_json }}"
        dest: "{{ zuul.executor.log_root }}/uploaded.json"
    - debug:
        msg: "uploading with {{ upload_creds.token }}"
"""

# The untrusted job's playbook.  The token's halves are joined only inside
# grep's pattern list, so no file, command line or environment holds it.
SNOOP = r"""- hosts: all
  gather_facts: false
  tasks:
    - name: Look for the secret on the node
      shell: |
        needle() { printf '%s%s\n' "@A@" "@B@"; }
        files=$(grep -rlsF -f <(needle) "$HOME" /tmp /var/tmp 2>/dev/null | wc -l)
        procs=$(cat /proc/[0-9]*/environ /proc/[0-9]*/cmdline 2>/dev/null | tr '\0' '\n' | grep -cF -f <(needle) || true)
        echo "$files $procs"
      args:
        executable: /bin/bash
      register: node
    - name: Look for the secret through the executor
      delegate_to: localhost
      shell: |
        needle() { printf '%s%s\n' "@A@" "@B@"; }
        files=$(grep -rlsF -f <(needle) {{ zuul.executor.work_root }}/.. /tmp "$HOME" 2>/dev/null | wc -l)
        procs=$(cat /proc/[0-9]*/environ /proc/[0-9]*/cmdline 2>/dev/null | tr '\0' '\n' | grep -cF -f <(needle) || true)
        echo "$files $procs"
      args:
        executable: /bin/bash
      register: executor
    - name: Record what was found
      delegate_to: localhost
      run_once: true
      copy:
        content: "{{ {'var': upload_creds | default('none'),
                      'node': node.stdout.split(),
                      'executor': executor.stdout.split()} | to_json }}"
        dest: "{{ zuul.executor.log_root }}/snoop.json"
""".replace("@A@", TOKEN[:HALF]).replace("@B@", TOKEN[HALF:])

APP_ZUUL = """- job:
    name: uses-parent-secret
    parent: e2e-upload-base
    run: playbooks/snoop.yaml

- project:
    post:
      jobs: [uses-parent-secret]
"""

PARENT = """
- job:
    name: e2e-upload-base
    parent: base
    post-run: playbooks/e2e/upload.yaml
    secrets:
      - name: upload_creds
        secret: e2e-upload
"""


@pytest.fixture(scope="module")
def lockgate(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LockgateSystem]:
    projects: dict[str, dict[str, str | bytes]] = {"e2e/secrets": {"README": "secrets\n"}}
    system = LockgateSystem(tmp_path_factory.mktemp("lockgate-e2e-secrets"), projects)
    try:
        system.start()
        yield system
    finally:
        system.stop()


def lockgate_encrypt(system: LockgateSystem, project: str, value: str) -> str:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "lockgate.cli",
            "encrypt",
            "--url",
            system.web_url,
            "--tenant",
            TENANT,
            "--project",
            project,
            "--secret-name",
            "e2e-upload",
            "--field-name",
            "token",
        ],
        input=value,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_parent_post_run_gets_the_secret_and_nothing_else_does(lockgate: LockgateSystem) -> None:
    stanza = lockgate_encrypt(lockgate, seed.CONFIG_PROJECT, TOKEN)
    assert TOKEN not in stanza
    lockgate.push(
        seed.CONFIG_PROJECT,
        {
            "zuul.d/e2e-secrets.yaml": stanza + "      user: uploader\n" + PARENT,
            "playbooks/e2e/upload.yaml": UPLOAD,
        },
        message="A parent job whose post-run uses a secret",
    )

    def parent_loaded() -> bool:
        errors = lockgate.api(f"/api/tenant/{TENANT}/config-errors")
        assert not [e for e in errors if "e2e" in json.dumps(e)], errors
        jobs = lockgate.api(f"/api/tenant/{TENANT}/jobs")
        return any(j["name"] == "e2e-upload-base" for j in jobs)

    wait_for(parent_loaded, timeout=60, what="the config project's new job")
    newrev = lockgate.push(
        "e2e/secrets",
        {".zuul.yaml": APP_ZUUL, "playbooks/snoop.yaml": SNOOP},
        message="A job inheriting the secret's parent",
    )
    build = lockgate.wait_for_build(newrev, "uses-parent-secret")
    assert build["result"] == "SUCCESS", build
    logs = build["log_url"]
    uploaded = json.loads(lockgate.get_text(logs + "uploaded.json"))
    assert uploaded == {"token_sha1": hashlib.sha1(TOKEN.encode()).hexdigest(), "user": "uploader"}
    snoop = json.loads(lockgate.get_text(logs + "snoop.json"))
    assert snoop == {"var": "none", "node": ["0", "0"], "executor": ["0", "0"]}
    output = lockgate.get_text(logs + "job-output.txt")
    assert "uploading with *****" in output
    assert TOKEN not in output
    assert TOKEN not in lockgate.get_text(logs + "job-output.json")
    assert TOKEN not in lockgate.get_text(logs + "zuul-info/inventory.yaml")
