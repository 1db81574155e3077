"""End to end: Gerrit review gating with the whole system.

``lockgate up``'s ``System`` (every component its own process, a real
ZooKeeper over TLS, the launcher's local nodes, real ``ansible-playbook``)
with its review system, the Gerrit emulator, seeded with this module's
projects.  The stock ``check``, ``gate`` and ``post`` pipelines run the
projects' own jobs; the tests act as people would in Gerrit (upload, comment,
approve, abandon, merge) through the emulator's control interface and look
at what Lockgate did there (votes, messages, submits, the branch) and in its
REST API and database.

One system serves the module; each test works on its own project(s).  Every
project's job runs the same playbook: it prints the ``change-*.txt`` files of
the source on the node and of every project the executor prepared, waits for
a file that never comes when the change's commit message says ``SLOW-ME``
(bounded), and fails when it says ``FAIL-ME``.
"""

from __future__ import annotations

import os
import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.system import TENANT, LockgateSystem
from tests.fixtures.waiting import wait_for

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the local cloud needs root")

BRANCH = "main"

PLAYBOOK = """\
- hosts: all
  gather_facts: false
  tasks:
    - name: The change files in the project's source on the node
      ansible.builtin.shell: >-
        cd {{ zuul.project.src_dir }} &&
        for f in change-*.txt; do
        [ -e "$f" ] && echo "NODE $f: $(cat $f)"; done; true

    - name: The change files of every project the executor prepared
      delegate_to: localhost
      run_once: true
      ansible.builtin.shell: >-
        cd {{ zuul.executor.src_root }} &&
        find . -name .git -prune -o -name 'change-*.txt' -print |
        while read f; do echo "EXECUTOR $f: $(cat $f)"; done

    - name: Wait for a file that never comes, when the change asks to be slow
      ansible.builtin.wait_for:
        path: /nonexistent/lockgate-e2e-never
        timeout: 120
      when: "'SLOW-ME' in (zuul.message | default('') | b64decode)"

    - name: Fail when the change asks to
      ansible.builtin.fail:
        msg: the change asked this job to fail
      when: "'FAIL-ME' in (zuul.message | default('') | b64decode)"
"""


def zuul_yaml(job: str, pipelines: tuple[str, ...]) -> str:
    """A project's ``.zuul.yaml``: ``job``, run in ``pipelines``."""
    text = f"- job:\n    name: {job}\n    run: playbooks/show.yaml\n\n- project:\n"
    for pipeline in pipelines:
        text += f"    {pipeline}:\n      jobs:\n        - {job}\n"
    return text


def project(job: str, *pipelines: str) -> dict[str, str | bytes]:
    return {
        ".zuul.yaml": zuul_yaml(job, pipelines),
        "playbooks/show.yaml": PLAYBOOK,
        "README": f"{job}\n",
    }


PROJECTS: dict[str, dict[str, str | bytes]] = {
    "e2e/verify": project("verify-show", "check"),
    "e2e/recheck": project("recheck-show", "check"),
    "e2e/dequeue": project("dequeue-show", "check"),
    "e2e/deps": project("deps-show", "check"),
    "e2e/lib": {"README": "a library without jobs\n"},
    "e2e/proposed": project("proposed-show", "check"),
    "e2e/conflict": project("conflict-show", "check"),
    "e2e/stream": project("stream-show", "check"),
    "e2e/post": project("post-show", "post"),
    "e2e/gate": project("gate-show", "gate"),
    "e2e/gatefail": project("gatefail-show", "gate"),
}

VERDICT = (1, -1)
GATE_VERDICT = (2, -2)


@pytest.fixture(scope="module")
def lockgate(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LockgateSystem]:
    system = LockgateSystem(
        tmp_path_factory.mktemp("lockgate-e2e-gerrit"), projects={}, review_projects=PROJECTS
    )
    try:
        system.start()
        wait_for(
            lambda: system.control.stream_status()["subscribers"], 60, "the Gerrit event stream"
        )
        yield system
    finally:
        system.stop()


# -- helpers ------------------------------------------------------------------


def token() -> str:
    return secrets.token_hex(4)


def change_file(tag: str) -> tuple[str, str]:
    """A file a change adds, and the unique text its job prints from it."""
    text = f"content-{tag}-{token()}"
    return f"change-{tag}.txt", text + "\n"


