"""Benchmark: load the corpus ``openstack`` tenant and freeze every job graph.

Run: ``/opt/lgvenv/bin/python bench/config_load.py [--repeat N] [--corpus DIR]``

It measures, in one run and on the same files:

* **raw parse**: ``yaml.load(..., CSafeLoader)`` of every configuration file
  (the floor any loader has to pay);
* **load**: parsing into ``ConfigObject`` records (Lockgate's parser when
  ``lockgate.config.parser`` is importable, else a line-aware stand-in on the
  same C parser), then ``build_layout`` for the tenant;
* **freeze**: ``freeze_job_graph`` for every project-pipeline pair of the
  layout (branch ``master``, no file list);
* **freeze, nodesets stubbed**: the same after defining every nodeset the
  corpus names but does not contain (they live in ``opendev/zuul-providers``,
  absent here), so that freezing runs to the end instead of stopping at the
  first missing nodeset — the realistic cost.

It prints each time (best of ``--repeat``), the ratio of load + freeze to the
raw parse (target: at most 3), and peak memory (tracemalloc peak of one
load + freeze, and the process's maximum RSS).
"""

from __future__ import annotations

import argparse
import gc
import importlib
import os
import resource
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CORPUS = REPO_ROOT.parent / "shared" / "corpus" / "zuul-config"

# Load order of the corpus README: (tenant project name, folder).
LOAD_ORDER = [
    ("openstack/project-config", "project-config"),
    ("opendev/base-jobs", "base-jobs"),
    ("zuul/zuul-jobs", "zuul-jobs"),
    ("openstack/openstack-zuul-jobs", "openstack-zuul-jobs"),
    ("openstack/devstack", "devstack"),
    ("openstack/nova", "nova"),
]


def config_files(folder: Path) -> list[Path]:
    """Zuul's discovery, reduced to what the corpus holds."""
    for candidate in ("zuul.yaml", "zuul.d", ".zuul.yaml", ".zuul.d"):
        path = folder / candidate
        if path.is_file():
            found = [path]
            break
        if path.is_dir():
            found = sorted(p for p in path.rglob("*.yaml"))
            break
    else:
        found = []
    extra = folder / "zuul-tests.d"  # zuul-jobs' extra-config-paths
    if extra.is_dir():
        found += sorted(extra.rglob("*.yaml"))
    return found


# ---------------------------------------------------------------------------
# Raw parse


class _RawLoader(yaml.CSafeLoader):
    """CSafeLoader that tolerates Zuul's tags (so the raw parse can run)."""


