"""The history queries the REST API needs, with Zuul's filters.

``Database.get_builds``/``get_buildsets`` delegate here.  Each query first
selects the matching ids (filters, newest first, limit/offset), then loads
those rows with their refs, artifacts and provides in a few ``IN`` queries, and
returns frozen records (``lockgate.db.records``) so nothing lazy-loads later.

Filters take one value or a list (any of them matches).  ``project``,
``pipeline``, ``branch`` and ``job_name`` accept ``*`` as a wildcard, as in
Zuul's builds page.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from lockgate.db.records import (
    ArtifactInfo,
    BuildEventRecord,
    BuildRecord,
    BuildsetRecord,
    RefInfo,
)
from lockgate.db.schema import Tables

Filter = Any  # a value, a list of values, or None (no filter)


def _values(value: Filter) -> list[Any] | None:
    if value is None:
        return None
    if isinstance(value, (list, tuple, set, frozenset)):
        return list(value)
    return [value]


def match(column: sa.ColumnElement[Any], value: Filter) -> sa.ColumnElement[bool] | None:
    """``column`` equals the value, or one of the values."""
    values = _values(value)
    if values is None:
        return None
    if len(values) == 1:
        return column == values[0]
    return column.in_(values)


def exclude(column: sa.ColumnElement[Any], value: Filter) -> sa.ColumnElement[bool] | None:
    values = _values(value)
    if values is None:
        return None
    # NULL (still running) is not "one of the excluded results".
    return sa.or_(column.is_(None), column.not_in(values))


def _like(column: sa.ColumnElement[Any], value: Any) -> sa.ColumnElement[bool]:
    if isinstance(value, str) and "*" in value:
        escaped = value.replace("$", "$$").replace("%", "$%").replace("_", "$_")
        return column.like(escaped.replace("*", "%"), escape="$")
    return column == value


def fuzzy(column: sa.ColumnElement[Any], value: Filter) -> sa.ColumnElement[bool] | None:
    """Like ``match``, where ``*`` in a value matches any characters."""
    values = _values(value)
    if values is None:
        return None
    return sa.or_(*[_like(column, v) for v in values])


def _apply(query: sa.Select[Any], *conditions: sa.ColumnElement[bool] | None) -> sa.Select[Any]:
    for condition in conditions:
        if condition is not None:
            query = query.where(condition)
    return query


def _complete(
    column: sa.ColumnElement[Any], complete: bool | None
) -> sa.ColumnElement[bool] | None:
    if complete is True:
        return column.is_not(None)
    if complete is False:
        return column.is_(None)
    return None


def _ref(row: Any, r: sa.Table) -> RefInfo:
    m = row._mapping
    return RefInfo(
        project=m[r.c.project],
        ref=m[r.c.ref],
        branch=m[r.c.branch],
        change=m[r.c.change],
        patchset=m[r.c.patchset],
        oldrev=m[r.c.oldrev],
        newrev=m[r.c.newrev],
        ref_url=m[r.c.ref_url],
    )


def _buildset(
    row: Any, bs: sa.Table, refs: Sequence[RefInfo] = (), builds: Sequence[BuildRecord] = ()
) -> BuildsetRecord:
    m = row._mapping
    return BuildsetRecord(
        id=m[bs.c.id],
        uuid=m[bs.c.uuid],
        tenant=m[bs.c.tenant],
        pipeline=m[bs.c.pipeline],
        result=m[bs.c.result],
        message=m[bs.c.message],
        event_id=m[bs.c.event_id],
        event_timestamp=m[bs.c.event_timestamp],
        first_build_start_time=m[bs.c.first_build_start_time],
        last_build_end_time=m[bs.c.last_build_end_time],
        updated=m[bs.c.updated],
        refs=tuple(refs),
        builds=tuple(builds),
    )


class Reader:
    """Read queries on one connection."""

    def __init__(self, conn: sa.Connection, t: Tables) -> None:
        self.conn = conn
        self.t = t

    # -- builds ------------------------------------------------------------

    def build_ids(
        self,
        tenant: str | None,
        *,
        project: Filter = None,
        pipeline: Filter = None,
        job_name: Filter = None,
        branch: Filter = None,
        change: Filter = None,
        patchset: Filter = None,
        ref: Filter = None,
        newrev: Filter = None,
        uuid: Filter = None,
        result: Filter = None,
        exclude_result: Filter = None,
        voting: bool | None = None,
        final: bool | None = None,
        held: bool | None = None,
        nodeset: Filter = None,
        complete: bool | None = None,
        buildset_uuid: Filter = None,
        limit: int | None = 50,
        offset: int = 0,
        idx_min: int | None = None,
        idx_max: int | None = None,
    ) -> list[int]:
        b, bs, r = self.t.build, self.t.buildset, self.t.ref
        q = sa.select(b.c.id).select_from(
            b.join(bs, b.c.buildset_id == bs.c.id).join(r, b.c.ref_id == r.c.id)
        )
        q = _apply(
            q,
            match(bs.c.tenant, tenant),
            fuzzy(bs.c.pipeline, pipeline),
            fuzzy(r.c.project, project),
            fuzzy(r.c.branch, branch),
            match(r.c.change, change),
            match(r.c.patchset, patchset),
            match(r.c.ref, ref),
            match(r.c.newrev, newrev),
            match(b.c.uuid, uuid),
            match(bs.c.uuid, buildset_uuid),
            fuzzy(b.c.job_name, job_name),
            match(b.c.result, result),
            exclude(b.c.result, exclude_result),
            match(b.c.voting, voting),
            match(b.c.final, final),
            match(b.c.held, held),
            match(b.c.nodeset, nodeset),
            _complete(b.c.result, complete),
            b.c.id >= idx_min if idx_min is not None else None,
            b.c.id <= idx_max if idx_max is not None else None,
        )
        q = q.order_by(b.c.id.desc()).offset(offset)
        if limit is not None:
            q = q.limit(limit)
        return [row[0] for row in self.conn.execute(q)]

    def builds(
        self, ids: Sequence[int], *, with_buildset_refs: bool = False, with_events: bool = False
    ) -> list[BuildRecord]:
        """The builds with these ids, in the order of ``ids``."""
        if not ids:
            return []
        b, bs, r = self.t.build, self.t.buildset, self.t.ref
        q = (
            sa.select(b, bs, r)
            .select_from(b.join(bs, b.c.buildset_id == bs.c.id).join(r, b.c.ref_id == r.c.id))
            .where(b.c.id.in_(ids))
            .set_label_style(sa.LABEL_STYLE_TABLENAME_PLUS_COL)
        )
        rows = {row._mapping[b.c.id]: row for row in self.conn.execute(q)}
        artifacts = self._artifacts(ids)
        provides = self._provides(ids)
        events = self._events(ids) if with_events else {}
        bs_refs = (
            self.buildset_refs({row._mapping[bs.c.id] for row in rows.values()})
            if with_buildset_refs
            else {}
        )
        out = []
        for build_id in ids:
            row = rows.get(build_id)
            if row is None:
                continue
            m = row._mapping
            buildset = _buildset(row, bs, bs_refs.get(m[bs.c.id], ()))
            out.append(
                BuildRecord(
                    id=m[b.c.id],
                    uuid=m[b.c.uuid],
                    job_name=m[b.c.job_name],
                    result=m[b.c.result],
                    start_time=m[b.c.start_time],
                    end_time=m[b.c.end_time],
                    voting=m[b.c.voting],
                    log_url=m[b.c.log_url],
                    error_detail=m[b.c.error_detail],
                    final=m[b.c.final],
                    held=m[b.c.held],
                    nodeset=m[b.c.nodeset],
                    ref=_ref(row, r),
                    buildset=buildset,
                    artifacts=tuple(artifacts.get(build_id, ())),
                    provides=tuple(provides.get(build_id, ())),
                    events=tuple(events.get(build_id, ())),
                )
            )
        return out

    def _artifacts(self, ids: Iterable[int]) -> dict[int, list[ArtifactInfo]]:
        a = self.t.artifact
        out: dict[int, list[ArtifactInfo]] = {}
        q = sa.select(a).where(a.c.build_id.in_(list(ids))).order_by(a.c.id)
        for row in self.conn.execute(q):
            meta = json.loads(row.metadata) if row.metadata else None
            out.setdefault(row.build_id, []).append(ArtifactInfo(row.name, row.url, meta))
        return out

    def _provides(self, ids: Iterable[int]) -> dict[int, list[str]]:
        p = self.t.provides
        out: dict[int, list[str]] = {}
        q = sa.select(p).where(p.c.build_id.in_(list(ids))).order_by(p.c.id)
        for row in self.conn.execute(q):
            out.setdefault(row.build_id, []).append(row.name)
        return out

    def _events(self, ids: Iterable[int]) -> dict[int, list[BuildEventRecord]]:
        e = self.t.build_event
        out: dict[int, list[BuildEventRecord]] = {}
        q = sa.select(e).where(e.c.build_id.in_(list(ids))).order_by(e.c.event_time, e.c.id)
        for row in self.conn.execute(q):
            out.setdefault(row.build_id, []).append(
                BuildEventRecord(row.event_time, row.event_type, row.description)
            )
        return out

    # -- buildsets ---------------------------------------------------------

    def buildset_refs(self, ids: Iterable[int]) -> dict[int, list[RefInfo]]:
        bsr, r = self.t.buildset_ref, self.t.ref
        out: dict[int, list[RefInfo]] = {}
        ids = list(ids)
        if not ids:
            return out
        q = (
            sa.select(bsr.c.buildset_id, r)
            .select_from(bsr.join(r, bsr.c.ref_id == r.c.id))
            .where(bsr.c.buildset_id.in_(ids))
            .order_by(bsr.c.buildset_id, r.c.id)
        )
        for row in self.conn.execute(q):
            out.setdefault(row._mapping[bsr.c.buildset_id], []).append(_ref(row, r))
        return out

    def buildset_ids(
        self,
        tenant: str | None,
        *,
        project: Filter = None,
        pipeline: Filter = None,
        branch: Filter = None,
        change: Filter = None,
        patchset: Filter = None,
        ref: Filter = None,
        newrev: Filter = None,
        uuid: Filter = None,
        result: Filter = None,
        exclude_result: Filter = None,
        complete: bool | None = None,
        limit: int | None = 50,
        offset: int = 0,
        idx_min: int | None = None,
        idx_max: int | None = None,
    ) -> list[int]:
        bs, bsr, r = self.t.buildset, self.t.buildset_ref, self.t.ref
        q = (
            sa.select(bs.c.id)
            .distinct()
            .select_from(bs.join(bsr, bsr.c.buildset_id == bs.c.id).join(r, bsr.c.ref_id == r.c.id))
        )
        q = _apply(
            q,
            match(bs.c.tenant, tenant),
            fuzzy(bs.c.pipeline, pipeline),
            fuzzy(r.c.project, project),
            fuzzy(r.c.branch, branch),
            match(r.c.change, change),
            match(r.c.patchset, patchset),
            match(r.c.ref, ref),
            match(r.c.newrev, newrev),
            match(bs.c.uuid, uuid),
            match(bs.c.result, result),
            exclude(bs.c.result, exclude_result),
            _complete(bs.c.result, complete),
            bs.c.id >= idx_min if idx_min is not None else None,
            bs.c.id <= idx_max if idx_max is not None else None,
        )
        q = q.order_by(bs.c.id.desc()).offset(offset)
        if limit is not None:
            q = q.limit(limit)
        return [row[0] for row in self.conn.execute(q)]

    def buildsets(self, ids: Sequence[int], *, with_builds: bool = False) -> list[BuildsetRecord]:
        if not ids:
            return []
        bs = self.t.buildset
        rows = {row.id: row for row in self.conn.execute(sa.select(bs).where(bs.c.id.in_(ids)))}
        refs = self.buildset_refs(ids)
        builds: dict[int, list[BuildRecord]] = {}
        if with_builds:
            b = self.t.build
            build_ids = [
                row[0]
                for row in self.conn.execute(
                    sa.select(b.c.id).where(b.c.buildset_id.in_(ids)).order_by(b.c.id)
                )
            ]
            for build in self.builds(build_ids):
                builds.setdefault(build.buildset.id, []).append(build)
        return [
            _buildset(rows[i], bs, refs.get(i, ()), builds.get(i, ())) for i in ids if i in rows
        ]
