"""What a job returns (``zuul_return``), pause, parent data, cleanup playbooks,
the published inventory and roles: real git, real ansible-playbook (sandboxed).
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
import yaml
from lockgate.executor.process import Abort
from lockgate.executor.result_data import BuildReturn
from lockgate.executor.runner import BuildOutcome, JobRunner
from lockgate.model.builds import BuildResult
from lockgate.model.jobs import PlaybookRef

from tests.fixtures.executor import make_request, make_settings, playbooks, repo_state
from tests.fixtures.waiting import wait_for

RETURN_TWICE = """
- hosts: localhost
  gather_facts: false
  tasks:
    - zuul_return:
        data:
          image: {name: app, tag: "1"}
          zuul:
            artifacts: [{name: docs, url: "docs/", metadata: {type: docs}}]
            warnings: ["first warning"]
            file_comments: {"README": [{line: 1, message: "one"}]}
    - copy:
        content: '{"from_file": true, "zuul": {"warnings": ["from a file"]}}'
        dest: "{{ zuul.executor.work_root }}/more.json"
    - zuul_return:
        file: "{{ zuul.executor.work_root }}/more.json"
        data:
          image: {tag: "2"}
          zuul:
            log_url: "https://logs.example/{{ zuul.build }}/"
            artifacts: [{name: wheel, url: "https://files.example/app.whl"}]
            warnings: ["second warning"]
            file_comments: {"README": [{line: 2, message: "two"}], "setup.py": [{line: 3, message: "x"}]}
        secret_data: {registry_password: "s3cr3t-Pa55"}
"""

BAD_ARTIFACT = """
- hosts: localhost
  gather_facts: false
  tasks:
    - zuul_return:
        data: {zuul: {artifacts: [{name: no-url}]}}
"""

# Records whether it ran, in the published log directory.
TOUCH = """
- hosts: localhost
  gather_facts: false
  tasks:
    - copy:
        content: "{{{{ zuul_success | default('unset') }}}}"
        dest: "{{{{ zuul.executor.log_root }}}}/ran-{name}"
"""
FAIL = """
- hosts: localhost
  gather_facts: false
  tasks:
    - command: /bin/false
