"""The merger's git work (lockgate.git.merger, lockgate.git.merge_runner)
against real repositories: every merge mode, conflicts, skipped steps,
determinism across clones, files and configuration at the merged state,
fixed repository state, replay."""

from __future__ import annotations

import uuid

import pytest
from lockgate.config.discovery import CONFIG_ROOTS
from lockgate.git import RepoCache
from lockgate.git import merger as gm
from lockgate.git.merge_runner import MergeRunner
from lockgate.model.change import change_ref
from lockgate.model.merges import (
    DEFAULT_CONFIG_FILES,
    MergeRequest,
    MergeResult,
    MergeStatus,
    MergeStep,
    RepoSpec,
)

from tests.fixtures.git import git


def make_change(
    tree,
    number: int,
    files: dict,
    *,
    parent: str = "master",
    patchset: int = 1,
    branch: str = "master",
    mode: str = "merge-resolve",
    message: str | None = None,
) -> MergeStep:
    """Commit ``files`` on top of ``parent`` and push it as Gerrit's change ref."""
    tree.git("checkout", "-q", "--detach", parent)
    sha = tree.commit(files, message or f"change {number}")
    ref = change_ref(number, patchset)
    tree.push(f"{sha}:{ref}")
    return MergeStep(
        connection="gerrit",
        project=tree.project,
        branch=branch,
        ref=ref,
        commit=sha,
        url=str(tree.upstream_path),
        merge_mode=mode,
        number=number,
        patchset=patchset,
    )


def request_for(steps, trees, **kw) -> MergeRequest:
    return MergeRequest(
        uuid=uuid.uuid4().hex,
        tenant="t",
        pipeline="gate",
        item_uuid="item",
        event_id="e",
        steps=list(steps),
        repos=[RepoSpec("gerrit", t.project, str(t.upstream_path)) for t in trees],
        **kw,
    )


@pytest.fixture
def runner(tmp_path):
    return MergeRunner(RepoCache(tmp_path / "cache"), tmp_path / "merger")


def show(tree_or_path, *args) -> str:
    path = getattr(tree_or_path, "upstream_path", tree_or_path)
    return git(*args, cwd=path)


def _moved_master(upstream):
    """org/app with two changes based on an older master, and master moved on."""
    tree = upstream.create("org/app", {"README": "app\n", "zuul.yaml": "- job: {name: base}\n"})
    a = make_change(tree, 101, {"a.txt": "a\n"})
    b = make_change(tree, 102, {"b.txt": "b\n"})
    tree.git("checkout", "-q", "master")
    tree.commit_and_push({"m.txt": "m\n"}, message="master moves")
    return tree, a, b


def _blob(runner, tree, sha, path):
    work = runner.work_path(str(tree.upstream_path))
    return gm.git(work, "show", f"{sha}:{path}")


@pytest.mark.parametrize("mode", ["merge", "merge-resolve"])
def test_merge_modes_make_merge_commits(upstream, runner, mode):
    tree, a, b = _moved_master(upstream)
    a.merge_mode = b.merge_mode = mode
    head = tree.upstream_sha("master")
    result = runner.run(request_for([a, b], [tree]))
    assert result.ok and result.status is MergeStatus.MERGED, result.error or result.conflict
    final = result.commits["org/app"]["master"]
    work = runner.work_path(str(tree.upstream_path))
    first, second = gm.git(work, "show", "-s", "--format=%P", final).split()
    assert second == b.commit
    assert gm.git(work, "show", "-s", "--format=%P", first).split() == [head, a.commit]
    assert gm.git(work, "show", "-s", "--format=%s|%an|%cn", final).strip() == (
        "Merge 102,1 into master|Lockgate Merger|Lockgate Merger"
    )
    for path in ("a.txt", "b.txt", "m.txt"):
        assert _blob(runner, tree, final, path)
    assert result.repo_state["org/app"] == {"master": head}
    assert result.files == {"org/app": ["a.txt", "b.txt"]}
    assert result.step_files == [["a.txt"], ["b.txt"]]


