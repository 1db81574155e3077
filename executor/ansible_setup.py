"""How ``ansible-playbook`` is invoked: its configuration file, environment and command line.

The runner calls ``write_ansible_cfg`` once per build and ``playbook_command``
/ ``ansible_env`` for each playbook.  Everything Ansible would otherwise put
in ``~/.ansible`` goes under the build's ``tmp/``; SSH shares connections
(ControlPersist) only inside the sandbox, where its ``[mux]`` processes
cannot outlive the playbook (INFRA-NOTES: outside, they keep a node's
network namespace alive); the interpreter is always explicit (discovery
can pick a broken pyenv shim).
Our callback plugins (``ansible_plugins/callback``) write the console and
the JSON record, and our action plugin ``zuul_return`` (``ansible_plugins/action``)
the build's result data; they learn where from ``LOCKGATE_*`` variables.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from lockgate.executor.jobdir import JobDir

PLUGIN_DIR = Path(__file__).parent / "ansible_plugins"
CALLBACK_DIR = PLUGIN_DIR / "callback"
ACTION_DIR = PLUGIN_DIR / "action"

# Common to every build.  How connections are shared depends on the sandbox:
SSH_ARGS = (
    "-o ServerAliveInterval=30 -o ConnectTimeout=10 -o PasswordAuthentication=no -o BatchMode=yes"
)
# Outside a sandbox: no ControlMaster, and the word ControlPersist must not
# appear at all (Ansible then adds a ControlPath, and the [mux] processes
# would outlive the build, keeping a node's network namespace alive).
SSH_ARGS_UNSHARED = "-o ControlMaster=no " + SSH_ARGS
# Inside bubblewrap the [mux] processes live in the sandbox's PID namespace
# and die with it when ansible-playbook exits, so one playbook run may share
# one connection per host: a task costs no new SSH handshake (copying a
# directory of files to a node is ~10x faster).  The control sockets go in
# a short directory (a socket path may not exceed 107 bytes).
SSH_ARGS_SHARED = "-o ControlMaster=auto -o ControlPersist=300s " + SSH_ARGS


def ansible_playbook_path() -> str:
    """``ansible-playbook`` of the Python running us (the venv), else from PATH."""
    beside = Path(sys.executable).parent / "ansible-playbook"
    if beside.exists():
        return str(beside)
    found = shutil.which("ansible-playbook")
    if not found:
        raise FileNotFoundError("ansible-playbook not found (is ansible-core installed?)")
    return found


def write_ansible_cfg(jobdir: JobDir) -> None:
    jobdir.config_file.write_text(
        "[defaults]\n"
        f"inventory = {jobdir.inventory_file}\n"
        f"local_tmp = {jobdir.local_tmp}\n"
        "remote_tmp = ~/.ansible/tmp\n"
        f"callback_plugins = {CALLBACK_DIR}\n"
        f"action_plugins = {ACTION_DIR}\n"
        "stdout_callback = lockgate_console\n"
        "callbacks_enabled = lockgate_json\n"
        "retry_files_enabled = False\n"
        "host_key_checking = True\n"
        "interpreter_python = auto_silent\n"
        "gathering = explicit\n"
        "nocows = True\n"
        "deprecation_warnings = False\n"
        "system_warnings = False\n"
        "command_warnings = False\n"
        "timeout = 30\n"
        "forks = 10\n"
        "\n[ssh_connection]\n"
        "pipelining = True\n"
        "retries = 3\n"
    )


def ansible_env(
    jobdir: JobDir,
    *,
    phase: str,
    index: int,
    playbook: str,
    trusted: bool,
    roles_path: list[Path],
    ssh_auth_sock: Path | None,
    ssh_control_dir: Path | None = None,
) -> dict[str, str]:
    """The whole environment of one ansible-playbook (nothing inherited by accident)."""
    venv_bin = str(Path(sys.executable).parent)
    env = {
        "PATH": f"{venv_bin}:/usr/local/bin:/usr/bin:/bin",
        "HOME": str(jobdir.work_root),
        "TMPDIR": str(jobdir.tmp_root),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "ANSIBLE_CONFIG": str(jobdir.config_file),
        "ANSIBLE_HOME": str(jobdir.ansible_home),
        "ANSIBLE_LOCAL_TEMP": str(jobdir.local_tmp),
        "ANSIBLE_SSH_ARGS": SSH_ARGS_SHARED if ssh_control_dir else SSH_ARGS_UNSHARED,
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_NOCOLOR": "1",
        "LOCKGATE_JOB_OUTPUT": str(jobdir.job_output_txt),
        "LOCKGATE_JOB_JSON": str(jobdir.job_output_json),
        "LOCKGATE_PHASE": phase,
        "LOCKGATE_PLAYBOOK_INDEX": str(index),
        "LOCKGATE_PLAYBOOK": playbook,
        "LOCKGATE_TRUSTED": "1" if trusted else "0",
        # Where zuul_return (ansible_plugins/action) merges what it is given.
        "LOCKGATE_RESULT_DATA": str(jobdir.result_data_file),
    }
    if roles_path:
        env["ANSIBLE_ROLES_PATH"] = ":".join(str(p) for p in roles_path)
    if ssh_auth_sock is not None:
        env["SSH_AUTH_SOCK"] = str(ssh_auth_sock)
    if ssh_control_dir is not None:
        env["ANSIBLE_SSH_CONTROL_PATH_DIR"] = str(ssh_control_dir)
        env["ANSIBLE_SSH_CONTROL_PATH"] = "%(directory)s/%%C"
    tz = os.environ.get("TZ")
    if tz:
        env["TZ"] = tz
    return env


def playbook_command(jobdir: JobDir, playbook: Path, extra_var_files: list[Path]) -> list[str]:
    cmd = [ansible_playbook_path(), str(playbook)]
    for path in extra_var_files:
        cmd += ["-e", f"@{path}"]
    return cmd
