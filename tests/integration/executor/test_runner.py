"""The job runner with real git repositories and real ansible-playbook (sandboxed).

Each test makes a project whose repository holds the job's playbooks, runs
the build with ``JobRunner`` and asserts its result and its logs.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest
from lockgate.executor.process import Abort
from lockgate.executor.runner import BuildOutcome, JobRunner
from lockgate.model.builds import BuildResult

from tests.fixtures.executor import make_request, make_settings, playbooks
from tests.fixtures.waiting import wait_for

OK = """
- hosts: localhost
  gather_facts: false
  tasks:
    - name: say the marker
      command: echo {marker}
"""
FAIL = """
- hosts: localhost
  gather_facts: false
  tasks:
    - name: fail on purpose
      command: /bin/false
"""
# Leaves a file named after the playbook in the published log dir, so a test
# can tell which playbooks ran (the build tree itself is removed at the end).
TOUCH = """
- hosts: localhost
  gather_facts: false
  tasks:
    - name: record that {name} ran
      copy:
        content: "{{{{ zuul_success | default('unset') }}}}"
        dest: "{{{{ zuul.executor.log_root }}}}/ran-{name}"
"""


def touch(name: str) -> str:
    return TOUCH.format(name=name)


@pytest.fixture
def settings(tmp_path: Path):
    return make_settings(tmp_path)


def run(settings, request, nodes=None, abort=None) -> BuildOutcome:
    return JobRunner(settings).run(request, nodes or [], abort)


def logs(settings, request) -> Path:
    return settings.log_root / request.uuid


def test_success_marker_in_console_and_json(upstream, settings):
    tree = upstream.create("org/app", {"playbooks/run.yaml": OK.format(marker="MARKER-7f3a")})
    request = make_request(tree, run=playbooks(tree, ["playbooks/run.yaml"]))
    outcome = run(settings, request)
    assert outcome.result is BuildResult.SUCCESS, outcome
    console = (logs(settings, request) / "job-output.txt").read_text()
    assert "| localhost | MARKER-7f3a" in console
    assert "TASK [say the marker]" in console
    assert "Job result: SUCCESS" in console
    record = json.loads((logs(settings, request) / "job-output.json").read_text())
    assert [e["phase"] for e in record] == ["run"]
    task = record[0]["plays"][0]["tasks"][0]
    assert task["task"]["name"] == "say the marker"
    assert task["hosts"]["localhost"]["stdout"] == "MARKER-7f3a"
    assert record[0]["stats"]["localhost"]["failures"] == 0
    # The build tree is gone (keep_jobdir is off); the logs stay.
    assert not (settings.state_dir / "builds" / request.uuid).exists()


def test_failing_run_is_failure_and_post_runs_with_zuul_success_false(upstream, settings):
    tree = upstream.create(
        "org/app", {"run1.yaml": FAIL, "run2.yaml": touch("run2"), "post.yaml": touch("post")}
    )
    request = make_request(
        tree, run=playbooks(tree, ["run1.yaml", "run2.yaml"]), post=playbooks(tree, ["post.yaml"])
    )
    outcome = run(settings, request)
    assert outcome.result is BuildResult.FAILURE
    assert not (logs(settings, request) / "ran-run2").exists(), "run stops at first failure"
    assert (logs(settings, request) / "ran-post").read_text() == "False"
    assert (
        "| localhost | ERROR: return code 1"
        in (logs(settings, request) / "job-output.txt").read_text()
    )


def test_failing_post_is_post_failure(upstream, settings):
    tree = upstream.create(
        "org/app", {"run.yaml": touch("run"), "post.yaml": FAIL, "post2.yaml": touch("post2")}
    )
    request = make_request(
        tree, run=playbooks(tree, ["run.yaml"]), post=playbooks(tree, ["post.yaml", "post2.yaml"])
    )
    outcome = run(settings, request)
    assert outcome.result is BuildResult.POST_FAILURE
    # Every post-run playbook runs, even after one failed.
    assert (logs(settings, request) / "ran-post2").read_text() == "True"


@pytest.mark.parametrize(
    ("attempt", "expected"), [(1, BuildResult.RETRY), (3, BuildResult.RETRY_LIMIT)]
)
def test_failing_pre_retries_and_runs_post_of_reached_levels(upstream, settings, attempt, expected):
    # Three levels: base (0) has pre+post, parent (1) has a failing pre and a
    # post, child (2) has a pre and a post that must not run.
    tree = upstream.create(
        "org/app",
        {
            "pre0.yaml": touch("pre0"),
            "pre1.yaml": FAIL,
            "pre2.yaml": touch("pre2"),
            "run.yaml": touch("run"),
            "post2.yaml": touch("post2"),
            "post1.yaml": touch("post1"),
            "post0.yaml": touch("post0"),
        },
    )
    request = make_request(
        tree,
        attempt=attempt,
        attempts=3,
        pre=playbooks(tree, ["pre0.yaml", "pre1.yaml", "pre2.yaml"], levels=[0, 1, 2]),
        run=playbooks(tree, ["run.yaml"], levels=[2]),
        post=playbooks(tree, ["post2.yaml", "post1.yaml", "post0.yaml"], levels=[2, 1, 0]),
    )
    outcome = run(settings, request)
    assert outcome.result is expected
    out = logs(settings, request)
    assert (out / "ran-pre0").exists()
    assert not (out / "ran-pre2").exists()
    assert not (out / "ran-run").exists()
    assert not (out / "ran-post2").exists()
    assert (out / "ran-post1").read_text() == "False"
    assert (out / "ran-post0").exists()


def test_timeout_is_timed_out_and_post_still_runs(upstream, settings):
    tree = upstream.create(
        "org/app",
        {
            "run.yaml": "- hosts: localhost\n  gather_facts: false\n  tasks:\n"
            "    - command: sleep 3601\n",
            "post.yaml": touch("post"),
        },
    )
    request = make_request(
        tree, timeout=3, run=playbooks(tree, ["run.yaml"]), post=playbooks(tree, ["post.yaml"])
    )
    outcome = run(settings, request)
    assert outcome.result is BuildResult.TIMED_OUT
    assert (logs(settings, request) / "ran-post").read_text() == "False"
    assert "RUN TIMED OUT" in (logs(settings, request) / "job-output.txt").read_text()
    assert not _processes_with("sleep 3601")


def _processes_with(text: str) -> list[int]:
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if text in cmdline:
            found.append(int(pid))
    return found


def test_abort_kills_the_playbook_and_reports_aborted(upstream, settings):
    tree = upstream.create(
        "org/app",
        {
            "run.yaml": "- hosts: localhost\n  gather_facts: false\n  tasks:\n"
            "    - command: sleep 3602\n",
            "post.yaml": touch("post"),
        },
    )
    request = make_request(
        tree, run=playbooks(tree, ["run.yaml"]), post=playbooks(tree, ["post.yaml"])
    )
    abort = Abort()
    outcomes: list[BuildOutcome] = []
    worker = threading.Thread(target=lambda: outcomes.append(run(settings, request, None, abort)))
    worker.start()
    wait_for(lambda: _processes_with("sleep 3602"), 60, "the playbook's command to start")
    abort.set("canceled by test")
    worker.join(60)
    assert outcomes and outcomes[0].result is BuildResult.ABORTED
    assert outcomes[0].error_detail == "canceled by test"
    assert not _processes_with("sleep 3602")
    assert not (logs(settings, request) / "ran-post").exists()


def test_noop_succeeds_without_running_anything(upstream, settings):
    tree = upstream.create("org/app")
    request = make_request(tree, job_name="noop")
    outcome = run(settings, request)
    assert outcome.result is BuildResult.SUCCESS
    assert outcome.playbooks == []
    assert not (settings.state_dir / "builds" / request.uuid).exists()


def test_missing_playbook_is_an_error_naming_it(upstream, settings):
    tree = upstream.create("org/app")
    request = make_request(tree, run=playbooks(tree, ["playbooks/nope.yaml"]))
    outcome = run(settings, request)
    assert outcome.result is BuildResult.ERROR
    assert "playbooks/nope.yaml" in outcome.error_detail
    assert "not found in org/app" in (logs(settings, request) / "job-output.txt").read_text()


def test_syntax_error_in_playbook_fails_with_ansible_message_in_console(upstream, settings):
    tree = upstream.create("org/app", {"run.yaml": "- hosts: localhost\n  tasks: [\n"})
    request = make_request(tree, run=playbooks(tree, ["run.yaml"]))
    outcome = run(settings, request)
    assert outcome.result is BuildResult.FAILURE
    assert "ERROR" in (logs(settings, request) / "job-output.txt").read_text()
