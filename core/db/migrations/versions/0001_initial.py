"""Initial schema: buildsets, refs, builds, build events, artifacts, provides.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from lockgate.db.migrations import table

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _fk(parent: str, name: str) -> sa.ForeignKey:
    return sa.ForeignKey(f"{table(parent)}.id", name=table(name), ondelete="CASCADE")


def upgrade() -> None:
    op.create_table(
        table("lockgate_ref"),
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("project", sa.String(255), nullable=False),
        sa.Column("ref", sa.String(255), nullable=False),
        sa.Column("ref_url", sa.String(1024), nullable=False),
        sa.Column("change", sa.Integer, nullable=False),
        sa.Column("patchset", sa.String(40), nullable=False),
        sa.Column("oldrev", sa.String(64), nullable=False),
        sa.Column("newrev", sa.String(64), nullable=False),
        sa.Column("branch", sa.String(255), nullable=False),
        sa.UniqueConstraint(
            "project",
            "ref",
            "change",
            "patchset",
            "oldrev",
            "newrev",
            name=table("lockgate_ref_unique"),
        ),
    )
    for column in ("project", "ref", "change", "newrev", "branch"):
        op.create_index(table(f"lockgate_ref_{column}_idx"), table("lockgate_ref"), [column])

    op.create_table(
        table("lockgate_buildset"),
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("uuid", sa.String(36), nullable=False),
        sa.Column("tenant", sa.String(255), nullable=False),
        sa.Column("pipeline", sa.String(255), nullable=False),
        sa.Column("result", sa.String(255)),
        sa.Column("message", sa.Text),
        sa.Column("event_id", sa.String(255)),
        sa.Column("event_timestamp", sa.DateTime),
        sa.Column("first_build_start_time", sa.DateTime),
        sa.Column("last_build_end_time", sa.DateTime),
        sa.Column("updated", sa.DateTime),
        sa.UniqueConstraint("uuid", name=table("lockgate_buildset_uuid_unique")),
    )
    op.create_index(table("lockgate_buildset_tenant_idx"), table("lockgate_buildset"), ["tenant"])
    op.create_index(table("lockgate_buildset_updated_idx"), table("lockgate_buildset"), ["updated"])

    op.create_table(
        table("lockgate_buildset_ref"),
        sa.Column(
            "buildset_id",
            sa.Integer,
            _fk("lockgate_buildset", "lockgate_buildset_ref_buildset_fk"),
            nullable=False,
        ),
        sa.Column(
            "ref_id",
            sa.Integer,
            _fk("lockgate_ref", "lockgate_buildset_ref_ref_fk"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("buildset_id", "ref_id", name=table("lockgate_buildset_ref_pk")),
    )
    op.create_index(
        table("lockgate_buildset_ref_ref_idx"), table("lockgate_buildset_ref"), ["ref_id"]
    )

    op.create_table(
        table("lockgate_build"),
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "buildset_id",
            sa.Integer,
            _fk("lockgate_buildset", "lockgate_build_buildset_fk"),
            nullable=False,
        ),
        sa.Column(
            "ref_id", sa.Integer, _fk("lockgate_ref", "lockgate_build_ref_fk"), nullable=False
        ),
        sa.Column("uuid", sa.String(36), nullable=False),
        sa.Column("job_name", sa.String(255), nullable=False),
        sa.Column("result", sa.String(255)),
        sa.Column("start_time", sa.DateTime),
        sa.Column("end_time", sa.DateTime),
        sa.Column("voting", sa.Boolean),
        sa.Column("log_url", sa.Text),
        sa.Column("error_detail", sa.Text),
        sa.Column("final", sa.Boolean),
        sa.Column("held", sa.Boolean),
        sa.Column("nodeset", sa.String(255)),
        sa.UniqueConstraint("uuid", name=table("lockgate_build_uuid_unique")),
    )
    op.create_index(table("lockgate_build_buildset_idx"), table("lockgate_build"), ["buildset_id"])
    op.create_index(table("lockgate_build_ref_idx"), table("lockgate_build"), ["ref_id"])
    op.create_index(
        table("lockgate_build_job_name_idx"), table("lockgate_build"), ["job_name", "buildset_id"]
    )
    op.create_index(table("lockgate_build_end_time_idx"), table("lockgate_build"), ["end_time"])

    for name, columns in (
        (
            "lockgate_build_event",
            [
                sa.Column("event_time", sa.DateTime),
                sa.Column("event_type", sa.String(255), nullable=False),
                sa.Column("description", sa.Text),
            ],
        ),
        (
            "lockgate_artifact",
            [
                sa.Column("name", sa.String(255), nullable=False),
                sa.Column("url", sa.Text, nullable=False),
                sa.Column("metadata", sa.Text),
            ],
        ),
        (
            "lockgate_provides",
            [
                sa.Column("name", sa.String(255), nullable=False),
            ],
        ),
    ):
        op.create_table(
            table(name),
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column(
                "build_id", sa.Integer, _fk("lockgate_build", f"{name}_build_fk"), nullable=False
            ),
            *columns,
        )
        op.create_index(table(f"{name}_build_idx"), table(name), ["build_id"])


def downgrade() -> None:
    for name in (
        "lockgate_provides",
        "lockgate_artifact",
        "lockgate_build_event",
        "lockgate_build",
        "lockgate_buildset_ref",
        "lockgate_buildset",
        "lockgate_ref",
    ):
        op.drop_table(table(name))
