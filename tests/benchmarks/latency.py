"""What indexing adds to a save, how soon a commit is searchable, how fast a backlog drains
(PostgreSQL).

    DJANGOES_TEST_URL=... BENCH_DATABASE_URL=postgres://... DJANGOES_TEST_REDIS_URL=... \\
        python -m tests.benchmarks.latency [--transactions 1000] [--backlog 100000] \\
        [--delays 100] [--node-pidfile PATH]

Run by ``scripts/bench --latency``. Prints one JSON line:

- per mode (no indexing, inline, durable, django_tasks, celery) the median and p99 of save +
  commit over ``--transactions`` transactions (one product saved per transaction, as a web
  request would), with the database time per transaction of the save itself and of the outbox
  statements; the queued modes with a real worker running (django-tasks-db's ``db_worker``
  polling every 0.1 s; a Celery worker on Redis);
- the same with the node FROZEN (SIGSTOP to the PID in ``--node-pidfile``): no indexing and
  the queued modes over ``--transactions``, in interleaved rounds, with both workers running
  (and waiting on the node); inline and durable over 10 transactions (each waits its request
  timeout, 2 s here);
- per mode the delay from commit to the document in Elasticsearch (a realtime GET) and to
  searchable (a search, without forcing a refresh), over ``--delays`` transactions;
- the drain rate of a backlog of ``--backlog`` pending operations.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
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


QUEUED = ("django_tasks", "celery")
MODES = ("none", "inline", "durable", *QUEUED)


@contextlib.contextmanager
def settings_of(name: str) -> Iterator[None]:
    """The settings of mode ``name``."""
    from django.test import override_settings

    settings = {
        "none": {"DJANGOES_SIGNAL_PROCESSOR": None},
        "inline": {},
        "durable": {"DJANGOES_DURABLE": True},
        "django_tasks": {"DJANGOES_DELIVERY": "django_tasks"},
        "celery": {"DJANGOES_DELIVERY": "celery"},
    }[name]
    with override_settings(**settings):
        yield


@contextlib.contextmanager
def mode(name: str) -> Iterator[None]:
    """The settings of mode ``name``; a queued mode also runs its worker meanwhile."""
    with settings_of(name), worker(name):
        yield


@contextlib.contextmanager
def worker(name: str) -> Iterator[None]:
    """Run a real worker of the queued mode ``name`` (none for the other modes)."""
    if name not in QUEUED:
        yield
        return
    from tests.settings import ES_URL
    from tests.workers import TaskWorker

    if name == "celery":
        import tests.celery_app  # noqa: F401  # this process enqueues to its broker
    process = TaskWorker(
        name, ES_URL, settings_module="tests.benchmarks.latency_settings", interval=0.1
    ).start()
    try:
        yield
        wait_until_delivered()
    finally:
        process.stop()


def wait_until_delivered(timeout: float = 600) -> None:
    """Wait until the outbox is empty; drain what waits for a retry (as the drainer would)."""
    from djangoes_dsl import outbox
    from djangoes_dsl.models import PendingOperation

    started = time.monotonic()
    while PendingOperation.objects.exists():
        if time.monotonic() - started > timeout:
            raise SystemExit(f"The outbox was not delivered within {timeout:.0f}s.")
        if time.monotonic() - started > 5:
            outbox.drain()
        time.sleep(0.05)


@contextlib.contextmanager
def frozen(pidfile: str) -> Iterator[None]:
    """SIGSTOP the node (by the PID es-node wrote) meanwhile."""
    with open(pidfile) as file:
        pid = int(file.read().strip())
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


@contextlib.contextmanager
def impatient() -> Iterator[None]:
    """This process's client gives up after 2 s (inline writes to a frozen node)."""
    from django.conf import settings
    from django.test import override_settings

    servers = {
        alias: {**server, "PARAMS": {**server.get("PARAMS", {}), "request_timeout": 2}}
        for alias, server in settings.ES_SERVERS.items()
    }
    servers["default"]["PARAMS"]["max_retries"] = 0
    with override_settings(ES_SERVERS=servers):
        yield


def measure(
    name: str, transactions: int, latencies: list[float], timer: QueryTimer, label: str = ""
) -> None:
    """Save one product per transaction, ``transactions`` times; add each save + commit."""
    from django.db import connection, transaction

    from tests.apps.shop.models import Product

    pks = list(Product.objects.order_by("pk").values_list("pk", flat=True)[:transactions])
    with connection.execute_wrapper(timer):
        for n, pk in enumerate(pks):
            started = time.perf_counter()
            with transaction.atomic():
                product = Product.objects.get(pk=pk)
                product.title = f"{label or name} {n}"
                product.save()
            latencies.append(time.perf_counter() - started)


