"""The JSON record of a build's tasks: ``job-output.json``.

Loaded by ansible-playbook as an enabled notification callback, never
imported by Lockgate.  The file (``LOCKGATE_JOB_JSON``) holds a list with
one entry per playbook run in the build, in order::

    [{"phase": "run", "index": 0, "playbook": "...", "trusted": false,
      "plays": [{"play": {"name", "id", "duration": {"start", "end"}},
                 "tasks": [{"task": {"name", "id", "duration"},
                            "hosts": {HOST: RESULT}}]}],
      "stats": {HOST: {"ok", "changed", "unreachable", "failures", ...}}}]

The entry is added when the playbook ends (its stats are known); the file
is replaced atomically, so a reader never sees half of it.  The runner adds
an entry itself for a playbook that was killed (timeout, cancel).
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
    name: lockgate_json
    type: notification
    short_description: Lockgate's JSON record of tasks (job-output.json)
    description: Appends this playbook's plays, tasks and results to LOCKGATE_JOB_JSON.
"""


def _now():
    return datetime.datetime.now(datetime.UTC).isoformat()


def _plain(value):
    return json.loads(json.dumps(value, default=str))


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "notification"
    CALLBACK_NAME = "lockgate_json"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._path = os.environ.get("LOCKGATE_JOB_JSON")
        self._plays = []
        self._tasks_by_id = {}
        self._masked = _masking.load()

    def _record(self, result, status):
        task = getattr(result, "task", None) or result._task
        host = (getattr(result, "host", None) or result._host).get_name()
        data = getattr(result, "result", None)
        if data is None:
            data = result._result
        entry = self._tasks_by_id.get(task._uuid)
        if entry is None:
            entry = self._start_task(task)
        data = dict(data)
        data.pop("_ansible_verbose_always", None)
        data["status"] = status
        entry["hosts"][host] = _plain(data)
        entry["task"]["duration"]["end"] = _now()

    def _start_task(self, task):
        entry = {
            "task": {
                "name": task.get_name().strip(),
                "id": task._uuid,
                "duration": {"start": _now()},
            },
            "hosts": {},
        }
        if not self._plays:
            self._plays.append(
                {"play": {"name": "", "id": "", "duration": {"start": _now()}}, "tasks": []}
            )
        self._plays[-1]["tasks"].append(entry)
        self._tasks_by_id[task._uuid] = entry
        return entry

    def v2_playbook_on_play_start(self, play):
        if self._plays:
            self._plays[-1]["play"]["duration"]["end"] = _now()
        self._plays.append(
            {
                "play": {
                    "name": play.get_name().strip(),
                    "id": str(play._uuid),
                    "duration": {"start": _now()},
                },
                "tasks": [],
            }
        )

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._start_task(task)

    def v2_playbook_on_handler_task_start(self, task):
        self._start_task(task)

    def v2_runner_on_ok(self, result):
        self._record(
            result,
            "changed"
            if (getattr(result, "result", None) or result._result).get("changed")
            else "ok",
        )

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._record(result, "failed-ignored" if ignore_errors else "failed")

    def v2_runner_on_skipped(self, result):
        self._record(result, "skipped")

    def v2_runner_on_unreachable(self, result):
        self._record(result, "unreachable")

    def v2_playbook_on_stats(self, stats):
        if self._plays:
            self._plays[-1]["play"]["duration"].setdefault("end", _now())
        summary = {host: stats.summarize(host) for host in sorted(stats.processed.keys())}
        entry = {
            "phase": os.environ.get("LOCKGATE_PHASE", ""),
            "index": int(os.environ.get("LOCKGATE_PLAYBOOK_INDEX", "0")),
            "playbook": os.environ.get("LOCKGATE_PLAYBOOK", ""),
            "trusted": os.environ.get("LOCKGATE_TRUSTED") == "1",
            "plays": self._plays,
            "stats": summary,
        }
        entry = _masking.mask_tree(entry, self._masked)
        if not self._path:
            return
        try:
            with open(self._path, encoding="utf-8") as f:
                record = json.load(f)
        except (OSError, ValueError):
            record = []
        record.append(entry)
        tmp = self._path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(record, f, indent=2, default=str)
        os.replace(tmp, self._path)
