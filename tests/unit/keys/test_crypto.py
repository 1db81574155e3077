"""Project keys and ``!encrypted/pkcs1-oaep`` values: Zuul's formats, and
errors that say what is wrong without a byte of the secret."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from lockgate.config.errors import SourceContext
from lockgate.config.yaml import load_config_yaml
from lockgate.keys import crypto
from lockgate.keys.cli import stanza


def test_secrets_keys_are_rsa_4096_and_ssh_keys_rsa_2048(project_key):
    assert project_key.key_size == 4096
    assert crypto.generate_ssh_key().key_size == 2048


def test_roundtrip_in_chunks_with_a_character_split_between_chunks(project_key):
    public = project_key.public_key()
    assert crypto.max_chunk_bytes(public) == 470
    # 469 ASCII bytes, then 2-byte characters: the first one straddles the
    # chunk boundary (Zuul's per-chunk decoding would fail on it).
    text = "a" * 469 + "é" * 300
    chunks = crypto.encrypt(text, public)
    assert len(chunks) == 3
    assert all(len(base64.b64decode(c)) == 512 for c in chunks)
    assert crypto.decrypt(chunks, project_key) == text


def test_ciphertext_is_pkcs1_oaep_sha1_as_zuul_client_makes_it(project_key):
    """What openssl rsautl -oaep / zuul-client make: decrypts here, and ours
    decrypts with those parameters."""
    oaep = padding.OAEP(mgf=padding.MGF1(hashes.SHA1()), algorithm=hashes.SHA1(), label=None)
    theirs = base64.b64encode(project_key.public_key().encrypt(b"s3cret-value", oaep)).decode()
    assert crypto.decrypt([theirs], project_key) == "s3cret-value"
    (ours,) = crypto.encrypt("s3cret-value", project_key.public_key())
    assert project_key.decrypt(base64.b64decode(ours), oaep) == b"s3cret-value"


def test_stanza_loads_with_the_config_reader_and_decrypts(project_key):
    """The zuul-client layout (chunks wrapped at 79 columns, folded by YAML
    into spaces) survives Lockgate's own YAML reader."""
    chunks = crypto.encrypt("x" * 600, project_key.public_key())
    text = stanza(chunks, "creds", "token")
    assert max(len(line) for line in text.splitlines()) <= 79
    document = load_config_yaml(text, SourceContext("org/app", "master", "zuul.yaml"))
    assert document.errors == []
    (item,) = document.items
    value = item.value["secret"]["data"]["token"]
    assert len(value.chunks) == 2
    assert " " in value.chunks[0]  # folded lines
    assert crypto.decrypt(list(value.chunks), project_key) == "x" * 600


@pytest.mark.parametrize(
    "damage, expected",
    [
        (lambda c: c[:340], "chunk 1 of 2 is 255 bytes long, not 512"),  # truncated
        (lambda c: c[:343], "chunk 1 of 2 is not valid base64 (incomplete: truncated?)"),
        (lambda c: "%%%" + c[3:], "chunk 1 of 2 is not valid base64"),
        (lambda c: "A" * 8 + c[8:], "chunk 1 of 2 cannot be decrypted with the project's key"),
    ],
    ids=["truncated", "truncated-mid-quantum", "not-base64", "corrupt"],
)
def test_damaged_ciphertext_is_named_never_shown(project_key, damage, expected):
    chunks = crypto.encrypt("top-secret-" * 60, project_key.public_key())
    bad = [damage(chunks[0]), chunks[1]]
    with pytest.raises(crypto.CiphertextError) as caught:
        crypto.decrypt(bad, project_key)
    message = str(caught.value)
    assert expected in message
    assert "top-secret" not in message and chunks[0][:20] not in message


def test_another_projects_key(project_key, other_key):
    (chunk,) = crypto.encrypt("hello", other_key.public_key())
    with pytest.raises(crypto.CiphertextError, match="another project's key"):
        crypto.decrypt([chunk], project_key)


def test_empty_ciphertext():
    with pytest.raises(crypto.CiphertextError, match="has no ciphertext"):
        crypto.decrypt([], None)  # type: ignore[arg-type]


def test_private_pem_opens_with_the_password_only(project_key):
    pem = crypto.private_pem(project_key, "keystore-pw")
    assert pem.startswith("-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED")
    opened = crypto.load_private_pem(pem, "keystore-pw")
    assert opened.private_numbers() == project_key.private_numbers()
    with pytest.raises(crypto.KeyPasswordError):
        crypto.load_private_pem(pem, "wrong")
    with pytest.raises(crypto.KeyPasswordError):
        crypto.load_private_pem(pem, None)
    with pytest.raises(crypto.KeyFormatError):
        crypto.load_private_pem("-----BEGIN RSA PRIVATE KEY-----\nnope\n", "keystore-pw")


def test_public_forms(project_key):
    pem = crypto.public_pem(project_key)
    assert pem.startswith("-----BEGIN PUBLIC KEY-----")
    assert crypto.load_public_pem(pem).public_numbers() == project_key.public_key().public_numbers()
    line = crypto.ssh_public_line(project_key, "org/app project key")
    assert line.startswith("ssh-rsa AAAA") and line.endswith(" org/app project key")
    with pytest.raises(crypto.KeyFormatError):
        crypto.load_public_pem("not a key")


def test_check_pair_accepts_a_key_and_refuses_a_damaged_one(project_key, other_key):
    crypto.check_pair(project_key)
    n = project_key.private_numbers()
    from cryptography.hazmat.primitives.asymmetric import rsa

    # Wrong private exponents with this key's modulus: it loads, but cannot
    # decrypt (OpenSSL checks its CRT result and retries with d: both wrong).
    bad = rsa.RSAPrivateNumbers(
        n.p,
        n.q,
        other_key.private_numbers().d,
        (n.dmp1 + 2) % n.p,
        n.dmq1,
        n.iqmp,
        n.public_numbers,
    )
    with pytest.raises(crypto.KeyFormatError):
        crypto.check_pair(bad.private_key(unsafe_skip_rsa_key_validation=True))
