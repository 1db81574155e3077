"""Decrypting a frozen job's secrets for one playbook: which secrets, what
errors say (the secret and its project, never the content), and the real
encrypted secrets of OpenDev's configuration."""

from __future__ import annotations

import base64

import pytest
from lockgate.config.freeze import freeze_job_graph
from lockgate.keys import crypto
from lockgate.keys.keystore import KeyMissing, KeystorePasswordError
from lockgate.keys.secrets import (
    SecretError,
    check_secrets,
    has_encrypted,
    memo,
    playbook_secrets,
)

from tests.unit.config.test_layout_corpus import layout  # noqa: F401 - the corpus fixture


def entry(name, data, project="org/app", **extra):
    return {
        "name": name,
        "secret": name,
        "project": project,
        "connection": "gerrit",
        "data": data,
        **extra,
    }


def encrypted(text, key):
    return {"encrypted": "pkcs1-oaep", "ciphertext": crypto.encrypt(text, key.public_key())}


def keys_of(mapping):
    asked = []

    def key_for(connection, project):
        asked.append((connection, project))
        if project not in mapping:
            raise KeyMissing(f"project '{project}' (connection '{connection}') has no keys")
        return mapping[project]

    return key_for, asked


def test_playbook_gets_its_secrets_decrypted_with_their_projects_key(project_key, other_key):
    entries = [
        entry("creds", {"user": "bot", "token": encrypted("tok-1", project_key)}),
        entry("other", {"password": encrypted("pw-2", other_key)}, project="org/lib"),
        entry("plain", {"url": "https://example.org", "list": [1, "two"]}),
    ]
    key_for, asked = keys_of({"org/app": project_key, "org/lib": other_key})
    found = playbook_secrets(entries, [0, 2], key_for)
    assert found.variables == {
        "creds": {"user": "bot", "token": "tok-1"},
        "plain": {"url": "https://example.org", "list": [1, "two"]},
    }
    # Only what was encrypted is masked; plain values are not secrets.
    assert found.masked == ["tok-1"] and found.decryptions == 1
    assert asked == [("gerrit", "org/app")]  # the lib secret was not asked for
    assert playbook_secrets(entries, [1], key_for).variables == {"other": {"password": "pw-2"}}


def test_nested_encrypted_values(project_key):
    data = {"clouds": [{"auth": {"password": encrypted("deep", project_key)}}], "n": 3}
    key_for, _ = keys_of({"org/app": project_key})
    found = playbook_secrets([entry("c", data)], [0], key_for)
    assert found.variables["c"] == {"clouds": [{"auth": {"password": "deep"}}], "n": 3}


@pytest.mark.parametrize(
    "make, expected",
    [
        (
            lambda key, other: encrypted("the-secret-value", other),
            "secret 'creds' of project 'org/app', field auth.password: the ciphertext cannot "
            "be decrypted with the project's key",
        ),
        (
            lambda key, other: {
                "encrypted": "pkcs1-oaep",
                "ciphertext": [crypto.encrypt("the-secret-value", key.public_key())[0][:400]],
            },
            "secret 'creds' of project 'org/app', field auth.password: the ciphertext is 300 "
            "bytes long, not 512",
        ),
        (
            lambda key, other: {"encrypted": "aes", "ciphertext": ["x"]},
            "unsupported encryption 'aes'",
        ),
    ],
    ids=["another-projects-key", "truncated", "unknown-kind"],
)
def test_errors_name_secret_project_and_field_never_content(project_key, other_key, make, expected):
    value = make(project_key, other_key)
    entries = [entry("creds", {"user": "bot", "auth": {"password": value}})]
    key_for, _ = keys_of({"org/app": project_key})
    with pytest.raises(SecretError) as caught:
        playbook_secrets(entries, [0], key_for)
    message = str(caught.value)
    assert expected in message
    assert "the-secret-value" not in message and "bot" not in message
    for chunk in value["ciphertext"]:
        assert chunk[:16] not in message


