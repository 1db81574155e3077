"""The state directory of ``lockgate up``: keys, certificates, repositories, config.

Everything lives under one directory (default ``~/.local/share/lockgate``) so
that a second ``lockgate up`` resumes where the first stopped (ZooKeeper data,
database, repositories) and removing the directory is a full reset.  Seeding
is idempotent: what exists is kept, what is missing is made.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import lockgate
from lockgate.service_config import ServiceConfig, ServiceConfigError
from lockgate.up import demo
from lockgate.zk.certs import TLSSet, make_tls

CONNECTION = "local"
REVIEW_CONNECTION = "gerrit"
TENANT = "demo"
CONFIG_PROJECT = "lockgate/config"
DEMO_PROJECT = "demo/hello"
GATED_PROJECT = "demo/gated"
NODE_LABEL = "debian"
# The admin realm `lockgate up` writes, and the user its tenant's admin rule
# accepts (``lockgate create-auth-token --auth-config lockgate-up --user admin``).
AUTH_NAME = "lockgate-up"
ADMIN_USER = "admin"


def source_root() -> Path:
    """The checkout holding the stock ``zuul.d/`` and ``playbooks/``."""
    root = Path(lockgate.__file__).resolve().parent.parent
    if not (root / "zuul.d").is_dir():
        raise FileNotFoundError(
            f"stock configuration not found at {root}/zuul.d: "
            "install Lockgate from its source tree (pip install -e .)"
        )
    return root


@dataclass(frozen=True)
class StateDir:
    root: Path

    @property
    def git(self) -> Path:
        return self.root / "git"

    @property
    def work(self) -> Path:
        """Working clones users commit in and push from."""
        return self.root / "work"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def build_logs(self) -> Path:
        return self.root / "build-logs"

    @property
    def config_file(self) -> Path:
        return self.root / "etc" / "lockgate.conf"

    @property
    def tenant_config(self) -> Path:
        return self.root / "etc" / "main.yaml"

    @property
    def ssh_key(self) -> Path:
        return self.root / "ssh" / "id_ed25519"

    @property
    def tls_dir(self) -> Path:
        return self.root / "tls"

    @property
    def zookeeper(self) -> Path:
        return self.root / "zookeeper"

    def bare_repo(self, project: str) -> Path:
        return self.git / project

    def work_clone(self, project: str) -> Path:
        return self.work / project


def run_git(*args: str, cwd: Path | None = None) -> str:
    env_args = [
        "-c",
        "user.name=Lockgate",
        "-c",
        "user.email=lockgate@localhost",
        "-c",
        "init.defaultBranch=main",
        "-c",
        "commit.gpgsign=false",
    ]
    proc = subprocess.run(["git", *env_args, *args], cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed: {proc.stderr.strip()}")
    return proc.stdout.strip()


def write_files(clone: Path, files: dict[str, str | bytes]) -> None:
    """Write ``files`` ({path relative to ``clone``: text or bytes}) into a
    working clone, making directories as needed (to be committed next)."""
    for rel, content in files.items():
        path = clone / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)


def ensure_ssh_key(state: StateDir) -> Path:
    key = state.ssh_key
    if not key.exists():
        key.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        subprocess.run(
            [
                "ssh-keygen",
                "-q",
                "-t",
                "ed25519",
                "-N",
                "",
                "-C",
                "lockgate-executor",
                "-f",
                str(key),
            ],
            check=True,
        )
    return key


def ensure_tls(state: StateDir) -> TLSSet:
    return make_tls(state.tls_dir, hosts=["127.0.0.1"])


def _seed_repo(state: StateDir, project: str, files: dict[str, str | bytes]) -> None:
    """A bare repository at git/<project> and a working clone at work/<project>."""
    bare = state.bare_repo(project)
    clone = state.work_clone(project)
    if bare.exists():
        return
    bare.mkdir(parents=True)
    run_git("init", "-q", "--bare", str(bare))
    if clone.exists():
        shutil.rmtree(clone)
    clone.parent.mkdir(parents=True, exist_ok=True)
    run_git("clone", "-q", str(bare), str(clone))
    write_files(clone, files)
    run_git("add", "-A", cwd=clone)
    run_git("commit", "-q", "-m", f"Initial {project}", cwd=clone)
    run_git("push", "-q", "origin", "HEAD:refs/heads/main", cwd=clone)


def config_project_files() -> dict[str, str | bytes]:
    """The stock ``zuul.d/`` and ``playbooks/`` (Lockgate's own jobs left out)."""
    root = source_root()
    files: dict[str, str | bytes] = {}
    for folder in ("zuul.d", "playbooks"):
        for path in sorted((root / folder).rglob("*")):
            if path.is_file():
                files[str(path.relative_to(root))] = path.read_bytes()
    return files


def seed_repositories(
    state: StateDir,
    projects: dict[str, dict[str, str | bytes]],
    config_files: dict[str, str | bytes] | None = None,
) -> None:
    """The config project (stock config unless given) and each untrusted project."""
    _seed_repo(
        state, CONFIG_PROJECT, config_project_files() if config_files is None else config_files
    )
    for name, files in projects.items():
        _seed_repo(state, name, files)


def write_tenant_config(
    state: StateDir,
    untrusted_projects: list[str],
    review_projects: list[str] | None = None,
    extra_sources: dict[str, list[str]] | None = None,
) -> None:
    state.tenant_config.parent.mkdir(parents=True, exist_ok=True)
    state.tenant_config.write_text(
        demo.tenant_config(
            tenant=TENANT,
            connection=CONNECTION,
            config_projects=[CONFIG_PROJECT],
            untrusted_projects=untrusted_projects,
            review_connection=REVIEW_CONNECTION,
            review_projects=review_projects,
            extra_sources=extra_sources,
            admin_user=ADMIN_USER,
        )
    )


def write_service_config(
    state: StateDir,
    *,
    zk_hosts: str,
    tls: TLSSet,
    web_listen: str,
    web_port: int,
    poll_delay: float = 0.5,
    review_section: str = "",
    extra_sections: str = "",
) -> Path:
    """The generated ``lockgate.conf`` every component of this system reads;
    ``extra_sections``: more INI text at its end (tests add a ``[connection
    github]``)."""
    key = state.ssh_key
    web_host = "127.0.0.1" if web_listen in ("0.0.0.0", "::") else web_listen
    password = keystore_password(state)
    admin_secret = auth_secret(state)
    text = f"""\
# Generated by `lockgate up`; rewritten at every start (the keystore
# password is kept: the project keys in ZooKeeper are encrypted with it).
[zookeeper]
hosts = {zk_hosts}
tls_ca = {tls.client.ca}
tls_cert = {tls.client.cert}
tls_key = {tls.client.key}

[keystore]
password = {password}

# Admin actions (zuul-client / lockgate client): tokens signed with this
# secret, naming their tenants (zuul.admin, as Zuul's create-auth-token
# makes them) or for the user 'admin' (the tenant's admin rule):
#   lockgate -c {state.config_file} create-auth-token --auth-config {AUTH_NAME} \
#       --user admin --tenant {TENANT}
[auth {AUTH_NAME}]
driver = HS256
realm = {AUTH_NAME}
issuer_id = {AUTH_NAME}
client_id = {AUTH_NAME}
secret = {admin_secret}
allow_authz_override = true

[scheduler]
tenant_config = {state.tenant_config}
state_dir = {state.root / "scheduler"}

[executor]
state_dir = {state.root / "executor"}
private_key_file = {key}
log_root = {state.build_logs}
log_url = http://{web_host}:{web_port}/logs/

[launcher]
state_dir = {state.root / "launcher"}

[provider local]
driver = local
labels = {NODE_LABEL}
max_servers = 4
authorized_keys = {key}.pub

[web]
listen_address = {web_listen}
port = {web_port}

[database]
dburi = sqlite:///{state.root / "lockgate.db"}

[connection {CONNECTION}]
driver = git
baseurl = {state.git}
poll_delay = {poll_delay}

{review_section}
{extra_sections}"""
    state.config_file.parent.mkdir(parents=True, exist_ok=True)
    # It holds the keystore password: readable by this user only.
    fd = os.open(state.config_file, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(state.config_file, 0o600)
    return state.config_file


def auth_secret(state: StateDir) -> str:
    """The HS256 secret of ``[auth lockgate-up]`` from an earlier start, or a
    new random one (tokens made before a restart keep working)."""
    if state.config_file.exists():
        try:
            previous = ServiceConfig.load(state.config_file).named("auth").get(AUTH_NAME)
        except ServiceConfigError:
            previous = None
        if previous is not None and previous.get("secret"):
            return str(previous.get("secret"))
    return secrets.token_urlsafe(32)


def keystore_password(state: StateDir) -> str:
    """The keystore password of an earlier start (same state directory), or
    a new random one: keys made with it must stay readable."""
    if state.config_file.exists():
        try:
            previous = ServiceConfig.load(state.config_file).section("keystore").get("password")
        except ServiceConfigError:
            previous = None
        if previous:
            return previous
    return secrets.token_urlsafe(32)
