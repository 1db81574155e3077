"""Submit strategies, requirements and refusals, checked in the bare repository
with the real git binary."""

from __future__ import annotations

import pytest

from tests.fixtures.gerrit.client import ControlError

from .helpers import git, rest


def _bare(gerrit, project: str):
    return gerrit.state_dir / "git" / f"{project}.git"


def _tip(gerrit, project: str) -> str:
    return git("rev-parse", "refs/heads/master", cwd=_bare(gerrit, project))


def _parents(gerrit, project: str, sha: str) -> list[str]:
    return git("rev-list", "--parents", "-n", "1", sha, cwd=_bare(gerrit, project)).split()[1:]


def _ready(c, number: int) -> None:
    c.review(number, "bob", labels={"Code-Review": 2})
    c.review(number, "lockgate", labels={"Verified": 1})


def _two_changes(gerrit, submit_type: str, same_file: bool = False):
    c = gerrit.control
    c.create_project("p", {"base.txt": "base\n"}, submit_type=submit_type)
    a = c.create_change("p", {"shared.txt" if same_file else "a.txt": "from a\n"}, "A")
    b = c.create_change("p", {"shared.txt" if same_file else "b.txt": "from b\n"}, "B")
    _ready(c, a["number"])
    _ready(c, b["number"])
    return c, a, b


def _submit(gerrit, number: int):
    return rest(gerrit, "POST", f"/a/changes/{number}/submit")


def test_merge_if_necessary_fast_forwards_then_merges(gerrit):
    c, a, b = _two_changes(gerrit, "MERGE_IF_NECESSARY")
    assert _submit(gerrit, a["number"]).status_code == 200
    assert _tip(gerrit, "p") == a["revision"]
    assert _submit(gerrit, b["number"]).status_code == 200
    tip = _tip(gerrit, "p")
    assert _parents(gerrit, "p", tip) == [a["revision"], b["revision"]]
    assert c.change(b["number"])["merged_revision"] == tip
    merged = c.events(type="change-merged")[-1]["event"]
    assert merged["newRev"] == tip and merged["change"]["number"] == b["number"]


def test_merge_always_makes_a_merge_commit(gerrit):
    _, a, _ = _two_changes(gerrit, "MERGE_ALWAYS")
    base = _tip(gerrit, "p")
    assert _submit(gerrit, a["number"]).status_code == 200
    assert _parents(gerrit, "p", _tip(gerrit, "p")) == [base, a["revision"]]


def test_fast_forward_only_refuses_a_stale_parent(gerrit):
    c, a, b = _two_changes(gerrit, "FAST_FORWARD_ONLY")
    assert _submit(gerrit, a["number"]).status_code == 200
    refused = _submit(gerrit, b["number"])
    assert refused.status_code == 409 and "fast-forward" in refused.text
    assert c.change(b["number"])["status"] == "NEW"


def test_rebase_if_necessary_adds_a_patch_set(gerrit):
    c, a, b = _two_changes(gerrit, "REBASE_IF_NECESSARY")
    assert _submit(gerrit, a["number"]).status_code == 200
    assert _submit(gerrit, b["number"]).status_code == 200
    after = c.change(b["number"])
    assert after["current_patchset"] == 2 and after["patchsets"][1]["kind"] == "TRIVIAL_REBASE"
    assert _tip(gerrit, "p") == after["revision"]
    assert _parents(gerrit, "p", after["revision"]) == [a["revision"]]
    merged = c.events(type="change-merged")[-1]["event"]
    assert merged["patchSet"]["number"] == 2


def test_cherry_pick_adds_footers(gerrit):
    c, a, _ = _two_changes(gerrit, "CHERRY_PICK")
    assert _submit(gerrit, a["number"]).status_code == 200
    after = c.change(a["number"])
    assert after["revision"] != a["revision"] and after["current_patchset"] == 2
    message = git("log", "-1", "--format=%B", "refs/heads/master", cwd=_bare(gerrit, "p"))
    assert f"Reviewed-on: {a['url']}" in message
    assert "Reviewed-by: Bob Reviewer <bob@example.com>" in message
    assert "Tested-by: Lockgate CI <lockgate@example.com>" in message


@pytest.mark.parametrize(
    "submit_type", ["MERGE_IF_NECESSARY", "REBASE_IF_NECESSARY", "CHERRY_PICK"]
)
def test_conflict_refuses_submit(gerrit, submit_type):
    c, a, b = _two_changes(gerrit, submit_type, same_file=True)
    assert _submit(gerrit, a["number"]).status_code == 200
    tip = _tip(gerrit, "p")
    refused = _submit(gerrit, b["number"])
    assert refused.status_code == 409
    assert "Change could not be merged due to a path conflict" in refused.text
    assert c.change(b["number"])["status"] == "NEW" and _tip(gerrit, "p") == tip


def test_stack_submits_ancestors_and_checks_them(gerrit):
    c = gerrit.control
    c.create_project("p")
    a = c.create_change("p", {"a": "1\n"}, "A")
    b = c.create_change("p", {"b": "1\n"}, "B", parent_change=a["number"])
    _ready(c, b["number"])
    refused = _submit(gerrit, b["number"])
    assert (
        refused.status_code == 409 and f"Change {a['number']}: submit requirement" in refused.text
    )
    _ready(c, a["number"])
    assert _submit(gerrit, b["number"]).status_code == 200
    assert [c.change(n)["status"] for n in (a["number"], b["number"])] == ["MERGED", "MERGED"]
    assert _tip(gerrit, "p") == b["revision"]


def test_requirements_are_settable(gerrit):
    c = gerrit.control
    c.create_project("p", requirements=[{"label": "Verified", "need": 1, "block": -1}])
    change = c.create_change("p", {"f": "1\n"}, "F")
    c.review(change["number"], "lockgate", labels={"Verified": 1})
    c.review(change["number"], "bob", labels={"Verified": -1})
    assert _submit(gerrit, change["number"]).status_code == 409
    c.review(change["number"], "bob", labels={"Verified": 0})
    c.configure_project("p", submit_type="FAST_FORWARD_ONLY")
    assert _submit(gerrit, change["number"]).status_code == 200
    with pytest.raises(ControlError) as e:
        c.configure_project("p", submit_type="SOMETIMES")
    assert e.value.status == 400


def test_wip_change_is_not_submittable(gerrit):
    c = gerrit.control
    c.create_project("p")
    change = c.create_change("p", {"f": "1\n"}, "F", wip=True)
    _ready(c, change["number"])
    refused = _submit(gerrit, change["number"])
    assert refused.status_code == 409 and "work in progress" in refused.text
