"""``[executor]`` settings: defaults, site variables, clear errors."""

from __future__ import annotations

import pytest
from lockgate.executor.settings import ExecutorSettings
from lockgate.service_config import ServiceConfig, ServiceConfigError


def settings(text: str) -> ExecutorSettings:
    return ExecutorSettings.from_config(ServiceConfig.parse(text, "/etc/lockgate/lockgate.conf"))


def test_defaults(tmp_path):
    s = settings(f"[executor]\nstate_dir = {tmp_path}\n")
    assert s.log_root == tmp_path / "logs"
    assert s.builds_root == tmp_path / "builds"
    assert s.git_root == tmp_path / "git"
    assert s.zone == "default" and s.max_builds == 4 and s.keep_jobdir is False
    assert s.log_url_for("u1") is None


def test_log_url_gets_a_slash(tmp_path):
    s = settings(f"[executor]\nstate_dir = {tmp_path}\nlog_url = http://h:9000/logs\n")
    assert s.log_url_for("u1") == "http://h:9000/logs/u1/"


def test_site_variables(tmp_path):
    path = tmp_path / "site.yaml"
    path.write_text("mirror: http://mirror.example\n")
    s = settings(f"[executor]\nstate_dir = {tmp_path}\nvariables = {path}\n")
    assert s.site_variables == {"mirror": "http://mirror.example"}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot read"),
        ("a: [\n", "invalid YAML"),
        ("- a\n- b\n", "must hold a mapping"),
    ],
)
def test_bad_site_variables(tmp_path, content, message):
    path = tmp_path / "site.yaml"
    if content is not None:
        path.write_text(content)
    with pytest.raises(
        ServiceConfigError,
        match=rf"^/etc/lockgate/lockgate.conf: \[executor\] "
        rf"variables: .*{message}",
    ):
        settings(f"[executor]\nstate_dir = {tmp_path}\nvariables = {path}\n")


def test_max_builds_must_be_positive(tmp_path):
    with pytest.raises(ServiceConfigError, match=r"\[executor\] max_builds: must be at least 1"):
        settings(f"[executor]\nstate_dir = {tmp_path}\nmax_builds = 0\n")


def test_git_dir_from_zuul_conf(tmp_path):
    """``[executor] git_dir`` (Zuul's key) places the executor's git mirrors."""
    s = settings(f"[executor]\nstate_dir = {tmp_path}\ngit_dir = {tmp_path}/mirrors\n")
    assert s.git_root == tmp_path / "mirrors"
