"""Benchmark: load the corpus ``openstack`` tenant and freeze every job graph.

Run: ``/opt/lgvenv/bin/python bench/config_load.py [--repeat N] [--corpus DIR]``

It measures, in one run and on the same files:

* **raw parse**: ``yaml.load(..., CSafeLoader)`` of every configuration file
  (the floor any loader has to pay);
* **load + freeze**: parsing into ``ConfigObject`` records (Lockgate's parser
  when ``lockgate.config.parser`` is importable, else a line-aware stand-in
  on the same C parser), ``build_layout`` for the tenant, then
  ``freeze_job_graph`` for every project-pipeline pair of that layout
  (branch ``master``, no file list), timed as one run;
* the same with **nodesets stubbed**: every nodeset the corpus names but
  does not contain (they live in ``opendev/zuul-providers``, absent here) is
  defined, so that freezing runs to the end instead of stopping at the
  first missing nodeset — the realistic cost.

Rounds alternate the raw parse and the two load + freeze runs (so both sides
meet the same machine noise); every timed run starts after an untimed
``gc.collect()`` and with nothing of the previous run alive, so each pays
for exactly the collections its own allocations trigger.  Each figure is the
best of ``--repeat`` rounds, for both sides alike.  It prints the times, the
ratio of load + freeze to the raw parse (target: at most 3), the load alone
(best run), freezing alone with the layout moved out of the collector's
reach (``gc.freeze()``, for reference), and peak memory (tracemalloc peak of
one load + freeze, and the process's maximum RSS).

Until commit "bench: alternate rounds ..." load and freeze were timed in
separate best-of-N series (freeze on a freshly built layout, load with the
previous run's layout still alive, its release inside the next timed run),
and the raw parse in a series of its own before them.
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


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """Run ``fn`` once from a clean collector state and time it.

    ``gc.collect()`` first, untimed, so that no run pays for garbage or
    collector debt left by the one before it; each run then pays for every
    collection its own allocations trigger.  Used alike for both sides.
    """
    gc.collect()
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def load_and_freeze(
    corpus: Path, tenant: Any, views: list[Any], stub: list[Any] | None
) -> tuple[float, float, tuple[int, int, int]]:
    """One timed run of the measured work: load the tenant, then freeze
    every project-pipeline pair of that layout.  Returns (load seconds,
    load + freeze seconds, freeze counts); the layout is dropped before
    returning, so one layout is alive at a time, as in a scheduler."""
    gc.collect()
    start = time.perf_counter()
    layout = load_layout(corpus, tenant, views, stub)
    loaded = time.perf_counter()
    counts = freeze_all(layout)
    end = time.perf_counter()
    del layout
    return loaded - start, end - start, counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--repeat", type=int, default=7, help="rounds (best of N is reported)")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(REPO_ROOT))
    corpus: Path = args.corpus
    files = [f for _, d in LOAD_ORDER for f in config_files(corpus / d)]
    size = sum(os.path.getsize(f) for f in files)
    tenant, views = _tenant_projects(corpus)

    first = load_layout(corpus, tenant, views)
    counts, n_errors = first.counts(), len(first.errors)
    stub = stub_nodesets(first)
    del first
    objects = raw_parse(files)

    # Rounds alternate the two sides, so that both meet the same machine
    # noise; each side reports its best round.
    raw: list[float] = []
    runs: dict[str, list[tuple[float, float]]] = {"as loaded": [], "stubbed": []}
    freeze_counts: dict[str, tuple[int, int, int]] = {}
    for _ in range(args.repeat):
        raw.append(timed(lambda: raw_parse(files))[0])
        for label, stubbed in (("as loaded", None), ("stubbed", stub)):
            t_load, t_total, freeze_counts[label] = load_and_freeze(corpus, tenant, views, stubbed)
            runs[label].append((t_load, t_total))

    def frozen_gc(stubbed: list[Any] | None) -> float:
        """Freeze time with the layout moved out of the collector's reach
        (``gc.freeze()``), as a long-running scheduler may do."""
        times = []
        for _ in range(args.repeat):
            lay = load_layout(corpus, tenant, views, stubbed)
            gc.collect()
            gc.freeze()
            start = time.perf_counter()
            freeze_all(lay)
            times.append(time.perf_counter() - start)
            gc.unfreeze()
            del lay
        return min(times)

    t_freeze_gc, t_freeze_stub_gc = frozen_gc(None), frozen_gc(stub)

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
    t_raw = min(raw)
    print(f"corpus: {len(files)} files, {size / 1024:.0f} KiB, {objects} top-level objects")
    print(f"readers used: {parser_name}")
    print(f"layout: {counts}; {n_errors} errors")
    print(f"best of {args.repeat} rounds; each run starts after gc.collect()")
    print(f"raw parse (yaml CSafeLoader):        {t_raw * 1000:8.1f} ms")
    pairs, jobs, ferrs = freeze_counts["as loaded"]
    spairs, sjobs, serrs = freeze_counts["stubbed"]
    best_total = {label: min(t for _, t in r) for label, r in runs.items()}
    best_load = min(t for r in runs.values() for t, _ in r)
    print(f"load (parse + build_layout):         {best_load * 1000:8.1f} ms")
    print(
        f"load + freeze, as loaded:            {best_total['as loaded'] * 1000:8.1f} ms  "
        f"({pairs} project-pipeline pairs, {jobs} jobs frozen, {ferrs} item errors for "
        "missing nodesets/parents)"
    )
    print(
        f"load + freeze, nodesets stubbed:     {best_total['stubbed'] * 1000:8.1f} ms  "
        f"({len(stub)} stubs; {sjobs} jobs frozen in {spairs} pairs, {serrs} item errors)"
    )
    print(
        f"freeze alone after gc.freeze():      {t_freeze_gc * 1000:8.1f} ms  "
        f"(stubbed: {t_freeze_stub_gc * 1000:.1f} ms)"
    )
    for label in ("as loaded", "stubbed"):
        total = best_total[label]
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
