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
    assert s.allow_unzoned is False and s.zones == ("default",)


@pytest.mark.parametrize(
    ("lines", "zones"),
    [
        ("zone = east\n", ("east",)),
        ("zone = east\nallow_unzoned = true\n", ("east", "default")),
        ("zone = east\nallow-unzoned = false\n", ("east",)),
        # Unzoned: takes the unzoned builds whatever the key says (Zuul too).
        ("allow_unzoned = false\n", ("default",)),
    ],
)
def test_zones_from_zone_and_allow_unzoned(tmp_path, lines, zones):
    s = settings(f"[executor]\nstate_dir = {tmp_path}\n{lines}")
    assert s.zones == zones


def test_allow_unzoned_must_be_a_boolean(tmp_path):
    with pytest.raises(
        ServiceConfigError, match=r"\[executor\] allow_unzoned: expected true or false"
    ):
        settings(f"[executor]\nstate_dir = {tmp_path}\nzone = east\nallow_unzoned = maybe\n")


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
