"""The outbox drainer (``search_index sync``): one drain loop, and two at once.

    DJANGOES_TEST_URL=... BENCH_DATABASE_URL=postgres://... \\
        python -m tests.benchmarks.drain [--operations 20000] [--batch-size 500] [--runs 2]

Run by ``scripts/bench --drain``. Seeds ``--operations`` products (as the latency benchmark)
and records one outbox operation per product, then times ``outbox.drain()`` sending them all:
in one loop (what ``search_index sync`` and ``sync --watch`` do), and in two loops at once in
two threads (claims skip each other's rows: ``FOR UPDATE SKIP LOCKED``), which overlaps one
loop's Elasticsearch wait with the other's database work. Two batches in flight is what an
asyncio drainer would add over the sync one: the database work of a batch (claim, re-read the
rows, settle) is synchronous in both, so only the bulk request could wait on the event loop.

Prints one JSON line: per way, operations per second, the share of the wall time the process
spent on its own CPU, and CPU milliseconds per 1,000 operations (the best of ``--runs``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from typing import Any

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.benchmarks.latency_settings")


def record_all() -> int:
    from djangoes_dsl import outbox
    from tests.apps.shop.models import Product
    from tests.apps.shop.search_indices import ProductDocument

    pks = list(Product.objects.values_list("pk", flat=True))
    outbox.record(outbox.Entry(ProductDocument, pk) for pk in pks)
    return len(pks)


def drain_in(loops: int, batch_size: int) -> int:
    """Drain the outbox with ``loops`` drain loops at once; return the operations sent."""
    from django.db import connections

    from djangoes_dsl import outbox

    sent = [0] * loops

    def loop(n: int) -> None:
        try:
            sent[n] = outbox.drain("default", batch_size=batch_size).sent
        finally:
            connections.close_all()

    threads = [threading.Thread(target=loop, args=(n,)) for n in range(loops)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(sent)


def measure(loops: int, batch_size: int) -> dict[str, Any]:
    from djangoes_dsl.models import PendingOperation

    PendingOperation.objects.all().delete()
    operations = record_all()
    started, cpu = time.perf_counter(), time.process_time()
    sent = drain_in(loops, batch_size)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    assert sent == operations, (sent, operations)
    assert not PendingOperation.objects.exists()
    return {
        "operations_per_second": round(operations / seconds),
        "cpu_share": round(cpu / seconds, 2),
        "cpu_ms_per_1000": round(cpu / operations * 1_000_000),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--operations", type=int, default=20_000)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--runs", type=int, default=2)
    options = parser.parse_args()
    django.setup()
    from tests.benchmarks.latency import seed

    seed(options.operations)
    results: dict[str, Any] = {"operations": options.operations}
    for loops in (1, 2):
        runs = [measure(loops, options.batch_size) for _ in range(options.runs)]
        results[f"{loops}_loop{'s' if loops > 1 else ''}"] = best = max(
            runs, key=lambda run: run["operations_per_second"]
        )
        print(f"  {loops} loop(s): {best}", file=sys.stderr)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
