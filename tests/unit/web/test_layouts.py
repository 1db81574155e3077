"""Layout sources in ZooKeeper: written by digest, read back whole; the web's
layout cache builds once per published layout."""

from __future__ import annotations

from lockgate.zk.client import ZKClient
from lockgate.zk.layout_sources import (
    LayoutSources,
    SourceFile,
    files_digest,
    load_sources,
    save_sources,
)

A = {"zuul.yaml": "- job: {name: a}\n"}
B = {".zuul.yaml": "- job: {name: b}\n"}


def _sources(uuid: str, files: dict) -> LayoutSources:
    return LayoutSources(
        tenant="t",
        layout_uuid=uuid,
        tenant_config="- tenant: {name: t}\n",
        branches={"p": ["master"]},
        files=[SourceFile("c", p, b, files_digest(f)) for (p, b), f in files.items()],
    )


def test_only_changed_project_branches_are_written(zk_client: ZKClient) -> None:
    files = {("p", "master"): A, ("q", "master"): B}
    assert save_sources(zk_client, _sources("u1", files), files) == 2
    assert save_sources(zk_client, _sources("u2", files), files) == 0
    changed = {("p", "master"): A, ("q", "master"): {".zuul.yaml": "- job: {name: c}\n"}}
    assert save_sources(zk_client, _sources("u3", changed), changed) == 1
    found = load_sources(zk_client, "t")
    assert found is not None
    sources, read = found
    assert sources.layout_uuid == "u3" and read == changed


def test_a_project_branch_gone_is_removed(zk_client: ZKClient) -> None:
    files = {("p", "master"): A, ("q", "master"): B}
    save_sources(zk_client, _sources("u1", files), files)
    fewer = {("p", "master"): A}
    save_sources(zk_client, _sources("u2", fewer), fewer)
    found = load_sources(zk_client, "t")
    assert found is not None and found[1] == fewer


def test_nothing_published(zk_client: ZKClient) -> None:
    assert load_sources(zk_client, "t") is None
