"""Lines the runner itself writes to ``job-output.txt`` and ``job-output.json``.

The callback plugins write what Ansible does; the runner adds, between
playbooks, what only it knows: phase headers and results (in Zuul's words,
``PRE-RUN START`` / ``PRE-RUN END RESULT_NORMAL``), errors that happen before
Ansible starts, and Ansible's own complaints (a missing playbook, a syntax
error) which never reach a callback.  Nothing else writes the files while
the runner does, so appending is safe.
"""

from __future__ import annotations

import datetime
import json
import os
from pathlib import Path
from typing import Any


def write_lines(path: Path, text: str) -> None:
    stamp = datetime.datetime.now().strftime("%Y-%m-%d %H:%M:%S.%f")
    with open(path, "a", encoding="utf-8") as out:
        for part in text.splitlines() or [""]:
            out.write(f"{stamp} | {part}\n")


def append_json_entry(path: Path, entry: dict[str, Any]) -> None:
    """Add a playbook entry the callback could not write (the playbook was killed)."""
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        record = []
    record.append(entry)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(record, indent=2, default=str))
    os.replace(tmp, path)


def last_json_entry(path: Path, phase: str, index: int) -> dict[str, Any] | None:
    """The callback's entry for one playbook, if it wrote one."""
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    for entry in reversed(record):
        if entry.get("phase") == phase and entry.get("index") == index:
            return entry
    return None
