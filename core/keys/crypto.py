"""The cryptography of project keys and secrets, without any I/O.

Who calls it: ``lockgate.keys.keystore`` (making, storing and reading keys),
``lockgate.keys.secrets`` (decrypting a job's secrets), ``lockgate.keys.cli``
(``lockgate encrypt``) and ``lockgate.keys.transfer`` (checking imported
keys).

The formats are Zuul's, so that keys and secrets move between the two
systems unchanged:

- a project's *secrets key* is RSA, 4096 bits; its private half is stored as
  a traditional OpenSSL PEM (``BEGIN RSA PRIVATE KEY``) encrypted with the
  keystore password, its public half is served as a SubjectPublicKeyInfo PEM;
- a project's *SSH key* is RSA, 2048 bits (what Zuul makes), stored the same
  way; its public half is an OpenSSH ``ssh-rsa`` line;
- an ``!encrypted/pkcs1-oaep`` value is a list of base64 chunks, each the
  RSAES-OAEP (MGF1 and hash SHA-1, no label) encryption of at most
  ``key bytes - 42`` bytes of the UTF-8 plaintext.  Chunks are decrypted and
  their bytes joined before decoding, so a character split between two chunks
  survives.

Errors never carry plaintext: ``CiphertextError`` says what is wrong with the
ciphertext (not base64, wrong length, not made with this key or damaged).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Sequence

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

SECRETS_KEY_BITS = 4096
SSH_KEY_BITS = 2048
PUBLIC_EXPONENT = 65537
# PKCS#1 OAEP with SHA-1 takes 2 * 20 + 2 bytes of each block.
OAEP_OVERHEAD = 42

_OAEP = padding.OAEP(mgf=padding.MGF1(algorithm=hashes.SHA1()), algorithm=hashes.SHA1(), label=None)
_WHITESPACE = re.compile(r"\s+")
_BASE64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")


class KeyPasswordError(Exception):
    """A stored private key cannot be opened with the keystore password."""


class KeyFormatError(Exception):
    """A stored private key is not an RSA key in PEM form."""


class CiphertextError(Exception):
    """An encrypted value cannot be decrypted; ``str()`` says why (never the plaintext)."""


def generate_secrets_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=PUBLIC_EXPONENT, key_size=SECRETS_KEY_BITS)


def generate_ssh_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=PUBLIC_EXPONENT, key_size=SSH_KEY_BITS)


def private_pem(key: rsa.RSAPrivateKey, password: str | None) -> str:
    """The key as traditional OpenSSL PEM, encrypted with ``password`` (plain
    without one: only for handing a key to ssh-agent, never for storing)."""
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password.encode("utf-8"))
        if password
        else serialization.NoEncryption()
    )
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, encryption
    ).decode("ascii")


def load_private_pem(pem: str, password: str | None) -> rsa.RSAPrivateKey:
    """The RSA key of ``pem``.  Raises ``KeyPasswordError`` when ``password``
    does not open it, ``KeyFormatError`` when it is not an RSA PEM key.

    The key's mathematical checks are skipped (they cost a third of a second
    for 4096 bits, and Zuul skips them too): keys come from the keystore,
    whose import checks each key once (``check_pair``)."""
    try:
        key = serialization.load_pem_private_key(
            pem.encode("ascii"),
            password=password.encode("utf-8") if password else None,
            unsafe_skip_rsa_key_validation=True,
        )
    except TypeError as e:
        # Encrypted without a password given, or a password for a plain key.
        raise KeyPasswordError(str(e)) from None
    except ValueError as e:
        text = str(e)
        if "password" in text.lower() or "decrypt" in text.lower():
            raise KeyPasswordError("the keystore password does not open this key") from None
        raise KeyFormatError(f"not a PEM private key: {text}") from None
    except (UnicodeError, binascii.Error) as e:
        raise KeyFormatError(f"not a PEM private key: {e}") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise KeyFormatError(f"a {type(key).__name__}, not an RSA key")
    return key


def check_pair(key: rsa.RSAPrivateKey) -> None:
    """Check that the key decrypts what its public half encrypts (for
    imported keys; much cheaper than the full key validation that
    ``load_private_pem`` skips).  Raises ``KeyFormatError``."""
    probe = b"lockgate key check"
    try:
        ok = key.decrypt(key.public_key().encrypt(probe, _OAEP), _OAEP) == probe
    except ValueError:
        ok = False
    if not ok:
        raise KeyFormatError("the RSA key is damaged: it cannot decrypt what it encrypts")


def public_pem(key: rsa.RSAPrivateKey | rsa.RSAPublicKey) -> str:
    """The public key as PEM (what ``/api/tenant/{t}/key/{project}.pub`` serves)."""
    public = key.public_key() if isinstance(key, rsa.RSAPrivateKey) else key
    return public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


def load_public_pem(pem: str | bytes) -> rsa.RSAPublicKey:
    data = pem.encode("ascii") if isinstance(pem, str) else pem
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError as e:
        raise KeyFormatError(f"not a PEM public key: {e}") from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise KeyFormatError(f"a {type(key).__name__}, not an RSA public key")
    return key


def ssh_public_line(key: rsa.RSAPrivateKey, comment: str = "") -> str:
    """``ssh-rsa AAAA... [comment]``."""
    line = (
        key.public_key()
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        .decode("ascii")
    )
    return f"{line} {comment}".rstrip()


def max_chunk_bytes(key: rsa.RSAPublicKey) -> int:
    return key.key_size // 8 - OAEP_OVERHEAD


def encrypt(plaintext: str | bytes, key: rsa.RSAPublicKey) -> list[str]:
    """The base64 chunks of ``plaintext`` encrypted for ``key``."""
    data = plaintext.encode("utf-8") if isinstance(plaintext, str) else plaintext
    size = max_chunk_bytes(key)
    pieces = [data[i : i + size] for i in range(0, len(data), size)] or [b""]
    return [base64.b64encode(key.encrypt(piece, _OAEP)).decode("ascii") for piece in pieces]


def decode_chunk(chunk: str, key_bytes: int) -> bytes:
    """One chunk's ciphertext bytes; whitespace is ignored (YAML folds long
    plain scalars into spaces).  Raises ``CiphertextError``."""
    text = _WHITESPACE.sub("", chunk)
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        if _BASE64.fullmatch(text) and len(text) % 4:
            raise CiphertextError("is not valid base64 (incomplete: truncated?)") from None
        raise CiphertextError("is not valid base64") from None
    if len(raw) != key_bytes:
        raise CiphertextError(
            f"is {len(raw)} bytes long, not {key_bytes} (truncated, or made with a key of "
            "another size)"
        )
    return raw


def decrypt(chunks: Sequence[str], key: rsa.RSAPrivateKey) -> str:
    """The plaintext of an ``!encrypted/pkcs1-oaep`` value.  Raises
    ``CiphertextError`` naming the chunk at fault."""
    if not chunks:
        raise CiphertextError("has no ciphertext")
    key_bytes = key.key_size // 8
    out = bytearray()
    for index, chunk in enumerate(chunks):
        where = f"chunk {index + 1} of {len(chunks)}" if len(chunks) > 1 else "the ciphertext"
        try:
            raw = decode_chunk(chunk, key_bytes)
        except CiphertextError as e:
            raise CiphertextError(f"{where} {e}") from None
        try:
            out += key.decrypt(raw, _OAEP)
        except ValueError:
            raise CiphertextError(
                f"{where} cannot be decrypted with the project's key (encrypted with "
                "another project's key, or damaged)"
            ) from None
    try:
        return out.decode("utf-8")
    except UnicodeDecodeError:
        raise CiphertextError("decrypts to bytes that are not UTF-8 text") from None
