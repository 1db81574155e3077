"""Indexes for the buildsets of a project, read from the indexes alone.

The buildsets list filtered by project finds the project's refs, then the
buildsets linking to them: a probe per ref into each index.  With the ref
index on (project) and the link index on (ref_id), each probe also read a
table row (a ref's id, a link's buildset id); on (project, id) and (ref_id,
buildset_id) the indexes answer alone (bench/web_builds.py: 1,000 refs of
a project, 26 -> 6 ms of SQL).

Revision ID: 0005
Revises: 0004
Create Date: 2025-07-03
"""

from __future__ import annotations

from alembic import op
from lockgate.db.migrations import table

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# (table, old index, its columns, new index, its columns)
CHANGES = [
    (
        "lockgate_ref",
        "lockgate_ref_project_idx",
        ["project"],
        "lockgate_ref_project_id_idx",
        ["project", "id"],
    ),
    (
        "lockgate_buildset_ref",
        "lockgate_buildset_ref_ref_idx",
        ["ref_id"],
        "lockgate_buildset_ref_ref_buildset_idx",
        ["ref_id", "buildset_id"],
    ),
]


def upgrade() -> None:
    for name, old, _, new, columns in CHANGES:
        op.create_index(table(new), table(name), columns)
        op.drop_index(table(old), table(name))


def downgrade() -> None:
    for name, old, old_columns, new, _ in CHANGES:
        op.create_index(table(old), table(name), old_columns)
        op.drop_index(table(new), table(name))
