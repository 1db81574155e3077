"""The SQL schema: buildsets, refs, builds and what hangs off builds.

The tables follow Zuul's SQL reporter, so people who know Zuul's database
recognise it: a buildset (one pipeline run for a queue item) has one or more
refs and many builds; a build has one ref, artifacts, "provides" names and
events.  Tables are SQLAlchemy Core ``Table`` objects built per
``[database] table_prefix`` (``tables(prefix)``), so one database can hold
several installations.  The migrations in ``migrations/versions`` create
exactly this schema; a test compares the two.

Who uses it: ``lockgate.db.database`` (reads and writes).  Nothing else
should touch the tables directly.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect


class NoneAsZero(sa.types.TypeDecorator[int]):
    """An integer where None is stored as 0.

    The ref table's unique key includes ``change``; NULLs never compare equal
    in a unique index, so "no change" is stored as 0 to keep refs unique.
    """

    impl = sa.Integer
    cache_ok = True
    # Compare ``col == None`` as ``col = 0``, not ``col IS NULL``.
    coerce_to_is_types = ()

    def process_bind_param(self, value: int | None, dialect: Dialect) -> int:
        return 0 if value is None else value

    def process_result_value(self, value: int | None, dialect: Dialect) -> int | None:
        return None if not value else value


class NoneAsEmpty(sa.types.TypeDecorator[str]):
    """A string where None is stored as ''; same reason as ``NoneAsZero``."""

    impl = sa.String
    cache_ok = True
    coerce_to_is_types = ()

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str:
        return "" if value is None else value

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value == "" else value


# Unprefixed table names; the migrations use the same names.
BUILDSET = "lockgate_buildset"
REF = "lockgate_ref"
BUILDSET_REF = "lockgate_buildset_ref"
BUILD = "lockgate_build"
BUILD_EVENT = "lockgate_build_event"
ARTIFACT = "lockgate_artifact"
PROVIDES = "lockgate_provides"
VERSION_TABLE = "lockgate_alembic_version"


@dataclass(frozen=True)
class Tables:
    metadata: sa.MetaData
    buildset: sa.Table
    ref: sa.Table
    buildset_ref: sa.Table
    build: sa.Table
    build_event: sa.Table
    artifact: sa.Table
    provides: sa.Table


@functools.cache
def tables(prefix: str = "") -> Tables:
    """The schema with every table (and index, constraint) name prefixed."""
    md = sa.MetaData()
    p = prefix

    def fk(table: str, name: str) -> Any:
        return sa.ForeignKey(f"{p}{table}.id", name=f"{p}{name}", ondelete="CASCADE")

    ref = sa.Table(
        p + REF,
        md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("project", sa.String(255), nullable=False),
        sa.Column("ref", sa.String(255), nullable=False),
        sa.Column("ref_url", NoneAsEmpty(1024), nullable=False),
        sa.Column("change", NoneAsZero, nullable=False),
        sa.Column("patchset", NoneAsEmpty(40), nullable=False),
        sa.Column("oldrev", NoneAsEmpty(64), nullable=False),
        sa.Column("newrev", NoneAsEmpty(64), nullable=False),
        sa.Column("branch", NoneAsEmpty(255), nullable=False),
        sa.UniqueConstraint(
            "project",
            "ref",
            "change",
            "patchset",
            "oldrev",
            "newrev",
            name=f"{p}lockgate_ref_unique",
        ),
        # (project, id): a project's ref ids from the index alone (migration 0005).
        sa.Index(f"{p}lockgate_ref_project_id_idx", "project", "id"),
        sa.Index(f"{p}lockgate_ref_ref_idx", "ref"),
        sa.Index(f"{p}lockgate_ref_change_patchset_idx", "change", "patchset"),
        sa.Index(f"{p}lockgate_ref_newrev_idx", "newrev"),
        sa.Index(f"{p}lockgate_ref_branch_idx", "branch"),
    )
    buildset = sa.Table(
        p + BUILDSET,
        md,
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
        sa.UniqueConstraint("uuid", name=f"{p}lockgate_buildset_uuid_unique"),
        # (column, id): one value's rows newest first (migration 0002).
        sa.Index(f"{p}lockgate_buildset_tenant_id_idx", "tenant", "id"),
        sa.Index(f"{p}lockgate_buildset_pipeline_id_idx", "pipeline", "id"),
        sa.Index(f"{p}lockgate_buildset_result_id_idx", "result", "id"),
        sa.Index(f"{p}lockgate_buildset_updated_idx", "updated"),
    )
    buildset_ref = sa.Table(
        p + BUILDSET_REF,
        md,
        sa.Column(
            "buildset_id",
            sa.Integer,
            fk(BUILDSET, "lockgate_buildset_ref_buildset_fk"),
            nullable=False,
        ),
        sa.Column("ref_id", sa.Integer, fk(REF, "lockgate_buildset_ref_ref_fk"), nullable=False),
        sa.PrimaryKeyConstraint("buildset_id", "ref_id", name=f"{p}lockgate_buildset_ref_pk"),
        # A ref's buildsets from the index alone (migration 0005).
        sa.Index(f"{p}lockgate_buildset_ref_ref_buildset_idx", "ref_id", "buildset_id"),
    )
    build = sa.Table(
        p + BUILD,
        md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "buildset_id", sa.Integer, fk(BUILDSET, "lockgate_build_buildset_fk"), nullable=False
        ),
        sa.Column("ref_id", sa.Integer, fk(REF, "lockgate_build_ref_fk"), nullable=False),
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
        # Copies of the buildset's tenant and pipeline and of the ref's
        # project and branch (migration 0003; ``Database`` writes them with
        # the build and keeps them equal): every filter of the builds list
        # but the ref's change, patchset, ref and newrev is then on this
        # table, so a row is checked without a join and a combination of
        # filters walks one index.
        sa.Column("tenant", sa.String(255), nullable=False),
        sa.Column("pipeline", sa.String(255), nullable=False),
        sa.Column("project", sa.String(255), nullable=False),
        sa.Column("branch", NoneAsEmpty(255), nullable=False),
        sa.UniqueConstraint("uuid", name=f"{p}lockgate_build_uuid_unique"),
        sa.Index(f"{p}lockgate_build_buildset_idx", "buildset_id"),
        sa.Index(f"{p}lockgate_build_ref_idx", "ref_id"),
        # (tenant, column, id): one tenant's builds of one value newest first
        # (migration 0003); every list is scoped to a tenant.
        sa.Index(f"{p}lockgate_build_tenant_id_idx", "tenant", "id"),
        sa.Index(f"{p}lockgate_build_tenant_pipeline_id_idx", "tenant", "pipeline", "id"),
        sa.Index(f"{p}lockgate_build_tenant_project_id_idx", "tenant", "project", "id"),
        sa.Index(f"{p}lockgate_build_tenant_branch_id_idx", "tenant", "branch", "id"),
        sa.Index(f"{p}lockgate_build_tenant_job_name_id_idx", "tenant", "job_name", "id"),
        sa.Index(f"{p}lockgate_build_tenant_result_id_idx", "tenant", "result", "id"),
        # A project's builds in one pipeline; by end time, for build-times
        # (migration 0007).
        sa.Index(
            f"{p}lockgate_build_tenant_project_pipeline_id_idx",
            "tenant",
            "project",
            "pipeline",
            "id",
        ),
        sa.Index(
            f"{p}lockgate_build_tenant_project_end_time_idx", "tenant", "project", "end_time", "id"
        ),
        # A project's builds on one branch (migration 0006).
        sa.Index(
            f"{p}lockgate_build_tenant_project_branch_id_idx", "tenant", "project", "branch", "id"
        ),
        # A job's builds in one pipeline, in one project (migration 0004).
        sa.Index(
            f"{p}lockgate_build_tenant_pipeline_job_id_idx", "tenant", "pipeline", "job_name", "id"
        ),
        sa.Index(
            f"{p}lockgate_build_tenant_project_job_id_idx", "tenant", "project", "job_name", "id"
        ),
        # (column, id): one value's builds newest first (migration 0002).
        sa.Index(f"{p}lockgate_build_nodeset_id_idx", "nodeset", "id"),
        sa.Index(f"{p}lockgate_build_voting_id_idx", "voting", "id"),
        sa.Index(f"{p}lockgate_build_final_id_idx", "final", "id"),
        sa.Index(f"{p}lockgate_build_held_id_idx", "held", "id"),
        sa.Index(f"{p}lockgate_build_end_time_idx", "end_time"),
    )
    build_event = sa.Table(
        p + BUILD_EVENT,
        md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "build_id", sa.Integer, fk(BUILD, "lockgate_build_event_build_fk"), nullable=False
        ),
        sa.Column("event_time", sa.DateTime),
        sa.Column("event_type", sa.String(255), nullable=False),
        sa.Column("description", sa.Text),
        sa.Index(f"{p}lockgate_build_event_build_idx", "build_id"),
    )
    artifact = sa.Table(
        p + ARTIFACT,
        md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("build_id", sa.Integer, fk(BUILD, "lockgate_artifact_build_fk"), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("metadata", sa.Text),
        sa.Index(f"{p}lockgate_artifact_build_idx", "build_id"),
    )
    provides = sa.Table(
        p + PROVIDES,
        md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("build_id", sa.Integer, fk(BUILD, "lockgate_provides_build_fk"), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Index(f"{p}lockgate_provides_build_idx", "build_id"),
    )
    return Tables(md, buildset, ref, buildset_ref, build, build_event, artifact, provides)
