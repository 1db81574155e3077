"""Zuul's rules for which jobs may run with secrets, beyond those in
test_freeze: a ``pass-to-parent`` secret that reaches a playbook of an
untrusted project makes the job post-review (it could be exposed by a
proposed change to that playbook); reaching only trusted playbooks, it
does not."""

from __future__ import annotations

from lockgate.config.freeze import freeze_job_graph

from tests.unit.config.yaml_objects import BASE_CONFIG, layout_of, messages, repo

CONFIG = """
- secret: {name: upload, data: {token: t}}
- job:
    name: trusted-parent
    post-run: trusted-post.yaml
- job:
    name: child-of-untrusted
    parent: untrusted-parent
    run: child-run.yaml
    secrets:
      - {name: upload, secret: upload, pass-to-parent: true}
- job:
    name: child-of-trusted
    parent: trusted-parent
    run: child-run.yaml
    secrets:
      - {name: upload, secret: upload, pass-to-parent: true}
- job:
    name: bound-secret
    parent: untrusted-parent
    run: child-run.yaml
    secrets: [upload]
- project:
    name: org/project
    check: {jobs: [child-of-untrusted, child-of-trusted, bound-secret]}
    post: {jobs: [child-of-untrusted]}
"""

UNTRUSTED = """
- job:
    name: untrusted-parent
    pre-run: untrusted-pre.yaml
"""


def test_pass_to_parent_into_an_untrusted_playbook_makes_the_job_post_review():
    layout = layout_of(
        repo("org/jobs", UNTRUSTED), base=BASE_CONFIG + CONFIG, extra_projects=("org/project",)
    )
    assert messages(layout) == []
    check = freeze_job_graph(layout, "check", "org/project", "master", None)
    # The untrusted parent's pre-run would read the secret: check refuses it.
    assert "child-of-untrusted" not in check.job_names
    assert "child-of-trusted" in check.job_names and "bound-secret" in check.job_names
    post = freeze_job_graph(layout, "post", "org/project", "master", None)
    job = post.get_job("child-of-untrusted")
    assert job is not None and job.post_review is True
    pre = [p for p in job.pre_run if p.path == "untrusted-pre.yaml"][0]
    assert [job.secrets[i]["name"] for i in pre.secrets] == ["upload"]
    # Passed only to a trusted parent's playbooks: safe in check.
    trusted = check.get_job("child-of-trusted")
    assert trusted is not None and trusted.post_review is False
    post_pb = [p for p in trusted.post_run if p.path == "trusted-post.yaml"][0]
    assert [trusted.secrets[i]["name"] for i in post_pb.secrets] == ["upload"]
    # Not passed to the parent: the untrusted playbook never sees it.
    bound = check.get_job("bound-secret")
    assert bound is not None and bound.post_review is False
    assert all(p.secrets == [] for p in bound.pre_run)
