"""The keystore on a real ZooKeeper: keys made once, encrypted at rest, made
on demand by whoever needs them first while others wait for that key only,
and the background generator that makes the rest."""

from __future__ import annotations

import threading

import pytest
from lockgate.keys import crypto
from lockgate.keys.generator import KeyGenerator
from lockgate.keys.keystore import KeyMissing, KeyStore, KeystoreError, KeystorePasswordError
from lockgate.zk import paths
from lockgate.zk.records import RecordStore


def test_keys_are_made_once_and_stored_encrypted(zk_client):
    keystore = KeyStore(zk_client, "s3cret-keystore-pw")
    keys = keystore.ensure("gerrit", "org/app")
    assert keystore.made == 1
    assert keystore.ensure("gerrit", "org/app") == keys and keystore.made == 1
    raw = RecordStore(zk_client).load(paths.keys("gerrit", "org/app"))
    assert raw is not None
    text = str(raw.data)
    assert "s3cret-keystore-pw" not in text
    assert raw.data["secrets"]["private_key"].count("Proc-Type: 4,ENCRYPTED") == 1
    assert raw.data["ssh"]["private_key"].count("Proc-Type: 4,ENCRYPTED") == 1
    # The keys work: the public key encrypts what the secrets key decrypts.
    public = crypto.load_public_pem(keystore.public_key("gerrit", "org/app"))
    assert public.key_size == 4096
    chunks = crypto.encrypt("hello", public)
    assert crypto.decrypt(chunks, keystore.secrets_key("gerrit", "org/app")) == "hello"
    assert keystore.ssh_public_key("gerrit", "org/app").startswith("ssh-rsa ")
    pem = keystore.ssh_private_pem("gerrit", "org/app")
    assert pem.startswith("-----BEGIN RSA PRIVATE KEY-----") and "ENCRYPTED" not in pem


def test_reading_needs_the_right_password_and_an_existing_key(zk_client, fast_keys):
    KeyStore(zk_client, "right", **fast_keys).ensure("gerrit", "org/app")
    wrong = KeyStore(zk_client, "wrong")
    with pytest.raises(KeystorePasswordError) as caught:
        wrong.secrets_key("gerrit", "org/app")
    assert "project 'org/app' (connection 'gerrit')" in str(caught.value)
    assert "right" not in str(caught.value)
    with pytest.raises(KeyMissing, match="project 'org/none' .* has no keys"):
        wrong.secrets_key("gerrit", "org/none")
    # Without a password: public keys can be read, nothing can be made or opened.
    public_only = KeyStore(zk_client, None)
    assert public_only.public_key("gerrit", "org/app").startswith("-----BEGIN PUBLIC KEY")
    with pytest.raises(KeystorePasswordError, match="no \\[keystore\\] password"):
        public_only.ensure("gerrit", "org/other")
    with pytest.raises(KeystorePasswordError, match="no \\[keystore\\] password"):
        public_only.secrets_key("gerrit", "org/app")


