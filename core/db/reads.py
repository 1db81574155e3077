"""The history queries the REST API needs, with Zuul's filters.

``Database.get_builds``/``get_buildsets`` and the others delegate here.  A
page is one SQL statement: the matching ids (filters, newest first,
limit/offset) as a common table expression, and in the same statement those
builds' rows with their buildset and ref, their artifacts and their provides
(a ``UNION ALL`` of the three, told apart by its first column); a buildsets
page is the buildsets joined with their refs.  One trip to the database
matters more than anything else once the machine is loaded: each trip then
waits a few milliseconds for the server process, then for this one, to be
scheduled (bench/web_builds.py).  Frozen records come back
(``lockgate.db.records``), so nothing lazy-loads later.

Every filter of the builds list but the ref's change, patchset, ref and
newrev and the buildset's uuid is a column of the build table (the
buildset's tenant and pipeline and the ref's project and branch are copied
onto it, see ``schema``): a combination of filters is checked on the build
row alone, walking one of the (tenant, column, id) indexes.

Filters take one value or a list (any of them matches).  ``project``,
``pipeline``, ``branch`` and ``job_name`` accept ``*`` as a wildcard, as in
Zuul's builds page.
"""

from __future__ import annotations

import dataclasses
import functools
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


# The ref filters a build row has no copy of: the builds list joins the ref
# table for these (each matches few refs, or else many builds).
REF_JOINED = ("change", "patchset", "ref", "newrev")

# A loaded build row, by position: what it is (the build, or one of its
# artifacts or provides), the build's id, the artifact's or provides' id,
# name, url and metadata, then the build's, its buildset's and its ref's
# columns (empty in an artifact's or provides' row).
BUILD, ARTIFACT, PROVIDES = 0, 1, 2
EXTRA_COLUMNS = 4
BUILD_COLUMNS = (
    "uuid",
    "job_name",
    "result",
    "start_time",
    "end_time",
    "voting",
    "log_url",
    "error_detail",
    "final",
    "held",
    "nodeset",
)
BUILDSET_COLUMNS = (
    "id",
    "uuid",
    "tenant",
    "pipeline",
    "result",
    "message",
    "event_id",
    "event_timestamp",
    "first_build_start_time",
    "last_build_end_time",
    "updated",
)
REF_COLUMNS = ("project", "ref", "branch", "change", "patchset", "oldrev", "newrev", "ref_url")
_AT_BUILD = 2 + EXTRA_COLUMNS
_AT_BUILDSET = _AT_BUILD + len(BUILD_COLUMNS)
_AT_REF = _AT_BUILDSET + len(BUILDSET_COLUMNS)
_ROW_WIDTH = _AT_REF + len(REF_COLUMNS)


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


def _given(filters: dict[str, Filter], names: Iterable[str]) -> bool:
    return any(filters.get(name) is not None for name in names)


def _at_least(column: sa.ColumnElement[Any], value: int | None) -> Condition:
    return None if value is None else column >= value


def _at_most(column: sa.ColumnElement[Any], value: int | None) -> Condition:
    return None if value is None else column <= value


def _ref(values: Sequence[Any]) -> RefInfo:
    """A ref from its ``REF_COLUMNS`` values."""
    return RefInfo(**dict(zip(REF_COLUMNS, values, strict=True)))


def _ref_of_row(row: Any, r: sa.Table) -> RefInfo:
    m = row._mapping
    return RefInfo(**{name: m[r.c[name]] for name in REF_COLUMNS})


def _buildset(
    values: Sequence[Any], refs: Sequence[RefInfo] = (), builds: Sequence[BuildRecord] = ()
) -> BuildsetRecord:
    """A buildset from its ``BUILDSET_COLUMNS`` values."""
    return BuildsetRecord(
        **dict(zip(BUILDSET_COLUMNS, values, strict=True)), refs=tuple(refs), builds=tuple(builds)
    )


def _nulls(count: int, prefix: str) -> list[sa.Label[Any]]:
    # Labelled one by one: a select list of one NULL object repeated would be
    # one column.
    return [sa.null().label(f"{prefix}{i}") for i in range(count)]