"""


@pytest.fixture
def settings(tmp_path: Path):
    return make_settings(tmp_path)


def logs(settings, request) -> Path:
    return settings.log_root / request.uuid


def test_returned_data_merges_across_calls(upstream, settings):
    tree = upstream.create("org/app", {"run.yaml": RETURN_TWICE})
    request = make_request(tree, run=playbooks(tree, ["run.yaml"]))
    outcome = JobRunner(settings).run(request, [])
    assert outcome.result is BuildResult.SUCCESS, outcome
    data = outcome.returned.data
    assert data["image"] == {"name": "app", "tag": "2"}
    assert data["from_file"] is True
    zuul = data["zuul"]
    assert [a["name"] for a in zuul["artifacts"]] == ["docs", "wheel"]
    assert zuul["artifacts"][0]["metadata"] == {"type": "docs"}
    assert zuul["warnings"] == ["first warning", "from a file", "second warning"]
    assert zuul["file_comments"] == {
        "README": [{"line": 1, "message": "one"}, {"line": 2, "message": "two"}],
        "setup.py": [{"line": 3, "message": "x"}],
    }
    assert outcome.returned.log_url == f"https://logs.example/{request.uuid}/"
    assert outcome.returned.secret_data == {"registry_password": "s3cr3t-Pa55"}
    assert outcome.returned.warnings == ["first warning", "from a file", "second warning"]
    # The secret value is in no published file.
    for path in logs(settings, request).rglob("*"):
        if path.is_file():
            assert "s3cr3t-Pa55" not in path.read_text(errors="replace"), path


def test_malformed_artifacts_fail_the_task(upstream, settings):
    tree = upstream.create("org/app", {"run.yaml": BAD_ARTIFACT})
    request = make_request(tree, run=playbooks(tree, ["run.yaml"]))
    outcome = JobRunner(settings).run(request, [])
    assert outcome.result is BuildResult.FAILURE
    assert (
        "zuul.artifacts[0].url must be a string"
        in (logs(settings, request) / "job-output.txt").read_text()
    )
    assert outcome.returned.data == {}


def test_pause_waits_for_the_hook_then_runs_post(upstream, settings):
    tree = upstream.create(
        "org/app",
        {
            "run.yaml": "- hosts: localhost\n  gather_facts: false\n  tasks:\n"
            "    - zuul_return: {data: {zuul: {pause: true}, server: 10.0.0.5}}\n",
            "post.yaml": TOUCH.format(name="post"),
        },
    )
    request = make_request(
        tree, run=playbooks(tree, ["run.yaml"]), post=playbooks(tree, ["post.yaml"])
    )
    paused: list[BuildReturn] = []
    resume = threading.Event()

    def pause(returned: BuildReturn) -> None:
        paused.append(returned)
        resume.wait(60)

    outcomes: list[BuildOutcome] = []
    worker = threading.Thread(
        target=lambda: outcomes.append(JobRunner(settings).run(request, [], pause=pause))
    )
    worker.start()
    try:
        wait_for(lambda: paused, 60, "the job to pause")
        assert paused[0].data["server"] == "10.0.0.5"
        assert not (logs(settings, request) / "ran-post").exists(), "post-run waits for resume"
    finally:
        resume.set()
        worker.join(60)
    assert outcomes[0].result is BuildResult.SUCCESS
    assert (logs(settings, request) / "ran-post").read_text() == "True"
    console = (logs(settings, request) / "job-output.txt").read_text()
    assert console.index("Job paused") < console.index("Job resumed") < console.index("POST-RUN")


def test_abort_while_paused_runs_only_cleanup(upstream, settings):
    tree = upstream.create(
        "org/app",
        {
            "run.yaml": "- hosts: localhost\n  gather_facts: false\n  tasks:\n"
            "    - zuul_return: {data: {zuul: {pause: true}}}\n",
            "post.yaml": TOUCH.format(name="post"),
            "cleanup.yaml": TOUCH.format(name="cleanup"),
        },
    )
    request = make_request(
        tree,
        run=playbooks(tree, ["run.yaml"]),
        post=playbooks(tree, ["post.yaml"]),
        cleanup_run=playbooks(tree, ["cleanup.yaml"]),
    )
    abort = Abort()
    outcome = JobRunner(settings).run(
        request, [], abort, pause=lambda returned: abort.set("canceled while paused")
    )
    assert outcome.result is BuildResult.ABORTED
    assert outcome.error_detail == "canceled while paused"
    assert not (logs(settings, request) / "ran-post").exists()
    assert (logs(settings, request) / "ran-cleanup").read_text() == "True"


def test_retry_false_makes_a_failed_pre_run_a_failure(upstream, settings):
    tree = upstream.create(
        "org/app",
        {
            "pre.yaml": "- hosts: localhost\n  gather_facts: false\n  tasks:\n"
            "    - zuul_return: {data: {zuul: {retry: false}}}\n    - command: /bin/false\n",
            "run.yaml": TOUCH.format(name="run"),
        },
    )
    request = make_request(
        tree, pre=playbooks(tree, ["pre.yaml"]), run=playbooks(tree, ["run.yaml"])
    )
    outcome = JobRunner(settings).run(request, [])
    assert outcome.result is BuildResult.FAILURE
    assert not (logs(settings, request) / "ran-run").exists()


def test_cleanup_runs_among_post_by_nesting_level_and_is_ignored(upstream, settings):
    order = """
- hosts: localhost
  gather_facts: false
  tasks:
    - shell: echo {name} >> {{{{ zuul.executor.log_root }}}}/order
"""
    tree = upstream.create(
        "org/app",
        {
            "run.yaml": order.format(name="run"),
            "post1.yaml": order.format(name="post1"),
            "post0.yaml": order.format(name="post0"),
            "cleanup1.yaml": order.format(name="cleanup1") + "    - command: /bin/false\n",
        },
    )
    request = make_request(
        tree,
        run=playbooks(tree, ["run.yaml"], levels=[1]),
        post=playbooks(tree, ["post1.yaml", "post0.yaml"], levels=[1, 0]),
        cleanup_run=playbooks(tree, ["cleanup1.yaml"], levels=[1]),
    )
    outcome = JobRunner(settings).run(request, [])
    assert outcome.result is BuildResult.SUCCESS, "a failing cleanup playbook changes nothing"
    ran = (logs(settings, request) / "order").read_text().split()
    assert ran == ["run", "post1", "cleanup1", "post0"]


DUMP_VARS = """
- hosts: localhost
  gather_facts: false
  tasks:
    - copy:
        content: "{{ {'image': image, 'only_parent': only_parent, 'token': token,
                      'shadowed_secret': shadowed_secret,
                      'artifacts': zuul.artifacts | default([]),
                      'child_jobs': zuul.child_jobs} | to_json }}"
        dest: "{{ zuul.executor.log_root }}/seen.json"
