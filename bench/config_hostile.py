"""Benchmark: what a hostile ``.zuul.yaml`` costs, beside a real tenant.

Run: ``/opt/lockgate/bin/python bench/config_hostile.py [--repeat N] [--corpus DIR]``

Each case is a repository folder checked by ``lockgate config check`` (the
same reading, parsing and layout building the scheduler does for a proposed
change).  Every check runs in a fresh Python process, so that its peak
memory is its own: the figure is the growth of the process's maximum RSS
during the check (``ru_maxrss`` after minus before), and the time is the
check's CPU time alone (``time.process_time``: the machine is shared, and
CPU time is what a case costs everyone else; the interpreter start-up,
imports and one small warm-up check are done before the clock starts).  In the same run, the corpus ``openstack`` tenant (six real
repositories, ``../shared/corpus/zuul-config``) is checked the same way:
the floor is that no hostile case takes longer than that whole tenant.

Cases (sizes at the default ``lockgate.config.limits``):

* ``alias-bomb``: ten nested anchors, each a list of ten aliases to the one
  before (592 bytes; 10^10 leaves if expanded);
* ``alias-rows``: a 500-entry anchored list reused by 300 items;
* ``alias-self``: an anchor containing an alias to itself;
* ``flat-list``: one job whose vars hold a flow list filling the whole
  per-file limit (one YAML node per two bytes: the most nodes a file can
  hold);
* ``tiny-jobs``: the per-file limit filled with one-line jobs (the most
  objects a file can hold);
* ``heavy-jobs``: the per-file limit filled with jobs that each have a
  parent, variables, a playbook and a nodeset of their own;
* ``branch-full``: as many ``flat-list`` files as the per-branch limit lets
  in, plus one more (several files: the floor is about one);
* ``deep-chain``: 3,000 jobs each the parent of the next;
* ``cycle-ring``: 1,000 jobs whose parents form one cycle;
* ``deep-nesting``: 5,000 nested flow lists, and 3,000 nested mappings;
* ``duplicate-keys``: 2,000 jobs each with a key written twice;
* ``huge-file``: a 64 MiB file (not parsed: over the limit);
* ``links-and-fifo``: symbolic links to ``/dev/zero``, ``/etc/passwd`` and
  ``/etc``, and a FIFO named ``x.yaml``.

It prints one line per case: CPU time (median of ``--repeat`` runs), peak
RSS growth (the largest of the runs), the errors reported, and the ratio to
the corpus tenant's time; then the worst case of one file (``branch-full``
spreads over several files, up to the per-branch bound, and is shown apart).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CORPUS = REPO_ROOT.parent / "shared" / "corpus" / "zuul-config"
CORPUS_REPOS = {
    "openstack/project-config": "project-config",
    "opendev/base-jobs": "base-jobs",
    "zuul/zuul-jobs": "zuul-jobs",
    "openstack/openstack-zuul-jobs": "openstack-zuul-jobs",
    "openstack/devstack": "devstack",
    "openstack/nova": "nova",
}
BASE = "- job:\n    name: base\n    parent: null\n    run: base.yaml\n"

# Run in the child: imports and one small check first (so lazy imports are
# paid before), then the CPU clock and the RSS around check.run.
CHILD = """
import json, resource, sys, time
from lockgate.config import check
argv, warm = json.loads(sys.argv[1]), sys.argv[2]
check.run([warm])
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.process_time()
code, result, usage = check.run(argv)
elapsed = time.process_time() - start
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
errors = result.error_count if result else None
warnings = sum(t.warning_count for t in result.tenants) if result else None
print(json.dumps({"seconds": elapsed, "rss_kib": after - before, "code": code,
                  "errors": errors, "warnings": warnings}))