@functools.cache
def _loaded_selects(t: Tables) -> tuple[sa.Select[Any], sa.Select[Any], sa.Select[Any]]:
    """The selects of build rows (with buildset and ref), artifact rows and
    provides rows (``BUILD_COLUMNS``...) that a page's statement narrows to
    its builds, made once per schema: making them per page cost as much
    Python time as all the rest of the page."""
    b, bs, r, a, p = t.build, t.buildset, t.ref, t.artifact, t.provides
    rest = _ROW_WIDTH - _AT_BUILD
    build = sa.select(
        sa.literal_column(str(BUILD)).label("kind"),
        b.c.id.label("build_id"),
        *_nulls(EXTRA_COLUMNS, "extra"),
        *(b.c[name] for name in BUILD_COLUMNS),
        *(bs.c[name].label(f"buildset_{name}") for name in BUILDSET_COLUMNS),
        *(r.c[name].label(f"ref_{name}") for name in REF_COLUMNS),
    ).select_from(b.join(bs, b.c.buildset_id == bs.c.id).join(r, b.c.ref_id == r.c.id))
    artifact = sa.select(
        sa.literal_column(str(ARTIFACT)),
        a.c.build_id,
        a.c.id,
        a.c.name,
        a.c.url,
        a.c.metadata,
        *_nulls(rest, "n"),
    )
    provides = sa.select(
        sa.literal_column(str(PROVIDES)),
        p.c.build_id,
        p.c.id,
        p.c.name,
        *_nulls(EXTRA_COLUMNS - 2 + rest, "n"),
    )
    return build, artifact, provides


@functools.cache
def _buildset_select(t: Tables) -> sa.Select[Any]:
    """The select of buildset rows, one per ref (see ``_loaded_selects``)."""
    bs, bsr, r = t.buildset, t.buildset_ref, t.ref
    return sa.select(
        *(bs.c[name] for name in BUILDSET_COLUMNS),
        r.c.id.label("ref_row_id"),
        *(r.c[name].label(f"ref_{name}") for name in REF_COLUMNS),
    ).select_from(
        bs.outerjoin(bsr, bsr.c.buildset_id == bs.c.id).outerjoin(r, bsr.c.ref_id == r.c.id)
    )


