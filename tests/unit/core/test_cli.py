"""The ``lockgate`` command: bad service config is one line and exit status 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

LOCKGATE = [sys.executable, "-m", "lockgate.cli"]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*LOCKGATE, *args], capture_output=True, text=True, timeout=60)


def test_unknown_key_is_one_line_and_status_2(tmp_path: Path) -> None:
    conf = tmp_path / "lockgate.conf"
    conf.write_text("[zookeeper]\nhost = 127.0.0.1:2281\n")
    for component in ("scheduler", "executor", "launcher", "web"):
        result = run("-c", str(conf), component)
        assert result.returncode == 2, (component, result.stderr)
        assert result.stderr == (
            f"lockgate: {conf}: [zookeeper] host: unknown key (did you mean 'hosts'?)\n"
        ), component
        assert "Traceback" not in result.stderr


def test_missing_config_file(tmp_path: Path) -> None:
    result = run("-c", str(tmp_path / "missing.conf"), "scheduler")
    assert result.returncode == 2
    assert result.stderr.strip().endswith("missing.conf: cannot read: No such file or directory")


def test_config_check_is_dispatched(tmp_path: Path) -> None:
    repo = tmp_path / "config"
    repo.mkdir()
    (repo / "zuul.yaml").write_text("- job:\n    name: base\n    parent: null\n    voteing: true\n")
    result = run("config", "check", str(repo))
    assert result.returncode == 1
    assert "unknown attribute 'voteing'" in result.stdout
    assert "did you mean 'voting'?" in result.stdout


def test_config_check_takes_the_global_service_config(tmp_path: Path) -> None:
    """``lockgate -c FILE config check`` checks labels against FILE's
    providers, as ``lockgate config check -c FILE`` does."""
    repo = tmp_path / "config"
    repo.mkdir()
    (repo / "zuul.yaml").write_text(
        "- nodeset:\n    name: one\n    nodes:\n      - name: n\n        label: ubuntu\n"
    )
    site = tmp_path / "site.conf"
    site.write_text("[provider local]\ndriver = local\nlabels = debian\n")
    for args in (("-c", str(site), "config", "check"), (f"--config={site}", "config", "check")):
        result = run(*args, str(repo))
        assert result.returncode == 1, args
        assert "uses label 'ubuntu', which no provider of the tenant offers" in result.stdout
    assert run("config", "check", str(repo)).returncode == 0


def test_no_command_prints_help() -> None:
    result = run()
    assert result.returncode == 2
    assert "scheduler" in result.stdout and "config" in result.stdout