def test_keystore_problems_name_secret_and_project(project_key):
    entries = [entry("creds", {"token": encrypted("t", project_key)}, project="org/new")]
    key_for, _ = keys_of({})
    with pytest.raises(SecretError) as caught:
        check_secrets(entries, [0], key_for)
    assert str(caught.value) == (
        "secret 'creds' of project 'org/new' cannot be decrypted: project 'org/new' "
        "(connection 'gerrit') has no keys"
    )

    def no_password(connection, project):
        raise KeystorePasswordError("the keystore password does not open the secrets key of x")

    with pytest.raises(
        SecretError,
        match="secret 'creds' of project 'org/new' cannot be decrypted: the keystore password",
    ):
        check_secrets(entries, [0], no_password)


def test_secrets_without_encrypted_values_need_no_key():
    def key_for(connection, project):
        raise AssertionError("no key needed")

    found = playbook_secrets([entry("plain", {"a": "b"})], [0], key_for)
    assert found.variables == {"plain": {"a": "b"}} and found.masked == []


def test_index_out_of_range_and_oidc():
    with pytest.raises(SecretError, match="secret index 3 is out of range"):
        playbook_secrets([], [3], lambda c, p: None)
    with pytest.raises(SecretError, match="OIDC secrets are not supported"):
        playbook_secrets([entry("o", None, oidc={"audience": "x"})], [0], lambda c, p: None)


def test_memo_asks_once_per_project(project_key):
    key_for, asked = keys_of({"org/app": project_key})
    cached = memo(key_for)
    entries = [entry(f"s{i}", {"v": encrypted(f"v{i}", project_key)}) for i in range(3)]
    found = playbook_secrets(entries, [0, 1, 2], cached)
    check_secrets(entries, [0, 1, 2], cached)
    assert found.decryptions == 3 and asked == [("gerrit", "org/app")]


# -- the corpus: OpenDev's real encrypted secrets ----------------------------------


def test_corpus_secrets_load_and_freeze_encrypted(layout, project_key):  # noqa: F811
    """openstack-tox-pep8 gets base's seven log-upload secrets
    (base-jobs zuul.d/jobs.yaml:66, secrets.yaml) still encrypted: each
    chunk is a 4096-bit key's block, as written (YAML-folded lines)."""
    graph = freeze_job_graph(layout, "check", "openstack/nova", "master", ["nova/api.py"])
    job = graph.get_job("openstack-tox-pep8")
    assert job is not None
    assert {s["project"] for s in job.secrets} == {"opendev/base-jobs"}
    assert {s["connection"] for s in job.secrets} == {"gerrit"}
    values = [v for s in job.secrets for v in _encrypted_values(s["data"])]
    assert len(values) >= 7 and all(has_encrypted(s["data"]) for s in job.secrets)
    for value in values:
        assert value["encrypted"] == "pkcs1-oaep"
        for chunk in value["ciphertext"]:
            assert len(base64.b64decode("".join(chunk.split()))) == 512
    # Without OpenDev's key they cannot be decrypted: the error names the
    # secret and its project, and shows nothing of the ciphertext.
    key_for, asked = keys_of({"opendev/base-jobs": project_key})
    used = job.pre_run[0].secrets
    with pytest.raises(SecretError) as caught:
        check_secrets(job.secrets, used, key_for)
    message = str(caught.value)
    first = job.secrets[used[0]]
    assert message.startswith(f"secret '{first['secret']}' of project 'opendev/base-jobs', field ")
    assert "cannot be decrypted with the project's key" in message
    assert all(c.split()[0] not in message for v in values for c in v["ciphertext"])
    assert asked == [("gerrit", "opendev/base-jobs")]


def _encrypted_values(value):
    if isinstance(value, dict) and "ciphertext" in value:
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _encrypted_values(v)
    elif isinstance(value, list):
        for v in value:
            yield from _encrypted_values(v)
