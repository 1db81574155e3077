"""Reading configuration files out of git objects, bounded.

Who calls it: ``RepoCache.read_files`` (the scheduler loading a tenant) and
``merger.read_files_at`` (the merger reading a proposed change's
configuration).  Both list a commit's files with ``git ls-tree -r -l -z``
and read the blobs with one ``git cat-file --batch``; this module parses
both answers, so the two readers agree on what a configuration file is:
a regular file (not a symlink or submodule) under one of the asked paths.

Why bounded: ``.zuul.yaml`` comes from anyone who can propose a change.  A
blob larger than ``max_bytes`` is not read at all (``ls-tree -l`` gives its
size); its text is replaced by ``TOO_LARGE`` marker text one byte over the
bound, which the parser reports as a file too large to read — without the
reader ever holding a gigabyte blob in memory.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from lockgate.git.cmd import GitError

FILE_MODES = (b"100644", b"100755")


@dataclass(frozen=True)
class TreeFile:
    name: str
    sha: str
    size: int


def wanted(paths: Iterable[str], prefixes: Iterable[str]) -> tuple[set[str], set[str]]:
    """Exact file names and directory prefixes (ending in ``/``), cleaned."""
    exact = {p.strip("/") for p in paths if p.strip("/")}
    dirs = {p.strip("/") + "/" for p in prefixes if p.strip("/")}
    return exact, dirs


def ls_tree_args(commit: str, exact: set[str], dirs: set[str]) -> list[str]:
    return ["ls-tree", "-r", "-l", "-z", commit, "--", *sorted(exact), *sorted(dirs)]


def parse_listing(listing: bytes, exact: set[str], dirs: set[str]) -> list[TreeFile]:
    """The regular files of an ``ls-tree -r -l -z`` answer that were asked for."""
    out = []
    for record in listing.split(b"\0"):
        if not record:
            continue
        meta, _, name_b = record.partition(b"\t")
        fields = meta.split()
        if len(fields) != 4:
            raise GitError(f"git ls-tree: unexpected answer {record[:200]!r}")
        mode, kind, sha, size = fields
        if kind != b"blob" or mode not in FILE_MODES:
            continue
        name = name_b.decode("utf-8", "surrogateescape")
        if name in exact or any(name.startswith(d) for d in dirs):
            out.append(TreeFile(name, sha.decode(), int(size)))
    return out


def to_read(files: list[TreeFile], max_bytes: int | None) -> list[str]:
    """The blob shas worth reading (each once; none over ``max_bytes``)."""
    return list(dict.fromkeys(f.sha for f in files if max_bytes is None or f.size <= max_bytes))


def parse_batch(out: bytes, count: int) -> dict[str, bytes]:
    """Blob sha -> content, from a ``cat-file --batch`` answer for ``count`` blobs."""
    blobs: dict[str, bytes] = {}
    pos = 0
    for _ in range(count):
        end = out.index(b"\n", pos)
        header = out[pos:end].split(b" ")
        if len(header) != 3:
            raise GitError(f"git cat-file: unexpected answer {out[pos:end]!r}")
        size = int(header[2])
        start = end + 1
        blobs[header[0].decode()] = out[start : start + size]
        pos = start + size + 1  # the content is followed by a newline
    return blobs


def texts(files: list[TreeFile], blobs: dict[str, bytes], max_bytes: int | None) -> dict[str, str]:
    """{name: text}: UTF-8 with bad bytes replaced (a stray byte becomes a
    configuration error with a line number later, not an exception here);
    a file over ``max_bytes`` gets marker text one byte over the bound."""
    out = {}
    for f in files:
        if f.sha in blobs:
            out[f.name] = blobs[f.sha].decode("utf-8", "replace")
        elif max_bytes is not None:
            out[f.name] = too_large(max_bytes)
    return out


def too_large(max_bytes: int) -> str:
    """Text standing for a file over ``max_bytes`` (never parsed: the parser
    refuses anything longer than its bound before reading it)."""
    return "#" * (max_bytes + 1)