def test_cherry_pick_makes_a_linear_history_keeping_authors(upstream, runner):
    tree, a, b = _moved_master(upstream)
    a.merge_mode = b.merge_mode = "cherry-pick"
    head = tree.upstream_sha("master")
    result = runner.run(request_for([a, b], [tree]))
    assert result.ok, result.error or result.conflict
    final = result.commits["org/app"]["master"]
    work = runner.work_path(str(tree.upstream_path))
    log = gm.git(work, "log", "--format=%P|%s|%an|%cn", f"{head}..{final}").splitlines()
    assert [line.split("|", 1)[1] for line in log] == [
        "change 102|Lockgate Test|Lockgate Merger",
        "change 101|Lockgate Test|Lockgate Merger",
    ]
    assert all(len(line.split("|")[0].split()) == 1 for line in log), "no merge commits"
    assert _blob(runner, tree, final, "a.txt") == "a\n"


def test_squash_merge_makes_one_commit_with_the_changes_message(upstream, runner):
    tree = upstream.create("org/app")
    first = make_change(tree, 7, {"x.txt": "1\n"})
    # A change of two commits: squash-merge folds them into one.
    tree.git("checkout", "-q", "--detach", first.commit)
    tip = tree.commit({"y.txt": "2\n"}, "the tip's message")
    tree.push(f"{tip}:refs/changes/08/8/1")
    step = MergeStep(
        "gerrit",
        "org/app",
        "master",
        "refs/changes/08/8/1",
        tip,
        str(tree.upstream_path),
        "squash-merge",
        8,
        1,
    )
    tree.git("checkout", "-q", "master")
    head = tree.commit_and_push({"m.txt": "m\n"})
    result = runner.run(request_for([step], [tree]))
    assert result.ok, result.error or result.conflict
    final = result.commits["org/app"]["master"]
    work = runner.work_path(str(tree.upstream_path))
    assert gm.git(work, "show", "-s", "--format=%P|%s|%an", final).strip() == (
        f"{head}|the tip's message|Lockgate Test"
    )
    assert result.files["org/app"] == ["x.txt", "y.txt"]


def test_rebase_replays_the_changes_commits_onto_the_branch(upstream, runner):
    tree, a, b = _moved_master(upstream)
    # b is stacked on a: rebase must carry both and skip nothing.
    b2 = make_change(tree, 103, {"c.txt": "c\n"}, parent=a.commit, mode="rebase")
    a.merge_mode = "rebase"
    head = tree.upstream_sha("master")
    result = runner.run(request_for([a, b2], [tree]))
    assert result.ok, result.error or result.conflict
    final = result.commits["org/app"]["master"]
    work = runner.work_path(str(tree.upstream_path))
    subjects = gm.git(work, "log", "--format=%s", f"{head}..{final}").split("\n")
    assert [s for s in subjects if s] == ["change 103", "change 101"]
    assert gm.is_ancestor(work, head, final)
    assert result.skipped == []


def test_a_change_already_based_on_the_branch_head_rebases_to_itself(upstream, runner):
    tree = upstream.create("org/app")
    step = make_change(tree, 5, {"f": "1\n"}, mode="rebase")
    result = runner.run(request_for([step], [tree]))
    assert result.commits["org/app"]["master"] == step.commit


def test_conflict_names_the_change_project_branch_and_files(upstream, runner):
    tree = upstream.create("org/app", {"shared.txt": "base\n"})
    a = make_change(tree, 201, {"shared.txt": "from a\n"})
    b = make_change(tree, 202, {"shared.txt": "from b\n", "other.txt": "x\n"})
    result = runner.run(request_for([a, b], [tree]))
    assert not result.ok and result.status is MergeStatus.CONFLICT
    assert result.conflict_step == 1
    assert result.conflict == (
        "change 202,1 of org/app does not merge into branch master (merge-resolve): "
        "conflicting files: shared.txt"
    )
    assert result.commits == {} and result.error is None
    # The work repository is clean again: the next request merges.
    fine = make_change(tree, 203, {"new.txt": "n\n"})
    again = runner.run(request_for([a, fine], [tree]))
    assert again.ok, again.error or again.conflict