def _any_tag(loader: yaml.CSafeLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    return loader.construct_scalar(node)


_RawLoader.add_multi_constructor("!", _any_tag)


def raw_parse(files: list[Path]) -> int:
    count = 0
    for path in files:
        with open(path, "rb") as handle:
            data = yaml.load(handle, Loader=_RawLoader)  # noqa: S506 - safe C loader
        count += len(data) if isinstance(data, list) else 1
    return count


# ---------------------------------------------------------------------------
# Lockgate load (parser if present, else stand-in) + layout


def _standin_parse(project: str, folder: Path, files: list[Path], trusted: bool) -> list[Any]:
    """Line-aware parse to ConfigObjects on the C parser (until the real
    parser exists)."""
    from lockgate.config.errors import SourceContext
    from lockgate.config.objects import ConfigObject

    out = []
    for path in files:
        rel = str(path.relative_to(folder))
        with open(path, "rb") as handle:
            loader = _RawLoader(handle)
            try:
                root = loader.get_single_node()
                if root is None:
                    continue
                items = loader.construct_document(root)
                for item, data in zip(root.value, items, strict=True):
                    ((kind, body),) = data.items()
                    ctx = SourceContext(
                        project,
                        "master",
                        rel,
                        item.start_mark.line + 1,
                        trusted,
                        "gerrit",
                    )
                    name = body.get("name") if isinstance(body, dict) else None
                    out.append(ConfigObject(kind, name or project, body, ctx))
            finally:
                loader.dispose()
    return out


def _find_parser() -> Callable[..., Any] | None:
    """Lockgate's parser (``parse_project_files``) if it is importable."""
    try:
        module = importlib.import_module("lockgate.config.parser")
    except ImportError:
        return None
    return getattr(module, "parse_project_files", None)


def _parse(project: Any, folder: Path, files: list[Path]) -> list[Any]:
    parser = _find_parser()
    if parser is None:
        return _standin_parse(project.name, folder, files, project.trusted)
    texts = {str(f.relative_to(folder)): f.read_bytes() for f in files}
    objects, _errors = parser(texts, project, "master")
    return objects


def _tenant_spec(corpus: Path) -> Any | None:
    """The tenant as Lockgate's tenant-config reader sees it, if importable."""
    try:
        module = importlib.import_module("lockgate.config.tenant")
    except ImportError:
        return None
    reader = getattr(module, "parse_tenant_config", None)
    if reader is None:
        return None
    text = (corpus / "project-config" / "zuul" / "main.yaml").read_bytes()
    return reader(text).tenants.get("openstack")


def _tenant_projects(corpus: Path) -> tuple[Any, list[Any]]:
    """The openstack tenant's settings and project list."""
    from lockgate.config.tenant_view import ProjectView, TenantView

    spec = _tenant_spec(corpus)
    if spec is not None:
        return spec, list(spec.projects)

    with open(corpus / "project-config" / "zuul" / "main.yaml", "rb") as handle:
        main = yaml.load(handle, Loader=_RawLoader)  # noqa: S506
    tenant = next(o["tenant"] for o in main if "tenant" in o and o["tenant"]["name"] == "openstack")
    classes = {
        "pipeline",
        "job",
        "semaphore",
        "project",
        "project-template",
        "nodeset",
        "secret",
        "queue",
    }
    views: list[ProjectView] = []

    def as_list(value: Any) -> list[str]:
        return [] if value is None else [value] if isinstance(value, str) else list(value)

    for conn, source in tenant["source"].items():
        for kind in ("config-projects", "untrusted-projects"):
            trusted = kind == "config-projects"
            for entry in source.get(kind, []):
                groups = [(entry, {})] if isinstance(entry, str) else None
                if groups is None and "projects" in entry:
                    groups = [
                        (p if isinstance(p, str) else next(iter(p)), entry)
                        for p in entry["projects"]
                    ]
                elif groups is None:
                    name, opts = next(iter(entry.items()))
                    groups = [(name, opts or {})]
                for name, opts in groups:
                    include = as_list(opts.get("include"))
                    load = (set(include) if include else set(classes)) - set(
                        as_list(opts.get("exclude"))
                    )
                    views.append(
                        ProjectView(
                            name=name,
                            trusted=trusted,
                            connection=conn,
                            load_classes=frozenset(load),
                            shadow=tuple(as_list(opts.get("shadow"))),
                            allow_base_jobs=bool(opts.get("allow-base-jobs", True)),
                            implied_branch_matchers=opts.get("implied-branch-matchers"),
                        )
                    )
    view = TenantView(
        "openstack",
        default_parent=tenant.get("default-parent", "base"),
        max_nodes_per_job=tenant.get("max-nodes-per-job", 5),
        max_job_timeout=tenant.get("max-job-timeout", 10800),
        default_ansible_version=str(tenant.get("default-ansible-version") or "") or None,
        projects=tuple(views),
    )
    return view, views


def load_layout(corpus: Path, tenant: Any, views: list[Any], stub: list[Any] | None = None) -> Any:
    from lockgate.config.layout import build_layout

    by_name = {v.name: v for v in views}
    projects = []
    for name, folder_name in LOAD_ORDER:
        folder = corpus / folder_name
        view = by_name[name]
        objects = _parse(view, folder, config_files(folder))
        if stub and name == "openstack/project-config":
            objects = list(objects) + stub
        projects.append((view, objects))
    return build_layout(tenant, projects)


def freeze_all(layout: Any) -> tuple[int, int, int]:
    from lockgate.config.freeze import freeze_job_graph

    pairs = jobs = errors = 0
    for project in list(layout.project_configs):
        if project.startswith("^"):
            continue
        for pipeline in layout.get_project_pipelines(project, "master"):
            graph = freeze_job_graph(layout, pipeline, project, "master")
            pairs += 1
            jobs += len(graph.jobs)
            errors += len(graph.errors)
    return pairs, jobs, errors


def stub_nodesets(layout: Any) -> list[Any]:
    """ConfigObjects for every nodeset referenced but not defined."""
    from lockgate.config.errors import SourceContext
    from lockgate.config.objects import ConfigObject

    missing = sorted(
        {e.message.split("'")[-2] for e in layout.errors if e.key == "unknown-nodeset"}
    )
    ctx = SourceContext("openstack/project-config", "master", "<stub>", 1, True, "gerrit")
    return [
        ConfigObject("nodeset", n, {"name": n, "nodes": [{"name": "node", "label": n}]}, ctx)
        for n in missing
    ]


def best(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(REPO_ROOT))
    corpus: Path = args.corpus
    files = [f for _, d in LOAD_ORDER for f in config_files(corpus / d)]
    size = sum(os.path.getsize(f) for f in files)
    tenant, views = _tenant_projects(corpus)

    t_raw, objects = best(lambda: raw_parse(files), args.repeat)
    t_load, layout = best(lambda: load_layout(corpus, tenant, views), args.repeat)
    counts, n_errors = layout.counts(), len(layout.errors)
    stub = stub_nodesets(layout)
    del layout

    def time_freeze(stubbed: list[Any] | None, freeze_gc: bool) -> tuple[float, Any]:
        """Best freeze time over fresh layouts (freezing caches per layout),
        one layout alive at a time, as in a scheduler."""
        times, result = [], None
        for _ in range(args.repeat):
            lay = load_layout(corpus, tenant, views, stubbed)
            if freeze_gc:
                gc.collect()
                gc.freeze()
            start = time.perf_counter()
            result = freeze_all(lay)
            times.append(time.perf_counter() - start)
            if freeze_gc:
                gc.unfreeze()
            del lay
        return min(times), result

    t_freeze, (pairs, jobs, ferrs) = time_freeze(None, False)
    t_freeze_stub, (spairs, sjobs, serrs) = time_freeze(stub, False)
    t_freeze_gc, _ = time_freeze(None, True)
    t_freeze_stub_gc, _ = time_freeze(stub, True)

    tracemalloc.start()
    lay = load_layout(corpus, tenant, views, stub)
    freeze_all(lay)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del lay
    maxrss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    parser_name = (
        "lockgate.config.parser" if _find_parser() else "stand-in (C parser + lines)"
    ) + (", lockgate.config.tenant" if _tenant_spec(corpus) else ", stand-in tenant reader")
    print(f"corpus: {len(files)} files, {size / 1024:.0f} KiB, {objects} top-level objects")
    print(f"readers used: {parser_name}")
    print(f"layout: {counts}; {n_errors} errors")
    print(f"raw parse (yaml CSafeLoader):        {t_raw * 1000:8.1f} ms")
    print(f"load (parse + build_layout):         {t_load * 1000:8.1f} ms")
    print(
        f"freeze, as loaded:                   {t_freeze * 1000:8.1f} ms  ({pairs} "
        f"project-pipeline pairs, {jobs} jobs frozen, {ferrs} item errors for missing "
        "nodesets/parents)"
    )
    print(
        f"freeze, missing nodesets stubbed:    {t_freeze_stub * 1000:8.1f} ms  "
        f"({len(stub)} stubs; {sjobs} jobs frozen in {spairs} pairs, {serrs} item errors)"
    )
    print(
        f"freeze after gc.freeze():            {t_freeze_gc * 1000:8.1f} ms  "
        f"(stubbed: {t_freeze_stub_gc * 1000:.1f} ms)"
    )
    for label, freeze_time in (
        ("as loaded", t_freeze),
        ("stubbed", t_freeze_stub),
        ("stubbed, gc.freeze()", t_freeze_stub_gc),
    ):
        total = t_load + freeze_time
        print(
            f"load + freeze ({label}): {total * 1000:.1f} ms = "
            f"{total / t_raw:.2f} x raw parse (target <= 3)"
        )
    print(
        f"peak memory: tracemalloc {peak / 2**20:.1f} MiB (one load + freeze, stubbed); "
        f"process max RSS {maxrss_kib / 1024:.1f} MiB"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
