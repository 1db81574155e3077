"""``lockgate keys export|import`` and ``lockgate encrypt``.

``lockgate.cli`` adds these commands' parsers (``add_parsers``) and calls
``run(args)`` for them; ``run`` returns the exit status and prints one line
per problem (never a traceback, never a key or a secret).

- ``lockgate keys export FILE``: every project's keys, still encrypted with
  the keystore password, in Zuul's ``export-keys`` format (mode 0600).
- ``lockgate keys import FILE [--force] [--source-password-file F]``: the keys
  of such a file (Lockgate's or Zuul's); existing keys are kept without
  ``--force``.  Exit status 1 if any project could not be imported.
- ``lockgate encrypt --tenant T --project P``: encrypt standard input (or
  ``--infile``) for a project, printing a ``secret`` stanza with an
  ``!encrypted/pkcs1-oaep`` value, as ``zuul-client encrypt`` does; the
  public key comes from the web (``--url``, default the ``[web]`` of the
  service config) or a file (``--public-key``).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import textwrap
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from lockgate.service_config import ServiceConfig, ServiceConfigError


def add_parsers(sub: Any) -> None:
    keys = sub.add_parser("keys", help="export and import project keys")
    keys_sub = keys.add_subparsers(dest="keys_command", metavar="KEYS_COMMAND")
    export = keys_sub.add_parser(
        "export", help="write every project's keys (still encrypted) to FILE"
    )
    export.add_argument("file")
    imp = keys_sub.add_parser("import", help="store the project keys of FILE (Lockgate or Zuul)")
    imp.add_argument("file")
    imp.add_argument("--force", action="store_true", help="replace keys a project already has")
    imp.add_argument(
        "--source-password-file",
        help="file holding the keystore password FILE's keys were exported with, when it is "
        "not this keystore's (they are stored under this keystore's password)",
    )
    enc = sub.add_parser("encrypt", help="encrypt a secret for a project (as zuul-client encrypt)")
    enc.add_argument("--tenant", help="the tenant (needed unless --public-key is given)")
    enc.add_argument("--project", help="the project whose key encrypts (as in the tenant config)")
    enc.add_argument("--url", help="the web's base URL (default: [web] of the service config)")
    enc.add_argument("--public-key", help="a PEM public key file to use instead of the web's")
    enc.add_argument("--infile", help="read the secret from this file (default: standard input)")
    enc.add_argument("--outfile", help="write the stanza to this file (default: standard output)")
    enc.add_argument("--secret-name", default="<name>", help="the secret's name in the stanza")
    enc.add_argument("--field-name", default="<fieldname>", help="the data field's name")
    enc.add_argument(
        "--no-strip", action="store_true", help="keep whitespace at the ends of the secret"
    )


def run(args: argparse.Namespace) -> int:
    """Run ``lockgate keys ...`` or ``lockgate encrypt``; the exit status."""
    # A command's output is its result lines, not ZooKeeper's connection log.
    logging.getLogger("kazoo").setLevel(logging.WARNING)
    try:
        if args.command == "encrypt":
            return _encrypt(args)
        if args.keys_command is None:
            print("lockgate keys: say export or import (see lockgate keys --help)", file=sys.stderr)
            return 2
        config = ServiceConfig.load(args.config)
        return _export(args, config) if args.keys_command == "export" else _import(args, config)
    except ServiceConfigError as e:
        print(f"lockgate: {e}", file=sys.stderr)
        return 2
    except CommandError as e:
        print(f"lockgate {args.command}: {e}", file=sys.stderr)
        return 1


class CommandError(Exception):
    pass


# -- keys --------------------------------------------------------------------------


def _password(config: ServiceConfig) -> str:
    section = config.section("keystore")
    password = section.get("password")
    if not password:
        raise section.error("password", "missing: the keystore password is needed for keys")
    return password


def _keystore(config: ServiceConfig, password: str) -> tuple[Any, Any]:
    from lockgate.keys.keystore import KeyStore
    from lockgate.zk.client import client_from_config
    from lockgate.zk.errors import ZKError

    client = client_from_config(config.require_section("zookeeper").values)
    try:
        client.connect()
    except ZKError as e:
        raise CommandError(str(e)) from None
    return KeyStore(client, password), client


def _export(args: argparse.Namespace, config: ServiceConfig) -> int:
    from lockgate.keys import transfer
    from lockgate.zk.errors import ZKError

    keystore, client = _keystore(config, _password(config))
    try:
        data = transfer.export_keys(keystore)
    except ZKError as e:
        raise CommandError(str(e)) from None
    finally:
        client.disconnect()
    try:
        fd = os.open(args.file, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=2, sort_keys=True)
            f.write("\n")
    except OSError as e:
        raise CommandError(f"cannot write {args.file}: {e.strerror or e}") from None
    count = sum(1 for path in data["keys"] if path.endswith("/secrets"))
    print(f"exported the keys of {count} projects to {args.file}")
    return 0


def _read(path: str, what: str) -> str:
    try:
        return Path(path).read_text()
    except OSError as e:
        raise CommandError(f"cannot read {what} {path}: {e.strerror or e}") from None


def _import(args: argparse.Namespace, config: ServiceConfig) -> int:
    from lockgate.keys import transfer
    from lockgate.zk.errors import ZKError

    password = _password(config)
    text = _read(args.file, "the key file")
    source = (
        _read(args.source_password_file, "the password file").strip()
        if args.source_password_file
        else None
    )
    try:
        transfer.parse_export(text)  # a file that is not one fails before connecting
    except transfer.TransferError as e:
        raise CommandError(f"{args.file}: {e}") from None
    keystore, client = _keystore(config, password)
    try:
        report = transfer.import_keys(
            keystore, text, password=password, overwrite=args.force, source_password=source
        )
    except ZKError as e:
        raise CommandError(str(e)) from None
    finally:
        client.disconnect()
    for connection, project in report.kept:
        print(f"kept the existing keys of {project} ({connection}); --force replaces them")
    for error in report.errors:
        print(f"lockgate keys import: {error}", file=sys.stderr)
    print(f"imported the keys of {len(report.imported)} projects from {args.file}")
    return 1 if report.errors else 0


# -- encrypt -----------------------------------------------------------------------


def _web_url(args: argparse.Namespace) -> str:
    if args.url:
        return str(args.url).rstrip("/")
    config = ServiceConfig.load(args.config)
    web = config.section("web")
    host = web.get("listen_address") or "127.0.0.1"
    if host in ("0.0.0.0", "::"):
        host = "127.0.0.1"
    return f"http://{host}:{web.get('port') or '9000'}"


def _public_key(args: argparse.Namespace) -> Any:
    from lockgate.keys import crypto

    if args.public_key:
        data = _read(args.public_key, "the public key")
        where = args.public_key
    else:
        if not args.tenant or not args.project:
            raise CommandError("--tenant and --project are needed (or --public-key)")
        url = (
            f"{_web_url(args)}/api/tenant/{urllib.parse.quote(args.tenant, safe='')}"
            f"/key/{urllib.parse.quote(args.project, safe='/')}.pub"
        )
        where = url
        try:
            with urllib.request.urlopen(url, timeout=150) as response:
                data = response.read().decode("ascii", errors="replace")
        except urllib.error.HTTPError as e:
            detail = e.read().decode(errors="replace")[:300]
            raise CommandError(f"cannot get the public key from {url}: {e.code} {detail}") from None
        except (urllib.error.URLError, OSError) as e:
            raise CommandError(f"cannot get the public key from {url}: {e}") from None
    try:
        return crypto.load_public_pem(data)
    except crypto.KeyFormatError as e:
        raise CommandError(f"{where}: {e}") from None


def stanza(chunks: list[str], secret_name: str, field_name: str) -> str:
    """The ``secret`` stanza ``zuul-client encrypt`` prints (chunks wrapped at 79)."""
    out = f"- secret:\n    name: {secret_name}\n    data:\n      {field_name}: !encrypted/pkcs1-oaep\n"
    wrapper = textwrap.TextWrapper(width=79, initial_indent=" " * 8, subsequent_indent=" " * 10)
    for chunk in chunks:
        out += wrapper.fill("- " + chunk) + "\n"
    return out


def _encrypt(args: argparse.Namespace) -> int:
    from lockgate.keys import crypto

    key = _public_key(args)
    if args.infile:
        try:
            plaintext = Path(args.infile).read_bytes()
        except OSError as e:
            raise CommandError(f"cannot read {args.infile}: {e.strerror or e}") from None
    else:
        plaintext = sys.stdin.buffer.read()
    if not args.no_strip:
        plaintext = plaintext.strip()
    text = stanza(crypto.encrypt(plaintext, key), args.secret_name, args.field_name)
    if args.outfile:
        try:
            Path(args.outfile).write_text(text)
        except OSError as e:
            raise CommandError(f"cannot write {args.outfile}: {e.strerror or e}") from None
    else:
        sys.stdout.write(text)
    return 0