def summary(latencies: list[float], timer: QueryTimer) -> dict[str, Any]:
    per = len(latencies)
    return {
        "transactions": per,
        "median_ms": round(1000 * statistics.median(latencies), 3),
        "p99_ms": round(1000 * percentile(latencies, 0.99), 3),
        "save_db_ms": round(1000 * timer.seconds.get("update", 0.0) / per, 3),
        "outbox_insert_db_ms": round(1000 * timer.seconds.get("outbox insert", 0.0) / per, 3),
        "outbox_delete_db_ms": round(1000 * timer.seconds.get("outbox delete", 0.0) / per, 3),
    }


def save_latency(name: str, transactions: int, label: str = "") -> dict[str, Any]:
    latencies: list[float] = []
    timer = QueryTimer()
    measure(name, transactions, latencies, timer, label)
    return summary(latencies, timer)


def frozen_rounds(pidfile: str, transactions: int, rounds: int = 5) -> dict[str, Any]:
    """No indexing and the queued modes with the node frozen, in interleaved rounds (so that
    the machine's load drifts alike for all), the queued modes' workers running."""
    names = ["none", *QUEUED]
    latencies: dict[str, list[float]] = {name: [] for name in names}
    timers = {name: QueryTimer() for name in names}
    with worker("django_tasks"), worker("celery"):
        for name in names:
            with settings_of(name):
                save_latency(name, 20)  # warm up, before the freeze
        with frozen(pidfile):
            for _ in range(rounds):
                for name in names:
                    with settings_of(name):
                        measure(name, transactions // rounds, latencies[name], timers[name])
    return {f"frozen_{name}": summary(latencies[name], timers[name]) for name in names}


def delays(name: str, transactions: int) -> dict[str, Any]:
    """Commit → in Elasticsearch (realtime GET) and commit → searchable, per transaction."""
    from django.db import transaction

    from djangoes import connections
    from tests.apps.shop.models import Product
    from tests.apps.shop.search_indices import ProductDocument

    client = connections["default"].client
    index = ProductDocument.get_index_name()
    pks = list(Product.objects.order_by("-pk").values_list("pk", flat=True)[:transactions])
    stored, searchable = [], []
    for n, pk in enumerate(pks):
        title = f"delay {name} {n} {time.time_ns()}"
        with transaction.atomic():
            product = Product.objects.get(pk=pk)
            product.title = title
            product.save()
        committed = time.perf_counter()
        while True:
            found = client.options(ignore_status=404).get(index=index, id=str(pk))
            if found.body.get("_source", {}).get("title") == title:
                break
            time.sleep(0.002)
        stored.append(time.perf_counter() - committed)
        query = {"term": {"title.raw": title}}
        while not client.search(index=index, query=query, size=0)["hits"]["total"]["value"]:
            time.sleep(0.005)
        searchable.append(time.perf_counter() - committed)
    return {
        "transactions": len(pks),
        "stored_median_ms": round(1000 * statistics.median(stored), 1),
        "stored_p99_ms": round(1000 * percentile(stored, 0.99), 1),
        "searchable_median_ms": round(1000 * statistics.median(searchable), 1),
        "searchable_p99_ms": round(1000 * percentile(searchable, 0.99), 1),
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
    parser.add_argument("--delays", type=int, default=100)
    parser.add_argument("--node-pidfile", default="")
    parser.add_argument("--modes", default=",".join(MODES))
    options = parser.parse_args()
    django.setup()
    modes = options.modes.split(",")
    seed(max(options.transactions, options.backlog))
    results: dict[str, Any] = {}

    def report(key: str, value: Any) -> None:
        results[key] = value
        print(f"  {key}: {value}", file=sys.stderr)

    for name in modes:
        with mode(name):
            save_latency(name, 50)  # warm up
            if options.transactions:
                report(name, save_latency(name, options.transactions))
            if name != "none" and options.delays:
                wait_until_delivered()  # not behind the backlog of the saves above
                report(f"delay_{name}", delays(name, options.delays))
    if options.node_pidfile and options.transactions:
        for name, value in frozen_rounds(options.node_pidfile, options.transactions).items():
            report(name, value)
        for name in ("inline", "durable"):  # each commit waits for its request timeout
            with mode(name), impatient(), frozen(options.node_pidfile):
                report(f"frozen_{name}", save_latency(name, 10, f"frozen {name}"))
        wait_until_delivered()  # what the frozen inline and durable saves left
    if options.backlog:
        report("drain", drain_rate(options.backlog))
    print(json.dumps(results))


if __name__ == "__main__":
    main()
