"""Certificates for ZooKeeper TLS on one machine: a private CA, a server
certificate and a client certificate, made with the ``openssl`` command.

Who calls it: ``lockgate up`` (when asked for TLS) and the test fixture.
Production deployments bring their own certificates (``[zookeeper] tls_ca``,
``tls_cert``, ``tls_key``).  The server certificate names ``127.0.0.1`` and
``localhost`` (plus any given hosts) so clients verify it.
"""

from __future__ import annotations

import ipaddress
import subprocess
from dataclasses import dataclass
from pathlib import Path

from lockgate.zk.errors import ZKError


@dataclass(frozen=True)
class TLSFiles:
    """PEM files for one side: the CA that signs peers, and this side's
    certificate and key.  ``keystore`` is key + certificate in one file, the
    form ZooKeeper's PEM keystore reads."""

    ca: Path
    cert: Path
    key: Path
    keystore: Path


@dataclass(frozen=True)
class TLSSet:
    server: TLSFiles
    client: TLSFiles


def _openssl(*args: str, cwd: Path) -> None:
    proc = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise ZKError(f"openssl {args[0]} failed: {proc.stderr.strip()}")


def _san(hosts: list[str]) -> str:
    names = []
    for host in hosts:
        try:
            ipaddress.ip_address(host)
            names.append(f"IP:{host}")
        except ValueError:
            names.append(f"DNS:{host}")
    return ",".join(names)


def make_tls(directory: Path, *, hosts: list[str] | None = None, days: int = 3650) -> TLSSet:
    """Create a CA and server and client certificates in ``directory``
    (created if missing; existing files are replaced)."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    san = _san(hosts or ["127.0.0.1", "localhost"])
    _openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        str(days),
        "-subj",
        "/CN=Lockgate ZooKeeper CA",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        cwd=d,
    )
    files = {}
    for role in ("server", "client"):
        ext = d / f"{role}.ext"
        lines = [
            "basicConstraints=CA:FALSE",
            "keyUsage=digitalSignature,keyEncipherment",
            f"extendedKeyUsage={'serverAuth,clientAuth' if role == 'server' else 'clientAuth'}",
            f"subjectAltName={san}",
        ]
        ext.write_text("\n".join(lines) + "\n")
        _openssl(
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            f"/CN=lockgate-zk-{role}",
            "-keyout",
            f"{role}.key",
            "-out",
            f"{role}.csr",
            cwd=d,
        )
        _openssl(
            "x509",
            "-req",
            "-in",
            f"{role}.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            str(days),
            "-extfile",
            ext.name,
            "-out",
            f"{role}.pem",
            cwd=d,
        )
        keystore = d / f"{role}-keystore.pem"
        keystore.write_text((d / f"{role}.key").read_text() + (d / f"{role}.pem").read_text())
        for path in (d / f"{role}.key", keystore):
            path.chmod(0o600)
        files[role] = TLSFiles(
            ca=d / "ca.pem", cert=d / f"{role}.pem", key=d / f"{role}.key", keystore=keystore
        )
    (d / "ca.key").chmod(0o600)
    return TLSSet(server=files["server"], client=files["client"])
