"""The service config: zuul.conf-shaped INI, one-line errors naming file, section, key."""

from __future__ import annotations

import pytest
from lockgate.service_config import ServiceConfig, ServiceConfigError

GOOD = """\
[zookeeper]
hosts = 127.0.0.1:2281
tls-ca = /etc/ca.pem

[scheduler]
tenant_config = /etc/main.yaml

[connection local]
driver = git
baseurl = /srv/git
poll_delay = 0.5

[provider cloud]
driver = local
labels = debian
"""


def test_known_sections_get_defaults_and_dashes_become_underscores() -> None:
    config = ServiceConfig.parse(GOOD, "lockgate.conf")
    zk = config.section("zookeeper")
    assert zk.get("hosts") == "127.0.0.1:2281"
    assert zk.get("tls_ca") == "/etc/ca.pem"
    assert zk.get_float("session_timeout") == 10.0
    # A section absent from the file still answers with its defaults.
    assert config.section("web").get_int("port") == 9000
    assert set(config.connections) == {"local"}
    assert config.connections["local"].get_float("poll_delay") == 0.5
    assert set(config.named("provider")) == {"cloud"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "[zookeeper]\nhost = x\n",
            "f.conf: [zookeeper] host: unknown key (did you mean 'hosts'?)",
        ),
        (
            "[zookeper]\nhosts = x\n",
            "f.conf: [zookeper]: unknown section (did you mean 'zookeeper'?)",
        ),
        (
            "[scheduler]\nstate_dir = /x\n",
            "f.conf: [scheduler] tenant_config: missing required key",
        ),
        (
            "[connection gerrit]\nserver = x\n",
            "f.conf: [connection gerrit] driver: missing required key",
        ),
        (
            "[connection]\ndriver = git\n",
            "f.conf: [connection]: section needs a name, e.g. [connection NAME]",
        ),
        ("[zookeeper\nhosts = x\n", "f.conf: File contains no section headers."),
    ],
)
def test_errors_are_one_line_naming_file_section_and_key(text: str, message: str) -> None:
    with pytest.raises(ServiceConfigError) as info:
        ServiceConfig.parse(text, "f.conf")
    assert str(info.value) == message
    assert "\n" not in str(info.value)


def test_typed_getters_name_the_key() -> None:
    config = ServiceConfig.parse("[web]\nport = nine\n[executor]\nkeep_jobdir = maybe\n", "f.conf")
    with pytest.raises(
        ServiceConfigError, match=r"^f.conf: \[web\] port: expected an integer, got 'nine'$"
    ):
        config.section("web").get_int("port")
    with pytest.raises(
        ServiceConfigError, match=r"\[executor\] keep_jobdir: expected true or false"
    ):
        config.section("executor").get_bool("keep_jobdir")


def test_missing_file_is_one_line(tmp_path) -> None:
    with pytest.raises(ServiceConfigError, match=r"nope.conf: cannot read: No such file"):
        ServiceConfig.load(tmp_path / "nope.conf")
