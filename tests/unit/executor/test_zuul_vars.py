"""The ``zuul`` variables: scheduler part, executor part, projects."""

from __future__ import annotations

from pathlib import Path

from lockgate.executor.jobdir import JobDir
from lockgate.executor.repos import Checkout
from lockgate.executor.zuul_vars import build_zuul_vars
from lockgate.model.builds import BuildRequest, RepoState
from lockgate.model.jobs import FrozenJob


def repo(project: str, branch: str = "main", commit: str = "a" * 40) -> RepoState:
    return RepoState(
        connection="gerrit",
        project=project,
        canonical_name=f"review.example.org/{project}",
        url=f"https://review.example.org/{project}",
        branch=branch,
        ref=f"refs/heads/{branch}",
        commit=commit,
    )


def request(**zuul_vars) -> BuildRequest:
    app = repo("org/app")
    return BuildRequest(
        uuid="b1",
        tenant="t",
        pipeline="gate",
        buildset_uuid="bs1",
        event_id="e1",
        job=FrozenJob(name="unit", attempts=2, timeout=30),
        project=app,
        repos=[app],
        attempt=2,
        zuul_vars=zuul_vars,
    )


def checkouts(jobdir: JobDir, *repos: RepoState) -> dict[str, Checkout]:
    return {
        r.canonical_name: Checkout(r, jobdir.src_dir(r.canonical_name), r.commit) for r in repos
    }


def test_scheduler_values_kept_executor_values_win(tmp_path: Path):
    jobdir = JobDir(root=tmp_path / "b1", log_dir=tmp_path / "logs" / "b1")
    req = request(
        change="42",
        patchset="3",
        message="Zml4",
        attempts=99,
        executor={"hostname": "forged"},
        items=[{"change": "42"}],
    )
    other = repo("org/lib", branch="stable", commit="b" * 40)
    zv = build_zuul_vars(req, jobdir, checkouts(jobdir, req.project, other), "ex1")
    assert zv["change"] == "42" and zv["patchset"] == "3" and zv["message"] == "Zml4"
    assert zv["items"] == [{"change": "42"}]
    assert zv["attempts"] == 2 and zv["max_attempts"] == 2
    assert zv["executor"]["hostname"] == "ex1"
    assert zv["executor"]["src_root"] == str(tmp_path / "b1" / "work" / "src")
    assert zv["executor"]["log_root"] == str(tmp_path / "logs" / "b1")
    assert zv["timeout"] == 30
    lib = zv["projects"]["review.example.org/org/lib"]
    assert lib == {
        "name": "org/lib",
        "short_name": "lib",
        "canonical_hostname": "review.example.org",
        "canonical_name": "review.example.org/org/lib",
        "src_dir": "src/review.example.org/org/lib",
        "checkout": "stable",
        "checkout_description": "project default branch",
        "commit": "b" * 40,
        "required": False,
    }
    assert zv["projects"]["review.example.org/org/app"]["checkout_description"] == "zuul branch"


def test_ref_event_has_no_message(tmp_path: Path):
    jobdir = JobDir(root=tmp_path / "b1", log_dir=tmp_path / "logs" / "b1")
    req = request()
    zv = build_zuul_vars(req, jobdir, checkouts(jobdir, req.project), "ex1")
    assert "message" not in zv and "change" not in zv
    assert zv["newrev"] == "a" * 40
    assert zv["ref"] == "refs/heads/main" and zv["branch"] == "main"


def test_scheduler_checkout_reasons_kept_and_flat_src_dir(tmp_path: Path):
    jobdir = JobDir(root=tmp_path / "b1", log_dir=tmp_path / "logs" / "b1")
    app = repo("org/app")
    req = request(
        projects={
            app.canonical_name: {
                "checkout_description": "zuul ref",
                "required": True,
                "commit": "stale",
                "src_dir": "src/review.example.org/org/app",
            }
        }
    )
    flat = {
        app.canonical_name: Checkout(app, jobdir.work_root / "src" / "app", "c" * 40, "src/app")
    }
    zv = build_zuul_vars(req, jobdir, flat, "ex1")
    entry = zv["projects"][app.canonical_name]
    assert entry["checkout_description"] == "zuul ref" and entry["required"] is True
    assert entry["commit"] == "c" * 40  # what is checked out, not what was asked
    assert entry["src_dir"] == "src/app" and zv["project"]["src_dir"] == "src/app"