@pytest.mark.parametrize("mode", ["merge", "cherry-pick", "squash-merge", "rebase"])
def test_every_mode_reports_conflicts_and_recovers(upstream, runner, mode):
    tree = upstream.create("org/app", {"shared.txt": "base\n"})
    a = make_change(tree, 301, {"shared.txt": "a\n"}, mode=mode)
    b = make_change(tree, 302, {"shared.txt": "b\n"}, mode=mode)
    result = runner.run(request_for([a, b], [tree]))
    assert result.conflict and "302,1" in result.conflict and "shared.txt" in result.conflict
    work = runner.work_path(str(tree.upstream_path))
    assert gm.git(work, "status", "--porcelain").strip() == ""
    assert not gm.needs_recovery(work)
    assert runner.run(request_for([b], [tree])).ok


def test_a_step_already_in_the_branch_is_skipped(upstream, runner):
    tree = upstream.create("org/app")
    a = make_change(tree, 401, {"a.txt": "a\n"})
    b = make_change(tree, 402, {"b.txt": "b\n"})
    tree.push(f"{a.commit}:refs/heads/master")  # a merged meanwhile (fast-forward)
    result = runner.run(request_for([a, b], [tree]))
    assert result.ok
    assert result.skipped == [0]
    assert result.step_files == [[], ["b.txt"]]
    assert result.files == {"org/app": ["b.txt"]}


def test_determinism_two_separate_mergers_make_the_same_shas(upstream, tmp_path):
    tree, a, b = _moved_master(upstream)
    other = upstream.create("org/lib")
    c = make_change(other, 501, {"lib.txt": "l\n"}, mode="cherry-pick")
    d = make_change(other, 502, {"lib2.txt": "l\n"}, mode="squash-merge")
    steps = [a, c, b, d]
    results = []
    for name in ("one", "two"):
        runner = MergeRunner(RepoCache(tmp_path / name / "cache"), tmp_path / name / "merger")
        results.append(runner.run(request_for(steps, [tree, other])))
    assert results[0].ok and results[1].ok
    assert results[0].commits == results[1].commits
    assert results[0].commits["org/app"]["master"] not in (a.commit, b.commit)
    # And the same merger twice (its work repository reused).
    assert runner.run(request_for(steps, [tree, other])).commits == results[0].commits


def test_config_files_are_read_at_the_merged_state(upstream, runner):
    tree = upstream.create(
        "org/app", {"zuul.d/base.yaml": "- job: {name: base}\n", "README": "x\n"}
    )
    a = make_change(tree, 601, {"zuul.d/new.yaml": "- job: {name: new}\n", "code.py": "1\n"})
    b = make_change(tree, 602, {"zuul.d/base.yaml": "- job: {name: base2}\n"})
    untouched = upstream.create("org/untouched", {"zuul.yaml": "- job: {name: u}\n"})
    result = runner.run(request_for([a, b], [tree, untouched]))
    assert result.ok
    assert result.config == {
        "org/app": {
            "master": {
                "zuul.d/base.yaml": "- job: {name: base2}\n",
                "zuul.d/new.yaml": "- job: {name: new}\n",
            }
        }
    }
    # Repositories without steps: heads only, read now.
    assert result.repo_state["org/untouched"] == {"master": untouched.upstream_sha("master")}
    assert result.commits["org/untouched"] == result.repo_state["org/untouched"]
    # Other paths on request (extra-config-paths).
    extra = runner.run(request_for([a], [tree], config_files=["code.py", "zuul.d/"]))
    assert set(extra.config["org/app"]["master"]) == {
        "code.py",
        "zuul.d/base.yaml",
        "zuul.d/new.yaml",
    }


