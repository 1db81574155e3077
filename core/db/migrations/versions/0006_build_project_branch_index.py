"""An index for a project's builds on one branch.

A project and a branch together are what the builds page is asked for
most after a project alone.  With (tenant, project, id) the builds list
walks the project's builds and checks each one's branch: a branch the
project has no builds on walks them all (5,000 in bench/web_builds.py,
12 ms, where finding the project's refs on that branch first, as before
migration 0003, found none at once).  (tenant, project, branch, id) makes
the pair one index range.

Revision ID: 0006
Revises: 0005
Create Date: 2025-07-04
"""

from __future__ import annotations

from alembic import op
from lockgate.db.migrations import table

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

NAME = "lockgate_build_tenant_project_branch_id_idx"


def upgrade() -> None:
    op.create_index(table(NAME), table("lockgate_build"), ["tenant", "project", "branch", "id"])


def downgrade() -> None:
    op.drop_index(table(NAME), table("lockgate_build"))
