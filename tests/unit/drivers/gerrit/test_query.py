"""Change query answers -> Change: REST ChangeInfo and SSH ``gerrit query`` rows.

The JSON below follows the shapes of Gerrit's documentation
(rest-api-changes ChangeInfo/RevisionInfo/LabelInfo, json.txt for SSH);
values are made up.
"""

from __future__ import annotations

import json

import pytest
from lockgate.drivers.gerrit.query import (
    GerritHTTPError,
    change_from_rest,
    change_from_ssh,
    format_rest_time,
    parse_json_body,
    parse_rest_time,
    parse_ssh_output,
)
from lockgate.drivers.gerrit.reporter import MESSAGE_LIMIT, review_input, truncate
from lockgate.drivers.gerrit.source import change_number_in
from lockgate.model.change import ChangeStatus

SHA1, SHA2, PARENT = "1" * 40, "2" * 40, "0a" * 20
MESSAGE = "Fix it\n\nDepends-On: https://review.example.org/c/other/+/9\nChange-Id: I" + "3" * 40


def rest_change(**kw):
    data = {
        "id": "org%2Fp~main~I" + "3" * 40,
        "project": "org/p",
        "branch": "main",
        "topic": "t1",
        "hashtags": ["h"],
        "change_id": "I" + "3" * 40,
        "subject": "Fix it",
        "status": "NEW",
        "created": "2024-03-15 17:40:00.000000000",
        "updated": "2024-03-15 17:45:28.500000000",
        "submittable": False,
        "work_in_progress": True,
        "_number": 12345,
        "owner": {"_account_id": 1, "name": "Owner", "email": "o@x", "username": "owner"},
        "labels": {
            "Code-Review": {
                "approved": {"_account_id": 2},
                "all": [
                    {"value": 2, "date": "2024-03-15 17:45:00.000000000", "username": "core"},
                    {"value": 0, "username": "bystander"},
                ],
            },
            "Verified": {"all": [{"value": 0, "username": "ci"}]},
            "Lint": {"optional": True, "all": []},
        },
        "current_revision": SHA2,
        "revisions": {
            SHA1: {
                "_number": 1,
                "ref": "refs/changes/45/12345/1",
                "created": "2024-03-15 17:40:00.000000000",
                "uploader": {"username": "owner"},
                "commit": {"parents": [{"commit": PARENT}], "message": "Old", "subject": "Old"},
                "files": {"/COMMIT_MSG": {}, "a.py": {}},
            },
            SHA2: {
                "_number": 2,
                "ref": "refs/changes/45/12345/2",
                "created": "2024-03-15 17:44:00.000000000",
                "uploader": {"username": "bot", "name": "Bot"},
                "commit": {"parents": [{"commit": PARENT}], "message": MESSAGE, "subject": "Fix"},
                "files": {"/COMMIT_MSG": {}, "b.py": {}, "a.py": {}},
            },
        },
    }
    data.update(kw)
    return data


def test_rest_current_patchset():
    c = change_from_rest("gerrit", "https://review.example.org", rest_change())
    assert (c.number, c.patchset, c.commit, c.ref) == (12345, 2, SHA2, "refs/changes/45/12345/2")
    assert c.is_current_patchset and c.status is ChangeStatus.NEW
    assert c.parents == [PARENT] and c.files == ["a.py", "b.py"]
    assert c.wip and not c.private and c.topic == "t1" and c.hashtags == ["h"]
    assert c.message == MESSAGE and c.depends_on == ["https://review.example.org/c/other/+/9"]
    assert [(a.label, a.value, a.by.username) for a in c.approvals] == [("Code-Review", 2, "core")]
    assert c.approvals[0].granted_on == parse_rest_time("2024-03-15 17:45:00")
    assert c.owner.username == "owner" and c.uploader.name == "Bot"
    assert c.url == "https://review.example.org/c/org/p/+/12345"
    assert c.updated == 1710524728.5
    assert c.missing_labels == ["Verified"]  # Lint is optional, Code-Review approved


def test_rest_older_patchset_has_its_commit_and_no_votes():
    c = change_from_rest("gerrit", "https://r", rest_change(), patchset=1)
    assert (c.patchset, c.commit, c.message, c.files) == (1, SHA1, "Old", ["a.py"])
    assert not c.is_current_patchset and c.approvals == []


def test_rest_submittable_and_blocking():
    assert change_from_rest("g", "https://r", rest_change(submittable=True)).missing_labels == []
    blocked = rest_change()
    blocked["labels"]["Code-Review"]["blocking"] = True
    assert "Code-Review" in change_from_rest("g", "https://r", blocked).missing_labels


def test_rest_missing_patchset_is_an_error():
    with pytest.raises(LookupError, match="no patchset 7"):
        change_from_rest("g", "https://r", rest_change(), patchset=7)


def test_rest_body_guard_and_times():
    assert parse_json_body(")]}'\n" + json.dumps({"a": 1})) == {"a": 1}
    assert parse_json_body("") is None
    with pytest.raises(GerritHTTPError, match="not JSON"):
        parse_json_body(")]}'\n<html>")
    assert parse_rest_time("1970-01-01 00:00:01.250000000") == 1.25
    assert format_rest_time(1710524728.9) == "2024-03-15 17:45:28 +0000"


