"""Zuul's names for kinds of configuration error, from Lockgate's finer keys.

Every ``ConfigError`` carries a ``key`` saying precisely what went wrong
(``unknown-parent``, ``unknown-job`` ...).  Zuul names each error it lists at
``/api/tenant/{t}/config-errors`` by a coarser kind (``name``: ``Job Not
Found``, ``Project Not Found`` ...), and clients filter on those, so the API
gives Zuul's kind as ``name`` and the key as ``detail``
(``ConfigError.to_api``).  Errors Zuul has no kind for are its generic
``Unknown Configuration Error`` / ``Unknown Configuration Warning``.

The kinds are Zuul's (``zuul/exceptions.py`` and the drivers' deprecation
warnings); where the key alone cannot say (a driver's deprecation), the
error names its kind itself (``ConfigError.kind``).
"""

from __future__ import annotations

UNKNOWN_ERROR = "Unknown Configuration Error"
UNKNOWN_WARNING = "Unknown Configuration Warning"

# Lockgate key -> Zuul kind.
ZUUL_KINDS: dict[str, str] = {
    # references
    "project-not-found": "Project Not Found",
    "unknown-project": "Project Not Found",
    "unknown-job": "Job Not Found",
    "unknown-parent": "Job Not Found",
    "unknown-nodeset": "Nodeset Not Found",
    "unknown-label": "Label Not Found",
    "unknown-template": "Template Not Found",
    "unknown-global-semaphore": "Global Semaphore Not Found",
    "node-from-group-not-found": "Node From Group Not Found",
    "unknown-connection": "Unknown Connection",
    # secrets
    "encrypted": "Decryption Failed",
    "decryption-failed": "Decryption Failed",
    # permissions and limits
    "project-not-permitted": "Project Forbidden",
    "pipeline-in-untrusted-project": "Pipeline Forbidden",
    "pipeline-untrusted": "Pipeline Forbidden",
    "label": "Label Forbidden",
    "max-job-timeout": "Max Timeout Exceeded",
    # nodesets
    "duplicate-node": "Duplicate Node",
    "duplicate-group": "Duplicate Nodeset Group",
    # files
    "multiple-config-roots": "Multiple Project Configurations",
}


def zuul_kind(key: str, warning: bool) -> str:
    """Zuul's kind for an error of ``key`` (its generic one if it has none)."""
    found = ZUUL_KINDS.get(key)
    if found is not None:
        return found
    return UNKNOWN_WARNING if warning else UNKNOWN_ERROR


# Drivers' deprecated trigger attributes: (driver, attribute) -> Zuul's kind.
DEPRECATION_KINDS: dict[tuple[str, str], str] = {
    ("gerrit", "require-approval"): "Gerrit require-approval Deprecation",
    ("gerrit", "reject-approval"): "Gerrit reject-approval Deprecation",
    ("github", "unlabel"): "Github unlabel Deprecation",
    ("github", "require-status"): "Github require-status Deprecation",
    ("github", "event"): "Github event list Deprecation",
    ("github", "requested"): "Github requested action Deprecation",
}


def deprecation_kind(driver: str | None, message: str) -> str:
    """Zuul's kind for a driver's deprecation warning: the first quoted name
    in ``message`` is the deprecated attribute (or value)."""
    quoted = message.split("'")
    attribute = quoted[1] if len(quoted) > 2 else ""
    return DEPRECATION_KINDS.get((driver or "", attribute), UNKNOWN_WARNING)
