"""Indexes for every filter of the builds and buildsets lists.

Each list is ordered by id, newest first, and paged: an index that starts
with the filtered column and ends with ``id`` lets the database walk one
value's rows backwards and stop after a page, however many rows there are
(bench/web_builds.py: 1,000,000 builds in PostgreSQL).  The job name index
keyed by buildset gives way to one keyed by id; the tenant index to
(tenant, id); the change index to (change, patchset).

Revision ID: 0002
Revises: 0001
Create Date: 2025-06-01
"""

from __future__ import annotations

from alembic import op
from lockgate.db.migrations import table

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

BUILD_INDEXES = {
    "lockgate_build_job_name_id_idx": ["job_name", "id"],
    "lockgate_build_result_id_idx": ["result", "id"],
    "lockgate_build_nodeset_id_idx": ["nodeset", "id"],
    "lockgate_build_voting_id_idx": ["voting", "id"],
    "lockgate_build_final_id_idx": ["final", "id"],
    "lockgate_build_held_id_idx": ["held", "id"],
}
BUILDSET_INDEXES = {
    "lockgate_buildset_tenant_id_idx": ["tenant", "id"],
    "lockgate_buildset_pipeline_id_idx": ["pipeline", "id"],
    "lockgate_buildset_result_id_idx": ["result", "id"],
}


def upgrade() -> None:
    op.drop_index(table("lockgate_build_job_name_idx"), table("lockgate_build"))
    for name, columns in BUILD_INDEXES.items():
        op.create_index(table(name), table("lockgate_build"), columns)
    op.drop_index(table("lockgate_buildset_tenant_idx"), table("lockgate_buildset"))
    for name, columns in BUILDSET_INDEXES.items():
        op.create_index(table(name), table("lockgate_buildset"), columns)
    op.drop_index(table("lockgate_ref_change_idx"), table("lockgate_ref"))
    op.create_index(
        table("lockgate_ref_change_patchset_idx"), table("lockgate_ref"), ["change", "patchset"]
    )


def downgrade() -> None:
    op.drop_index(table("lockgate_ref_change_patchset_idx"), table("lockgate_ref"))
    op.create_index(table("lockgate_ref_change_idx"), table("lockgate_ref"), ["change"])
    for name in BUILDSET_INDEXES:
        op.drop_index(table(name), table("lockgate_buildset"))
    op.create_index(table("lockgate_buildset_tenant_idx"), table("lockgate_buildset"), ["tenant"])
    for name in BUILD_INDEXES:
        op.drop_index(table(name), table("lockgate_build"))
    op.create_index(
        table("lockgate_build_job_name_idx"), table("lockgate_build"), ["job_name", "buildset_id"]
    )
