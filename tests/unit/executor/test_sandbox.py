"""The bubblewrap command line: what is visible and writable."""

from __future__ import annotations

from pathlib import Path

import pytest
from lockgate.executor.jobdir import JobDir
from lockgate.executor.sandbox import SandboxPolicy
from lockgate.service_config import ServiceConfig, ServiceConfigError


def binds(args: list[str], kind: str) -> list[str]:
    return [args[i + 1] for i, a in enumerate(args) if a == kind]


@pytest.fixture
def jobdir(tmp_path: Path) -> JobDir:
    return JobDir.create(tmp_path / "builds", tmp_path / "logs", "b1")


def test_untrusted_sees_only_its_build(jobdir, tmp_path):
    policy = SandboxPolicy(untrusted_ro_paths=["/opt"], trusted_ro_paths=["/srv"])
    args = policy.wrap(["ansible-playbook", "x.yaml"], jobdir, trusted=False, network=False)
    assert args[:3] == ["bwrap", "--unshare-all", "--die-with-parent"]
    assert "--share-net" not in args
    assert args[-2:] == ["ansible-playbook", "x.yaml"]
    rw = binds(args, "--bind")
    assert set(rw) == {str(jobdir.work_root), str(jobdir.tmp_root), str(jobdir.log_dir)}
    ro = binds(args, "--ro-bind")
    assert str(jobdir.root) in ro and "/opt" in ro and "/srv" not in ro
    assert not any(
        p.startswith(str(tmp_path / "builds")) and not p.startswith(str(jobdir.root))
        for p in ro + rw
    )
    assert "/etc" not in ro and "/etc/passwd" in ro
    assert "--remount-ro" in args


def test_trusted_shares_network_and_gets_trusted_paths(jobdir):
    policy = SandboxPolicy(untrusted_ro_paths=["/opt"], trusted_ro_paths=["/srv"])
    args = policy.wrap(["true"], jobdir, trusted=True, network=False)
    assert "--share-net" in args
    assert "/srv" in binds(args, "--ro-bind") and "/opt" not in binds(args, "--ro-bind")


def test_remote_nodes_share_network(jobdir):
    args = SandboxPolicy().wrap(["true"], jobdir, trusted=False, network=True)
    assert "--share-net" in args


def test_none_runs_unwrapped(jobdir):
    assert SandboxPolicy(kind="none").wrap(["true"], jobdir, trusted=False, network=False) == [
        "true"
    ]


def test_bad_sandbox_value_names_file_section_key(tmp_path):
    config = ServiceConfig.parse("[executor]\nsandbox = docker\n", "/etc/lockgate/x.conf")
    with pytest.raises(
        ServiceConfigError, match=r"^/etc/lockgate/x.conf: \[executor\] sandbox: expected"
    ):
        SandboxPolicy.from_config(config.section("executor"), [])