"""


def _write(folder: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return folder


def alias_bomb(levels: int = 10, fanout: int = 10) -> str:
    lines = ["- job:", "    name: bomb", "    vars:"]
    lines.append(f"      a0: &a0 [{','.join(['x'] * fanout)}]")
    for i in range(1, levels):
        lines.append(f"      a{i}: &a{i} [{','.join([f'*a{i - 1}'] * fanout)}]")
    return "\n".join(lines) + "\n"


def flat_list(size: int) -> str:
    head = "- job:\n    name: flat\n    vars:\n      k: ["
    count = (size - len(head) - 3) // 2
    return head + ",".join(["x"] * count) + "]\n"


def tiny_jobs(size: int) -> str:
    out: list[str] = []
    total = 0
    n = 0
    while True:
        line = f"- job: {{name: j{n}}}\n"
        if total + len(line) > size:
            return "".join(out)
        out.append(line)
        total += len(line)
        n += 1


def heavy_jobs(size: int) -> str:
    out: list[str] = []
    total = 0
    n = 0
    while True:
        line = (
            f"- job: {{name: h{n}, parent: {f'h{n - 1}' if n % 8 else 'base'}, "
            f"vars: {{k{n}: v}}, run: r{n}.yaml, nodeset: {{nodes: [{{name: n, label: l}}]}}}}\n"
        )
        if total + len(line) > size:
            return "".join(out)
        out.append(line)
        total += len(line)
        n += 1


def make_cases(root: Path) -> dict[str, Callable[[], list[str]]]:
    """Case name -> a function building its folder and returning check's argv."""
    from lockgate.config.limits import DEFAULT_LIMITS

    file_limit = DEFAULT_LIMITS.max_file_bytes
    branch_limit = DEFAULT_LIMITS.max_branch_bytes

    def folder(name: str, files: dict[str, str]) -> list[str]:
        return [str(_write(root / name, {"zuul.d/base.yaml": BASE, **files}))]

    def links_and_fifo() -> list[str]:
        repo = _write(root / "links", {"zuul.d/base.yaml": BASE})
        os.symlink("/dev/zero", repo / "zuul.d" / "zero.yaml")
        os.symlink("/etc/passwd", repo / "zuul.d" / "passwd.yaml")
        os.symlink("/etc", repo / "zuul.d" / "etc")
        os.mkfifo(repo / "zuul.d" / "x.yaml")
        return [str(repo)]

    def huge_file() -> list[str]:
        repo = _write(root / "huge", {"zuul.d/base.yaml": BASE})
        with open(repo / "zuul.d" / "huge.yaml", "wb") as handle:
            handle.write(b"- job: {name: huge}\n")
            handle.truncate(64 * 1024 * 1024)
        return [str(repo)]

    big = "[" + ", ".join(f"v{i}" for i in range(500)) + "]"
    rows = f"- job:\n    name: a\n    vars: {{k: &big {big}}}\n" + "".join(
        f"- job: {{name: r{i}, vars: {{k: *big}}}}\n" for i in range(300)
    )
    chain = "".join(
        f"- job:\n    name: c{i}\n    parent: {f'c{i - 1}' if i else 'base'}\n" for i in range(3000)
    )
    ring = "".join(f"- job:\n    name: r{i}\n    parent: r{(i + 1) % 1000}\n" for i in range(1000))
    nesting = "- job: {name: n, vars: {k: " + "[" * 5000 + "]" * 5000 + "}}\n"
    nested_maps = "- job:\n    name: m\n    vars:\n" + "".join(
        "  " * (i + 3) + f"k{i}:\n" for i in range(3000)
    )
    duplicates = "".join(
        f"- job:\n    name: d{i}\n    run: a.yaml\n    run: b.yaml\n" for i in range(2000)
    )
    flat = flat_list(file_limit - 16)
    files_in_branch = branch_limit // len(flat) + 1
    return {
        "alias-bomb": lambda: folder("bomb", {"zuul.d/bomb.yaml": alias_bomb()}),
        "alias-rows": lambda: folder("rows", {"zuul.d/rows.yaml": rows}),
        "alias-self": lambda: folder(
            "self", {"zuul.d/self.yaml": "- job: &j {name: a, vars: {s: *j}}\n"}
        ),
        "flat-list": lambda: folder("flat", {"zuul.d/flat.yaml": flat}),
        "tiny-jobs": lambda: folder("tiny", {"zuul.d/tiny.yaml": tiny_jobs(file_limit - 16)}),
        "heavy-jobs": lambda: folder("heavy", {"zuul.d/heavy.yaml": heavy_jobs(file_limit - 16)}),
        "branch-full": lambda: folder(
            "branch", {f"zuul.d/f{n:02}.yaml": flat for n in range(files_in_branch)}
        ),
        "deep-chain": lambda: folder("chain", {"zuul.d/chain.yaml": chain}),
        "cycle-ring": lambda: folder("ring", {"zuul.d/ring.yaml": ring}),
        "deep-nesting": lambda: folder(
            "nesting", {"zuul.d/flow.yaml": nesting, "zuul.d/maps.yaml": nested_maps}
        ),
        "duplicate-keys": lambda: folder("dups", {"zuul.d/dups.yaml": duplicates}),
        "huge-file": huge_file,
        "links-and-fifo": links_and_fifo,
    }


def corpus_argv(root: Path, corpus: Path) -> list[str]:
    repos = root / "corpus"
    for name, folder in CORPUS_REPOS.items():
        shutil.copytree(corpus / folder, repos / name)
    main = repos / "openstack/project-config/zuul/main.yaml"
    return ["--tenant-config", str(main), "--tenant", "openstack", "--repos", str(repos)]


def run_child(argv: list[str], warm: Path) -> dict[str, float]:
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, json.dumps(argv), str(warm)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=REPO_ROOT,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"check failed for {argv}: {proc.stderr[-2000:]}")
    return json.loads(proc.stdout.splitlines()[-1])  # type: ignore[no-any-return]


def measure(argv: list[str], repeat: int, warm: Path) -> dict[str, float]:
    runs = [run_child(argv, warm) for _ in range(repeat)]
    out = dict(runs[-1])
    out["seconds"] = statistics.median(r["seconds"] for r in runs)
    out["rss_kib"] = max(r["rss_kib"] for r in runs)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    args = parser.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="lockgate-hostile-"))
    try:
        warm = _write(root / "warm", {"zuul.yaml": BASE + "- job: {name: w, vars: &a {k: 1}}\n"})
        corpus = measure(corpus_argv(root, args.corpus), args.repeat, warm)
        print(
            f"{'corpus openstack tenant':24} {corpus['seconds'] * 1000:8.0f} ms "
            f"{corpus['rss_kib'] / 1024:7.1f} MiB  errors {corpus['errors']}"
        )
        worst = ("", 0.0, 0.0)
        several_files = {"branch-full"}
        for name, build in make_cases(root).items():
            figures = measure(build(), args.repeat, warm)
            ratio = figures["seconds"] / corpus["seconds"]
            print(
                f"{name:24} {figures['seconds'] * 1000:8.0f} ms "
                f"{figures['rss_kib'] / 1024:7.1f} MiB  errors {figures['errors']:<5} "
                f"x{ratio:.2f} of the corpus"
            )
            if name not in several_files and ratio > worst[1]:
                worst = (name, ratio, figures["rss_kib"] / 1024)
        print(
            f"worst single-file case: {worst[0]} at x{worst[1]:.2f} the corpus tenant's time, "
            f"{worst[2]:.1f} MiB peak growth (floor: at most x1.00)"
        )
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