def create(
    lockgate: LockgateSystem, project: str, tag: str, message: str = "", **kw: Any
) -> tuple[dict[str, Any], str]:
    """A change adding ``change-<tag>.txt``; returns (change, the file's text)."""
    path, text = change_file(tag)
    files = {path: text, **kw.pop("files", {})}
    change = lockgate.control.create_change(
        project, files, f"{tag}: {message or 'a change'}", branch=BRANCH, **kw
    )
    return change, text.strip()


def verdict(
    lockgate: LockgateSystem, number: int, count: int = 1, votes: tuple[int, ...] = VERDICT
) -> dict[str, Any]:
    """Lockgate's ``count``-th review of ``number`` with a Verified vote in ``votes``
    (the gate's start report, Verified 0, is not a verdict)."""

    def posted() -> dict[str, Any] | None:
        lockgate.system.check_alive()
        found = [
            r
            for r in lockgate.lockgate_reviews(number)
            if r["kind"] == "review" and r["labels"].get("Verified") in votes
        ]
        return found[count - 1] if len(found) >= count else None

    return wait_for(posted, 120, f"Lockgate's verdict {count} on change {number}", interval=0.25)


def builds_of(
    lockgate: LockgateSystem, number: int, patchset: int | None = None, **filters: str
) -> list[dict[str, Any]]:
    query: dict[str, str | int] = {"change": number, **filters}
    if patchset is not None:
        query["patchset"] = str(patchset)
    return lockgate.builds(**query)


def final_build(lockgate: LockgateSystem, number: int, job: str, **filters: Any) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        lockgate.system.check_alive()
        found = [
            b
            for b in builds_of(lockgate, number, job_name=job, complete="true", **filters)
            if b.get("final") is not False
        ]
        return found[0] if found else None

    return wait_for(done, 180, f"a completed build of {job} for change {number}", interval=0.25)


def job_output(lockgate: LockgateSystem, build: dict[str, Any]) -> str:
    return lockgate.get_text(build["log_url"] + "job-output.txt")


def items_of(lockgate: LockgateSystem, project: str) -> list[dict[str, Any]]:
    """The project's items in any pipeline of the status API."""
    status = lockgate.api(f"/api/tenant/{TENANT}/status")
    return [
        item
        for pipeline in status["pipelines"]
        for queue in pipeline["change_queues"]
        for head in queue["heads"]
        for item in head
        if item["project"] == project
    ]


def waiting_build(lockgate: LockgateSystem, project: str, describe: str) -> str | None:
    """The uuid of a build of ``project``'s item for ``describe`` (``N,P``)
    whose playbook is waiting for the file that never comes (its live
    ``job-output.txt`` says so)."""
    for item in items_of(lockgate, project):
        if item["refs"][0]["id"] != describe:
            continue
        for job in item["jobs"]:
            if job.get("uuid") and not job.get("result"):
                try:
                    output = lockgate.get_text(
                        f"{lockgate.web_url}/logs/{job['uuid']}/job-output.txt"
                    )
                except OSError:
                    continue
                if "Wait for a file that never comes" in output:
                    return str(job["uuid"])
    return None


