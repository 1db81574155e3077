"""Reviews and submits against the Gerrit emulator, over REST and over SSH."""

from __future__ import annotations

import pytest
from lockgate.drivers.base import ChangeReporter, ReportError

from .helpers import connect


@pytest.fixture
def change_number(gerrit):
    gerrit.control.create_project("org/p", files={"README": "hello\n"})
    return gerrit.control.create_change("org/p", files={"a.py": "a\n"}, message="A")["number"]


@pytest.mark.parametrize("http", [True, False], ids=["rest", "ssh"])
def test_review_with_labels_and_file_comments(gerrit, tmp_path, change_number, http):
    conn = connect(gerrit, tmp_path, http=http)
    change = conn.source().get_change(change_number)
    reporter = conn.reporter()
    assert isinstance(reporter, ChangeReporter)
    reporter.review(
        change,
        "Build succeeded.",
        {"Verified": 1},
        {"a.py": [{"line": 1, "message": "consider a docstring"}]},
    )
    posted = gerrit.control.reviews(change=change_number, kind="review")[-1]
    assert posted["account"] == gerrit.user and posted["via"] == ("rest" if http else "ssh")
    assert posted["message"] == "Build succeeded." and posted["labels"] == {"Verified": 1}
    assert posted["comments"] == {"a.py": [{"line": 1, "message": "consider a docstring"}]}
    assert posted["result"] == "ok"
    after = conn.source().get_change(change_number)
    assert [(a.label, a.value, a.by.username) for a in after.approvals] == [
        ("Verified", 1, gerrit.user)
    ]


@pytest.mark.parametrize("http", [True, False], ids=["rest", "ssh"])
def test_submit_merges(gerrit, tmp_path, change_number, http):
    conn = connect(gerrit, tmp_path, http=http)
    gerrit.control.vote(change_number, "Code-Review", 2)
    reporter = conn.reporter()
    reporter.review(conn.source().get_change(change_number), "ok", {"Verified": 1})
    change = conn.source().get_change(change_number)
    assert change.missing_labels == []
    reporter.submit(change)
    assert conn.source().get_change(change_number).is_merged
    head = conn.source().get_ref_sha("org/p", "master")
    assert head == gerrit.control.change(change_number)["merged_revision"]


@pytest.mark.parametrize("http", [True, False], ids=["rest", "ssh"])
def test_refused_submit_is_permanent(gerrit, tmp_path, change_number, http):
    conn = connect(gerrit, tmp_path, http=http)
    change = conn.source().get_change(change_number)  # not approved: Gerrit says no
    with pytest.raises(ReportError) as info:
        conn.reporter().submit(change)
    assert info.value.permanent
    assert f"submit of {change_number},1" in str(info.value)
    if http:
        assert "409 Conflict" in str(info.value)
    assert not conn.source().get_change(change_number).is_merged


def test_injected_conflict_on_review(gerrit, tmp_path, change_number):
    conn = connect(gerrit, tmp_path)
    gerrit.control.refuse("review", "change is closed", status=409, count=1)
    change = conn.source().get_change(change_number)
    with pytest.raises(ReportError, match="409 Conflict: change is closed") as info:
        conn.reporter().review(change, "hello", {"Verified": 1})
    assert info.value.permanent


def test_wrong_password_on_review_is_permanent(gerrit, tmp_path, change_number):
    change = connect(gerrit, tmp_path).source().get_change(change_number)
    conn = connect(gerrit, tmp_path, password="nope")
    with pytest.raises(ReportError, match="401") as info:
        conn.reporter().review(change, "hello")
    assert info.value.permanent


def test_unreachable_is_temporary(gerrit, tmp_path, change_number):
    change = connect(gerrit, tmp_path).source().get_change(change_number)
    conn = connect(gerrit, tmp_path, baseurl="http://127.0.0.1:9")
    with pytest.raises(ReportError, match="unreachable") as info:
        conn.reporter().review(change, "hello")
    assert not info.value.permanent
