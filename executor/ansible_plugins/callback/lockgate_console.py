"""The build console: ``job-output.txt``, one timestamped line per event.

Loaded by ansible-playbook as its stdout callback (``ansible.cfg`` written
by ``lockgate.executor.ansible_setup``), never imported by Lockgate.  It
appends to the file named by ``LOCKGATE_JOB_OUTPUT`` and flushes every
line, so the console can be followed while the build runs.  Every playbook
of a build appends to the same file; the runner writes the phase headers
in between.  Lines look like Zuul's::

    2026-01-01 12:00:00.000000 | TASK [say hello]
    2026-01-01 12:00:00.100000 | localhost | hello
    2026-01-01 12:00:00.100000 | localhost | changed
"""

from __future__ import annotations

import datetime
import json
import os

from ansible.plugins.callback import CallbackBase


def _load_masking():
    """``../masking.py``: the secrets this playbook must never show."""
    import importlib.util

    path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "masking.py")
    spec = importlib.util.spec_from_file_location("lockgate_masking", path)
    assert spec is not None and spec.loader is not None, path
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_masking = _load_masking()

DOCUMENTATION = """
    name: lockgate_console
    type: stdout
    short_description: Lockgate's build console (job-output.txt)
    description: Writes a timestamped console of the playbook to LOCKGATE_JOB_OUTPUT.
"""

_QUIET_KEYS = (
    "stdout",
    "stderr",
    "stdout_lines",
    "stderr_lines",
    "msg",
    "rc",
    "invocation",
    "changed",
    "failed",
    "skipped",
    "_ansible_no_log",
    "_ansible_verbose_always",
    "_ansible_item_label",
    "item",
    "ansible_loop_var",
    "delta",
    "start",
    "end",
    "cmd",
)


def _result_dict(result):
    data = getattr(result, "result", None)
    if data is None:
        data = result._result
    return data


def _host(result):
    host = getattr(result, "host", None) or result._host
    return host.get_name()


def _task(result):
    return getattr(result, "task", None) or result._task


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "stdout"
    CALLBACK_NAME = "lockgate_console"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        path = os.environ.get("LOCKGATE_JOB_OUTPUT") or os.devnull
        self._out = open(path, "a", encoding="utf-8", buffering=1)  # noqa: SIM115
        self._play_hosts = []
        self._masked = _masking.load()

    # -- writing -----------------------------------------------------------

    def _line(self, text=""):
        stamp = datetime.datetime.now().strftime("%Y-%m-%d %H:%M:%S.%f")
        text = _masking.mask(str(text), self._masked) if self._masked else str(text)
        for part in text.splitlines() or [""]:
            self._out.write(f"{stamp} | {part}\n")
        self._out.flush()

    def _host_lines(self, host, text):
        for part in str(text).splitlines():
            self._line(f"{host} | {part}")

    def _show_output(self, host, data):
        # Before formatting: a value shown as JSON is escaped, masked first.
        data = _masking.mask_tree(data, self._masked)
        if data.get("_ansible_no_log") or data.get("censored"):
            self._line(f"{host} | Output suppressed because no_log was given")
            return
        task_msg = data.get("msg")
        stdout = data.get("stdout")
        stderr = data.get("stderr")
        if stdout:
            self._host_lines(host, stdout)
        if stderr:
            self._host_lines(host, stderr)
        if task_msg and isinstance(task_msg, str):
            self._host_lines(host, task_msg)
        elif task_msg:
            self._host_lines(host, json.dumps(task_msg, indent=2, default=str))
        if not stdout and not stderr and not task_msg:
            # debug: var=... and modules without text output: show their data.
            rest = {
                k: v
                for k, v in data.items()
                if k not in _QUIET_KEYS and not k.startswith("_ansible")
            }
            if rest and (data.get("_ansible_verbose_always") or data.get("failed")):
                self._host_lines(host, json.dumps(rest, indent=2, sort_keys=True, default=str))

    # -- Ansible events ----------------------------------------------------

    def v2_playbook_on_play_start(self, play):
        name = play.get_name().strip()
        self._line()
        self._line(f"PLAY [{name}]")

    def v2_playbook_on_no_hosts_matched(self):
        self._line("skipping: no hosts matched")

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._line()
        self._line(f"TASK [{task.get_name().strip()}]")

    def v2_playbook_on_handler_task_start(self, task):
        self._line()
        self._line(f"RUNNING HANDLER [{task.get_name().strip()}]")

    def v2_runner_on_ok(self, result):
        host, data = _host(result), _result_dict(result)
        if _task(result).loop and "results" in data:
            self._line(f"{host} | {'changed' if data.get('changed') else 'ok'}: all items complete")
            return
        self._show_output(host, data)
        self._line(f"{host} | {'changed' if data.get('changed') else 'ok'}")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        host, data = _host(result), _result_dict(result)
        if not (_task(result).loop and "results" in data):
            self._show_output(host, data)
        rc = data.get("rc")
        suffix = f": return code {rc}" if rc not in (None, 0) else ""
        self._line(f"{host} | ERROR{suffix}" + (" (ignored)" if ignore_errors else ""))

    def v2_runner_on_skipped(self, result):
        self._line(f"{_host(result)} | skipping")

    def v2_runner_on_unreachable(self, result):
        data = _result_dict(result)
        self._line(f"{_host(result)} | UNREACHABLE! {data.get('msg', '')}".rstrip())

    def v2_runner_item_on_ok(self, result):
        host, data = _host(result), _result_dict(result)
        self._show_output(host, data)
        label = self._get_item_label(data)
        status = "changed" if data.get("changed") else "ok"
        self._line(f"{host} | {status}: Item: {label}")

    def v2_runner_item_on_failed(self, result):
        host, data = _host(result), _result_dict(result)
        self._show_output(host, data)
        self._line(f"{host} | ERROR: Item: {self._get_item_label(data)}")

    def v2_runner_item_on_skipped(self, result):
        data = _result_dict(result)
        self._line(f"{_host(result)} | skipping: Item: {self._get_item_label(data)}")

    def v2_runner_retry(self, result):
        data = _result_dict(result)
        left = data.get("retries", 0) - data.get("attempts", 0)
        self._line(
            f"{_host(result)} | FAILED - RETRYING: {_task(result).get_name()} ({left} retries left)"
        )

    def v2_playbook_on_stats(self, stats):
        self._line()
        self._line("PLAY RECAP")
        for host in sorted(stats.processed.keys()):
            s = stats.summarize(host)
            self._line(
                f"{host} | ok: {s['ok']} changed: {s['changed']} "
                f"unreachable: {s['unreachable']} failed: {s['failures']} "
                f"skipped: {s['skipped']} rescued: {s['rescued']} "
                f"ignored: {s['ignored']}"
            )
        self._line()
