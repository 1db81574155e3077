"""Indexes for a project's builds in one pipeline, and by end time.

Measured on a loaded 2-core machine (bench/web_builds.py --busy 4, 1,000,000
builds): a project and a pipeline it never runs in walked all of the
project's builds to find none (59 ms), and build-times for a project walked
the tenant's builds by end time until 50 of the project's turned up (67
ms).  (tenant, project, pipeline, id) and (tenant, project, end_time, id)
make each one index range.

Revision ID: 0007
Revises: 0006
Create Date: 2025-07-05
"""

from __future__ import annotations

from alembic import op
from lockgate.db.migrations import table

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

INDEXES = {
    "lockgate_build_tenant_project_pipeline_id_idx": ["tenant", "project", "pipeline", "id"],
    "lockgate_build_tenant_project_end_time_idx": ["tenant", "project", "end_time", "id"],
}


def upgrade() -> None:
    for name, columns in INDEXES.items():
        op.create_index(table(name), table("lockgate_build"), columns)


def downgrade() -> None:
    for name in INDEXES:
        op.drop_index(table(name), table("lockgate_build"))