def test_default_config_files_are_the_discovery_roots():
    assert tuple(DEFAULT_CONFIG_FILES) == tuple(CONFIG_ROOTS)


def test_a_given_repo_state_is_never_re_read(upstream, runner):
    tree = upstream.create("org/app")
    old = tree.upstream_sha("master")
    a = make_change(tree, 701, {"a.txt": "a\n"})
    tree.git("checkout", "-q", "master")
    tree.commit_and_push({"later.txt": "moved after enqueue\n"})
    result = runner.run(request_for([a], [tree], repo_state={"org/app": {"master": old}}))
    assert result.ok
    assert result.repo_state == {"org/app": {"master": old}}
    final = result.commits["org/app"]["master"]
    work = runner.work_path(str(tree.upstream_path))
    assert gm.git(work, "show", "-s", "--format=%P", final).split() == [old, a.commit]


def test_a_ref_item_without_steps_resolves_heads(upstream, runner):
    tree = upstream.create("org/app")
    tree.create_branch("stable")
    result = runner.run(request_for([], [tree]))
    assert result.ok
    head = tree.upstream_sha("master")
    assert result.repo_state == {"org/app": {"master": head, "stable": head}}
    assert result.commits == result.repo_state and result.config == {}


def test_steps_on_another_branch_start_from_that_branch(upstream, runner):
    tree = upstream.create("org/app")
    tree.checkout("stable", create_from="master")
    stable = tree.commit_and_push({"s.txt": "s\n"}, branch="stable")
    step = make_change(tree, 801, {"x.txt": "x\n"}, parent="master", branch="stable")
    result = runner.run(request_for([step], [tree]))
    assert result.ok
    work = runner.work_path(str(tree.upstream_path))
    assert gm.git(
        work, "show", "-s", "--format=%P", result.commits["org/app"]["stable"]
    ).split() == [stable, step.commit]
    assert result.commits["org/app"]["master"] == tree.upstream_sha("master")


def test_errors_name_the_change(upstream, runner):
    tree = upstream.create("org/app")
    a = make_change(tree, 901, {"a.txt": "a\n"})
    wrong = MergeStep(**{**a.to_dict(), "commit": "1" * 40})
    result = runner.run(request_for([wrong], [tree]))
    assert result.status is MergeStatus.ERROR
    assert result.error.startswith("change 901,1 of org/app: refs/changes/01/901/1 is ")
    assert "not the expected commit 111111111111" in result.error
    missing = MergeStep(**{**a.to_dict(), "commit": "2" * 40, "ref": "refs/changes/99/999/1"})
    result = runner.run(request_for([missing], [tree]))
    assert "change 901,1 of org/app: cannot fetch refs/changes/99/999/1" in result.error
    bad_mode = MergeStep(**{**a.to_dict(), "merge_mode": "octopus"})
    result = runner.run(request_for([bad_mode], [tree]))
    assert "unknown merge mode 'octopus'" in result.error
    no_branch = MergeStep(**{**a.to_dict(), "branch": "nope"})
    result = runner.run(request_for([no_branch], [tree]))
    assert result.error == "change 901,1 of org/app: the project has no branch 'nope'"


def test_a_step_commit_missing_from_the_mirror_is_fetched_by_its_ref(upstream, runner):
    tree = upstream.create("org/app")
    runner.run(request_for([], [tree]))  # the mirror exists, without the change
    a = make_change(tree, 11, {"a.txt": "a\n"})
    result = runner.run(
        request_for([a], [tree], repo_state={"org/app": {"master": tree.upstream_sha("master")}})
    )
    assert result.ok, result.error


