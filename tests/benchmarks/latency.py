"""What indexing adds to a save, and how fast a backlog drains (PostgreSQL).

    DJANGOES_TEST_URL=... BENCH_DATABASE_URL=postgres://... \\
        python -m tests.benchmarks.latency [--transactions 1000] [--backlog 100000]

Run by ``scripts/bench --latency``. Prints one JSON line: per mode (no indexing, inline,
durable) the median and p99 of save + commit over ``--transactions`` transactions (one
product saved per transaction, as a web request would), the database time per transaction of
the save itself and of the outbox insert (durable), and the drain rate of a backlog of
``--backlog`` pending operations.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import time
from collections.abc import Iterator
from typing import Any

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.benchmarks.latency_settings")


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


class QueryTimer:
    """Database time spent per kind of statement (``execute_wrapper``)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            kind = sql.split()[0].lower()
            if "djangoes_dsl_pendingoperation" in sql:
                kind = f"outbox {kind}"
            self.seconds[kind] = self.seconds.get(kind, 0.0) + time.perf_counter() - started


@contextlib.contextmanager
def mode(name: str) -> Iterator[None]:
    from django.test import override_settings

    settings = {
        "none": {"DJANGOES_SIGNAL_PROCESSOR": None},
        "inline": {},
        "durable": {"DJANGOES_DURABLE": True},
    }[name]
    with override_settings(**settings):
        yield


def save_latency(name: str, transactions: int) -> dict[str, Any]:
    from django.db import connection, transaction

    from tests.apps.shop.models import Product

    pks = list(Product.objects.order_by("pk").values_list("pk", flat=True)[:transactions])
    timer = QueryTimer()
    latencies = []
    with mode(name), connection.execute_wrapper(timer):
        for n, pk in enumerate(pks):
            started = time.perf_counter()
            with transaction.atomic():
                product = Product.objects.get(pk=pk)
                product.title = f"{name} {n}"
                product.save()
            latencies.append(time.perf_counter() - started)
    per = len(latencies)
    return {
        "median_ms": round(1000 * statistics.median(latencies), 3),
        "p99_ms": round(1000 * percentile(latencies, 0.99), 3),
        "save_db_ms": round(1000 * timer.seconds.get("update", 0.0) / per, 3),
        "outbox_insert_db_ms": round(1000 * timer.seconds.get("outbox insert", 0.0) / per, 3),
        "outbox_delete_db_ms": round(1000 * timer.seconds.get("outbox delete", 0.0) / per, 3),
    }


def drain_rate(backlog: int) -> dict[str, Any]:
    from djangoes_dsl import outbox
    from djangoes_dsl.models import PendingOperation
    from tests.apps.shop.models import Product
    from tests.apps.shop.search_indices import ProductDocument

    PendingOperation.objects.all().delete()
    pks = list(Product.objects.order_by("pk").values_list("pk", flat=True)[:backlog])
    outbox.record((outbox.Entry(ProductDocument, pk) for pk in pks), "default")
    started = time.perf_counter()
    result = outbox.drain(batch_size=1000)
    seconds = time.perf_counter() - started
    assert result.sent == len(pks), result
    return {
        "operations": len(pks),
        "seconds": round(seconds, 2),
        "per_second": round(len(pks) / seconds),
    }


def seed(rows: int) -> None:
    from django.core.management import call_command

    from djangoes_dsl import indexing_paused
    from tests.apps.shop.models import Category, Product

    call_command("migrate", verbosity=0)
    missing = rows - Product.objects.count()
    if missing > 0:
        shoes = Category.objects.get_or_create(name="shoes")[0]
        with indexing_paused():
            Product.objects.bulk_create(
                (
                    Product(sku=f"L-{n}", title=f"Product {n}", category=shoes)
                    for n in range(Product.objects.count(), rows)
                ),
                batch_size=5000,
            )
    call_command("search_index", "rebuild", "products", "--no-input", verbosity=0)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--transactions", type=int, default=1000)
    parser.add_argument("--backlog", type=int, default=100_000)
    options = parser.parse_args()
    django.setup()
    seed(max(options.transactions, options.backlog))
    results: dict[str, Any] = {}
    for name in ("none", "inline", "durable"):
        save_latency(name, 50)  # warm up
        results[name] = save_latency(name, options.transactions)
        print(f"  save + commit, {name}: {results[name]}", file=sys.stderr)
    results["drain"] = drain_rate(options.backlog)
    print(f"  drain: {results['drain']}", file=sys.stderr)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
