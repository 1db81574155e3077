"""The demo tenant of ``lockgate up``: one untrusted project with one job.

A push to any branch of ``demo/hello`` runs the ``hello`` job in the ``post``
pipeline on a node of the local cloud; its playbook prints a greeting that
shows up in the build's ``job-output.txt``.
"""

from __future__ import annotations

import yaml

ZUUL_YAML = """\
- job:
    name: hello
    description: Says hello from a node of the local cloud.
    run: playbooks/hello.yaml

- project:
    post:
      jobs:
        - hello
"""

HELLO_PLAYBOOK = """\
- hosts: all
  gather_facts: false
  tasks:
    - name: Say hello
      ansible.builtin.command: >-
        echo "Hello from {{ inventory_hostname }}, testing {{ zuul.project.name }}
        at {{ zuul.newrev }}"

    - name: Show the source the job was given
      ansible.builtin.command: git -C {{ zuul.project.src_dir }} log -1 --format=%H
"""

README = """\
# demo/hello

Lockgate's demo project.  Commit and push (`git push origin HEAD:main`) and
the `hello` job runs in the `post` pipeline.
"""

FILES: dict[str, str | bytes] = {
    ".zuul.yaml": ZUUL_YAML,
    "playbooks/hello.yaml": HELLO_PLAYBOOK,
    "README.md": README,
}


def tenant_config(
    *, tenant: str, connection: str, config_projects: list[str], untrusted_projects: list[str]
) -> str:
    return yaml.safe_dump(
        [
            {
                "tenant": {
                    "name": tenant,
                    "source": {
                        connection: {
                            "config-projects": [
                                {name: {"load-branch": "main"}} for name in config_projects
                            ],
                            "untrusted-projects": list(untrusted_projects),
                        },
                    },
                },
            }
        ],
        sort_keys=False,
    )
