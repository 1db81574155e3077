"""Masking a playbook's decrypted secrets in what the callbacks write.

Loaded by the callback plugins (``callback/lockgate_console.py``,
``callback/lockgate_json.py``) from this file's path, inside
ansible-playbook, never imported by Lockgate.  The runner
(``lockgate.executor.secrets``) names, in ``LOCKGATE_SECRET_MASK``, an
in-memory file holding the JSON list of strings to mask (the decrypted
values of the playbook's secrets, longest first); a playbook without
secrets has none and nothing is masked.
"""

from __future__ import annotations

import json
import os

MASK = "*****"
ENV = "LOCKGATE_SECRET_MASK"


def load():
    """The strings to mask for this playbook (empty when it has no secrets)."""
    path = os.environ.get(ENV)
    if not path:
        return []
    try:
        with open(path, encoding="utf-8") as f:
            values = json.load(f)
    except (OSError, ValueError):
        return []
    return [v for v in values if isinstance(v, str) and v]


def mask(text, values):
    for value in values:
        if value in text:
            text = text.replace(value, MASK)
    return text


def mask_tree(data, values):
    """``data`` (plain JSON values) with every string masked."""
    if not values:
        return data
    if isinstance(data, str):
        return mask(data, values)
    if isinstance(data, dict):
        return {mask_tree(k, values): mask_tree(v, values) for k, v in data.items()}
    if isinstance(data, list):
        return [mask_tree(v, values) for v in data]
    return data
