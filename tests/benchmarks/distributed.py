"""Distributed rebuild throughput with 1 and 2 worker processes (PostgreSQL, Celery on Redis).

    DJANGOES_TEST_URL=... BENCH_DATABASE_URL=postgres://... DJANGOES_TEST_REDIS_URL=... \\
        python -m tests.benchmarks.distributed [--rows 100000] [--ranges 16] [--runs 2]

Run by ``scripts/bench --distributed``. Seeds ``--rows`` products (as the latency benchmark),
then times the whole zero-downtime rebuild — ``DistributedRebuild("products").run()`` with
``--ranges`` ranges on 1 and on 2 Celery worker processes (and on 2 django-tasks-db
``db_worker`` processes), and the in-process ``Rebuild(processes=0)`` for reference; each the
best of ``--runs``. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from collections.abc import Iterator
from typing import Any

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.benchmarks.latency_settings")


@contextlib.contextmanager
def worker_processes(engine: str, count: int) -> Iterator[None]:
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
            yield
    finally:
        for worker in started:
            worker.stop()


def timed(run: Any, rows: int) -> dict[str, Any]:
    started = time.perf_counter()
    run()
    seconds = time.perf_counter() - started
    return {"seconds": round(seconds, 2), "docs_per_second": round(rows / seconds)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--ranges", type=int, default=16)
    parser.add_argument("--runs", type=int, default=2)
    options = parser.parse_args()
    django.setup()
    from djangoes_dsl.distributed import DistributedRebuild
    from djangoes_dsl.rebuild import Rebuild
    from tests.apps.shop.models import Product
    from tests.benchmarks.latency import seed

    seed(options.rows)
    rows = Product.objects.count()
    results: dict[str, Any] = {"rows": rows, "ranges": options.ranges}

    def best(name: str, run: Any) -> None:
        measured = [timed(run, rows) for _ in range(options.runs)]
        results[name] = min(measured, key=lambda result: result["seconds"])
        print(f"  {name}: {results[name]}", file=sys.stderr)

    best("in_process", lambda: Rebuild("products", processes=0).run())
    for engine, count in (("celery", 1), ("celery", 2), ("django_tasks", 2)):
        with worker_processes(engine, count):
            best(
                f"{engine}_{count}_workers",
                lambda: DistributedRebuild("products", ranges=options.ranges).run(),
            )
    print(json.dumps(results))


if __name__ == "__main__":
    main()