def test_two_processes_needing_the_same_key_make_it_once(zk_connect, fast_keys):
    stores = [KeyStore(zk_connect(), "pw", **fast_keys) for _ in range(4)]
    results = []
    threads = [
        threading.Thread(target=lambda s=s: results.append(s.ensure("gerrit", "org/app")))
        for s in stores
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sum(s.made for s in stores) == 1
    assert len({r.public_key for r in results}) == 1 and len(results) == 4


def test_whoever_needs_a_key_waits_for_that_key_only(zk_connect, fast_keys):
    """The generator is stuck making org/slow's keys; an executor needing
    org/other makes those at once, one needing org/slow waits for them."""
    release = threading.Event()
    started = threading.Event()

    def slow_maker():
        started.set()
        assert release.wait(30)
        return fast_keys["make_secrets_key"]()

    generator_store = KeyStore(
        zk_connect(), "pw", make_secrets_key=slow_maker, make_ssh_key=fast_keys["make_ssh_key"]
    )
    generator = KeyGenerator(generator_store)
    generator.start()
    try:
        generator.want([("gerrit", "org/slow"), ("gerrit", "org/later")])
        assert started.wait(10)
        executor_store = KeyStore(zk_connect(), "pw", **fast_keys)
        executor_store.ensure("gerrit", "org/other")  # not blocked by org/slow
        assert executor_store.made == 1
        waiter: list[object] = []
        thread = threading.Thread(
            target=lambda: waiter.append(executor_store.ensure("gerrit", "org/slow"))
        )
        thread.start()
        thread.join(0.5)
        assert thread.is_alive() and not waiter  # waiting for the generator's org/slow
        release.set()
        thread.join(30)
        assert waiter and executor_store.made == 1  # it did not make org/slow itself
        assert generator.wait_idle(30)
        assert (
            generator_store.missing(
                [("gerrit", "org/slow"), ("gerrit", "org/later"), ("gerrit", "org/other")]
            )
            == []
        )
        assert generator_store.made == 2  # org/slow and org/later, not org/other
    finally:
        release.set()
        generator.stop()


def test_ensure_gives_up_waiting_after_its_timeout(zk_connect, fast_keys):
    holder = KeyStore(zk_connect(), "pw", **fast_keys)
    lock = holder.records.lock("gerrit", "org/app")
    lock.acquire(timeout=5)
    try:
        other = KeyStore(zk_connect(), "pw", **fast_keys)
        with pytest.raises(KeystoreError, match="gave up after 0s waiting .* project 'org/app'"):
            other.ensure("gerrit", "org/app", timeout=0.3)
    finally:
        lock.release()


def test_generator_makes_only_missing_keys(zk_client, fast_keys):
    keystore = KeyStore(zk_client, "pw", **fast_keys)
    keystore.ensure("gerrit", "org/p0")
    generator = KeyGenerator(keystore)
    generator.start()
    try:
        wanted = [("gerrit", f"org/p{i}") for i in range(6)] + [("github", "org/p0")]
        generator.want(wanted)
        assert generator.wait_idle(30)
        assert keystore.missing(wanted) == []
        assert keystore.made == 7  # org/p0 on gerrit existed already
        assert sorted(keystore.records.projects()) == sorted(wanted)
        assert keystore.records.connections_of("org/p0") == ["gerrit", "github"]
        generator.want(wanted)  # nothing to do the second time
        assert generator.wait_idle(30) and keystore.made == 7
    finally:
        generator.stop()


def test_generator_thread_runs_at_a_lower_priority(zk_client, fast_keys):
    import os

    seen: list[int] = []

    def maker():
        seen.append(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))
        return fast_keys["make_secrets_key"]()

    keystore = KeyStore(
        zk_client, "pw", make_secrets_key=maker, make_ssh_key=fast_keys["make_ssh_key"]
    )
    generator = KeyGenerator(keystore)
    generator.start()
    try:
        generator.want([("gerrit", "org/app")])
        assert generator.wait_idle(30)
    finally:
        generator.stop()
    assert seen and seen[0] >= os.getpriority(os.PRIO_PROCESS, 0) + 1


def test_a_missing_ssh_key_is_made_when_needed(zk_client, fast_keys):
    """Keys imported from Zuul often have no SSH key (Zuul makes it on first use)."""
    keystore = KeyStore(zk_client, "pw", **fast_keys)
    keys = keystore.ensure("gerrit", "org/app")
    keys.ssh = None
    keys.ssh_public_key = None
    keystore.put(keys, overwrite=True)
    assert keystore.load("gerrit", "org/app").ssh is None
    line = keystore.ssh_public_key("gerrit", "org/app", create=True)
    assert line.startswith("ssh-rsa ")
    assert keystore.load("gerrit", "org/app").ssh is not None
    assert keystore.ssh_private_pem("gerrit", "org/app").startswith("-----BEGIN RSA PRIVATE KEY")
