"""The build directory: one fresh tree per build, and where everything lives in it.

The runner (``lockgate.executor.runner``) creates a ``JobDir`` before it
prepares repositories, writes the inventory and runs playbooks; everything it
writes goes under this tree, so removing one directory cleans up a build.
The layout follows Zuul's so that roles which know Zuul's paths still work::

    <state_dir>/builds/<uuid>/   (or <job_dir>/<uuid>/ when [executor] job_dir is set)
        work/            the job's working directory (HOME, writable by playbooks)
            src/<canonical_name>/   prepared repositories
            logs -> <log_root>/<uuid>   (Zuul's work/logs)
            results.json            zuul.executor.result_data_file
        ansible/         inventory, variables, ansible.cfg, known_hosts
                         (read-only inside the sandbox: a playbook cannot
                         change how the next playbook is run)
        logs/            raw stdout/stderr of each ansible-playbook process
        tmp/             ANSIBLE_HOME, Ansible's local temp, the sandbox's /tmp

The published logs (``job-output.txt``, ``job-output.json`` and whatever
playbooks collect) go to ``<log_root>/<uuid>/``, outside the build tree, so
they survive the build directory's removal.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class JobDir:
    root: Path
    log_dir: Path

    @classmethod
    def create(cls, builds_root: str | Path, log_root: str | Path, uuid: str) -> JobDir:
        """Make a fresh build directory; an old one with the same uuid is removed.

        A leftover (build tree or published logs) can only come from an
        executor that died mid-build; the build is being run again, so its
        old files are of no use.
        """
        if not uuid or "/" in uuid or uuid in (".", ".."):
            raise ValueError(f"invalid build uuid {uuid!r}")
        root = Path(builds_root, uuid).absolute()
        if root.exists():
            shutil.rmtree(root)
        jobdir = cls(root=root, log_dir=Path(log_root, uuid).absolute())
        if jobdir.log_dir.exists():
            shutil.rmtree(jobdir.log_dir)
        for path in (
            jobdir.src_root,
            jobdir.ansible_root,
            jobdir.raw_log_root,
            jobdir.tmp_root,
            jobdir.ansible_home,
            jobdir.local_tmp,
            jobdir.log_dir,
        ):
            path.mkdir(parents=True, exist_ok=True)
        # Zuul's work/logs: here it is the published log directory itself.
        (jobdir.work_root / "logs").symlink_to(jobdir.log_dir)
        return jobdir

    @property
    def work_root(self) -> Path:
        return self.root / "work"

    @property
    def src_root(self) -> Path:
        return self.work_root / "src"

    @property
    def result_data_file(self) -> Path:
        return self.work_root / "results.json"

    @property
    def ansible_root(self) -> Path:
        return self.root / "ansible"

    @property
    def inventory_file(self) -> Path:
        return self.ansible_root / "inventory.yaml"

    @property
    def config_file(self) -> Path:
        return self.ansible_root / "ansible.cfg"

    @property
    def known_hosts(self) -> Path:
        return self.ansible_root / "known_hosts"

    @property
    def zuul_vars_file(self) -> Path:
        return self.ansible_root / "zuul_vars.yaml"

    @property
    def extra_vars_file(self) -> Path:
        return self.ansible_root / "extra_vars.yaml"

    @property
    def roles_root(self) -> Path:
        return self.ansible_root / "roles"

    @property
    def playbook_root(self) -> Path:
        """Checkouts of playbook projects at a branch other than the one in ``src``."""
        return self.ansible_root / "projects"

    @property
    def raw_log_root(self) -> Path:
        return self.root / "logs"

    @property
    def tmp_root(self) -> Path:
        return self.root / "tmp"

    @property
    def ansible_home(self) -> Path:
        return self.tmp_root / "ansible-home"

    @property
    def local_tmp(self) -> Path:
        return self.tmp_root / "ansible-local"

    @property
    def job_output_txt(self) -> Path:
        return self.log_dir / "job-output.txt"

    @property
    def job_output_json(self) -> Path:
        return self.log_dir / "job-output.json"

    def src_dir(self, canonical_name: str) -> Path:
        return self.src_root / canonical_name

    def remove(self) -> None:
        """Remove the build tree (never the published logs)."""
        shutil.rmtree(self.root, ignore_errors=True)
