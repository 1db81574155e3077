"""Versioned JSON records in ZooKeeper: the one way Lockgate stores a value.

Who calls it: the stores of this package (requests.py, state.py, queues.py)
and any ``lockgate.zk`` module that keeps a record.  Network I/O is explicit:
``load``/``save``/``create``/``delete`` each go to ZooKeeper; nothing is
written behind an attribute assignment.

What a record is on the wire: the node's data is an *envelope*,

- ``{"schema": N, "data": {...}}`` as JSON for small values;
- zlib-compressed JSON of that envelope when it is larger than
  ``COMPRESS_ABOVE`` bytes (readers tell them apart by the first byte);
- for values too large for one node even compressed (ZooKeeper's limit is
  about 1 MB), ``{"schema": N, "sharded": {"generation": G, "count": K}}``,
  with the compressed JSON split into ``K`` shard nodes under
  ``<record>/shards/<G>/``.

Optimistic concurrency: :meth:`RecordStore.load` returns the node's version;
``save(..., version=v)`` succeeds only if nobody wrote since, and raises
:class:`RecordConflict` otherwise: the caller re-reads, re-applies its change
and retries, so no write is ever silently dropped.  A sharded write first
writes a new generation of shards (invisible to readers), then swaps the
envelope atomically with the version check, then deletes the old generation;
a reader that races with the deletion simply reads again.
"""

from __future__ import annotations

import json
import uuid
import zlib
from collections.abc import Iterable
from typing import Any, Generic, NamedTuple, Protocol, TypeVar

from kazoo.exceptions import BadVersionError, NodeExistsError, NoNodeError, NotEmptyError
from lockgate.zk import paths
from lockgate.zk.client import ZKClient
from lockgate.zk.errors import (
    RecordConflict,
    RecordNotFound,
    SchemaTooNew,
    ZKConnectionError,
    ZKError,
    translate_kazoo_errors,
)

# A node may hold at most jute.maxbuffer (1 MiB - 1) including request overhead.
MAX_NODE_BYTES = 1000 * 1000
SHARD_BYTES = 512 * 1024
COMPRESS_ABOVE = 8 * 1024
_ZLIB_FIRST_BYTE = 0x78


class Loaded(NamedTuple):
    """A record as read: its data, the version to pass back to ``save``, and
    the schema version it was written with."""

    data: dict[str, Any]
    version: int
    schema: int


def encode_inline(data: dict[str, Any], schema: int) -> bytes:
    """The bytes of a small record's node (compressed when worth it)."""
    raw = json.dumps({"schema": schema, "data": data}, separators=(",", ":")).encode()
    if len(raw) > COMPRESS_ABOVE:
        return zlib.compress(raw)
    return raw


def decode_envelope(raw: bytes) -> dict[str, Any]:
    """The envelope dict of a record node's bytes."""
    if not raw:
        return {"schema": 0, "data": {}}
    if raw[0] == _ZLIB_FIRST_BYTE:
        raw = zlib.decompress(raw)
    envelope = json.loads(raw)
    if not isinstance(envelope, dict) or "schema" not in envelope:
        raise ZKError("not a Lockgate record envelope")
    return envelope


# At most this many requests in flight at once (ZooKeeper throttles a
# connection beyond ~1000 outstanding requests; batches keep well under).
PIPELINE_BATCH = 500


def pipelined(client: ZKClient, method: str, node_paths: Iterable[str]) -> dict[str, Any]:
    """(For ``lockgate.zk`` modules.)  Call kazoo's asynchronous ``method``
    (``get_async``, ``get_children_async``, ``exists_async``) on every path
    with many requests in flight, and map each path to its answer, or to the
    kazoo exception it raised (the caller decides: NoNodeError usually means
    "absent"; anything else, retry that path with the sequential call).
    Waits for the connection first, as ``ZKClient.retry`` does."""
    todo = list(dict.fromkeys(node_paths))
    out: dict[str, Any] = {}
    if not todo:
        return out
    if not client.wait_connected(client.retry_deadline):
        raise ZKConnectionError(
            f"cannot read {len(todo)} nodes such as {todo[0]}: ZooKeeper at "
            f"{client.hosts} unavailable for {client.retry_deadline}s"
        )
    call = getattr(client.kazoo, method)
    for start in range(0, len(todo), PIPELINE_BATCH):
        batch = todo[start : start + PIPELINE_BATCH]
        pending = []
        for path in batch:
            try:
                pending.append(call(path))
            except Exception as exc:  # noqa: BLE001 - e.g. the connection closed: per path
                pending.append(exc)
        for path, result in zip(batch, pending, strict=True):
            if isinstance(result, BaseException):
                out[path] = result
                continue
            try:
                out[path] = result.get(timeout=client.retry_deadline)
            except Exception as exc:  # noqa: BLE001 - handed to the caller, per path
                out[path] = exc
    return out