"""


def test_parent_data_and_the_published_inventory(upstream, settings):
    tree = upstream.create("org/app", {"run.yaml": DUMP_VARS})
    request = make_request(
        tree,
        run=playbooks(tree, ["run.yaml"]),
        vars={"image": {"tag": "job"}, "shadowed_secret": "from-job-vars"},
        extra_vars={"extra_one": 1},
        host_vars={"localhost": {"host_one": 2}},
    )
    request.parent_data = {
        "image": {"name": "app", "tag": "parent"},
        "only_parent": "yes",
        "zuul": {"pause": True},
        "nodepool": "no",
    }
    request.secret_parent_data = {"token": "tok-9Xq", "shadowed_secret": "never"}
    request.zuul_vars["artifacts"] = [{"name": "docs", "url": "https://x/docs/", "job": "parent"}]
    request.zuul_vars["child_jobs"] = ["child"]
    outcome = JobRunner(settings).run(request, [])
    assert outcome.result is BuildResult.SUCCESS, outcome
    seen = json.loads((logs(settings, request) / "seen.json").read_text())
    assert seen["image"] == {"name": "app", "tag": "job"}, "job vars win over parent data"
    assert seen["only_parent"] == "yes"
    assert seen["token"] == "tok-9Xq"
    assert seen["shadowed_secret"] == "from-job-vars"
    assert seen["artifacts"][0]["name"] == "docs"
    assert seen["child_jobs"] == ["child"]
    inventory = yaml.safe_load(
        (logs(settings, request) / "zuul-info" / "inventory.yaml").read_text()
    )
    all_vars = inventory["all"]["vars"]
    assert all_vars["zuul"]["build"] == request.uuid
    assert all_vars["zuul"]["job"] == "test-job"
    assert all_vars["only_parent"] == "yes"
    assert all_vars["extra_one"] == 1
    assert "nodepool" not in all_vars
    assert inventory["all"]["hosts"]["localhost"]["host_one"] == 2
    text = (logs(settings, request) / "zuul-info" / "inventory.yaml").read_text()
    assert "tok-9Xq" not in text


ROLE_TASKS = """
- copy:
    content: "{name}"
    dest: "{{{{ zuul.executor.log_root }}}}/role-{name}"
"""
USES_ROLES = """
- hosts: localhost
  gather_facts: false
  roles:
    - own-role
    - shared-role
"""


def test_playbook_uses_its_own_repo_roles_and_another_repos(upstream, settings):
    tree = upstream.create(
        "org/app",
        {
            "playbooks/run.yaml": USES_ROLES,
            "roles/own-role/tasks/main.yaml": ROLE_TASKS.format(name="own-role"),
        },
    )
    jobs = upstream.create(
        "org/zuul-jobs",
        {"roles/shared-role/tasks/main.yaml": ROLE_TASKS.format(name="shared-role")},
    )
    roles = [
        # The implicit role freezing adds for the playbook's own project...
        {"type": "zuul", "zuul": "org/app", "project": "org/app", "name": "app", "implicit": True},
        # ...and the job's explicit roles: entry.
        {"type": "zuul", "zuul": "org/zuul-jobs", "project": "org/zuul-jobs", "name": "zuul-jobs"},
    ]
    ref = PlaybookRef(path="playbooks/run.yaml", connection="git", project="org/app", roles=roles)
    request = make_request(tree, run=[ref], extra_repos=[repo_state(jobs)])
    outcome = JobRunner(settings).run(request, [])
    assert outcome.result is BuildResult.SUCCESS, outcome
    assert (logs(settings, request) / "role-own-role").read_text() == "own-role"
    assert (logs(settings, request) / "role-shared-role").read_text() == "shared-role"


def test_implicit_role_of_a_repo_without_roles_is_skipped(upstream, settings):
    tree = upstream.create("org/app", {"run.yaml": TOUCH.format(name="run")})
    roles = [
        {"type": "zuul", "zuul": "org/app", "project": "org/app", "name": "app", "implicit": True}
    ]
    ref = PlaybookRef(path="run.yaml", connection="git", project="org/app", roles=roles)
    request = make_request(tree, run=[ref])
    outcome = JobRunner(settings).run(request, [])
    assert outcome.result is BuildResult.SUCCESS, outcome
    assert (logs(settings, request) / "ran-run").exists()
