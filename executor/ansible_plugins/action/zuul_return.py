"""``zuul_return``: a playbook hands data back to the system that runs it.

Loaded by ansible-playbook as an action plugin (it runs on the executor,
inside the build's sandbox, whatever host the task targets), never
imported by Lockgate.  It merges its arguments into the build's result
file (``LOCKGATE_RESULT_DATA``, which is ``zuul.executor.result_data_file``),
a JSON object ``{"data": {...}, "secret_data": {...}}`` that the executor
reads after the run playbooks (``zuul.pause``) and at the end of the build
(``lockgate.executor.result_data``).

Arguments, as Zuul's module takes them: ``data`` (a mapping), ``file`` (a
JSON file holding such a mapping), ``secret_data`` / ``secret_file`` (the
same, for values that child jobs get but that are never logged or stored
with the build's history), ``path`` (another result file).

Merging, as Zuul does it: a later call's mappings are merged key by key
into what earlier calls returned (a later scalar or list replaces), except
``zuul.artifacts`` and ``zuul.warnings``, which accumulate, and
``zuul.file_comments``, whose comments accumulate per file.  A value that
breaks the shape of ``zuul.artifacts`` or ``zuul.warnings`` fails the task
and leaves the file as it was.
"""

from __future__ import annotations

import json
import os
import tempfile

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

DOCUMENTATION = """
    module: zuul_return
    short_description: Return data to Zuul (Lockgate)
    description: Merges data into the build's result file, for child jobs and the scheduler.
    options:
      data: {description: Mapping to return., type: dict}
      secret_data: {description: Mapping to return to child jobs only (never logged)., type: dict}
      file: {description: JSON file holding a mapping to return., type: str}
      secret_file: {description: JSON file holding secret data., type: str}
      path: {description: The result file (default zuul.executor.result_data_file)., type: str}
"""

ACCUMULATED = ("artifacts", "warnings")


def _zuul_of(data):
    value = data.get("zuul") if isinstance(data, dict) else None
    return value if isinstance(value, dict) else {}


def _merge(new, old):
    """Merge mapping ``new`` into ``old`` (changed in place), nested mappings key by key."""
    for key, value in new.items():
        if isinstance(value, dict) and isinstance(old.get(key), dict):
            _merge(value, old[key])
        else:
            old[key] = value
    return old


def merge_returned(new, old):
    """``old`` (what earlier calls returned) with ``new`` merged in, Zuul's way."""
    new_z, old_z = _zuul_of(new), _zuul_of(old)
    lists = {}
    for key in ACCUMULATED:
        before = old_z.get(key) if isinstance(old_z.get(key), list) else []
        after = new_z.get(key) if isinstance(new_z.get(key), list) else []
        lists[key] = before + after
    comments: dict = {}
    for source in (old_z.get("file_comments"), new_z.get("file_comments")):
        if isinstance(source, dict):
            for path, entries in source.items():
                if isinstance(entries, list):
                    comments.setdefault(path, []).extend(entries)
    _merge(new, old)
    if any(lists.values()) or comments:
        zuul = old.setdefault("zuul", {})
        for key, value in lists.items():
            if value:
                zuul[key] = value
        if comments:
            zuul["file_comments"] = comments
    return old


def check_shape(data, what):
    """Raise ``ValueError`` when ``zuul.artifacts``/``zuul.warnings``/``zuul.log_url`` are malformed."""
    if not isinstance(data, dict):
        raise ValueError(f"{what} must be a mapping")
    zuul = data.get("zuul", {})
    if not isinstance(zuul, dict):
        raise ValueError(f"{what}: zuul must be a mapping")
    if "log_url" in zuul and not isinstance(zuul["log_url"], str):
        raise ValueError(f"{what}: zuul.log_url must be a string")
    artifacts = zuul.get("artifacts", [])
    if not isinstance(artifacts, list):
        raise ValueError(f"{what}: zuul.artifacts must be a list")
    for i, artifact in enumerate(artifacts):
        if not isinstance(artifact, dict):
            raise ValueError(f"{what}: zuul.artifacts[{i}] must be a mapping")
        for key in ("name", "url"):
            if not isinstance(artifact.get(key), str):
                raise ValueError(f"{what}: zuul.artifacts[{i}].{key} must be a string")
        if "metadata" in artifact and not isinstance(artifact["metadata"], dict):
            raise ValueError(f"{what}: zuul.artifacts[{i}].metadata must be a mapping")
    warnings = zuul.get("warnings", [])
    if not isinstance(warnings, list) or not all(isinstance(w, str) for w in warnings):
        raise ValueError(f"{what}: zuul.warnings must be a list of strings")


def _load_json(path, what):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        raise ValueError(f"{what} {path}: {e}") from None


def update_result_file(path, data=None, data_file=None, secret=None, secret_file=None):
    """Merge the arguments into the result file at ``path`` (replaced atomically)."""
    current: dict = {"data": {}, "secret_data": {}}
    if os.path.exists(path):
        with open(path) as f:
            text = f.read()
        if text.strip():
            loaded = json.loads(text)
            if isinstance(loaded, dict):
                current["data"] = loaded.get("data") or {}
                current["secret_data"] = loaded.get("secret_data") or {}
    for key, value, file_value in (
        ("data", data, data_file),
        ("secret_data", secret, secret_file),
    ):
        if file_value:
            loaded = _load_json(file_value, f"{key} file")
            check_shape(loaded, f"{key} file")
            merge_returned(loaded, current[key])
        if value:
            check_shape(value, key)
            merge_returned(value, current[key])
        check_shape(current[key], key)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path) or ".", prefix=".results-")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(current, f)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(("data", "secret_data", "file", "secret_file", "path"))

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars or {})
        args = self._task.args
        path = args.get("path") or os.environ.get("LOCKGATE_RESULT_DATA")
        if not path:
            raise AnsibleActionFail("zuul_return: no result file (LOCKGATE_RESULT_DATA is not set)")
        try:
            update_result_file(
                path,
                data=args.get("data"),
                data_file=args.get("file"),
                secret=args.get("secret_data"),
                secret_file=args.get("secret_file"),
            )
        except ValueError as e:
            raise AnsibleActionFail(f"zuul_return: {e}") from None
        result["changed"] = False
        return result
