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
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from lockgate.config.errors import ConfigError, SourceContext

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


def _walk(root_dir: str, rel: str) -> list[str]:
    """Relative paths of the files under ``root_dir/rel`` (no symlinked dirs)."""
    out = []
    base = os.path.join(root_dir, rel)
    for dirpath, dirnames, filenames in os.walk(base, followlinks=False):
        dirnames.sort()
        relative = os.path.relpath(dirpath, root_dir).replace(os.sep, "/")
        for name in filenames:
            out.append(f"{relative}/{name}" if relative != "." else name)
    return out


def repo_paths(repo_dir: str, extra_config_paths: Iterable[str] = ()) -> list[str]:
    """The paths under a checkout that discovery could choose from.

    Only the configuration roots and extra paths are walked, not the whole
    repository (a nova checkout has thousands of files).
    """
    paths: list[str] = []
    for root in list(CONFIG_ROOTS) + [p.lstrip("/") for p in extra_config_paths]:
        full = os.path.join(repo_dir, root.rstrip("/"))
        if root.endswith("/"):
            if os.path.isdir(full):
                paths.extend(_walk(repo_dir, root.rstrip("/")))
        elif os.path.isfile(full):
            paths.append(root)
    return paths


def discover_on_disk(
    repo_dir: str,
    extra_config_paths: Iterable[str] = (),
    context: SourceContext | None = None,
) -> tuple[list[tuple[str, str | bytes]], list[ConfigError]]:
    """Discovery over a folder: ``[(path, content)]`` in load order.

    Files are read as bytes and decoded by the YAML loader, so a binary or
    non-UTF-8 file becomes a configuration error rather than an exception
    here.  An unreadable file is reported the same way.
    """
    extra = list(extra_config_paths)
    found = select_config_files(repo_paths(repo_dir, extra), extra, context)
    out: list[tuple[str, str | bytes]] = []
    errors = list(found.errors)
    for path in found.paths:
        try:
            with open(os.path.join(repo_dir, path), "rb") as handle:
                out.append((path, handle.read()))
        except OSError as exc:
            where = context or SourceContext(project="", branch=None, path=path)
            errors.append(
                ConfigError(
                    f"cannot read file: {exc.strerror or exc}",
                    SourceContext(
                        project=where.project,
                        branch=where.branch,
                        path=path,
                        trusted=where.trusted,
                        connection=where.connection,
                    ),
                    key="unreadable-file",
                )
            )
    return out, errors
