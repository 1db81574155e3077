"""The executor's settings, read once from the ``[executor]`` section.

``Executor`` (``lockgate.executor.server``) and tests build an
``ExecutorSettings`` with ``from_config``; the runner only sees this record.
Bad values raise ``ServiceConfigError`` naming the file, section and key.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from lockgate.executor.ansible_setup import PLUGIN_DIR
from lockgate.executor.sandbox import SandboxPolicy
from lockgate.model.zones import DEFAULT_ZONE, served_zones
from lockgate.service_config import ServiceConfig


@dataclass
class ExecutorSettings:
    state_dir: Path
    log_root: Path
    log_url: str | None
    private_key_file: Path
    hostname: str
    # ``[executor] zone`` (``DEFAULT_ZONE`` when unset: unzoned).
    zone: str
    max_builds: int
    keep_jobdir: bool
    sandbox: SandboxPolicy
    site_variables: dict[str, Any] = field(default_factory=dict)
    # Where build directories go (``[executor] job_dir``, as in Zuul);
    # default ``<state_dir>/builds``.
    job_dir: Path | None = None
    # The git mirrors (``[executor] git_dir``, as in Zuul); default ``<state_dir>/git``.
    git_dir: Path | None = None
    # ``[executor] allow_unzoned`` (Zuul's key): a zoned executor takes the
    # unzoned builds too.  An unzoned executor takes them anyway.
    allow_unzoned: bool = False

    @property
    def zones(self) -> tuple[str, ...]:
        """The zones whose build requests this executor takes, its own first."""
        return served_zones(self.zone, self.allow_unzoned)

    @property
    def git_root(self) -> Path:
        return self.git_dir or self.state_dir / "git"

    @property
    def builds_root(self) -> Path:
        return self.job_dir or self.state_dir / "builds"

    def log_url_for(self, uuid: str) -> str | None:
        """Where a build's logs are served: ``log_url`` + uuid + ``/``."""
        if not self.log_url:
            return None
        base = self.log_url if self.log_url.endswith("/") else self.log_url + "/"
        return f"{base}{uuid}/"

    @classmethod
    def from_config(cls, config: ServiceConfig) -> ExecutorSettings:
        section = config.section("executor")
        state_dir = Path(section.get_path("state_dir") or "/var/lib/lockgate/executor").absolute()
        log_root = Path(section.get_path("log_root") or state_dir / "logs").absolute()
        max_builds = section.get_int("max_builds", 4) or 0
        if max_builds < 1:
            raise section.error("max_builds", "must be at least 1")
        site_variables: dict[str, Any] = {}
        variables = section.get_path("variables")
        if variables:
            try:
                loaded = yaml.safe_load(Path(variables).read_text())
            except OSError as e:
                raise section.error(
                    "variables", f"cannot read {variables}: {e.strerror or e}"
                ) from None
            except yaml.YAMLError as e:
                first = str(e).splitlines()[0]
                raise section.error("variables", f"{variables}: invalid YAML: {first}") from None
            if loaded is None:
                loaded = {}
            if not isinstance(loaded, dict):
                raise section.error(
                    "variables", f"{variables}: must hold a mapping of variable names to values"
                )
            site_variables = loaded
        sandbox = SandboxPolicy.from_config(section, extra_ro_paths=[str(PLUGIN_DIR)])
        return cls(
            state_dir=state_dir,
            log_root=log_root,
            log_url=section.get("log_url"),
            private_key_file=Path(section.get_path("private_key_file") or "~/.ssh/id_rsa"),
            hostname=section.get("hostname") or socket.gethostname(),
            zone=section.get("zone") or DEFAULT_ZONE,
            max_builds=max_builds,
            keep_jobdir=section.get_bool("keep_jobdir", False),
            sandbox=sandbox,
            site_variables=site_variables,
            job_dir=Path(job_dir).absolute() if (job_dir := section.get_path("job_dir")) else None,
            git_dir=Path(git_dir).absolute() if (git_dir := section.get_path("git_dir")) else None,
            allow_unzoned=section.get_bool("allow_unzoned", False),
        )


def ensure_dirs(settings: ExecutorSettings) -> None:
    for path in (
        settings.state_dir,
        settings.log_root,
        settings.git_root,
        settings.state_dir / "builds",
    ):
        path.mkdir(parents=True, exist_ok=True)
    os.chmod(settings.state_dir, 0o700)