def processes_of(uuid: str) -> list[int]:
    """Processes whose command line names the build (its ansible-playbook runs
    in the build's directory)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if uuid.encode() in cmdline:
                found.append(int(entry.name))
    return found


def branch_git(lockgate: LockgateSystem, project: str, *args: str) -> str:
    repo = lockgate.review.emulator.state_dir / "git" / f"{project}.git"
    return subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True
    ).stdout


# -- check --------------------------------------------------------------------


def test_a_new_patchset_is_tested_merged_and_verified(lockgate: LockgateSystem) -> None:
    control = lockgate.control
    # The change is made on an older tip; the branch has moved since.
    base = control.push("e2e/verify", {"other.txt": "x\n"}, branch=BRANCH)
    branch_file, branch_text = change_file("branch")
    control.push("e2e/verify", {branch_file: branch_text}, branch=BRANCH)
    change, text = create(lockgate, "e2e/verify", "verify", parent=base)
    failing, _ = create(lockgate, "e2e/verify", "verify-fail", "FAIL-ME")
    number = change["number"]
    review = verdict(lockgate, number)
    assert review["labels"] == {"Verified": 1}, review
    build = final_build(lockgate, number, "verify-show")
    assert build["result"] == "SUCCESS" and build["pipeline"] == "check", build
    assert (build["ref"]["change"], build["ref"]["patchset"]) == (number, "1"), build["ref"]
    # The message links the build.
    assert build["log_url"] in review["message"], review["message"]
    # Tested as it will merge: the change merged onto the branch as it is now.
    output = job_output(lockgate, build)
    assert f"NODE change-verify.txt: {text}" in output
    assert f"NODE {branch_file}: {branch_text.strip()}" in output

    review = verdict(lockgate, failing["number"])
    assert review["labels"] == {"Verified": -1}, review
    build = final_build(lockgate, failing["number"], "verify-show")
    assert build["result"] == "FAILURE"
    assert build["log_url"] in review["message"]


def test_recheck_runs_it_again(lockgate: LockgateSystem) -> None:
    change, _ = create(lockgate, "e2e/recheck", "recheck")
    number = change["number"]
    assert verdict(lockgate, number)["labels"] == {"Verified": 1}
    lockgate.control.comment(number, "recheck", account="alice")
    assert verdict(lockgate, number, 2)["labels"] == {"Verified": 1}
    builds = builds_of(lockgate, number, job_name="recheck-show", complete="true")
    assert [b["result"] for b in builds] == ["SUCCESS", "SUCCESS"]
    assert len({b["uuid"] for b in builds}) == 2


def test_a_new_patchset_aborts_the_old_and_an_abandon_dequeues(lockgate: LockgateSystem) -> None:
    change, _ = create(lockgate, "e2e/dequeue", "dequeue", "SLOW-ME")
    number = change["number"]
    first = wait_for(
        lambda: waiting_build(lockgate, "e2e/dequeue", f"{number},1"),
        120,
        "the first patchset's build to be running its playbook",
        interval=0.25,
    )
    assert processes_of(first), "the running build's ansible-playbook is not found"
    lockgate.control.new_patchset(number, message="dequeue: patchset 2, SLOW-ME as well")
    # The old patchset's running build is aborted; the new one runs (slowly).
    old = final_build(lockgate, number, "dequeue-show", patchset="1")
    assert old["uuid"] == first
    # Really stopped, not just recorded so: no process of the build is left.
    wait_for(lambda: not processes_of(first), 30, "the first build's processes to end")
    assert old["result"] in ("ABORTED", "CANCELED"), old
    (row,) = [r for r in lockgate.sql_builds(change=number) if r["uuid"] == first]
    assert row["result"] == old["result"]
    # An abandon dequeues the new one (whether its build has started or not).
    wait_for(
        lambda: any(i["refs"][0]["id"] == f"{number},2" for i in items_of(lockgate, "e2e/dequeue")),
        60,
        "the second patchset in check",
    )
    lockgate.control.abandon(number, "not needed")
    wait_for(lambda: not items_of(lockgate, "e2e/dequeue"), 60, "an empty check pipeline")
    for build in builds_of(lockgate, number, patchset=2):
        assert build["result"] in ("ABORTED", "CANCELED"), build
        wait_for(lambda b=build: not processes_of(b["uuid"]), 30, "the second build to end")
    # Dequeued, not reported: no vote on the change.
    assert not [r for r in lockgate.lockgate_reviews(number) if r["labels"].get("Verified")]


def test_git_parent_and_depends_on_are_tested_in_place(lockgate: LockgateSystem) -> None:
    lib, lib_text = create(lockgate, "e2e/lib", "lib")
    base, base_text = create(lockgate, "e2e/deps", "base")
    top, top_text = create(
        lockgate,
        "e2e/deps",
        "top",
        f"on base\n\nDepends-On: {lockgate.review.baseurl}/c/e2e/lib/+/{lib['number']}",
        parent_change=base["number"],
    )
    assert verdict(lockgate, top["number"])["labels"] == {"Verified": 1}
    output = job_output(lockgate, final_build(lockgate, top["number"], "deps-show"))
    # On the node: the project's own state, the git parent under the change.
    assert f"NODE change-top.txt: {top_text}" in output
    assert f"NODE change-base.txt: {base_text}" in output
    # The other project's change, prepared by the executor beside it.
    assert f"e2e/lib/change-lib.txt: {lib_text}" in output
    assert f"e2e/deps/change-top.txt: {top_text}" in output


# -- configuration changes ----------------------------------------------------


def test_a_proposed_zuul_yaml_runs_its_jobs_and_a_broken_one_is_reported(
    lockgate: LockgateSystem,
) -> None:
    # The change replaces the project's job in check with one it adds.
    proposed = zuul_yaml("proposed-show", ("check",)).replace(
        "        - proposed-show\n", "        - proposed-extra\n"
    ) + ("- job:\n    name: proposed-extra\n    run: playbooks/show.yaml\n")
    change, text = create(
        lockgate, "e2e/proposed", "proposed", "add a job", files={".zuul.yaml": proposed}
    )
    bad_key = f"runn{token()}"
    broken = zuul_yaml("proposed-show", ("check",)) + (
        f"\n- job:\n    name: proposed-broken\n    {bad_key}: nothing.yaml\n"
    )
    broken_change, _ = create(
        lockgate, "e2e/proposed", "broken", "break it", files={".zuul.yaml": broken}
    )

    review = verdict(lockgate, change["number"])
    assert review["labels"] == {"Verified": 1}, review
    extra = final_build(lockgate, change["number"], "proposed-extra")
    assert extra["result"] == "SUCCESS"
    assert extra["log_url"] in review["message"]
    assert f"NODE change-proposed.txt: {text}" in job_output(lockgate, extra)
    assert [b["job_name"] for b in builds_of(lockgate, change["number"])] == ["proposed-extra"]

    review = verdict(lockgate, broken_change["number"])
    assert review["labels"] == {"Verified": -1}, review
    line = broken.splitlines().index(f"    {bad_key}: nothing.yaml") + 1
    assert bad_key in review["message"], review["message"]
    assert ".zuul.yaml:" in review["message"], review["message"]
    # file:line names where the error is (the job's line, or the bad key's).
    assert any(f".zuul.yaml:{n}" in review["message"] for n in range(line - 3, line + 1)), review
    assert not builds_of(lockgate, broken_change["number"])


def test_a_merge_conflict_is_reported_as_such(lockgate: LockgateSystem) -> None:
    control = lockgate.control
    base = control.push("e2e/conflict", {"other.txt": "x\n"}, branch=BRANCH)
    control.push("e2e/conflict", {"conflict.txt": "theirs\n"}, branch=BRANCH)
    change, _ = create(
        lockgate, "e2e/conflict", "conflict", files={"conflict.txt": "mine\n"}, parent=base
    )
    review = verdict(lockgate, change["number"])
    assert review["labels"] == {"Verified": -1}, review
    # Reported as a conflict, naming the file (no jobs ran).
    assert review["message"].startswith("Merge failed."), review["message"]
    assert "conflicting files: conflict.txt" in review["message"], review["message"]
    assert not builds_of(lockgate, change["number"])


# -- the event stream ---------------------------------------------------------


def test_a_patchset_uploaded_while_the_stream_is_down_is_tested_once(
    lockgate: LockgateSystem,
) -> None:
    control = lockgate.control
    change, _ = create(lockgate, "e2e/stream", "stream")
    number = change["number"]
    # Mid-test: the first patchset is in check when the stream dies.
    wait_for(lambda: items_of(lockgate, "e2e/stream"), 60, "the first patchset in check")
    try:
        control.kill_streams()
        control.set_down(True)
        wait_for(lambda: not control.stream_status()["subscribers"], 30, "the stream to drop")
        path, text = change_file("stream-ps2")
        control.new_patchset(number, {path: text})
    finally:
        control.set_down(False)
    wait_for(lambda: control.stream_status()["subscribers"], 60, "the stream to reconnect")
    review = verdict(lockgate, number)
    if review["patchset"] == 1:  # the first finished before the stream came back
        review = verdict(lockgate, number, 2)
    assert (review["patchset"], review["labels"]) == (2, {"Verified": 1}), review
    build = final_build(lockgate, number, "stream-show", patchset="2")
    assert f"NODE {path}: {text.strip()}" in job_output(lockgate, build)
    wait_for(lambda: not items_of(lockgate, "e2e/stream"), 60, "an empty check pipeline")
    # Exactly once: one build and one verdict for the second patchset.
    assert len(builds_of(lockgate, number, patchset=2)) == 1
    assert [r["uuid"] for r in lockgate.sql_builds(change=number)].count(build["uuid"]) == 1
    assert len(lockgate.sql_builds(change=number)) == len(builds_of(lockgate, number))
    reviews = [r for r in lockgate.lockgate_reviews(number) if r["kind"] == "review"]
    assert [r["patchset"] for r in reviews].count(2) == 1, reviews


# -- post ---------------------------------------------------------------------


def test_a_merged_change_runs_post(lockgate: LockgateSystem) -> None:
    change, text = create(lockgate, "e2e/post", "post")
    merged = lockgate.control.merge(change["number"])
    revision = (
        merged.get("merged_revision")
        or lockgate.control.change(change["number"])["merged_revision"]
    )
    assert revision
    build = lockgate.wait_for_build(revision, "post-show")
    assert build["result"] == "SUCCESS" and build["pipeline"] == "post", build
    assert build["ref"]["ref"] == f"refs/heads/{BRANCH}"
    assert f"NODE change-post.txt: {text}" in job_output(lockgate, build)


# -- the gate -----------------------------------------------------------------


def submitted(lockgate: LockgateSystem, numbers: list[int]) -> list[int]:
    """The order in which Lockgate submitted ``numbers``."""
    return [
        r["change"]
        for r in lockgate.control.reviews(account="lockgate", kind="submit")
        if r["change"] in numbers
    ]


def wait_merged(lockgate: LockgateSystem, numbers: list[int]) -> None:
    for n in numbers:
        wait_for(
            lambda n=n: (
                lockgate.system.check_alive() or lockgate.control.change(n)["status"] == "MERGED"
            ),
            180,
            f"change {n} merged",
            interval=0.25,
        )


def test_approved_changes_are_tested_together_and_merge_in_order_but_a_conflict(
    lockgate: LockgateSystem,
) -> None:
    made = [create(lockgate, "e2e/gate", f"gate{i}") for i in (1, 2, 3)]
    numbers = [c["number"] for c, _ in made]
    texts = [t for _, t in made]
    # A fourth adds the first one's file with other content.
    conflicting, _ = create(
        lockgate, "e2e/gate", "gate4", files={"change-gate1.txt": "something else\n"}
    )
    for n in (*numbers, conflicting["number"]):
        lockgate.control.approve(n)
    review = verdict(lockgate, conflicting["number"], votes=GATE_VERDICT)
    assert review["labels"] == {"Verified": -2}, review
    assert review["message"].startswith("Merge failed."), review["message"]
    assert "conflicting files: change-gate1.txt" in review["message"], review["message"]
    wait_merged(lockgate, numbers)
    assert submitted(lockgate, [*numbers, conflicting["number"]]) == numbers
    assert lockgate.control.change(conflicting["number"])["status"] == "NEW"
    assert not builds_of(lockgate, conflicting["number"])
    for n in numbers:
        assert verdict(lockgate, n, votes=GATE_VERDICT)["labels"] == {"Verified": 2}
    # The second was tested on the first; the third on both.
    second = job_output(lockgate, final_build(lockgate, numbers[1], "gate-show"))
    assert f"NODE change-gate1.txt: {texts[0]}" in second
    assert f"NODE change-gate2.txt: {texts[1]}" in second
    assert "change-gate3.txt" not in second
    third = job_output(lockgate, final_build(lockgate, numbers[2], "gate-show"))
    assert all(f"change-gate{i}.txt: {texts[i - 1]}" in third for i in (1, 2, 3))
    # In the branch, in order.
    log = branch_git(lockgate, "e2e/gate", "log", "--format=%s", BRANCH)
    positions = [log.index(f"gate{i}: a change") for i in (1, 2, 3)]
    assert positions == sorted(positions, reverse=True), log
    for i, text in enumerate(texts, 1):
        assert branch_git(lockgate, "e2e/gate", "show", f"{BRANCH}:change-gate{i}.txt").strip() == (
            text
        )


def test_a_failing_change_gets_minus_two_and_the_ones_behind_merge(
    lockgate: LockgateSystem,
) -> None:
    first, _ = create(lockgate, "e2e/gatefail", "good1")
    bad, _ = create(lockgate, "e2e/gatefail", "bad", "FAIL-ME")
    third, third_text = create(lockgate, "e2e/gatefail", "good3")
    numbers = [first["number"], bad["number"], third["number"]]
    for n in numbers:
        lockgate.control.approve(n)
    review = verdict(lockgate, bad["number"], votes=GATE_VERDICT)
    assert review["labels"] == {"Verified": -2}, review
    wait_merged(lockgate, [first["number"], third["number"]])
    assert submitted(lockgate, numbers) == [first["number"], third["number"]]
    assert lockgate.control.change(bad["number"])["status"] == "NEW"
    # The third's final build was made without the failing change.
    output = job_output(lockgate, final_build(lockgate, third["number"], "gatefail-show"))
    assert f"NODE change-good3.txt: {third_text}" in output
    assert "change-bad.txt" not in output
    assert "change-good1.txt" in output
