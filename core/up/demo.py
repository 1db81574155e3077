"""The demo tenant of ``lockgate up``: a project on a plain git server and
one under review.

A push to any branch of ``demo/hello`` (the ``local`` git connection) runs
the ``hello`` job in the ``post`` pipeline on a node of the local cloud; its
playbook prints a greeting that shows up in the build's ``job-output.txt``.

``demo/gated`` lives in ``lockgate up``'s Gerrit (``lockgate.up.review``): a
change proposed there runs ``gated-hello`` in ``check`` (Verified +1 or -1);
approved (Code-Review +2, Workflow +1), it runs again in ``gate`` and is
merged by Lockgate.
"""

from __future__ import annotations

from typing import Any

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

GATED_ZUUL_YAML = """\
- job:
    name: gated-hello
    description: Tests a proposed change of demo/gated as it will merge.
    run: playbooks/gated-hello.yaml

- project:
    check:
      jobs:
        - gated-hello
    gate:
      jobs:
        - gated-hello
"""

GATED_PLAYBOOK = """\
- hosts: all
  gather_facts: false
  tasks:
    - name: Say which change is tested
      ansible.builtin.command: >-
        echo "Testing change {{ zuul.change }},{{ zuul.patchset }} of
        {{ zuul.project.name }} as it will merge"

    - name: Show the speculative state (the change merged onto its branch)
      ansible.builtin.command: git -C {{ zuul.project.src_dir }} log --oneline -3
"""

GATED_README = """\
# demo/gated

Lockgate's gated demo project, in the Gerrit of `lockgate up`.  Propose a
change with `git push origin HEAD:refs/for/main`: `check` votes Verified on
it; approve it (Code-Review +2, Workflow +1) and `gate` tests it again and
merges it.
"""

GATED_FILES: dict[str, str | bytes] = {
    ".zuul.yaml": GATED_ZUUL_YAML,
    "playbooks/gated-hello.yaml": GATED_PLAYBOOK,
    "README.md": GATED_README,
}


def tenant_config(
    *,
    tenant: str,
    connection: str,
    config_projects: list[str],
    untrusted_projects: list[str],
    review_connection: str | None = None,
    review_projects: list[str] | None = None,
    extra_sources: dict[str, list[str]] | None = None,
    admin_user: str | None = None,
) -> str:
    """``extra_sources``: more connections' untrusted projects (connection ->
    projects; tests add a GitHub's); ``admin_user``: the token subject the
    tenant's admin rule accepts (admin actions: enqueue, dequeue, promote,
    autohold)."""
    sources: dict[str, dict[str, list[Any]]] = {
        connection: {
            "config-projects": [{name: {"load-branch": "main"}} for name in config_projects],
            "untrusted-projects": list(untrusted_projects),
        },
    }
    if review_connection and review_projects:
        sources[review_connection] = {"untrusted-projects": list(review_projects)}
    for name, projects in (extra_sources or {}).items():
        sources[name] = {"untrusted-projects": list(projects)}
    body: dict[str, object] = {"name": tenant, "source": sources}
    objects: list[dict[str, object]] = []
    if admin_user:
        rule = f"{tenant}-admins"
        objects.append({"authorization-rule": {"name": rule, "conditions": [{"sub": admin_user}]}})
        body = {"name": tenant, "admin-rules": [rule], "source": sources}
    objects.append({"tenant": body})
    return yaml.safe_dump(objects, sort_keys=False)
