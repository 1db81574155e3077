"""Which files of a repository hold Zuul configuration, in load order.

Called by ``lockgate.config.loader`` (files read out of git by the
scheduler, as a ``{path: text}`` mapping) and by ``lockgate config check``
(folders on disk).  Both go through the same rule, Zuul's:

1. the first that exists of ``zuul.yaml``, ``zuul.d/``, ``.zuul.yaml``,
   ``.zuul.d/`` is read; if more than one exists, that is an error and the
   others are ignored;
2. a directory is read recursively, in sorted path order, only files whose
   name ends in ``.yaml``; a subtree that contains a ``.zuul.ignore`` file
   is skipped;
3. then every ``extra-config-paths`` entry of the tenant project (a file, or
   a directory when written with a trailing ``/``), all of them, in order.

What comes next: ``lockgate.config.parser.parse_project_files``.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from lockgate.config.errors import ConfigError, Severity, SourceContext
from lockgate.config.limits import DEFAULT_LIMITS, ReadLimits, size_text

CONFIG_ROOTS: tuple[str, ...] = ("zuul.yaml", "zuul.d/", ".zuul.yaml", ".zuul.d/")
IGNORE_MARKER = ".zuul.ignore"


@dataclass
class Discovery:
    """The configuration files of one project-branch, in load order."""

    paths: list[str] = field(default_factory=list)
    errors: list[ConfigError] = field(default_factory=list)


def _is_dir_entry(root: str) -> bool:
    return root.endswith("/")


def _under(path: str, directory: str) -> bool:
    return path.startswith(directory)


def _ignored_dirs(paths: Iterable[str]) -> list[str]:
    """Directories (with a trailing slash) that hold a ``.zuul.ignore``."""
    out = []
    for path in paths:
        if path == IGNORE_MARKER or path.endswith("/" + IGNORE_MARKER):
            out.append(path[: -len(IGNORE_MARKER)])
    return out


def _files_of(root: str, paths: list[str], ignored: list[str]) -> list[str]:
    """What one root contributes: the file itself, or a directory's yaml files."""
    if not _is_dir_entry(root):
        return [root] if root in paths else []
    found = []
    for path in paths:
        if not _under(path, root) or not path.endswith(".yaml"):
            continue
        if any(_under(path, d) for d in ignored):
            continue
        found.append(path)
    return sorted(found)


def _root_exists(root: str, paths: list[str]) -> bool:
    if _is_dir_entry(root):
        return any(_under(p, root) for p in paths)
    return root in paths


def select_config_files(
    paths: Iterable[str],
    extra_config_paths: Iterable[str] = (),
    context: SourceContext | None = None,
) -> Discovery:
    """Apply Zuul's discovery rule to a repository's file paths.

    ``paths`` are relative, ``/``-separated paths of the files a repository
    holds (any others than configuration are simply not chosen).
    ``context`` (project and branch; its path is ignored) is used for the
    "more than one configuration root" error.
    """
    all_paths = sorted({p.lstrip("/") for p in paths})
    ignored = _ignored_dirs(all_paths)
    result = Discovery()
    present = [r for r in CONFIG_ROOTS if _root_exists(r, all_paths)]
    if present:
        chosen = present[0]
        result.paths.extend(_files_of(chosen, all_paths, ignored))
        for other in present[1:]:
            where = context or SourceContext(project="", branch=None, path=other)
            result.errors.append(
                ConfigError(
                    f"more than one configuration root: '{other}' is ignored because "
                    f"'{chosen}' was found first (use only one of zuul.yaml, zuul.d/, "
                    f".zuul.yaml, .zuul.d/)",
                    SourceContext(
                        project=where.project,
                        branch=where.branch,
                        path=other,
                        trusted=where.trusted,
                        connection=where.connection,
                    ),
                    key="multiple-config-roots",
                )
            )
    seen = set(result.paths)
    for extra in extra_config_paths:
        extra = extra.lstrip("/")
        for path in _files_of(extra, all_paths, ignored):
            if path not in seen:
                seen.add(path)
                result.paths.append(path)
    return result


def discover_in_mapping(
    files: Mapping[str, str | bytes],
    extra_config_paths: Iterable[str] = (),
    context: SourceContext | None = None,
) -> tuple[list[tuple[str, str | bytes]], list[ConfigError]]:
    """Discovery over files read out of git: ``[(path, text)]`` in load order."""
    found = select_config_files(files.keys(), extra_config_paths, context)
    return [(p, files[p]) for p in found.paths], found.errors


