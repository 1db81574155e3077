"""The SQL layer: build history (buildsets, builds, their refs and events).

``Database(dburi).upgrade()`` at start, then the scheduler writes and the web
reads through the same object.  See doc/database.md.
"""

from lockgate.db.database import Database, NotFound, to_utc
from lockgate.db.engine import DatabaseError, DatabaseUnavailable, resolve_dburi
from lockgate.db.records import (
    ArtifactInfo,
    BuildEventRecord,
    BuildRecord,
    BuildsetRecord,
    RefInfo,
)

__all__ = [
    "ArtifactInfo",
    "BuildEventRecord",
    "BuildRecord",
    "BuildsetRecord",
    "Database",
    "DatabaseError",
    "DatabaseUnavailable",
    "NotFound",
    "RefInfo",
    "resolve_dburi",
    "to_utc",
]