class Reader:
    """Read queries on one connection."""

    def __init__(self, conn: sa.Connection, t: Tables) -> None:
        self.conn = conn
        self.t = t

    def _paged(
        self,
        query: sa.Select[Any],
        id_column: Any,
        filters: dict[str, Filter],
        limit: int | None,
        offset: int,
    ) -> sa.Select[Any]:
        """``query`` within ``idx_min``/``idx_max``, newest first, one page of it."""
        query = _apply(
            query,
            _at_least(id_column, filters.get("idx_min")),
            _at_most(id_column, filters.get("idx_max")),
        )
        query = query.order_by(id_column.desc()).offset(offset)
        if limit is not None:
            query = query.limit(limit)
        return query

    # -- builds ------------------------------------------------------------

    def _build_filters(self) -> dict[str, tuple[Matcher, Any]]:
        b, bs, r = self.t.build, self.t.buildset, self.t.ref
        return {
            "tenant": (match, b.c.tenant),
            "pipeline": (fuzzy, b.c.pipeline),
            "project": (fuzzy, b.c.project),
            "branch": (fuzzy, b.c.branch),
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
            "change": (match, r.c.change),
            "patchset": (match, r.c.patchset),
            "ref": (match, r.c.ref),
            "newrev": (match, r.c.newrev),
        }

    def build_page(
        self,
        tenant: str | None,
        *,
        limit: int | None = 50,
        offset: int = 0,
        **filters: Filter,
    ) -> sa.Select[Any]:
        """The query of the ids of the builds matching every filter given, newest first.

        Filters: project, pipeline, branch, change, patchset, ref, newrev, uuid,
        buildset_uuid, job_name, result, exclude_result, voting, final, held,
        nodeset, complete, idx_min, idx_max; any other name is a ``TypeError``.
        The ref and buildset tables are joined only for their own filters
        (change, patchset, ref, newrev; buildset_uuid).
        """
        b, bs, r = self.t.build, self.t.buildset, self.t.ref
        known = self._build_filters()
        _check_known(filters, known)
        filters = {"tenant": tenant, **filters}
        source: Any = b
        if _given(filters, ["buildset_uuid"]):
            source = source.join(bs, b.c.buildset_id == bs.c.id)
        if _given(filters, REF_JOINED):
            source = source.join(r, b.c.ref_id == r.c.id)
        query = _apply(sa.select(b.c.id).select_from(source), *_conditions(known, filters))
        return self._paged(query, b.c.id, filters, limit, offset)

    def build_ids(self, tenant: str | None, **query: Filter) -> list[int]:
        """Ids of the builds ``build_page`` selects (same arguments)."""
        return [row[0] for row in self.conn.execute(self.build_page(tenant, **query))]

    def find_builds(self, tenant: str | None, **query: Filter) -> list[BuildRecord]:
        """The builds ``build_page`` selects (same arguments), newest first, in
        one statement."""
        found = self._load_builds(self.build_page(tenant, **query))
        return [found[i] for i in sorted(found, reverse=True)]

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
        b, r = self.t.build, self.t.ref
        known: dict[str, tuple[Matcher, Any]] = {
            "tenant": (match, b.c.tenant),
            "pipeline": (match, b.c.pipeline),
            "project": (match, b.c.project),
            "branch": (match, b.c.branch),
            "ref": (match, r.c.ref),
            "job_name": (match, b.c.job_name),
            "result": (match, b.c.result),
            "exclude_result": (exclude, b.c.result),
            "final": (match, b.c.final),
        }
        unknown = sorted(filters.keys() - known.keys())
        if unknown:
            raise TypeError(f"unknown filter(s): {', '.join(unknown)}")
        filters = {"tenant": tenant, **filters}
        source: Any = b.join(r, b.c.ref_id == r.c.id) if _given(filters, ["ref"]) else b
        query = _apply(
            sa.select(b.c.id).select_from(source),
            *_conditions(known, filters),
            b.c.end_time.is_not(None),
            None if filters.get("result") is not None else b.c.result.is_not(None),
            None if start_time is None else b.c.end_time >= start_time,
            None if end_time is None else b.c.end_time <= end_time,
        )
        query = query.order_by(b.c.end_time.desc(), b.c.id.desc()).offset(offset).limit(limit)
        found = self._load_builds(query)
        return sorted(found.values(), key=lambda build: (build.end_time, build.id), reverse=True)

    def durations(
        self, tenant: str, keys: Iterable[tuple[str, str, str | None]], per_key: int = 10
    ) -> dict[tuple[str, str, str | None], list[float]]:
        """For each (job name, project, branch): the durations in seconds of
        its newest ``per_key`` successful builds in the tenant, newest first
        (what the status API estimates a running build's time from)."""
        keys = list(dict.fromkeys(keys))
        if not keys:
            return {}
        b = self.t.build
        jobs = sorted({k[0] for k in keys})
        projects = sorted({k[1] for k in keys})
        ranked = (
            sa.select(
                b.c.job_name,
                b.c.project,
                b.c.branch,
                b.c.start_time,
                b.c.end_time,
                sa.func.row_number()
                .over(
                    partition_by=(b.c.job_name, b.c.project, b.c.branch),
                    order_by=b.c.id.desc(),
                )
                .label("rank"),
            )
            .where(
                b.c.tenant == tenant,
                b.c.job_name.in_(jobs),
                b.c.project.in_(projects),
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
        found = self._load_builds(ids)
        if with_buildset_refs or with_events:
            events = self._events(found) if with_events else {}
            refs = (
                self.buildset_refs({build.buildset.id for build in found.values()})
                if with_buildset_refs
                else {}
            )
            found = {
                i: dataclasses.replace(
                    build,
                    buildset=dataclasses.replace(
                        build.buildset, refs=tuple(refs.get(build.buildset.id, ()))
                    ),
                    events=tuple(events.get(i, ())),
                )
                for i, build in found.items()
            }
        return [found[i] for i in ids if i in found]

    def _load_builds(self, ids: sa.Select[Any] | Sequence[int]) -> dict[int, BuildRecord]:
        """The builds whose ids ``ids`` gives (a query of one column, or a
        list) with their buildset, ref, artifacts and provides, by id: one
        statement, the build rows and the artifact and provides rows in a
        ``UNION ALL`` (see ``BUILD``, ``BUILD_COLUMNS``)."""
        b, a, p = self.t.build, self.t.artifact, self.t.provides
        wanted: sa.Select[Any] | Sequence[int]
        if isinstance(ids, sa.Select):
            wanted = sa.select(ids.cte("page").c.id)
        elif not ids:
            return {}
        else:
            wanted = ids
        main, artifacts, provides = _loaded_selects(self.t)
        main = main.where(b.c.id.in_(wanted))
        artifacts = artifacts.where(a.c.build_id.in_(wanted))
        provides = provides.where(p.c.build_id.in_(wanted))
        rows: dict[int, Any] = {}
        extras: dict[int, list[Any]] = {}
        for row in self.conn.execute(sa.union_all(main, artifacts, provides)):
            if row[0] == BUILD:
                rows[row[1]] = row
            else:
                extras.setdefault(row[1], []).append(row)
        out = {}
        for build_id, row in rows.items():
            mine = sorted(extras.get(build_id, ()), key=lambda extra: (extra[0], extra[2]))
            out[build_id] = BuildRecord(
                id=build_id,
                **dict(zip(BUILD_COLUMNS, row[_AT_BUILD:_AT_BUILDSET], strict=True)),
                ref=_ref(row[_AT_REF:_ROW_WIDTH]),
                buildset=_buildset(row[_AT_BUILDSET:_AT_REF]),
                artifacts=tuple(
                    ArtifactInfo(e[3], e[4], json.loads(e[5]) if e[5] else None)
                    for e in mine
                    if e[0] == ARTIFACT
                ),
                provides=tuple(e[3] for e in mine if e[0] == PROVIDES),
            )
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
            out.setdefault(row._mapping[bsr.c.buildset_id], []).append(_ref_of_row(row, r))
        return out

    def buildset_page(
        self,
        tenant: str | None,
        *,
        limit: int | None = 50,
        offset: int = 0,
        **filters: Filter,
    ) -> sa.Select[Any]:
        """The query of the ids of the buildsets matching every filter given
        (any of their refs), newest first.

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
        query = _apply(sa.select(bs.c.id), *_conditions(own, filters))
        ref_conditions = _conditions(refs, filters)
        if ref_conditions:
            linked = (
                sa.select(bsr.c.ref_id)
                .join(r, bsr.c.ref_id == r.c.id)
                .where(bsr.c.buildset_id == bs.c.id, *ref_conditions)
            )
            query = query.where(sa.exists(linked))
        return self._paged(query, bs.c.id, filters, limit, offset)

    def buildset_ids(self, tenant: str | None, **query: Filter) -> list[int]:
        """Ids of the buildsets ``buildset_page`` selects (same arguments)."""
        return [row[0] for row in self.conn.execute(self.buildset_page(tenant, **query))]

    def find_buildsets(self, tenant: str | None, **query: Filter) -> list[BuildsetRecord]:
        """The buildsets ``buildset_page`` selects (same arguments), newest
        first, with their refs, in one statement."""
        found = self._load_buildsets(self.buildset_page(tenant, **query))
        return [found[i] for i in sorted(found, reverse=True)]

    def buildsets(self, ids: Sequence[int], *, with_builds: bool = False) -> list[BuildsetRecord]:
        """The buildsets with these ids, in the order of ``ids``; ``with_builds``:
        with their builds, oldest first."""
        found = self._load_buildsets(ids)
        if with_builds and found:
            b = self.t.build
            builds: dict[int, list[BuildRecord]] = {}
            loaded = self._load_builds(sa.select(b.c.id).where(b.c.buildset_id.in_(list(found))))
            for build_id in sorted(loaded):
                build = loaded[build_id]
                builds.setdefault(build.buildset.id, []).append(build)
            found = {
                i: dataclasses.replace(buildset, builds=tuple(builds.get(i, ())))
                for i, buildset in found.items()
            }
        return [found[i] for i in ids if i in found]

    def _load_buildsets(self, ids: sa.Select[Any] | Sequence[int]) -> dict[int, BuildsetRecord]:
        """The buildsets whose ids ``ids`` gives (a query of one column, or a
        list) with their refs, by id: one statement, a row per ref."""
        bs = self.t.buildset
        wanted: sa.Select[Any] | Sequence[int]
        if isinstance(ids, sa.Select):
            wanted = sa.select(ids.cte("page").c.id)
        elif not ids:
            return {}
        else:
            wanted = ids
        query = _buildset_select(self.t).where(bs.c.id.in_(wanted))
        at_ref = len(BUILDSET_COLUMNS)
        rows: dict[int, Any] = {}
        refs: dict[int, list[tuple[int, RefInfo]]] = {}
        for row in self.conn.execute(query):
            buildset_id = row[0]
            rows[buildset_id] = row
            if row[at_ref] is not None:
                refs.setdefault(buildset_id, []).append((row[at_ref], _ref(row[at_ref + 1 :])))
        return {
            i: _buildset(row[:at_ref], [ref for _, ref in sorted(refs.get(i, ()))])
            for i, row in rows.items()
        }
