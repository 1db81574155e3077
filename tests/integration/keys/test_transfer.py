"""``lockgate keys export`` / ``import`` and ``lockgate encrypt``, through the
command line, on a real ZooKeeper: Lockgate's exports round-trip, Zuul's
``zuul-admin export-keys`` files import (a project's existing secrets keep
decrypting), and Zuul can read what Lockgate exports."""

from __future__ import annotations

import io
import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import paramiko
import pytest
from cryptography.hazmat.primitives import serialization
from lockgate.keys import crypto, transfer
from lockgate.keys.keystore import KeyStore

LOCKGATE = [sys.executable, "-m", "lockgate.cli"]


def write_config(tmp_path: Path, zk_server, chroot: str, password: str, name: str) -> Path:
    path = tmp_path / name
    path.write_text(
        "[zookeeper]\n"
        f"hosts = {zk_server.server.hosts}\n"
        f"tls_ca = {zk_server.tls.client.ca}\n"
        f"tls_cert = {zk_server.tls.client.cert}\n"
        f"tls_key = {zk_server.tls.client.key}\n"
        f"chroot = {chroot}\n"
        "[keystore]\n"
        f"password = {password}\n"
    )
    return path


def lockgate(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*LOCKGATE, *args], capture_output=True, text=True, timeout=120, input=stdin
    )


def zuul_export(projects: dict[str, object], password: str, *, with_ssh: bool) -> dict:
    """A file as ``zuul-admin export-keys`` writes it: Zuul's keystorage
    paths, the secrets key as traditional OpenSSL PEM encrypted with the
    keystore password, the SSH key as paramiko writes it."""
    keys: dict[str, object] = {}
    for project, key in projects.items():
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.BestAvailableEncryption(password.encode()),
        ).decode()
        prefix = project.split("/")[0]
        quoted = project.replace("/", "%2F")
        base = f"/keystorage/gerrit/{prefix}/{quoted}"
        entry = {"version": 0, "created": int(time.time()), "private_key": pem}
        keys[f"{base}/secrets"] = {"schema": 1, "keys": [entry]}
        if with_ssh:
            ssh = paramiko.RSAKey.generate(bits=2048)
            out = io.StringIO()
            ssh.write_private_key(out, password)
            keys[f"{base}/ssh"] = {
                "schema": 1,
                "keys": [{"version": 0, "created": 1, "private_key": out.getvalue()}],
            }
    return {"keys": keys}


def test_export_and_import_round_trip_through_the_command_line(tmp_path, zk_server, zk_connect):
    source_chroot = f"/test-export-{os.getpid()}-{time.monotonic_ns()}"
    target_chroot = source_chroot + "-target"
    source = write_config(tmp_path, zk_server, source_chroot, "pw-1", "source.conf")
    target = write_config(tmp_path, zk_server, target_chroot, "pw-1", "target.conf")
    client = zk_server.client(source_chroot)
    client.connect(timeout=15)
    try:
        keystore = KeyStore(client, "pw-1")
        secret_for = {}
        for project in ("org/app", "org/lib"):
            keystore.ensure("gerrit", project)
            public = crypto.load_public_pem(keystore.public_key("gerrit", project))
            secret_for[project] = crypto.encrypt(f"secret of {project}", public)
    finally:
        client.disconnect()
    export = tmp_path / "keys.json"
    result = lockgate("-c", str(source), "keys", "export", str(export))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"exported the keys of 2 projects to {export}"
    assert stat.S_IMODE(export.stat().st_mode) == 0o600
    data = json.loads(export.read_text())
    assert sorted(data["keys"]) == [
        "/keystorage/gerrit/org/org%2Fapp/secrets",
        "/keystorage/gerrit/org/org%2Fapp/ssh",
        "/keystorage/gerrit/org/org%2Flib/secrets",
        "/keystorage/gerrit/org/org%2Flib/ssh",
    ]
    assert "pw-1" not in export.read_text()
    result = lockgate("-c", str(target), "keys", "import", str(export))
    assert result.returncode == 0, result.stderr
    assert "imported the keys of 2 projects" in result.stdout
    moved = KeyStore(zk_connect_at(zk_server, target_chroot), "pw-1")
    for project, chunks in secret_for.items():
        assert (
            crypto.decrypt(chunks, moved.secrets_key("gerrit", project)) == f"secret of {project}"
        )
    # Importing again keeps what is there, unless --force.
    result = lockgate("-c", str(target), "keys", "import", str(export))
    assert result.returncode == 0
    assert "kept the existing keys of org/app (gerrit)" in result.stdout
    assert "imported the keys of 0 projects" in result.stdout


def zk_connect_at(zk_server, chroot):
    client = zk_server.client(chroot)
    client.connect(timeout=15)
    return client


