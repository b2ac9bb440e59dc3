"""Distributed rebuild throughput with 1 and 2 worker processes (PostgreSQL, Celery on Redis).

    DJANGOES_TEST_URL=... BENCH_DATABASE_URL=postgres://... DJANGOES_TEST_REDIS_URL=... \\
        python -m tests.benchmarks.distributed [--rows 100000] [--ranges 16] [--runs 2]

Run by ``scripts/bench --distributed [--cluster]``. Seeds ``--rows`` products (as the latency
benchmark), then times the whole zero-downtime rebuild — ``DistributedRebuild("products")``
with ``--ranges`` ranges on 1 and on 2 Celery worker processes (and on 2 django-tasks-db
``db_worker`` processes), and the in-process ``Rebuild(processes=0)`` for reference; each the
best of ``--runs``.

Each run records its steps' wall time (``start``: lock and new index; ``fill``; ``finish``:
settings, catch-up, swap, clean-up) and the CPU every process spent in it: the workers, the
coordinator (this process), the node or the cluster's members (BENCH_NODE_PIDFILE), the
database server with its sessions (BENCH_PG_PIDFILE), and the machine's other work. From the
run's own CPU per document, the model of :mod:`tests.benchmarks.model` predicts the fill's
rate on this host (``Costs.shared_host``); ``fill / model`` is the measured rate against it.
Prints one JSON line.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import sys
import time
from collections.abc import Iterator
from typing import Any

import django

from tests.benchmarks.hygiene import OTHERS_LIMIT, busy_seconds, pidfile_pid, tree_seconds
from tests.benchmarks.model import Costs

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.benchmarks.latency_settings")


@contextlib.contextmanager
def worker_processes(engine: str, count: int) -> Iterator[list[int]]:
    """Start ``count`` workers of ``engine``; yield their process ids."""
    from django.test import override_settings

    from tests.settings import ES_URL
    from tests.workers import TaskWorker

    if engine == "celery":
        import tests.celery_app  # noqa: F401  # the coordinator enqueues to its broker
    started = [
        TaskWorker(
            engine,
            ES_URL,
            name=f"bench{n}",
            settings_module="tests.benchmarks.latency_settings",
            interval=0.1,
        ).start()
        for n in range(count)
    ]
    try:
        with override_settings(DJANGOES_DELIVERY=engine):
            yield [worker.pid for worker in started]
    finally:
        for worker in started:
            worker.stop()


class Accounts:
    """CPU seconds spent so far by each part of a run (see the module's docstring)."""

    def __init__(self, workers: list[int]) -> None:
        self.workers = workers
        self.nodes = [
            pidfile_pid(path)
            for path in os.environ.get("BENCH_NODE_PIDFILE", "").split(",")
            if path
        ]
        self.database = pidfile_pid(os.environ.get("BENCH_PG_PIDFILE"))

    def read(self) -> dict[str, float]:
        own = resource.getrusage(resource.RUSAGE_SELF)
        return {
            "workers": tree_seconds(self.workers),
            "coordinator": own.ru_utime + own.ru_stime,
            "node": tree_seconds(self.nodes),
            "database": tree_seconds([self.database]),
            "busy": busy_seconds(),
        }


def timed(job: Any, rows: int, workers: list[int]) -> dict[str, Any]:
    """Run ``job`` (a Rebuild) step by step; its steps' seconds, and CPU per document."""
    accounts = Accounts(workers)
    load_before = os.getloadavg()
    marks = [accounts.read()]  # before the run, then after each step
    steps: dict[str, float] = {}
    try:
        for step in ("start", "fill", "finish"):
            at = time.perf_counter()
            getattr(job, step)()
            steps[step] = round(time.perf_counter() - at, 3)
            marks.append(accounts.read())
    except BaseException:
        job.abort()
        raise
    seconds = sum(steps.values())
    spent = {key: marks[3][key] - marks[0][key] for key in marks[0]}
    filled = {key: marks[2][key] - marks[1][key] for key in marks[0]}
    others = max(0.0, spent["busy"] - sum(v for k, v in spent.items() if k != "busy")) / seconds
    # The fill's CPU per document, by tier: the loader is the workers' (in process: the
    # coordinator's own) and the coordinator's.
    loader = filled["workers"] + filled["coordinator"]
    costs = Costs(
        loader=loader * 1e6 / rows,
        node=filled["node"] * 1e6 / rows,
        database=filled["database"] * 1e6 / rows,
    )
    cores = os.cpu_count() or 1
    model = costs.shared_host(max(1, len(workers)), cores)
    fill_rate = rows / steps["fill"]
    return {
        "seconds": round(seconds, 2),
        "docs_per_second": round(rows / seconds),
        "steps_s": steps,
        "fill_docs_per_second": round(fill_rate),
        "cpu_s": {key: round(value, 2) for key, value in spent.items() if key != "busy"},
        "fill_us_per_doc": {
            "workers": round(filled["workers"] * 1e6 / rows, 1),
            "coordinator": round(filled["coordinator"] * 1e6 / rows, 1),
            "node": round(costs.node, 1),
            "database": round(costs.database, 1),
        },
        "fill_cores_busy": round(
            (filled["workers"] + filled["coordinator"] + filled["node"] + filled["database"])
            / steps["fill"],
            2,
        ),
        "model_docs_per_second": round(model),
        "fill_vs_model": round(fill_rate / model, 2),
        # As tests/benchmarks/hygiene.py, with the workers' and every member's CPU as the
        # bench's own.
        "machine": {
            "others_core_share": round(others, 3),
            "load_before": [round(value, 2) for value in load_before],
            "load_after": [round(value, 2) for value in os.getloadavg()],
            "loaded": others > OTHERS_LIMIT,
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--ranges", type=int, default=16)
    parser.add_argument("--runs", type=int, default=2)
    options = parser.parse_args()
    django.setup()
    from django.conf import settings

    from djangoes_dsl.distributed import DistributedRebuild
    from djangoes_dsl.rebuild import Rebuild
    from tests.apps.shop.models import Product
    from tests.benchmarks.latency import seed

    seed(options.rows)
    rows = Product.objects.count()
    results: dict[str, Any] = {
        "rows": rows,
        "ranges": options.ranges,
        "nodes": len(settings.ES_SERVERS["default"]["HOSTS"]),
        "primaries": settings.ES_INDICES["products"]["SETTINGS"]["number_of_shards"],
        "cores": os.cpu_count(),
    }

    def best(name: str, make: Any, workers: list[int]) -> None:
        measured = [timed(make(), rows, workers) for _ in range(options.runs)]
        results[name] = min(measured, key=lambda result: result["seconds"])
        print(f"  {name}: {json.dumps(results[name])}", file=sys.stderr)

    best("in_process", lambda: Rebuild("products", processes=0), [])
    for engine, count in (("celery", 1), ("celery", 2), ("django_tasks", 2)):
        with worker_processes(engine, count) as pids:
            best(
                f"{engine}_{count}_workers",
                lambda: DistributedRebuild("products", ranges=options.ranges),
                pids,
            )
    print(json.dumps(results))


if __name__ == "__main__":
    main()
