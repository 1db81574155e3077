"""``/api/tenant/{t}/key/{project}.pub`` and ``.../project-ssh-key/...``: the
web serves project public keys as Zuul does, making a key on first request
when it has the keystore password (the request waits for that key only)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests
from lockgate.db import Database
from lockgate.keys import crypto
from lockgate.keys.keystore import KeyStore
from lockgate.service_config import ServiceConfig
from lockgate.web.server import WebServer
from lockgate.zk.client import ZKClient


@contextmanager
def running_web(tmp_path: Path, client: ZKClient, password: str | None) -> Iterator[str]:
    text = "[web]\nlisten_address = 127.0.0.1\nport = 0\n"
    if password:
        text += f"[keystore]\npassword = {password}\n"
    path = tmp_path / "lockgate.conf"
    path.write_text(text)
    db = Database(f"sqlite:///{tmp_path}/web.db")
    server = WebServer(ServiceConfig.load(path), zk=client, db=db)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="web", daemon=True)
    thread.start()
    try:
        asyncio.run_coroutine_threadsafe(server.start(), loop).result(60)
        yield server.url
    finally:
        asyncio.run_coroutine_threadsafe(server.stop(), loop).result(60)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(30)
        loop.close()
        db.close()


def test_public_keys_are_served_and_made_on_first_request(tmp_path, zk_client, publish):
    publish(
        "example",
        projects=["org/app", "org/lib"],
        project_connections={"org/app": "gerrit", "org/lib": "gerrit"},
    )
    keystore = KeyStore(zk_client, "pw")
    with running_web(tmp_path, zk_client, "pw") as url:
        reply = requests.get(f"{url}/api/tenant/example/key/org/app.pub", timeout=120)
        assert reply.status_code == 200, reply.text
        assert reply.headers["Content-Type"].startswith("text/plain")
        # Made on this request, stored, and the one the keystore decrypts with.
        public = crypto.load_public_pem(reply.text)
        chunks = crypto.encrypt("hello", public)
        assert crypto.decrypt(chunks, keystore.secrets_key("gerrit", "org/app")) == "hello"
        # A canonical name names the same project.
        again = requests.get(f"{url}/api/tenant/example/key/review.example.org/org/app.pub")
        assert again.text == reply.text
        ssh = requests.get(f"{url}/api/tenant/example/project-ssh-key/org/app.pub", timeout=60)
        assert ssh.status_code == 200 and ssh.text.startswith("ssh-rsa ")
        assert ssh.text == keystore.ssh_public_key("gerrit", "org/app") + "\n"
        unknown = requests.get(f"{url}/api/tenant/example/key/org/nope.pub", timeout=30)
        assert unknown.status_code == 404
        assert unknown.json()["description"] == "project 'org/nope' is not in tenant 'example'"
        tenant = requests.get(f"{url}/api/tenant/nope/key/org/app.pub", timeout=30)
        assert tenant.status_code == 404


def test_without_the_password_only_existing_keys(tmp_path, zk_client, publish):
    publish("example", projects=["org/app", "org/new"], project_connections={})
    KeyStore(zk_client, "pw").ensure("gerrit", "org/app")
    with running_web(tmp_path, zk_client, None) as url:
        # An older layout without connections: the keys are found by project.
        reply = requests.get(f"{url}/api/tenant/example/key/org/app.pub", timeout=30)
        assert reply.status_code == 200 and reply.text.startswith("-----BEGIN PUBLIC KEY")
        missing = requests.get(f"{url}/api/tenant/example/key/org/new.pub", timeout=30)
        assert missing.status_code == 404
        assert "has no keys yet" in missing.json()["description"]