@translate_kazoo_errors
class RecordStore:
    """Load, save, create and delete records at paths, for one client.

    ``max_schema`` is the newest schema this code understands; reading a record
    written with a newer schema raises :class:`SchemaTooNew` instead of
    misreading it.
    """

    def __init__(self, client: ZKClient, *, schema: int = 1, max_schema: int | None = None) -> None:
        self.client = client
        self.schema = schema
        self.max_schema = max_schema if max_schema is not None else schema

    # --- reading ------------------------------------------------------------------------

    def load(self, path: str) -> Loaded | None:
        """The record at ``path`` with its version, or None if there is none."""
        kz = self.client.kazoo
        for _attempt in range(20):
            try:
                raw, stat = self.client.retry(kz.get, path)
            except NoNodeError:
                return None
            try:
                envelope = decode_envelope(raw)
            except (ValueError, zlib.error, ZKError) as exc:
                raise ZKError(f"record {path} is not readable: {exc}") from exc
            schema = int(envelope.get("schema", 0))
            if schema > self.max_schema:
                raise SchemaTooNew(
                    f"record {path} has schema {schema}; this Lockgate reads up to "
                    f"{self.max_schema}: upgrade this process"
                )
            if envelope.get("deleted"):
                return None
            if "sharded" not in envelope:
                return Loaded(envelope.get("data") or {}, stat.version, schema)
            data = self._read_shards(path, envelope["sharded"])
            if data is not None:
                return Loaded(data, stat.version, schema)
            # The generation was replaced while we read: read the new one.
        raise ZKError(f"record {path} kept changing while being read")

    def load_many(self, record_paths: Iterable[str]) -> dict[str, Loaded | None]:
        """``load`` of many records, pipelined: every read is sent before any
        answer is awaited, so N records cost about one round trip instead of
        N.  Maps each path to what ``load`` would return (None for a record
        missing or deleted meanwhile).  Sharded records, records of a newer
        schema and reads that met connection trouble go through ``load``
        (sequential, retrying), which also raises as ``load`` does."""
        out: dict[str, Loaded | None] = {}
        for path, result in pipelined(self.client, "get_async", record_paths).items():
            if isinstance(result, NoNodeError):
                out[path] = None
                continue
            if isinstance(result, BaseException):
                out[path] = self.load(path)  # connection trouble: the retrying path
                continue
            raw, stat = result
            out[path] = self.from_answer(path, raw, stat.version)
        return out

    def from_answer(self, path: str, raw: bytes, version: int) -> Loaded | None:
        """What ``load`` would return, from bytes another read already fetched
        (a pipelined read, a watched folder view): one decoding for every way a
        record is read.  None for a deletion's tombstone; a newer schema goes
        through ``load`` (which raises), and so does a sharded record whose
        generation was replaced while its shards were read."""
        try:
            envelope = decode_envelope(raw)
        except (ValueError, zlib.error, ZKError) as exc:
            raise ZKError(f"record {path} is not readable: {exc}") from exc
        schema = int(envelope.get("schema", 0))
        if envelope.get("deleted"):
            return None
        if schema > self.max_schema:
            return self.load(path)  # raises SchemaTooNew
        if "sharded" in envelope:
            data = self._read_shards(path, envelope["sharded"])
            return self.load(path) if data is None else Loaded(data, version, schema)
        return Loaded(envelope.get("data") or {}, version, schema)

    def _read_shards(self, path: str, sharded: dict[str, Any]) -> dict[str, Any] | None:
        kz = self.client.kazoo
        gen_path = f"{paths.record_shards(path)}/{sharded['generation']}"
        chunks = []
        try:
            for index in range(int(sharded["count"])):
                chunk, _ = self.client.retry(kz.get, f"{gen_path}/{index:06d}")
                chunks.append(chunk)
        except NoNodeError:
            return None
        envelope = json.loads(zlib.decompress(b"".join(chunks)))
        return envelope.get("data") or {}

    def exists(self, path: str) -> bool:
        kz = self.client.kazoo
        return self.client.retry(kz.exists, path) is not None

    # --- writing ------------------------------------------------------------------------

    def create(self, path: str, data: dict[str, Any], *, makepath: bool = True) -> int:
        """Create the record; raise :class:`RecordConflict` if it exists.
        Returns the version to pass to the next ``save``."""
        kz = self.client.kazoo
        raw = encode_inline(data, self.schema)
        if len(raw) <= MAX_NODE_BYTES:
            try:
                self.client.retry(kz.create, path, raw, makepath=makepath)
            except NodeExistsError as exc:
                raise RecordConflict(path, "it already exists") from exc
            return 0
        # Too large: create an empty placeholder, then a sharded save on it.
        try:
            self.client.retry(kz.create, path, encode_inline({}, self.schema), makepath=makepath)
        except NodeExistsError as exc:
            raise RecordConflict(path, "it already exists") from exc
        return self.save(path, data, version=0)

    def save(self, path: str, data: dict[str, Any], *, version: int | None = None) -> int:
        """Write the record.  With ``version`` (from ``load``), only if nobody
        wrote it since, else :class:`RecordConflict` (also if it was deleted).
        Without ``version``, create or overwrite.  Returns the new version."""
        kz = self.client.kazoo
        raw = encode_inline(data, self.schema)
        if len(raw) <= MAX_NODE_BYTES:
            return self._swap(path, raw, version, new_generation=None)
        generation = uuid.uuid4().hex
        compressed = zlib.compress(
            json.dumps({"schema": self.schema, "data": data}, separators=(",", ":")).encode()
        )
        gen_path = f"{paths.record_shards(path)}/{generation}"
        count = 0
        for count, start in enumerate(range(0, len(compressed), SHARD_BYTES), start=1):
            self.client.retry(
                kz.create,
                f"{gen_path}/{count - 1:06d}",
                compressed[start : start + SHARD_BYTES],
                makepath=True,
            )
        envelope = json.dumps(
            {"schema": self.schema, "sharded": {"generation": generation, "count": count}}
        ).encode()
        try:
            return self._swap(path, envelope, version, new_generation=generation)
        except BaseException:
            self._delete_tree(gen_path)
            raise

    def _swap(self, path: str, raw: bytes, version: int | None, new_generation: str | None) -> int:
        kz = self.client.kazoo
        try:
            if version is None:
                try:
                    stat = self.client.retry(kz.set, path, raw)
                except NoNodeError:
                    try:
                        self.client.retry(kz.create, path, raw, makepath=True)
                        self._drop_old_generations(path, keep=new_generation)
                        return 0
                    except NodeExistsError:
                        stat = self.client.retry(kz.set, path, raw)
            else:
                stat = self.client.retry(kz.set, path, raw, version=version)
        except BadVersionError as exc:
            raise RecordConflict(path, f"expected version {version}") from exc
        except NoNodeError as exc:
            raise RecordConflict(path, "it was deleted") from exc
        self._drop_old_generations(path, keep=new_generation)
        return int(stat.version)

    def _drop_old_generations(self, path: str, keep: str | None) -> None:
        kz = self.client.kazoo
        shards = paths.record_shards(path)
        try:
            generations = self.client.retry(kz.get_children, shards)
        except NoNodeError:
            return
        for gen in generations:
            if gen != keep:
                self._delete_tree(f"{shards}/{gen}")

    def _delete_tree(self, path: str) -> None:
        kz = self.client.kazoo
        try:
            self.client.retry(kz.delete, path, recursive=True)
        except NoNodeError:
            pass

    def delete(self, path: str, *, version: int | None = None) -> bool:
        """Delete the record (and its shards and any children).  With
        ``version``, only if unchanged since read, else :class:`RecordConflict`.
        Returns False if there was nothing to delete."""
        kz = self.client.kazoo
        if version is not None:
            # The check must be atomic with the delete, but a record with
            # shards cannot be deleted in one step: first replace it with a
            # tombstone (conditional, atomic; readers see "no record"), then
            # remove the tree.
            tombstone = json.dumps({"schema": self.schema, "deleted": True}).encode()
            try:
                self.client.retry(kz.set, path, tombstone, version=version)
            except NoNodeError:
                return False
            except BadVersionError as exc:
                raise RecordConflict(path, f"expected version {version}") from exc
        for _attempt in range(10):
            try:
                children = self.client.retry(kz.get_children, path)
            except NoNodeError:
                return False
            for child in children:
                self._delete_tree(f"{path}/{child}")
            try:
                self.client.retry(kz.delete, path)
                return True
            except NoNodeError:
                return False
            except NotEmptyError:
                continue  # someone added a child meanwhile; delete again
        raise ZKError(f"could not delete {path}: children keep appearing")


class Serializable(Protocol):
    def to_dict(self) -> dict[str, Any]: ...


R = TypeVar("R")


class Versioned(NamedTuple, Generic[R]):
    """A typed record and the version to pass back to ``update``."""

    record: R
    version: int


def require(loaded: Loaded | None, path: str) -> Loaded:
    """``loaded``, or :class:`RecordNotFound` if the record was missing."""
    if loaded is None:
        raise RecordNotFound(path)
    return loaded
