"""Run every benchmark against one node and print a table; write the results as JSON.

    scripts/bench [--sizes 10000,100000] [--rss-sizes 20000,200000] [--out FILE]

Each measurement runs in a fresh child process (so peak RSS is its own); django-elasticsearch-
dsl runs in its own virtualenv (DEDSL_PYTHON). The databases are SQLite files, seeded once per
size under BENCH_DIR (default /tmp/djangoes-bench).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
BENCH_DIR = Path(os.environ.get("BENCH_DIR", "/tmp/djangoes-bench"))
DJANGOES_PYTHON = os.environ.get("DJANGOES_PYTHON", sys.executable)
DEDSL_PYTHON = os.environ.get("DEDSL_PYTHON", "/tmp/bench-dedsl/bin/python")


def task(name: str, rows: int, python: str = DJANGOES_PYTHON) -> dict[str, Any]:
    env = dict(os.environ, BENCH_DB=str(database(rows)), PYTHONPATH=str(ROOT))
    done = subprocess.run(
        [python, "-m", "tests.benchmarks.tasks", name, str(rows)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        raise SystemExit(f"{name} ({rows} rows) failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"  {name} {rows:,}: {json.dumps(result)[:150]}", file=sys.stderr)
    return result


def database(rows: int) -> Path:
    return BENCH_DIR / f"products-{rows}.sqlite3"


def seed(rows: int) -> None:
    if not database(rows).exists():
        BENCH_DIR.mkdir(parents=True, exist_ok=True)
        task("seed", rows)


#: The rebuild contenders, and the interpreter each runs in.
CONTENDERS = {
    "djangoes_rebuild": DJANGOES_PYTHON,
    "djangoes_rebuild_parallel": DJANGOES_PYTHON,
    "djangoes_rebuild_one_process": DJANGOES_PYTHON,
    "djangoes_rebuild_instances": DJANGOES_PYTHON,
    "raw_streaming_bulk": DJANGOES_PYTHON,
    "raw_parallel_bulk": DJANGOES_PYTHON,
    "dedsl_rebuild": DEDSL_PYTHON,
    "dedsl_rebuild_parallel": DEDSL_PYTHON,
}


def best_of_rounds(rows: int, runs: int) -> dict[str, dict[str, Any]]:
    """Run every contender once per round, ``runs`` rounds; keep each one's fastest run.

    Rounds, not one contender's runs back to back: whatever drifts during the benchmark (the
    node's JIT warming up, page cache, other load) touches every contender alike.
    """
    measured: dict[str, list[dict[str, Any]]] = {name: [] for name in CONTENDERS}
    for _ in range(runs):
        for name, python in CONTENDERS.items():
            measured[name].append(task(name, rows, python))
    return {
        name: min(results, key=lambda result: result["seconds"])
        for name, results in measured.items()
    }


def warm_up(rows: int) -> None:
    """Load the node before measuring (its JIT compiles the indexing path on first use)."""
    for name in ("raw_streaming_bulk", "djangoes_rebuild", "dedsl_rebuild"):
        for _ in range(2):
            task(name, rows, CONTENDERS[name])


def versions() -> dict[str, str]:
    import django
    import elasticsearch

    import djangoes

    server = djangoes.connections["default"].server_version() if _django() else "?"
    dedsl = subprocess.run(
        [DEDSL_PYTHON, "-c", "import importlib.metadata as m; print(m.version("
         "'django-elasticsearch-dsl'), m.version('elasticsearch'))"],
        capture_output=True, text=True, check=False,
    ).stdout.split()  # fmt: skip
    return {
        "python": platform.python_version(),
        "django": django.get_version(),
        "elasticsearch-py": elasticsearch.__versionstr__,
        "elasticsearch server": server,
        "django-elasticsearch-dsl": " with elasticsearch-py ".join(dedsl) or "not installed",
    }


def _django() -> bool:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.benchmarks.settings")
    import django

    django.setup()
    return True


def machine() -> dict[str, Any]:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "platform": platform.platform()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--rss-sizes", default="20000,200000")
    parser.add_argument(
        "--runs", type=int, default=2, help="rounds of rebuild timings (at most 2 above 20k rows)"
    )
    parser.add_argument("--out", default=str(ROOT / "tests/benchmarks/results.json"))
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    rss_sizes = [int(size) for size in args.rss_sizes.split(",")]
    for rows in {*sizes, *rss_sizes}:
        seed(rows)

    results: dict[str, Any] = {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "versions": versions(),
        "rebuild": {},
        "rss": {},
    }
    warm_up(min(sizes))
    for rows in sizes:
        runs = args.runs if rows <= 20_000 else min(args.runs, 2)
        row = best_of_rounds(rows, runs)
        for result in row.values():
            result["docs_per_s"] = result["docs"] / result["seconds"]
        results["rebuild"][rows] = row
    for rows in rss_sizes:
        measured = task("djangoes_rebuild", rows)
        results["rss"][rows] = measured["maxrss_mb"]
        results.setdefault("worker_rss", {})[rows] = measured["worker_maxrss_mb"]
    smallest = min(sizes)
    results["saves"] = {
        "djangoes": task("djangoes_saves", smallest),
        "django-elasticsearch-dsl": task("dedsl_saves", smallest, DEDSL_PYTHON),
    }
    results["search"] = task("search", smallest)
    Path(args.out).write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(table(results))
    print(f"\nwritten to {args.out}")


def table(results: dict[str, Any]) -> str:
    lines = ["rebuild throughput (docs/s; wall time includes index creation and swap)"]
    names = {
        "djangoes_rebuild": "djangoes search_index rebuild",
        "djangoes_rebuild_parallel": "djangoes rebuild --parallel 2",
        "djangoes_rebuild_one_process": "djangoes rebuild --processes 0",
        "djangoes_rebuild_instances": "djangoes, prepare_* methods (instances)",
        "raw_streaming_bulk": "raw helpers.streaming_bulk",
        "raw_parallel_bulk": "raw helpers.parallel_bulk (4 threads)",
        "dedsl_rebuild": "django-elasticsearch-dsl --rebuild",
        "dedsl_rebuild_parallel": "django-elasticsearch-dsl --rebuild --parallel",
    }
    sizes = list(results["rebuild"])
    lines.append(f"  {'':44}" + "".join(f"{int(rows):>14,}" for rows in sizes))
    for key, label in names.items():
        cells = "".join(f"{results['rebuild'][rows][key]['docs_per_s']:>14,.0f}" for rows in sizes)
        lines.append(f"  {label:44}{cells}")
    for rows in sizes:
        row = results["rebuild"][rows]
        ours = row["djangoes_rebuild"]["docs_per_s"]
        raw = max(row["raw_streaming_bulk"]["docs_per_s"], row["raw_parallel_bulk"]["docs_per_s"])
        dedsl = row["dedsl_rebuild"]["docs_per_s"]
        lines.append(
            f"  ratios at {int(rows):,}: djangoes / best raw = {ours / raw:.2f}, "
            f"djangoes / django-elasticsearch-dsl = {ours / dedsl:.2f}"
        )
        same = row["djangoes_rebuild_instances"]["docs_per_s"]
        lines.append(
            f"    with the same prepare_* Document as django-elasticsearch-dsl: "
            f"{same / raw:.2f} of best raw, {same / dedsl:.2f} of django-elasticsearch-dsl"
        )
    rss = results["rss"]
    (small, small_mb), (large, large_mb) = sorted((int(k), v) for k, v in rss.items())
    lines.append(
        f"peak RSS of a rebuild: {small:,} rows {small_mb:.0f} MB, {large:,} rows "
        f"{large_mb:.0f} MB (ratio {large_mb / small_mb:.2f})"
    )
    workers = {int(k): v for k, v in results.get("worker_rss", {}).items()}
    if workers.get(small):
        lines.append(
            f"  largest fill worker: {small:,} rows {workers[small]:.0f} MB, {large:,} rows "
            f"{workers[large]:.0f} MB (ratio {workers[large] / workers[small]:.2f})"
        )
    lines.append("1,000 saves in one transaction:")
    for name, result in results["saves"].items():
        lines.append(
            f"  {name:26} {result['requests']:>5} HTTP requests, "
            f"{result['seconds'] * 1000:>8,.0f} ms"
        )
    search = results["search"]
    lines.append(
        f"search round trip (median / p95): Doc.search() {search['document']['median_ms']:.2f} / "
        f"{search['document']['p95_ms']:.2f} ms, raw client {search['client']['median_ms']:.2f} / "
        f"{search['client']['p95_ms']:.2f} ms"
    )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
