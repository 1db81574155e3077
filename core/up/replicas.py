"""Several copies of each component on one machine: one service config per copy.

Who calls it: ``lockgate up --replicas N`` (``lockgate.up.main``) and the
end-to-end tests, after ``seed.write_service_config`` wrote the first copy's
``lockgate.conf``.  Copy ``k`` (2..N) gets ``etc/lockgate-k.conf``: the same
file, so the same ZooKeeper, database, connections and providers, with what
two processes of one kind on one machine must not share made distinct:

- every ``state_dir`` (scheduler, merger, executor, launcher) and the
  executor's ``git_dir`` and ``job_dir``, suffixed ``-k``: git mirrors and
  repository caches, build directories and a launcher's node directories
  belong to one process (a launcher's nodes are named by its state
  directory, an executor removes what it finds in its build directory at
  start);
- every fixed port (the web's ``port``, ``prometheus_port``, the executor's
  ``console_stream_port``), plus ``k - 1``; port 0 (any free one) stays 0.

The executors' ``log_root`` stays shared (the web serves build logs from
it); when the first file leaves it to its default under the executor's
state directory, the copies name that directory explicitly.  Everything
else is coordinated in ZooKeeper (see doc/operating.md, "Many of each").
"""

from __future__ import annotations

import configparser
import io
import os
from pathlib import Path

# Sections whose paths belong to one process.
STATE_SECTIONS = ("scheduler", "merger", "executor", "launcher")
PATH_KEYS = ("state_dir", "git_dir", "job_dir")
# section -> its fixed ports (a replica adds k - 1).
PORT_KEYS = {
    "web": ("port", "prometheus_port"),
    "scheduler": ("prometheus_port",),
    "merger": ("prometheus_port",),
    "executor": ("prometheus_port", "console_stream_port"),
    "launcher": ("prometheus_port",),
}
# Each section's state_dir when the file gives none (lockgate.service_config).
DEFAULT_STATE_DIRS = {
    "scheduler": "/var/lib/lockgate",
    "merger": "/var/lib/lockgate/merger",
    "executor": "/var/lib/lockgate/executor",
    "launcher": "/var/lib/lockgate/launcher",
}


def replica_config_path(config_file: Path, k: int) -> Path:
    """Copy ``k``'s file beside the first (copy 1 is ``config_file`` itself)."""
    if k == 1:
        return config_file
    return config_file.with_name(f"{config_file.stem}-{k}{config_file.suffix}")


def replica_text(text: str, k: int) -> str:
    """The service config ``text`` made into copy ``k``'s (see the module doc)."""
    if k < 2:
        raise ValueError(f"replica numbers start at 2 (1 is the original), got {k}")
    parser = configparser.RawConfigParser(strict=True)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(text)
    for section in STATE_SECTIONS:
        if not parser.has_section(section):
            continue
        if not parser.get(section, "state_dir", fallback=""):
            parser.set(section, "state_dir", DEFAULT_STATE_DIRS[section])
        if section == "executor" and not parser.get(section, "log_root", fallback=""):
            parser.set(section, "log_root", os.path.join(parser.get(section, "state_dir"), "logs"))
        for key in PATH_KEYS:
            value = parser.get(section, key, fallback="")
            if value:
                parser.set(section, key, f"{value.rstrip('/')}-{k}")
    for section, keys in PORT_KEYS.items():
        if not parser.has_section(section):
            continue
        for key in keys:
            value = parser.get(section, key, fallback="")
            if section == "web" and key == "port" and not value:
                value = "9000"
            if value and value.strip() != "0":
                try:
                    parser.set(section, key, str(int(value) + k - 1))
                except ValueError:
                    raise ValueError(f"[{section}] {key}: not a port number: {value!r}") from None
    out = io.StringIO()
    out.write(f"# Copy {k} of the service config: its own state directories and ports.\n")
    parser.write(out)
    return out.getvalue()


def write_replica_configs(config_file: Path, replicas: int) -> list[Path]:
    """Write copies 2..``replicas`` of ``config_file`` (mode 0600, as the
    first: it holds the keystore password); the files of copies 1..N."""
    text = config_file.read_text()
    files = [config_file]
    for k in range(2, replicas + 1):
        path = replica_config_path(config_file, k)
        fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(replica_text(text, k))
        os.chmod(path, 0o600)
        files.append(path)
    return files


def replica_name(component: str, k: int) -> str:
    """A copy's name in ``lockgate up`` (its log file, its process record):
    ``executor`` for the first, ``executor-2`` for the second..."""
    return component if k == 1 else f"{component}-{k}"