@dataclass
class _DiskWalk:
    """What walking a checkout found: candidate paths, and what was refused."""

    repo_dir: str
    context: SourceContext | None
    real_root: str = ""
    paths: list[str] = field(default_factory=list)
    errors: list[ConfigError] = field(default_factory=list)
    # Symbolic links inside the repository, by path: read like their target.
    links: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.real_root = os.path.realpath(self.repo_dir)

    def report(self, path: str, message: str, key: str, severity: Severity) -> None:
        where = self.context or SourceContext(project="", branch=None, path=path)
        self.errors.append(
            ConfigError(
                message,
                SourceContext(
                    project=where.project,
                    branch=where.branch,
                    path=path,
                    trusted=where.trusted,
                    connection=where.connection,
                ),
                severity=severity,
                key=key,
            )
        )

    def inside(self, real: str) -> bool:
        return real == self.real_root or real.startswith(self.real_root.rstrip(os.sep) + os.sep)

    def link_target(self, rel: str, followed: bool = True) -> str | None:
        """For a symbolic link at ``rel``: its resolved target if that stays
        inside the repository (and the link is ``followed``), else None.
        Either way the user is told: a link out is an error; a link inside
        gets a warning, as the scheduler (reading git) never follows one."""
        full = os.path.join(self.repo_dir, rel)
        real = os.path.realpath(full)
        if not self.inside(real):
            self.report(
                rel,
                f"'{rel}' is a symbolic link to '{os.readlink(full)}', outside the repository; "
                "it is not read",
                "symlink-outside-repository",
                Severity.ERROR,
            )
            return None
        if followed:
            what = "it is read here, but the scheduler reads configuration from git"
        else:
            what = "it is not followed (nor does the scheduler, which reads git)"
        self.report(
            rel,
            f"'{rel}' is a symbolic link; {what}, where a symbolic link is not configuration",
            "symlink",
            Severity.WARNING,
        )
        return real if followed else None

    def walk(self, rel: str) -> None:
        """Every file under the folder ``rel``, in sorted order; symbolic
        links to folders are not followed, unreadable folders reported."""
        base = os.path.join(self.repo_dir, rel)
        if os.path.islink(base) and self.link_target(rel) is None:
            return

        def unreadable(exc: OSError) -> None:
            where = os.path.relpath(exc.filename or base, self.repo_dir).replace(os.sep, "/")
            self.report(
                where,
                f"cannot read folder '{where}': {exc.strerror or exc}",
                "unreadable-folder",
                Severity.ERROR,
            )

        for dirpath, dirnames, filenames in os.walk(base, onerror=unreadable, followlinks=False):
            dirnames.sort()
            relative = os.path.relpath(dirpath, self.repo_dir).replace(os.sep, "/")
            for name in list(dirnames):
                if os.path.islink(os.path.join(dirpath, name)):
                    dirnames.remove(name)  # os.walk would not descend; say so
                    self.link_target(f"{relative}/{name}", followed=False)
            for name in filenames:
                self.paths.append(f"{relative}/{name}" if relative != "." else name)

    def add_file(self, rel: str) -> None:
        """A root named as a file: anything there but a folder (a dangling
        link is nothing)."""
        full = os.path.join(self.repo_dir, rel)
        if os.path.exists(full) and not os.path.isdir(full):
            self.paths.append(rel)


def repo_paths(repo_dir: str, extra_config_paths: Iterable[str] = ()) -> list[str]:
    """The paths under a checkout that discovery could choose from.

    Only the configuration roots and extra paths are walked, not the whole
    repository (a nova checkout has thousands of files).
    """
    return _scan(repo_dir, list(extra_config_paths), None).paths


def _scan(repo_dir: str, extra: list[str], context: SourceContext | None) -> _DiskWalk:
    found = _DiskWalk(repo_dir, context)
    for root in list(CONFIG_ROOTS) + [p.lstrip("/") for p in extra]:
        rel = root.rstrip("/")
        full = os.path.join(repo_dir, rel)
        if not found.inside(os.path.realpath(os.path.dirname(full) or repo_dir)):
            found.report(
                root,
                f"'{root}' is outside the repository; it is not read",
                "path-outside-repository",
                Severity.ERROR,
            )
            continue
        if root.endswith("/"):
            if os.path.isdir(full):
                found.walk(rel)
        else:
            found.add_file(rel)
    return found


def discover_on_disk(
    repo_dir: str,
    extra_config_paths: Iterable[str] = (),
    context: SourceContext | None = None,
    limits: ReadLimits = DEFAULT_LIMITS,
) -> tuple[list[tuple[str, str | bytes]], list[ConfigError]]:
    """Discovery over a folder: ``[(path, content)]`` in load order.

    Files are read as bytes and decoded by the YAML loader, so a binary or
    non-UTF-8 file becomes a configuration error rather than an exception
    here.  Nothing outside the repository is read (a symbolic link that
    leads out is an error), only regular files are read (a FIFO or a
    device named ``x.yaml`` is an error, never a hang), at most
    ``limits.max_file_bytes`` of each (a larger file is an error), and a
    file or folder that cannot be read is reported.
    """
    extra = list(extra_config_paths)
    scan = _scan(repo_dir, extra, context)
    found = select_config_files(scan.paths, extra, context)
    scan.errors.extend(found.errors)
    out: list[tuple[str, str | bytes]] = []
    for path in found.paths:
        full = os.path.join(repo_dir, path)
        if os.path.islink(full):
            target = scan.link_target(path)
            if target is None:
                continue
            full = target
        content, problem = _read_regular(full, limits.max_file_bytes)
        if problem is not None:
            scan.report(path, problem[0], problem[1], Severity.ERROR)
            continue
        assert content is not None
        out.append((path, content))
    return out, scan.errors


def _read_regular(path: str, limit: int) -> tuple[bytes | None, tuple[str, str] | None]:
    """At most ``limit`` bytes of a regular file, or (None, (message, key)).

    Opened without following a final symbolic link and without blocking, so
    a FIFO cannot hang the read; anything but a regular file is refused.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        return None, (f"cannot read file: {exc.strerror or exc}", "unreadable-file")
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return None, ("not a regular file; it is not read", "not-a-regular-file")
        if info.st_size > limit:
            return None, (_too_large(limit), "file-too-large")
        chunks: list[bytes] = []
        total = 0
        while True:
            chunk = os.read(fd, min(1 << 20, limit + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if total > limit:  # it grew while being read
                return None, (_too_large(limit), "file-too-large")
        return b"".join(chunks), None
    except OSError as exc:
        return None, (f"cannot read file: {exc.strerror or exc}", "unreadable-file")
    finally:
        os.close(fd)


def _too_large(limit: int) -> str:
    return (
        f"file is larger than {size_text(limit)} (the limit for one configuration file); "
        "it is not read"
    )
