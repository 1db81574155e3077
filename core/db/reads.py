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
from collections.abc import Callable, Iterable, Sequence
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
Condition = sa.ColumnElement[bool] | None
Matcher = Callable[[sa.ColumnElement[Any], Filter], Condition]


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


# Filters on the ref table (the others are on the build or buildset rows).
REF_FILTERS = ("project", "branch", "change", "patchset", "ref", "newrev")
# Up to this many refs matching the ref filters are looked up first and
# given as ``ref_id IN (...)``: the builds of a few refs come from the
# ref index, where walking every build backwards to find them would take
# long.  More refs than this: joined instead (see ``_narrow_by_refs``).
REF_IDS_MAX = 2000


def _ref_filters(r: sa.Table) -> dict[str, tuple[Matcher, Any]]:
    return {
        "project": (fuzzy, r.c.project),
        "branch": (fuzzy, r.c.branch),
        "change": (match, r.c.change),
        "patchset": (match, r.c.patchset),
        "ref": (match, r.c.ref),
        "newrev": (match, r.c.newrev),
    }


def _conditions(
    known: dict[str, tuple[Matcher, Any]], filters: dict[str, Filter]
) -> list[sa.ColumnElement[bool]]:
    """The conditions of the filters given, in ``known``'s order (so the same
    filters always make the same SQL, whatever order the caller gave them in)."""
    out = []
    for name, (matcher, column) in known.items():
        condition = matcher(column, filters.get(name))
        if condition is not None:
            out.append(condition)
    return out


def _check_known(filters: dict[str, Filter], *known: Iterable[str]) -> None:
    names = {name for group in known for name in group} | {"idx_min", "idx_max"}
    unknown = sorted(filters.keys() - names)
    if unknown:
        raise TypeError(f"unknown filter(s): {', '.join(unknown)}")


def _at_least(column: sa.ColumnElement[Any], value: int | None) -> Condition:
    return None if value is None else column >= value