def ssh_row(**kw):
    ps1 = {
        "number": 1,
        "revision": SHA1,
        "parents": [PARENT],
        "ref": "refs/changes/45/12345/1",
        "uploader": {"username": "owner"},
        "createdOn": 1710524400,
        "approvals": [
            {
                "type": "Code-Review",
                "value": "-1",
                "grantedOn": 1710524401,
                "by": {"username": "core"},
            }
        ],
        "files": [{"file": "/COMMIT_MSG", "type": "ADDED"}, {"file": "a.py", "type": "MODIFIED"}],
    }
    ps2 = {
        "number": "2",
        "revision": SHA2,
        "parents": [PARENT],
        "ref": "refs/changes/45/12345/2",
        "uploader": {"username": "bot"},
        "createdOn": 1710524640,
        "kind": "REWORK",
        "approvals": [
            {
                "type": "Verified",
                "description": "Verified",
                "value": "1",
                "grantedOn": 1710524700,
                "by": {"username": "ci", "email": "ci@x"},
            },
            {"type": "Code-Review", "value": "0", "grantedOn": 1710524701, "by": {"username": "x"}},
        ],
        "files": [{"file": "/COMMIT_MSG"}, {"file": "b.py"}],
    }
    row = {
        "project": "org/p",
        "branch": "main",
        "id": "I" + "3" * 40,
        "number": "12345",
        "subject": "Fix it",
        "owner": {"name": "Owner", "username": "owner"},
        "url": "https://review.example.org/c/org/p/+/12345",
        "commitMessage": MESSAGE,
        "hashtags": [],
        "createdOn": 1710524400,
        "lastUpdated": 1710524728,
        "open": True,
        "status": "NEW",
        "private": True,
        "patchSets": [ps1, ps2],
        "currentPatchSet": ps2,
        "dependsOn": [
            {
                "id": "I" + "4" * 40,
                "number": 9,
                "revision": PARENT,
                "ref": "refs/changes/09/9/1",
                "isCurrentPatchSet": True,
            }
        ],
        "submitRecords": [
            {
                "status": "NOT_READY",
                "labels": [
                    {"label": "Verified", "status": "OK", "by": {"username": "ci"}},
                    {"label": "Code-Review", "status": "NEED"},
                    {"label": "Workflow", "status": "REJECT"},
                    {"label": "Lint", "status": "MAY"},
                ],
            }
        ],
    }
    row.update(kw)
    return row


def test_ssh_current_patchset():
    c = change_from_ssh("gerrit", ssh_row())
    assert (c.number, c.patchset, c.commit) == (12345, 2, SHA2)
    assert c.is_current_patchset and c.private and not c.wip
    assert [(a.label, a.value, a.by.email, a.granted_on) for a in c.approvals] == [
        ("Verified", 1, "ci@x", 1710524700.0)
    ]
    assert c.files == ["b.py"] and c.parents == [PARENT]
    assert c.missing_labels == ["Code-Review", "Workflow"]
    assert c.url.endswith("/12345") and c.updated == 1710524728.0 and c.created == 1710524640.0
    assert c.depends_on == ["https://review.example.org/c/other/+/9"]


def test_ssh_older_patchset_has_its_own_votes():
    c = change_from_ssh("gerrit", ssh_row(), patchset=1)
    assert not c.is_current_patchset and c.commit == SHA1
    assert [(a.label, a.value) for a in c.approvals] == [("Code-Review", -1)]


def test_ssh_current_patchset_only_query():
    row = ssh_row()
    row.pop("patchSets")
    c = change_from_ssh("gerrit", row)
    assert c.patchset == 2 and c.files == ["b.py"]


def test_ssh_output_stats_and_errors():
    out = (
        json.dumps(ssh_row())
        + "\n"
        + json.dumps({"type": "stats", "rowCount": 1, "moreChanges": True})
        + "\n"
    )
    rows, more = parse_ssh_output(out)
    assert len(rows) == 1 and more
    assert parse_ssh_output('{"type":"stats","rowCount":0}\n') == ([], False)
    with pytest.raises(ValueError, match="bad query"):
        parse_ssh_output('{"type":"error","message":"bad query"}\n')


@pytest.mark.parametrize(
    "url, number",
    [
        ("https://review.example.org/12345", 12345),
        ("https://review.example.org/12345/", 12345),
        ("https://review.example.org/12345/3", 12345),
        ("http://review.example.org/c/org/p/+/12345", 12345),
        ("https://review.example.org/c/org/p/+/12345/2", 12345),
        ("https://review.example.org/c/org/p/+/12345/2/a.py", 12345),
        ("https://review.example.org/#/c/12345/", 12345),
        ("https://review.example.org/#/c/12345/4", 12345),
        ("https://review.example.org/c/12345", 12345),
        ("https://review.example.org/#/c/org/p/+/12345", 12345),
        ("https://other.example.org/12345", None),
        ("https://review.example.org/q/status:open", None),
        ("https://review.example.org/", None),
        ("I" + "3" * 40, None),
    ],
)
def test_change_urls(url, number):
    assert change_number_in("https://review.example.org", url) == number


def test_change_urls_under_a_path():
    assert change_number_in("https://h.org/r/", "https://h.org/r/c/p/+/7/1") == 7
    assert change_number_in("https://h.org/r", "https://h.org/7") is None


def test_review_input():
    data = review_input(
        "ok", {"Verified": 1}, {"a.py": [{"line": 3, "message": "x"}]}, is_current=True
    )
    assert data == {
        "tag": "autogenerated:lockgate",
        "message": "ok",
        "labels": {"Verified": 1},
        "comments": {"a.py": [{"line": 3, "message": "x"}]},
    }
    stale = review_input("ok", {"Verified": 1}, {"a.py": []}, is_current=False)
    assert "labels" not in stale and "comments" not in stale
    long = truncate("é" * MESSAGE_LIMIT)
    assert len(long.encode()) <= MESSAGE_LIMIT and long.endswith("(truncated)")
