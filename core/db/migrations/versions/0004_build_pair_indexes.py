"""Indexes for a job's builds in one pipeline and in one project.

With one index per filter (0003), a combination of filters walks one
value's builds newest first and checks the others on each row; a job that
never runs in the pipeline asked for walks all of the job's builds (20,000
of them in bench/web_builds.py, 36 ms of SQL) to find none.  The planner
cannot see that coming: it takes the filters as independent.  (tenant,
pipeline, job_name, id) and (tenant, project, job_name, id) make the two
combinations the builds page is asked for most one index range each.

Revision ID: 0004
Revises: 0003
Create Date: 2025-07-02
"""

from __future__ import annotations

from alembic import op
from lockgate.db.migrations import table

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

INDEXES = {
    "lockgate_build_tenant_pipeline_job_id_idx": ["tenant", "pipeline", "job_name", "id"],
    "lockgate_build_tenant_project_job_id_idx": ["tenant", "project", "job_name", "id"],
}


def upgrade() -> None:
    for name, columns in INDEXES.items():
        op.create_index(table(name), table("lockgate_build"), columns)


def downgrade() -> None:
    for name in INDEXES:
        op.drop_index(table(name), table("lockgate_build"))
