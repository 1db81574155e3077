"""End to end: a push runs a real Ansible job on a local node, through ZooKeeper.

Every component runs as its own process (``lockgate up``'s ``System``), with
a real ZooKeeper over TLS, real git repositories polled by the git driver,
real ``ansible-playbook`` against nodes of the local cloud, and SQLite.  One
system serves the module; each test pushes to its own project and looks only
at that project's builds.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixtures.system import TENANT, LockgateSystem
from tests.fixtures.waiting import wait_for

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the local cloud needs root")

# Host paths a job must not be able to write: made before the system starts.
HOST_DIR = Path(tempfile.mkdtemp(prefix="lockgate-e2e-host-"))


def project(job: str, playbooks: dict[str, str], **attrs: str) -> dict[str, str | bytes]:
    """A project with one job in the post pipeline."""
    lines = [f"- job:\n    name: {job}\n"]
    for key, value in attrs.items():
        lines.append(f"    {key.replace('_', '-')}: {value}\n")
    zuul_yaml = "".join(lines) + f"\n- project:\n    post:\n      jobs:\n        - {job}\n"
    files: dict[str, str | bytes] = {".zuul.yaml": zuul_yaml}
    files.update(playbooks)
    return files


def play(*tasks: str) -> str:
    return "- hosts: all\n  gather_facts: false\n  tasks:\n" + "".join(tasks)


MARKER_PLAY = play(
    "    - name: Print the marker\n"
    "      ansible.builtin.command: echo LOCKGATE-MARKER-{{ zuul.newrev }}-{{ zuul.job }}\n"
    "    - name: The source is on the node at the commit under test\n"
    "      ansible.builtin.command: git -C {{ zuul.project.src_dir }} rev-parse HEAD\n"
    "      register: head\n"
    "      failed_when: head.stdout != zuul.newrev\n"
)

ESCAPE_PLAY = play(
    "    - name: Try to write to the host's filesystem\n"
    f"      ansible.builtin.shell: echo escaped > {HOST_DIR}/escaped.txt\n"
    "      ignore_errors: true\n"
    "    - name: Try to overwrite the host's files through /etc\n"
    f"      ansible.builtin.shell: echo escaped >> {HOST_DIR}/existing.txt\n"
    "      ignore_errors: true\n"
    "    - name: Try to read the executor's private key\n"
    "      ansible.builtin.shell: cat {{ lookup('env', 'NOPE') | default('', true) }}"
    "KEYPATH\n"
    "      ignore_errors: true\n"
)

PROJECTS: dict[str, dict[str, str | bytes]] = {
    "e2e/marker": project("marker", {"playbooks/run.yaml": MARKER_PLAY}, run="playbooks/run.yaml"),
    "e2e/failing": project(
        "failing",
        {"playbooks/run.yaml": play("    - ansible.builtin.command: /bin/false\n")},
        run="playbooks/run.yaml",
    ),
    "e2e/slow": project(
        "slow",
        {"playbooks/run.yaml": play("    - ansible.builtin.command: sleep 300\n")},
        run="playbooks/run.yaml",
        timeout="10",
    ),
    "e2e/postfail": project(
        "postfail",
        {
            "playbooks/run.yaml": play("    - ansible.builtin.command: 'true'\n"),
            "playbooks/post.yaml": play("    - ansible.builtin.command: /bin/false\n"),
        },
        run="playbooks/run.yaml",
        post_run="playbooks/post.yaml",
    ),
    "e2e/escape": project("escape", {"playbooks/run.yaml": ESCAPE_PLAY}, run="playbooks/run.yaml"),
    "e2e/broken": project(
        "broken",
        {"playbooks/run.yaml": play("    - ansible.builtin.command: 'true'\n")},
        run="playbooks/run.yaml",
    ),
}


@pytest.fixture(scope="module")
def lockgate(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LockgateSystem]:
    (HOST_DIR / "existing.txt").write_text("original\n")
    system = LockgateSystem(tmp_path_factory.mktemp("lockgate-e2e"), PROJECTS)
    try:
        system.start()
        yield system
    finally:
        system.stop()


def test_push_runs_the_job_on_a_local_node(lockgate: LockgateSystem) -> None:
    newrev = lockgate.push("e2e/marker", message="Run the marker job")
    build = lockgate.wait_for_build(newrev, "marker")
    assert build["result"] == "SUCCESS", build
    assert build["ref"]["project"] == "e2e/marker"
    assert build["pipeline"] == "post"
    # The same result in SQL, read without the API.
    (row,) = lockgate.sql_builds(newrev)
    assert (row["job_name"], row["result"]) == ("marker", "SUCCESS")
    # The playbook's marker is in the console log served at log_url.
    output = lockgate.get_text(build["log_url"] + "job-output.txt")
    assert f"LOCKGATE-MARKER-{newrev}-marker" in output
    # And in the buildset listing, once the item is reported (a step after
    # its last build is recorded: wait for it).
    wait_for(
        lambda: any(
            bs["result"] == "SUCCESS"
            for bs in lockgate.api(f"/api/tenant/{TENANT}/buildsets?project=e2e/marker")
        ),
        60,
        "the buildset reported",
    )


def test_failing_playbook_is_failure(lockgate: LockgateSystem) -> None:
    newrev = lockgate.push("e2e/failing")
    assert lockgate.wait_for_build(newrev, "failing")["result"] == "FAILURE"


def running_items(lockgate: LockgateSystem, project: str) -> list[dict]:  # type: ignore[type-arg]
    """Items of ``project`` in the status API whose jobs include a running one."""
    status = lockgate.api(f"/api/tenant/{TENANT}/status")
    found = []
    for pipeline in status["pipelines"]:
        for queue in pipeline["change_queues"]:
            for head in queue["heads"]:
                for item in head:
                    if item["project"] == project and any(
                        job.get("start_time") and not job.get("result") for job in item["jobs"]
                    ):
                        found.append(item)
    return found


def test_job_past_its_timeout_is_timed_out(lockgate: LockgateSystem) -> None:
    newrev = lockgate.push("e2e/slow")
    # While it runs, the status API shows the item and its running job.
    (item,) = wait_for(
        lambda: running_items(lockgate, "e2e/slow"),
        timeout=60,
        what="the running item in the status API",
    )
    assert [job["name"] for job in item["jobs"]] == ["slow"]
    assert lockgate.wait_for_build(newrev, "slow")["result"] == "TIMED_OUT"


def test_post_run_failure_is_post_failure(lockgate: LockgateSystem) -> None:
    newrev = lockgate.push("e2e/postfail")
    assert lockgate.wait_for_build(newrev, "postfail")["result"] == "POST_FAILURE"


def test_job_on_a_local_node_cannot_write_to_the_host(lockgate: LockgateSystem) -> None:
    key = lockgate.system.state.ssh_key
    playbook = ESCAPE_PLAY.replace(
        "cat {{ lookup('env', 'NOPE') | default('', true) }}KEYPATH", f"cat {key}"
    )
    newrev = lockgate.push("e2e/escape", {"playbooks/run.yaml": playbook})
    build = lockgate.wait_for_build(newrev, "escape")
    assert build["result"] == "SUCCESS"  # every attempt was ignore_errors
    assert not (HOST_DIR / "escaped.txt").exists()
    assert (HOST_DIR / "existing.txt").read_text() == "original\n"
    output = lockgate.get_text(build["log_url"] + "job-output.txt")
    private_key = key.read_text().strip().splitlines()[1]
    assert private_key not in output


def test_broken_config_is_listed_and_other_projects_keep_building(lockgate: LockgateSystem) -> None:
    token = secrets.token_hex(4)
    lockgate.push(
        "e2e/broken",
        {".zuul.yaml": f"- job:\n    name: broken\n    voteing: {token}\n"},
        message="Break the configuration",
    )

    def broken_listed() -> list[dict]:  # type: ignore[type-arg]
        errors = lockgate.api(f"/api/tenant/{TENANT}/config-errors")
        return [e for e in errors if e["source_context"]["project"] == "e2e/broken"]

    (error,) = wait_for(broken_listed, timeout=60, what="config error for e2e/broken")
    assert "voteing" in error["error"] and error["source_context"]["path"] == ".zuul.yaml"
    # Another project still builds.
    newrev = lockgate.push("e2e/marker", message="Still building")
    assert lockgate.wait_for_build(newrev, "marker")["result"] == "SUCCESS"
