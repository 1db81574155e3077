"""The builds list's filters on the build row: tenant, pipeline, project, branch.

A build's tenant and pipeline (its buildset's) and project and branch (its
ref's) are copied onto the build row, so that every filter of the builds
list except the ref's change, patchset, ref and newrev is a column of one
table.  A combination of filters (a pipeline and a job that never runs in
it, say) is then checked on the index entry's row alone, without joining
the buildset and the ref for every build walked: bench/web_builds.py, the
builds list over 1,000,000 builds in PostgreSQL.  Indexes (tenant, column,
id) give one tenant's builds of one value newest first and replace
(job_name, id) and (result, id).

Existing rows get their values from their buildset and ref in one UPDATE,
under the migration lock.  On PostgreSQL the build table's other indexes
are dropped first and made again after it (updating a million rows and
eleven indexes took three times as long as updating the rows and building
the indexes afresh: 2 minutes in all for a million builds on a loaded
2-core machine), then ANALYZE tells the planner about the new columns at
once.  The columns are NOT NULL; they are added with an empty default that
PostgreSQL then drops.  SQLite cannot drop a column's default without copying the
table, and copying a table that others reference would cascade its rows'
deletion to them, so there the default stays (Lockgate always writes the
columns).

Revision ID: 0003
Revises: 0002
Create Date: 2025-07-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from lockgate.db.migrations import table

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

COLUMNS = ("tenant", "pipeline", "project", "branch")
NEW_INDEXES = {
    "lockgate_build_tenant_id_idx": ["tenant", "id"],
    "lockgate_build_tenant_pipeline_id_idx": ["tenant", "pipeline", "id"],
    "lockgate_build_tenant_project_id_idx": ["tenant", "project", "id"],
    "lockgate_build_tenant_branch_id_idx": ["tenant", "branch", "id"],
    "lockgate_build_tenant_job_name_id_idx": ["tenant", "job_name", "id"],
    "lockgate_build_tenant_result_id_idx": ["tenant", "result", "id"],
}
OLD_INDEXES = {
    "lockgate_build_job_name_id_idx": ["job_name", "id"],
    "lockgate_build_result_id_idx": ["result", "id"],
}
# The build table's other indexes at revision 0002 (its primary key and
# unique uuid aside), which stay.
KEPT_INDEXES = {
    "lockgate_build_buildset_idx": ["buildset_id"],
    "lockgate_build_ref_idx": ["ref_id"],
    "lockgate_build_end_time_idx": ["end_time"],
    "lockgate_build_nodeset_id_idx": ["nodeset", "id"],
    "lockgate_build_voting_id_idx": ["voting", "id"],
    "lockgate_build_final_id_idx": ["final", "id"],
    "lockgate_build_held_id_idx": ["held", "id"],
}


def upgrade() -> None:
    build = table("lockgate_build")
    postgresql = op.get_bind().dialect.name == "postgresql"
    for name in COLUMNS:
        op.add_column(build, sa.Column(name, sa.String(255), nullable=False, server_default=""))
    for name in OLD_INDEXES:
        op.drop_index(table(name), build)
    if postgresql:
        for name in KEPT_INDEXES:
            op.drop_index(table(name), build)
    b = sa.table(build, *(sa.column(name) for name in ("buildset_id", "ref_id", *COLUMNS)))
    bs = sa.table(
        table("lockgate_buildset"), sa.column("id"), sa.column("tenant"), sa.column("pipeline")
    )
    r = sa.table(table("lockgate_ref"), sa.column("id"), sa.column("project"), sa.column("branch"))
    op.execute(
        b.update()
        .values(tenant=bs.c.tenant, pipeline=bs.c.pipeline, project=r.c.project, branch=r.c.branch)
        .where(b.c.buildset_id == bs.c.id, b.c.ref_id == r.c.id)
    )
    if postgresql:
        for name in COLUMNS:
            op.alter_column(build, name, server_default=None)
        for name, columns in KEPT_INDEXES.items():
            op.create_index(table(name), build, columns)
    for name, columns in NEW_INDEXES.items():
        op.create_index(table(name), build, columns)
    if postgresql:
        op.execute(sa.text(f'ANALYZE "{build}"'))


def downgrade() -> None:
    build = table("lockgate_build")
    for name, columns in OLD_INDEXES.items():
        op.create_index(table(name), build, columns)
    for name in NEW_INDEXES:
        op.drop_index(table(name), build)
    for name in COLUMNS:
        op.drop_column(build, name)
