"""Connection keys: Zuul's, Lockgate's few, and clear errors."""

from __future__ import annotations

import pytest
from lockgate.drivers.github.connection import GithubConfig
from lockgate.drivers.registry import make_connections
from lockgate.service_config import ServiceConfig, ServiceConfigError

from tests.unit.drivers.github.keys import private_key_pem


def parse(text: str) -> GithubConfig:
    config = ServiceConfig.parse(text, "/etc/lockgate/lockgate.conf")
    (connection,) = make_connections(config).values()
    return connection.config


def test_a_zuul_conf_section_with_every_documented_key_works(tmp_path):
    key = tmp_path / "app.pem"
    key.write_text(private_key_pem())
    config = parse(
        f"""
[connection "github"]
driver=github
app_id=1234
app_key={key}
api_token=ghp_fallback
webhook_token=hooksecret
sshkey=/home/zuul/.ssh/id_rsa
server=github.example.com
canonical_hostname=git.example.com
verify_ssl=false
rate_limit_logging=false
repo_retry_timeout=120
max_threads_per_installation=4
"""
    )
    assert config.name == "github"
    assert config.app_id == 1234 and config.uses_app
    assert config.api_url == "https://github.example.com/api/v3"
    assert config.baseurl == "https://github.example.com"
    assert config.canonical_hostname == "git.example.com"
    assert config.verify_ssl is False and config.rate_limit_logging is False
    assert config.repo_retry_timeout == 120 and config.max_threads_per_installation == 4
    assert "ghp_fallback" not in repr(config) and "hooksecret" not in repr(config)


def test_github_com_defaults():
    config = parse("[connection gh]\ndriver=github\napi_token=t\n")
    assert config.server == "github.com" and config.api_url == "https://api.github.com"
    assert config.canonical_hostname == "github.com" and config.webhook_token is None
    assert config.git_url("o/r") == "https://github.com/o/r.git"


def test_baseurl_for_a_plain_http_server_gives_its_api():
    config = parse("[connection gh]\ndriver=github\napi_token=t\nbaseurl=http://127.0.0.1:8080/\n")
    assert config.api_url == "http://127.0.0.1:8080/api/v3"
    assert config.web_host == "127.0.0.1:8080"


def test_repo_cache_sets_the_retry_timeout_and_the_git_host():
    config = parse("[connection gh]\ndriver=github\napi_token=t\nrepo_cache=cache.example.com\n")
    assert config.repo_retry_timeout == 600
    assert config.git_url("o/r") == "https://cache.example.com/o/r.git"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("api_tokn=x\n", "api_tokn: unknown key"),
        ("", "api_token: a GitHub connection needs api_token, or app_id and app_key"),
        ("app_id=12\n", "app_key: a GitHub App needs both app_id and app_key"),
        ("app_id=abc\napp_key=/x\n", "app_id: expected the App's numeric id"),
        ("app_id=1\napp_key=/nonexistent/key.pem\n", "app_key: cannot read /nonexistent"),
        ("api_token=t\nserver=https://x\n", "server: not a host name"),
        ("api_token=t\napi_url=ftp://x\n", "api_url: not an http(s) URL"),
        ("api_token=t\nmax_threads_per_installation=0\n", "must be 1 or more"),
        ("api_token=t\nrepo_cache=c\nsshkey=/k\n", "repo_cache: cannot be used with sshkey"),
    ],
)
def test_bad_sections_name_file_section_and_key(extra, message):
    with pytest.raises(ServiceConfigError) as info:
        parse("[connection gh]\ndriver=github\n" + extra)
    assert str(info.value).startswith("/etc/lockgate/lockgate.conf: [connection gh] ")
    assert message in str(info.value)


def test_an_app_key_that_is_not_a_key_is_refused(tmp_path):
    key = tmp_path / "app.pem"
    key.write_text("hello")
    with pytest.raises(ServiceConfigError, match="holds no PEM private key"):
        parse(f"[connection gh]\ndriver=github\napp_id=1\napp_key={key}\n")
