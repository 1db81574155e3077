"""``Database``: the one object every process uses to write and read build history.

The scheduler writes (it is the only writer): a buildset when a queue item's
jobs are frozen, a build when it is requested, updates as results come in,
events (retries and the like) along the way.  A scheduler killed at any
point and restarted replays what it had not acknowledged, so every write is
idempotent: creating an existing buildset or build updates it, an event
already recorded is not recorded twice, updating an unknown build is an error
(the caller skipped a create) rather than a silent no-op.

The web reads (``get_builds``, ``get_buildsets``, ``get_build``,
``get_buildset``), always scoped to a tenant.

All methods block; asyncio callers run them in a thread executor.  Times may
be given as epoch seconds (as in ``BuildRequest``) or ``datetime``; they are
stored as naive UTC.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

import sqlalchemy as sa
from lockgate.db import migrate
from lockgate.db.engine import (
    DatabaseError,
    DatabaseUnavailable,
    describe,
    make_engine,
    make_read_engine,
    redacted,
    resolve_dburi,
)
from lockgate.db.reads import Filter, Reader
from lockgate.db.records import ArtifactInfo, BuildRecord, BuildsetRecord, RefInfo
from lockgate.db.schema import tables
from lockgate.model.builds import BuildResult, BuildsetResult
from lockgate.service_config import ServiceConfig

log = logging.getLogger("lockgate.db")

Time = float | int | dt.datetime | None
T = TypeVar("T")


class NotFound(DatabaseError):
    """An update named a buildset or build that was never created."""


def to_utc(value: Time) -> dt.datetime | None:
    """Epoch seconds or a datetime, as the naive UTC datetime the tables store."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return value
    return dt.datetime.fromtimestamp(float(value), dt.UTC).replace(tzinfo=None)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class Database:
    """Build history in SQL (SQLite by default, PostgreSQL by ``dburi``)."""

    def __init__(
        self, dburi: str, table_prefix: str = "", *, pool_recycle: float | None = None
    ) -> None:
        """``pool_recycle``: seconds after which a pooled connection is made
        anew (``[database] pool_recycle``, as in Zuul); SQLite ignores it."""
        self.dburi = dburi
        self.table_prefix = table_prefix
        self.engine = make_engine(dburi, pool_recycle=pool_recycle)
        # Reads from a server database: autocommit, pinged only when idle
        # (``lockgate.db.engine``); SQLite reads share ``engine``.
        self.read_engine = make_read_engine(dburi, pool_recycle=pool_recycle) or self.engine
        self.t = tables(table_prefix)

    @classmethod
    def from_config(cls, config: ServiceConfig) -> Database:
        section = config.section("database")
        return cls(
            resolve_dburi(config),
            section.get("table_prefix") or "",
            pool_recycle=section.get_float("pool_recycle"),
        )

    def __repr__(self) -> str:
        return f"<Database {redacted(self.dburi)}>"

    # -- lifecycle -----------------------------------------------------------

    def upgrade(self) -> None:
        """Create or migrate the schema (safe to call from several processes at once)."""
        try:
            migrate.upgrade(self.engine, self.table_prefix)
        except (sa.exc.OperationalError, sa.exc.InterfaceError) as e:
            raise DatabaseUnavailable(describe(self.dburi, e) + " (while migrating)") from None

    def ping(self) -> None:
        """Raise ``DatabaseError`` (one line) unless the database answers and is migrated."""
        try:
            with self.engine.connect() as conn:
                # Cheap whatever the table's size (no count).
                conn.execute(sa.select(self.t.buildset.c.id).limit(1)).first()
        except (sa.exc.OperationalError, sa.exc.InterfaceError) as e:
            raise DatabaseUnavailable(describe(self.dburi, e)) from None
        except sa.exc.SQLAlchemyError as e:
            raise DatabaseError(describe(self.dburi, e)) from None

    def close(self) -> None:
        self.engine.dispose()
        if self.read_engine is not self.engine:
            self.read_engine.dispose()

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """Driver errors as ``DatabaseUnavailable`` (retry) or ``DatabaseError``, one line each."""
        try:
            yield
        except (sa.exc.OperationalError, sa.exc.InterfaceError) as e:
            raise DatabaseUnavailable(describe(self.dburi, e)) from e
        except sa.exc.DBAPIError as e:
            raise DatabaseError(describe(self.dburi, e)) from e

    @contextmanager
    def _write(self) -> Iterator[sa.Connection]:
        with self._errors(), self.engine.connect() as conn:
            conn = conn.execution_options(lockgate_write=True)
            with conn.begin():
                yield conn

    @contextmanager
    def _read(self) -> Iterator[Reader]:
        with self._errors(), self.read_engine.connect() as conn, conn.begin():
            yield Reader(conn, self.t)

    def _reading(self, read: Callable[[Reader], T]) -> T:
        """``read`` on a read connection; once more on a new connection if the
        first one turned out dead (the server restarted since its last use:
        read connections are not pinged before every use)."""
        try:
            with self._read() as reader:
                return read(reader)
        except DatabaseUnavailable as e:
            cause = e.__cause__
            if not (isinstance(cause, sa.exc.DBAPIError) and cause.connection_invalidated):
                raise
        with self._read() as reader:
            return read(reader)

    # -- writes (scheduler) ----------------------------------------------------

    def _ref_id(self, conn: sa.Connection, ref: RefInfo) -> int:
        """The id of ``ref``'s row, inserting it if new (refs are shared, never updated)."""
        return self._ref_row(conn, ref)[0]

    def _ref_row(self, conn: sa.Connection, ref: RefInfo) -> tuple[int, str | None]:
        """The id and branch of ``ref``'s row, inserting it if new.  The branch
        is the row's: the first writer of a ref gave it (it is not in the key)."""
        r = self.t.ref
        key = sa.and_(
            r.c.project == ref.project,
            r.c.ref == ref.ref,
            r.c.change == ref.change,
            r.c.patchset == ref.patchset,
            r.c.oldrev == ref.oldrev,
            r.c.newrev == ref.newrev,
        )
        found = conn.execute(sa.select(r.c.id, r.c.branch).where(key)).first()
        if found is not None:
            return int(found.id), found.branch
        try:
            # A savepoint: another writer may insert the same ref at the same time
            # (possible on PostgreSQL; SQLite writers are serialised).
            with conn.begin_nested():
                inserted = conn.execute(
                    r.insert().values(
                        project=ref.project,
                        ref=ref.ref,
                        ref_url=ref.ref_url,
                        change=ref.change,
                        patchset=ref.patchset,
                        oldrev=ref.oldrev,
                        newrev=ref.newrev,
                        branch=ref.branch,
                    )
                ).inserted_primary_key[0]  # type: ignore[index]
                return int(inserted), ref.branch
        except sa.exc.IntegrityError:
            row = conn.execute(sa.select(r.c.id, r.c.branch).where(key)).one()
            return int(row.id), row.branch

    def _buildset_id(self, conn: sa.Connection, uuid: str) -> int | None:
        row = self._buildset_row(conn, uuid)
        return None if row is None else int(row.id)

    def _buildset_row(self, conn: sa.Connection, uuid: str) -> Any:
        """The buildset's id, tenant and pipeline (None if there is none)."""
        bs = self.t.buildset
        return conn.execute(
            sa.select(bs.c.id, bs.c.tenant, bs.c.pipeline).where(bs.c.uuid == uuid)
        ).first()

    def _build_row(self, conn: sa.Connection, uuid: str) -> Any:
        b = self.t.build
        return conn.execute(sa.select(b.c.id, b.c.buildset_id).where(b.c.uuid == uuid)).first()

    def create_buildset(
        self,
        uuid: str,
        tenant: str,
        pipeline: str,
        refs: Sequence[RefInfo],
        event_id: str | None = None,
        event_timestamp: Time = None,
    ) -> None:
        """Record a buildset for a queue item (its refs: the item's changes).

        Idempotent: for an existing ``uuid`` the fields are rewritten with these
        values and any ref not yet linked is added.
        """
        if not refs:
            raise ValueError(f"buildset {uuid}: at least one ref is required")
        bs, bsr = self.t.buildset, self.t.buildset_ref
        values = dict(
            tenant=tenant,
            pipeline=pipeline,
            event_id=event_id,
            event_timestamp=to_utc(event_timestamp),
            updated=_now(),
        )
        with self._write() as conn:
            existing = self._buildset_row(conn, uuid)
            buildset_id = None if existing is None else int(existing.id)
            if buildset_id is None:
                try:
                    with conn.begin_nested():
                        buildset_id = int(
                            conn.execute(
                                bs.insert().values(uuid=uuid, **values)
                            ).inserted_primary_key[0]  # type: ignore[index]
                        )
                except sa.exc.IntegrityError:
                    buildset_id = self._buildset_id(conn, uuid)
                    assert buildset_id is not None
            else:
                conn.execute(bs.update().where(bs.c.id == buildset_id).values(**values))
                if (existing.tenant, existing.pipeline) != (tenant, pipeline):
                    # The builds' copies (``schema``) follow their buildset.
                    b = self.t.build
                    conn.execute(
                        b.update()
                        .where(b.c.buildset_id == buildset_id)
                        .values(tenant=tenant, pipeline=pipeline)
                    )
            linked = set(
                conn.execute(
                    sa.select(bsr.c.ref_id).where(bsr.c.buildset_id == buildset_id)
                ).scalars()
            )
            for ref in refs:
                ref_id = self._ref_id(conn, ref)
                if ref_id not in linked:
                    conn.execute(bsr.insert().values(buildset_id=buildset_id, ref_id=ref_id))
                    linked.add(ref_id)

    def update_buildset(
        self,
        uuid: str,
        result: BuildsetResult | None = None,
        message: str | None = None,
        end: Time = None,
    ) -> None:
        """Record a buildset's outcome (``result`` as reported, ``message`` the report text).

        ``end`` overrides ``last_build_end_time``, which ``update_build`` keeps
        up to date on its own.  Only the arguments given are written.
        """
        bs = self.t.buildset
        values: dict[str, Any] = {"updated": _now()}
        if result is not None:
            values["result"] = str(result)  # the column holds the enum's value
        if message is not None:
            values["message"] = message
        if end is not None:
            values["last_build_end_time"] = to_utc(end)
        with self._write() as conn:
            done = conn.execute(bs.update().where(bs.c.uuid == uuid).values(**values))
            if done.rowcount == 0:
                raise NotFound(f"buildset {uuid} was never created")

    def create_build(
        self,
        uuid: str,
        buildset_uuid: str,
        job_name: str,
        ref: RefInfo | None = None,
        *,
        voting: bool = True,
        nodeset: str | None = None,
        start_time: Time = None,
        final: bool | None = None,
    ) -> None:
        """Record a build (a job attempt) in a buildset.

        ``ref`` defaults to the buildset's first ref.  Idempotent: an existing
        ``uuid`` has these fields rewritten (its result is left alone).
        """
        b, bs = self.t.build, self.t.buildset
        with self._write() as conn:
            buildset = self._buildset_row(conn, buildset_uuid)
            if buildset is None:
                raise NotFound(f"build {uuid}: buildset {buildset_uuid} was never created")
            buildset_id = int(buildset.id)
            if ref is None:
                refs = Reader(conn, self.t).buildset_refs([buildset_id]).get(buildset_id)
                if not refs:
                    raise ValueError(f"build {uuid}: buildset {buildset_uuid} has no ref")
                ref = refs[0]
            ref_id, branch = self._ref_row(conn, ref)
            values: dict[str, Any] = dict(
                buildset_id=buildset_id,
                ref_id=ref_id,
                job_name=job_name,
                voting=voting,
                nodeset=nodeset,
                # Copies for the builds list's filters (``schema``).
                tenant=buildset.tenant,
                pipeline=buildset.pipeline,
                project=ref.project,
                branch=branch,
            )
            if start_time is not None:
                values["start_time"] = to_utc(start_time)
            if final is not None:
                values["final"] = final
            existing = self._build_row(conn, uuid)
            if existing is None:
                try:
                    with conn.begin_nested():
                        conn.execute(b.insert().values(uuid=uuid, **values))
                except sa.exc.IntegrityError:
                    conn.execute(b.update().where(b.c.uuid == uuid).values(**values))
            else:
                conn.execute(b.update().where(b.c.id == existing.id).values(**values))
            self._touch_buildset(conn, buildset_id, to_utc(start_time), None)
            conn.execute(bs.update().where(bs.c.id == buildset_id).values(updated=_now()))

    def update_build(
        self,
        uuid: str,
        *,
        result: BuildResult | None = None,
        start_time: Time = None,
        end_time: Time = None,
        log_url: str | None = None,
        error_detail: str | None = None,
        final: bool | None = None,
        held: bool | None = None,
        nodeset: str | None = None,
        artifacts: Sequence[ArtifactInfo | dict[str, Any]] | None = None,
        provides: Sequence[str] | None = None,
    ) -> None:
        """Record what became known about a build; only the arguments given are written.

        ``artifacts`` and ``provides`` replace the build's lists (so repeating
        the call changes nothing).  The buildset's first start and last end
        times follow the builds'.
        """
        b = self.t.build
        values: dict[str, Any] = {}
        for key, value in (
            ("result", None if result is None else str(result)),
            ("log_url", log_url),
            ("error_detail", error_detail),
            ("final", final),
            ("held", held),
            ("nodeset", nodeset),
        ):
            if value is not None:
                values[key] = value
        start, end = to_utc(start_time), to_utc(end_time)
        if start is not None:
            values["start_time"] = start
        if end is not None:
            values["end_time"] = end
        with self._write() as conn:
            row = self._build_row(conn, uuid)
            if row is None:
                raise NotFound(f"build {uuid} was never created")
            if values:
                conn.execute(b.update().where(b.c.id == row.id).values(**values))
            if artifacts is not None:
                self._replace_artifacts(conn, row.id, artifacts)
            if provides is not None:
                p = self.t.provides
                conn.execute(p.delete().where(p.c.build_id == row.id))
                for name in provides:
                    conn.execute(p.insert().values(build_id=row.id, name=name))
            self._touch_buildset(conn, row.buildset_id, start, end)

    def _replace_artifacts(
        self, conn: sa.Connection, build_id: int, artifacts: Sequence[ArtifactInfo | dict[str, Any]]
    ) -> None:
        a = self.t.artifact
        conn.execute(a.delete().where(a.c.build_id == build_id))
        for item in artifacts:
            if isinstance(item, dict):
                item = ArtifactInfo(str(item["name"]), str(item["url"]), item.get("metadata"))
            meta = json.dumps(item.metadata) if item.metadata else None
            conn.execute(
                a.insert().values(build_id=build_id, name=item.name, url=item.url, metadata=meta)
            )

    def _touch_buildset(
        self,
        conn: sa.Connection,
        buildset_id: int,
        start: dt.datetime | None,
        end: dt.datetime | None,
    ) -> None:
        bs = self.t.buildset
        values: dict[str, Any] = {"updated": _now()}
        if start is not None:
            values["first_build_start_time"] = sa.case(
                (
                    sa.or_(
                        bs.c.first_build_start_time.is_(None), bs.c.first_build_start_time > start
                    ),
                    start,
                ),
                else_=bs.c.first_build_start_time,
            )
        if end is not None:
            values["last_build_end_time"] = sa.case(
                (sa.or_(bs.c.last_build_end_time.is_(None), bs.c.last_build_end_time < end), end),
                else_=bs.c.last_build_end_time,
            )
        conn.execute(bs.update().where(bs.c.id == buildset_id).values(**values))

    def add_build_event(
        self,
        build_uuid: str,
        event_type: str,
        description: str | None = None,
        event_time: Time = None,
    ) -> None:
        """Record an event of a build (e.g. ``RETRY``, ``PAUSED``).

        Idempotent: an event with the same type, time and description is
        recorded once.  Pass ``event_time`` (when it happened) for that to
        hold across a scheduler restart; it defaults to now.
        """
        e = self.t.build_event
        when = to_utc(event_time) or _now()
        with self._write() as conn:
            row = self._build_row(conn, build_uuid)
            if row is None:
                raise NotFound(f"build {build_uuid} was never created")
            same = sa.and_(
                e.c.build_id == row.id,
                e.c.event_type == event_type,
                e.c.event_time == when,
                e.c.description.is_(None)
                if description is None
                else e.c.description == description,
            )
            if conn.execute(sa.select(e.c.id).where(same)).first() is None:
                conn.execute(
                    e.insert().values(
                        build_id=row.id,
                        event_type=event_type,
                        event_time=when,
                        description=description,
                    )
                )

    # -- reads (web) -------------------------------------------------------------

    def get_builds(self, tenant: str, **query: Filter) -> list[BuildRecord]:
        """A tenant's builds matching every filter given, newest first.

        ``query``: the filters and paging of ``Reader.build_page`` (limit 50 by default).
        """
        return self._reading(lambda reader: reader.find_builds(tenant, **query))

    def get_buildsets(self, tenant: str, **query: Filter) -> list[BuildsetRecord]:
        """A tenant's buildsets matching every filter given (any of their refs), newest first.

        ``query``: the filters and paging of ``Reader.buildset_page`` (limit 50 by default).
        """
        return self._reading(lambda reader: reader.find_buildsets(tenant, **query))

    def get_build(self, uuid: str, tenant: str | None = None) -> BuildRecord | None:
        """One build with its buildset's refs and its events (None if unknown)."""

        def read(reader: Reader) -> list[BuildRecord]:
            ids = reader.build_ids(tenant, uuid=uuid, limit=1)
            return reader.builds(ids, with_buildset_refs=True, with_events=True)

        found = self._reading(read)
        return found[0] if found else None

    def get_buildset(self, uuid: str, tenant: str | None = None) -> BuildsetRecord | None:
        """One buildset with its refs and all its builds, oldest build first."""

        def read(reader: Reader) -> list[BuildsetRecord]:
            return reader.buildsets(
                reader.buildset_ids(tenant, uuid=uuid, limit=1), with_builds=True
            )

        found = self._reading(read)
        return found[0] if found else None

    def get_build_times(self, tenant: str, **query: Any) -> list[BuildRecord]:
        """Completed builds newest end first (``Reader.build_times``: filters,
        ``start_time``/``end_time``, ``limit``/``offset``)."""
        return self._reading(lambda reader: reader.build_times(tenant, **query))

    def get_durations(
        self, tenant: str, keys: Sequence[tuple[str, str, str | None]], per_key: int = 10
    ) -> dict[tuple[str, str, str | None], list[float]]:
        """Durations of the newest successful builds per (job, project, branch)."""
        return self._reading(lambda reader: reader.durations(tenant, keys, per_key))
