"""``lockgate keys export`` / ``import``: every project's keys in one file, in
the format of Zuul's ``zuul-admin export-keys``.

Who calls it: ``lockgate.keys.cli``.  The file is JSON::

    {"keys": {
       "/keystorage/<connection>/<org>/<org%2Fproject>/secrets":
           {"schema": 1, "keys": [{"version": 0, "created": T, "private_key": PEM}]},
       "/keystorage/<connection>/<org>/<org%2Fproject>/ssh": {...}}}

(the paths are Zuul's ZooKeeper paths: the connection, the project name's
first component, and the whole name quoted with ``quote_plus``).  Private
keys stay encrypted with the keystore password, so the file is as safe as
ZooKeeper's copy -- and useless without the password.  The same file works
both ways: Lockgate imports what Zuul exports (a project's existing
encrypted secrets keep working when it moves), and Zuul imports what
Lockgate exports.

Importing checks every key before storing anything of its project: it must
open with the password (``source_password``, when the file was made with
another keystore password; the key is then stored under this keystore's
password) and decrypt what its public half encrypts.  Existing keys are kept
unless ``overwrite`` (``--force``), as Zuul does.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote_plus, unquote_plus

from lockgate.keys import crypto
from lockgate.keys.keystore import KeyStore, KeystoreError
from lockgate.model.keys import ProjectKeys, StoredKey

ROOT = "/keystorage"
_PATH = re.compile(
    r"^/keystorage/(?P<connection>[^/]+)/(?P<prefix>[^/]+)/(?P<name>[^/]+)/(?P<kind>secrets|ssh)$"
)


class TransferError(Exception):
    """The export file cannot be used at all; ``str()`` says why."""


@dataclass
class ImportReport:
    imported: list[tuple[str, str]] = field(default_factory=list)
    kept: list[tuple[str, str]] = field(default_factory=list)  # had keys, not overwritten
    errors: list[str] = field(default_factory=list)


def zuul_path(connection: str, project: str, kind: str) -> str:
    """Zuul's keystorage path of a project's ``secrets`` or ``ssh`` key."""
    prefix = project.split("/")[0]
    return f"{ROOT}/{connection}/{prefix}/{quote_plus(project)}/{kind}"


def _entry(stored: StoredKey) -> dict[str, Any]:
    return {
        "schema": 1,
        "keys": [
            {
                "version": stored.version,
                "created": stored.created,
                "private_key": stored.private_key,
            }
        ],
    }


def export_keys(keystore: KeyStore) -> dict[str, Any]:
    """Every project's keys, in Zuul's export format (still encrypted)."""
    out: dict[str, Any] = {}
    for connection, project in keystore.records.projects():
        keys = keystore.records.load(connection, project)
        if keys is None:  # deleted while listing
            continue
        out[zuul_path(connection, project, "secrets")] = _entry(keys.secrets)
        if keys.ssh is not None:
            out[zuul_path(connection, project, "ssh")] = _entry(keys.ssh)
    return {"keys": out}


def parse_export(text: str) -> dict[tuple[str, str], dict[str, StoredKey]]:
    """``(connection, project) -> {"secrets"|"ssh": StoredKey}`` from an
    export file's text.  Raises ``TransferError`` for a file that is not one."""
    try:
        data = json.loads(text)
    except ValueError as e:
        raise TransferError(f"not JSON: {e}") from None
    if not isinstance(data, dict) or not isinstance(data.get("keys"), dict):
        raise TransferError("not a key export: no 'keys' mapping at the top")
    out: dict[tuple[str, str], dict[str, StoredKey]] = {}
    for path, entry in data["keys"].items():
        match = _PATH.match(path)
        if match is None:
            raise TransferError(
                f"unexpected path {path!r}: expected "
                f"{ROOT}/<connection>/<prefix>/<project>/secrets or .../ssh"
            )
        project = unquote_plus(match["name"])
        try:
            newest = max(entry["keys"], key=lambda k: int(k.get("version", 0)))
            stored = StoredKey.from_dict(newest)
        except (KeyError, TypeError, ValueError, AttributeError):
            raise TransferError(f"{path}: not a key entry (schema 1, keys[].private_key)") from None
        out.setdefault((match["connection"], project), {})[match["kind"]] = stored
    return out


def _reencrypt(
    stored: StoredKey, source_password: str | None, password: str
) -> tuple[StoredKey, Any]:
    key = crypto.load_private_pem(stored.private_key, source_password or password)
    crypto.check_pair(key)
    if source_password and source_password != password:
        stored = StoredKey(crypto.private_pem(key, password), stored.version, stored.created)
    return stored, key


def import_keys(
    keystore: KeyStore,
    text: str,
    *,
    password: str,
    overwrite: bool = False,
    source_password: str | None = None,
) -> ImportReport:
    """Store the keys of an export file.  A project whose keys cannot be
    opened or are damaged is reported in ``errors`` and skipped; the others
    are imported."""
    report = ImportReport()
    for (connection, project), kinds in sorted(parse_export(text).items()):
        where = f"project '{project}' (connection '{connection}')"
        if "secrets" not in kinds:
            report.errors.append(f"{where}: the file has an SSH key but no secrets key; skipped")
            continue
        try:
            secrets, secrets_key = _reencrypt(kinds["secrets"], source_password, password)
            ssh = ssh_key = None
            if "ssh" in kinds:
                ssh, ssh_key = _reencrypt(kinds["ssh"], source_password, password)
        except crypto.KeyPasswordError:
            report.errors.append(
                f"{where}: the password does not open its keys (were they exported with "
                "another keystore password? give it with --source-password-file)"
            )
            continue
        except crypto.KeyFormatError as e:
            report.errors.append(f"{where}: {e}")
            continue
        keys = ProjectKeys(
            connection=connection,
            project=project,
            secrets=secrets,
            public_key=crypto.public_pem(secrets_key),
            ssh=ssh,
            ssh_public_key=(
                crypto.ssh_public_line(ssh_key, f"{project} project key") if ssh_key else None
            ),
        )
        try:
            stored = keystore.put(keys, overwrite=overwrite)
        except KeystoreError as e:
            report.errors.append(f"{where}: {e}")
            continue
        (report.imported if stored else report.kept).append((connection, project))
    return report