def test_zuul_export_imports_and_its_secrets_keep_decrypting(tmp_path, zk_client):
    """A project moving from Zuul keeps its encrypted secrets working."""
    zuul_keys = {"org/app": crypto.generate_secrets_key()}
    # A secret encrypted for the project while it lived in Zuul.
    chunks = crypto.encrypt("registry-password", zuul_keys["org/app"].public_key())
    text = json.dumps(zuul_export(zuul_keys, "zuul-keystore-pw", with_ssh=True))
    keystore = KeyStore(zk_client, "zuul-keystore-pw")
    report = transfer.import_keys(keystore, text, password="zuul-keystore-pw")
    assert report.imported == [("gerrit", "org/app")] and report.errors == []
    assert crypto.decrypt(chunks, keystore.secrets_key("gerrit", "org/app")) == "registry-password"
    assert keystore.ssh_public_key("gerrit", "org/app").startswith("ssh-rsa ")
    assert keystore.load("gerrit", "org/app").public_key == crypto.public_pem(zuul_keys["org/app"])


def test_zuul_reads_what_lockgate_exports(zk_client):
    keystore = KeyStore(zk_client, "shared-pw")
    keystore.ensure("gerrit", "org/app")
    data = transfer.export_keys(keystore)
    secrets_entry = data["keys"]["/keystorage/gerrit/org/org%2Fapp/secrets"]
    ssh_entry = data["keys"]["/keystorage/gerrit/org/org%2Fapp/ssh"]
    # Zuul's reader of each (zuul/lib/encryption.py, keystorage.py).
    serialization.load_pem_private_key(
        secrets_entry["keys"][0]["private_key"].encode(), password=b"shared-pw"
    )
    paramiko.RSAKey.from_private_key(io.StringIO(ssh_entry["keys"][0]["private_key"]), "shared-pw")
    assert set(secrets_entry) == {"schema", "keys"} and secrets_entry["schema"] == 1


def test_import_with_another_password_and_bad_entries(zk_client):
    zuul_keys = {"org/app": crypto.generate_secrets_key(), "org/lib": crypto.generate_secrets_key()}
    data = zuul_export(zuul_keys, "zuul-pw", with_ssh=False)
    # One entry damaged: its project is refused, the other imported.
    lib = data["keys"]["/keystorage/gerrit/org/org%2Flib/secrets"]["keys"][0]
    lib["private_key"] = crypto.private_pem(crypto.generate_ssh_key(), "other-pw")
    keystore = KeyStore(zk_client, "lockgate-pw")
    report = transfer.import_keys(
        keystore, json.dumps(data), password="lockgate-pw", source_password="zuul-pw"
    )
    assert report.imported == [("gerrit", "org/app")]
    assert report.errors == [
        "project 'org/lib' (connection 'gerrit'): the password does not open its keys (were "
        "they exported with another keystore password? give it with --source-password-file)"
    ]
    # Stored under Lockgate's password now; no SSH key yet (made when needed).
    stored = keystore.load("gerrit", "org/app")
    crypto.load_private_pem(stored.secrets.private_key, "lockgate-pw")
    assert stored.ssh is None
    with pytest.raises(transfer.TransferError, match="unexpected path '/elsewhere'"):
        transfer.import_keys(keystore, '{"keys": {"/elsewhere": {}}}', password="x")
    with pytest.raises(transfer.TransferError, match="not a key export"):
        transfer.import_keys(keystore, "[]", password="x")


def test_import_of_a_damaged_file_is_one_line_and_status_1(tmp_path, zk_server, zk_chroot):
    conf = write_config(tmp_path, zk_server, zk_chroot, "pw", "lockgate.conf")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    result = lockgate("-c", str(conf), "keys", "import", str(bad))
    assert result.returncode == 1
    assert result.stderr.startswith(f"lockgate keys: {bad}: not JSON:")
    assert "Traceback" not in result.stderr
    no_password = tmp_path / "nopw.conf"
    no_password.write_text(conf.read_text().replace("password = pw\n", ""))
    result = lockgate("-c", str(no_password), "keys", "export", str(tmp_path / "x.json"))
    assert result.returncode == 2
    assert "[keystore] password: missing" in result.stderr


def test_encrypt_with_a_public_key_file(tmp_path, zk_client):
    keystore = KeyStore(zk_client, "pw")
    keystore.ensure("gerrit", "org/app")
    pub = tmp_path / "app.pub"
    pub.write_text(keystore.public_key("gerrit", "org/app"))
    result = lockgate(
        "encrypt",
        "--public-key",
        str(pub),
        "--secret-name",
        "creds",
        "--field-name",
        "token",
        stdin="  value-to-hide\n",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(
        "- secret:\n    name: creds\n    data:\n      token: !encrypted/pkcs1-oaep\n        - "
    )
    chunk = "".join(line.strip().removeprefix("- ") for line in result.stdout.splitlines()[4:])
    assert crypto.decrypt([chunk], keystore.secrets_key("gerrit", "org/app")) == "value-to-hide"
    assert "value-to-hide" not in result.stdout
    missing = lockgate("encrypt", "--public-key", str(tmp_path / "none.pub"), stdin="x")
    assert missing.returncode == 1
    assert missing.stderr.startswith("lockgate encrypt: cannot read the public key ")