def test_replay_rebuilds_the_same_commit_in_a_separate_clone(upstream, runner, tmp_path):
    tree, a, b = _moved_master(upstream)
    a.merge_mode = "cherry-pick"
    result = runner.run(request_for([a, b], [tree]))
    base = result.repo_state["org/app"]["master"]
    final = result.commits["org/app"]["master"]
    clone = tmp_path / "clone"
    git("clone", "-q", str(tree.upstream_path), str(clone))
    got = gm.replay(clone, base, [a, b], final, branch="master")
    assert got == final
    assert git("rev-parse", "HEAD", cwd=clone) == final
    assert git("symbolic-ref", "--short", "HEAD", cwd=clone) == "master"
    with pytest.raises(gm.ReplayMismatch, match="but the merger made 000000000000"):
        gm.replay(clone, base, [a, b], "0" * 40)


def test_merge_result_round_trips_through_json():
    result = MergeResult(
        ok=True,
        repo_state={"p": {"m": "1"}},
        commits={"p": {"m": "2"}},
        files={"p": ["f"]},
        config={"p": {"m": {"zuul.yaml": "x"}}},
        step_files=[["f"]],
        skipped=[],
    )
    request = request_for([], [])
    request.result = result
    back = MergeRequest.from_dict(request.to_dict())
    assert back.result == result and back.state == request.state


def test_a_cherry_pick_already_applied_by_content_is_an_empty_commit(upstream, runner):
    tree = upstream.create("org/app")
    a = make_change(tree, 21, {"same.txt": "same\n"}, mode="cherry-pick")
    twin = make_change(tree, 22, {"same.txt": "same\n"}, mode="cherry-pick")
    c = make_change(tree, 23, {"c.txt": "c\n"}, mode="cherry-pick")
    result = runner.run(request_for([a, twin, c], [tree]))
    assert result.ok, result.error or result.conflict
    assert result.step_files == [["same.txt"], [], ["c.txt"]]
    assert result.skipped == []


def test_changed_files_many_matches_one_diff_per_pair(upstream, tmp_path):
    tree = upstream.create("org/app")
    first = tree.head()
    second = tree.commit({"x": "1\n", "dir/y": "2\n"})
    third = tree.commit({"x": None})
    empty = tree.commit({})
    pairs = [(first, second), (second, second), (second, third), (third, empty), (first, empty)]
    assert (
        gm.changed_files_many(tree.path, pairs)
        == [gm.changed_files(tree.path, old, new) for old, new in pairs]
        == [["dir/y", "x"], [], ["x"], [], ["dir/y"]]
    )


def test_speculative_repo_state_carries_the_applied_steps_of_its_branch():
    from lockgate.model.builds import RepoState, speculative_repo_state

    def step(n, project="org/app", branch="master"):
        return MergeStep(
            "g", project, branch, f"refs/changes/{n}", f"{n}" * 40, "u", number=n, patchset=1
        )

    steps = [step(1), step(2, "org/lib"), step(3), step(4, branch="stable"), step(5)]
    result = MergeResult(
        ok=True,
        repo_state={"org/app": {"master": "a" * 40, "stable": "b" * 40, "old": "c" * 40}},
        commits={"org/app": {"master": "d" * 40, "stable": "e" * 40, "old": "c" * 40}},
        skipped=[2],
    )
    repo = RepoState("g", "org/app", "h/org/app", "u", "master", "refs/heads/master", "x")
    got = speculative_repo_state(repo, result, steps)
    assert (got.commit, got.base, [s.number for s in got.steps]) == ("d" * 40, "a" * 40, [1, 5])
    assert repo.steps == [] and repo.commit == "x"  # a copy
    old = speculative_repo_state(
        RepoState("g", "org/app", "h/org/app", "u", "old", "refs/heads/old", "x"), result, steps
    )
    assert (old.commit, old.base, old.steps) == ("c" * 40, None, [])
    with pytest.raises(KeyError, match="org/app branch nope"):
        speculative_repo_state(
            RepoState("g", "org/app", "h/org/app", "u", "nope", "refs/heads/nope", "x"),
            result,
            steps,
        )