def _at_most(column: sa.ColumnElement[Any], value: int | None) -> Condition:
    return None if value is None else column <= value


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

    def _page(
        self,
        query: sa.Select[Any],
        id_column: Any,
        filters: dict[str, Filter],
        limit: int | None,
        offset: int,
    ) -> list[int]:
        """One page of the ids ``query`` selects, within ``idx_min``/``idx_max``, newest first."""
        query = _apply(
            query,
            _at_least(id_column, filters.get("idx_min")),
            _at_most(id_column, filters.get("idx_max")),
        )
        query = query.order_by(id_column.desc()).offset(offset)
        if limit is not None:
            query = query.limit(limit)
        return [row[0] for row in self.conn.execute(query)]

    # -- builds ------------------------------------------------------------

    def _build_filters(self) -> dict[str, tuple[Matcher, Any]]:
        b, bs = self.t.build, self.t.buildset
        return {
            "tenant": (match, bs.c.tenant),
            "pipeline": (fuzzy, bs.c.pipeline),
            "uuid": (match, b.c.uuid),
            "buildset_uuid": (match, bs.c.uuid),
            "job_name": (fuzzy, b.c.job_name),
            "result": (match, b.c.result),
            "exclude_result": (exclude, b.c.result),
            "voting": (match, b.c.voting),
            "final": (match, b.c.final),
            "held": (match, b.c.held),
            "nodeset": (match, b.c.nodeset),
            "complete": (_complete, b.c.result),
        }

    def build_ids(
        self,
        tenant: str | None,
        *,
        limit: int | None = 50,
        offset: int = 0,
        **filters: Filter,
    ) -> list[int]:
        """Ids of the builds matching every filter given, newest first.

        Filters: project, pipeline, branch, change, patchset, ref, newrev, uuid,
        buildset_uuid, job_name, result, exclude_result, voting, final, held,
        nodeset, complete, idx_min, idx_max; any other name is a ``TypeError``.
        The ref table is joined only when a filter needs it (a build has one
        ref), so an unfiltered page walks the build ids backwards and stops.
        """
        b, bs, r = self.t.build, self.t.buildset, self.t.ref
        own = self._build_filters()
        refs = _ref_filters(r)
        _check_known(filters, own, refs)
        filters = {"tenant": tenant, **filters}
        joined = b.join(bs, b.c.buildset_id == bs.c.id)
        conditions = _conditions(own, filters)
        narrowed = self._narrow_by_refs(b.c.ref_id, joined, b.c.ref_id == r.c.id, refs, filters)
        if narrowed is None:
            return []
        joined, more = narrowed
        q = _apply(sa.select(b.c.id).select_from(joined), *conditions, *more)
        return self._page(q, b.c.id, filters, limit, offset)

    def _narrow_by_refs(
        self,
        ref_id: sa.ColumnElement[Any],
        joined: Any,
        on: sa.ColumnElement[bool],
        refs: dict[str, tuple[Matcher, Any]],
        filters: dict[str, Filter],
    ) -> tuple[Any, list[sa.ColumnElement[bool]]] | None:
        """How the ref filters narrow a query whose rows point at a ref by
        ``ref_id``: no filter, nothing to add; few matching refs (at most
        ``REF_IDS_MAX``, found on the ref table's indexes), ``ref_id IN``
        those; many, a join on ``on`` with the filters (then the rows are
        common enough that walking ids backwards finds a page quickly).
        None: no ref matches, so nothing can."""
        conditions = _conditions(refs, filters)
        if not conditions:
            return joined, []
        ids = self._ref_ids(conditions)
        if ids is None:
            return joined.join(self.t.ref, on), conditions
        if not ids:
            return None
        return joined, [ref_id.in_(ids)]

    def _ref_ids(self, conditions: list[sa.ColumnElement[bool]]) -> list[int] | None:
        r = self.t.ref
        q = _apply(sa.select(r.c.id), *conditions).limit(REF_IDS_MAX + 1)
        ids = [row[0] for row in self.conn.execute(q)]
        return None if len(ids) > REF_IDS_MAX else ids

    def build_times(
        self,
        tenant: str,
        *,
        limit: int = 50,
        offset: int = 0,
        start_time: Any = None,
        end_time: Any = None,
        **filters: Filter,
    ) -> list[BuildRecord]:
        """Completed builds for the build-times view, newest end first (Zuul's
        ``build-times``): exact filters project, pipeline, branch, ref,
        job_name, result, exclude_result, final; ``start_time``/``end_time``
        bound the build's end time."""
        b, bs, r = self.t.build, self.t.buildset, self.t.ref
        own: dict[str, tuple[Matcher, Any]] = {
            "tenant": (match, bs.c.tenant),
            "pipeline": (match, bs.c.pipeline),
            "job_name": (match, b.c.job_name),
            "result": (match, b.c.result),
            "exclude_result": (exclude, b.c.result),
            "final": (match, b.c.final),
        }
        refs: dict[str, tuple[Matcher, Any]] = {
            "project": (match, r.c.project),
            "branch": (match, r.c.branch),
            "ref": (match, r.c.ref),
        }
        unknown = sorted(filters.keys() - own.keys() - refs.keys())
        if unknown:
            raise TypeError(f"unknown filter(s): {', '.join(unknown)}")
        filters = {"tenant": tenant, **filters}
        joined = b.join(bs, b.c.buildset_id == bs.c.id)
        narrowed = self._narrow_by_refs(b.c.ref_id, joined, b.c.ref_id == r.c.id, refs, filters)
        if narrowed is None:
            return []
        joined, more = narrowed
        q = _apply(
            sa.select(b.c.id).select_from(joined),
            *_conditions(own, filters),
            *more,
            b.c.end_time.is_not(None),
            None if filters.get("result") is not None else b.c.result.is_not(None),
            None if start_time is None else b.c.end_time >= start_time,
            None if end_time is None else b.c.end_time <= end_time,
        )
        q = q.order_by(b.c.end_time.desc(), b.c.id.desc()).offset(offset).limit(limit)
        ids = [row[0] for row in self.conn.execute(q)]
        # ``builds`` keeps the order of ``ids``: newest end first.
        return self.builds(ids)

    def durations(
        self, tenant: str, keys: Iterable[tuple[str, str, str | None]], per_key: int = 10
    ) -> dict[tuple[str, str, str | None], list[float]]:
        """For each (job name, project, branch): the durations in seconds of
        its newest ``per_key`` successful builds in the tenant, newest first
        (what the status API estimates a running build's time from)."""
        keys = list(dict.fromkeys(keys))
        if not keys:
            return {}
        b, bs, r = self.t.build, self.t.buildset, self.t.ref
        jobs = sorted({k[0] for k in keys})
        projects = sorted({k[1] for k in keys})
        ranked = (
            sa.select(
                b.c.job_name,
                r.c.project,
                r.c.branch,
                b.c.start_time,
                b.c.end_time,
                sa.func.row_number()
                .over(
                    partition_by=(b.c.job_name, r.c.project, r.c.branch),
                    order_by=b.c.id.desc(),
                )
                .label("rank"),
            )
            .select_from(b.join(bs, b.c.buildset_id == bs.c.id).join(r, b.c.ref_id == r.c.id))
            .where(
                bs.c.tenant == tenant,
                b.c.job_name.in_(jobs),
                r.c.project.in_(projects),
                b.c.result == "SUCCESS",
                b.c.start_time.is_not(None),
                b.c.end_time.is_not(None),
            )
            .subquery()
        )
        q = sa.select(ranked).where(ranked.c.rank <= per_key).order_by(ranked.c.rank)
        wanted = set(keys)
        out: dict[tuple[str, str, str | None], list[float]] = {}
        for row in self.conn.execute(q):
            key = (row.job_name, row.project, row.branch)
            if key in wanted:
                seconds = (row.end_time - row.start_time).total_seconds()
                out.setdefault(key, []).append(max(0.0, seconds))
        return out

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
        limit: int | None = 50,
        offset: int = 0,
        **filters: Filter,
    ) -> list[int]:
        """Ids of the buildsets matching every filter given (any of their refs), newest first.

        Filters: project, pipeline, branch, change, patchset, ref, newrev, uuid,
        result, exclude_result, complete, idx_min, idx_max; any other name is a
        ``TypeError``.  Ref filters are one ``EXISTS`` on the buildset's refs
        (no join and ``DISTINCT`` over every buildset).
        """
        bs, bsr, r = self.t.buildset, self.t.buildset_ref, self.t.ref
        own: dict[str, tuple[Matcher, Any]] = {
            "tenant": (match, bs.c.tenant),
            "pipeline": (fuzzy, bs.c.pipeline),
            "uuid": (match, bs.c.uuid),
            "result": (match, bs.c.result),
            "exclude_result": (exclude, bs.c.result),
            "complete": (_complete, bs.c.result),
        }
        refs = _ref_filters(r)
        _check_known(filters, own, refs)
        filters = {"tenant": tenant, **filters}
        q = _apply(sa.select(bs.c.id), *_conditions(own, filters))
        ref_conditions = _conditions(refs, filters)
        if ref_conditions:
            ids = self._ref_ids(ref_conditions)
            if ids == []:
                return []
            linked = sa.select(bsr.c.ref_id).where(bsr.c.buildset_id == bs.c.id)
            if ids is None:
                linked = linked.join(r, bsr.c.ref_id == r.c.id).where(*ref_conditions)
            else:
                linked = linked.where(bsr.c.ref_id.in_(ids))
            q = q.where(sa.exists(linked))
        return self._page(q, bs.c.id, filters, limit, offset)

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
