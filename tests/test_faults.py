"""The fault suite: a real node killed, frozen and restarted; concurrent writers.

Every scenario ends with an exact comparison of the database and the index (ids, and the
title, category and tags of each row) after recovery and one ``search_index sync``:
0 lost, 0 stale, 0 ghosts. The figures are printed (run with ``-s`` to see them).
"""

from __future__ import annotations

import contextlib
import io
import multiprocessing
import os
import random
import subprocess
import sys
import time

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction
from django.db import connections as db_connections
from django.test import override_settings

from djangoes import connections
from djangoes_dsl import indexing_paused
from djangoes_dsl.models import PendingOperation
from djangoes_dsl.rebuild import Rebuild, populate
from tests.apps.shop.models import Category, Product, Tag
from tests.apps.shop.search_indices import ProductDocument
from tests.faults import FaultNode, compare
from tests.indexing_utils import leftovers, product_documents, product_rows

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.faults]


@pytest.fixture
def node(fault_node: FaultNode) -> FaultNode:
    return fault_node


@pytest.fixture
def serving(node: FaultNode):
    if not node.healthy():
        node.restart()
    with node.serving():
        yield node


def sync() -> str:
    out = io.StringIO()
    call_command("search_index", "sync", stdout=out, stderr=io.StringIO())
    return out.getvalue()


def catalogue(products: int = 40) -> tuple[Category, Category, Tag]:
    shoes, hats = Category.objects.create(name="shoes"), Category.objects.create(name="hats")
    red = Tag.objects.create(name="red")
    with indexing_paused():
        Product.objects.bulk_create(
            Product(sku=f"P-{n}", title=f"Product {n}", category=shoes if n % 2 else hats)
            for n in range(products)
        )
    populate("products", processes=0)
    assert compare(product_rows(), product_documents()).exact
    return shoes, hats, red


def changes(shoes: Category, red: Tag, start: int, count: int) -> None:
    """Autocommit saves, an atomic() block, deletes, m2m adds and a related rename."""
    rows = list(Product.objects.order_by("pk")[start : start + count])
    for row in rows[:5]:
        row.title = f"{row.title} (edited)"
        row.save()
    with transaction.atomic():
        for n in range(count):
            Product.objects.create(sku=f"N-{start}-{n}", title=f"New {start}/{n}", category=shoes)
        for row in rows[5:10]:
            row.title = f"{row.title} (edited in a transaction)"
            row.save()
    for row in rows[10:13]:
        row.delete()
    for row in rows[13:16]:
        row.tags.add(red)
    shoes.name = f"shoes {start}"
    shoes.save()


def test_node_killed_and_restarted_during_saves(serving: FaultNode):
    shoes, _, red = catalogue()
    changes(shoes, red, 0, 20)  # the node is up
    assert compare(product_rows(), product_documents()).exact

    serving.kill()
    started = time.monotonic()
    changes(shoes, red, 20, 20)  # the node is down: every save commits all the same
    down_seconds = time.monotonic() - started
    waiting = PendingOperation.objects.count()
    assert waiting > 0
    serving.restart()
    before_sync = compare(product_rows(), product_documents())
    out = sync()
    after = compare(product_rows(), product_documents())

    print(
        f"\nnode killed during saves: {waiting} operations kept while down "
        f"({down_seconds:.1f}s of saves); after restart {before_sync}; after one sync {after}"
    )
    assert "0 to retry later, 0 refused" in out
    assert after.exact, after
    assert PendingOperation.objects.count() == 0


def test_frozen_node(serving: FaultNode):
    catalogue()
    serving.freeze()
    latencies = []
    try:
        rows = list(Product.objects.order_by("pk")[:4])
        for row in rows:
            started = time.monotonic()
            with transaction.atomic():
                row.title = f"{row.title} (while frozen)"
                row.save()
            latencies.append(time.monotonic() - started)
        rows[0].delete()
    finally:
        serving.thaw()
    # The requests held by the frozen node are applied now, late; sync sends newer reads.
    out = sync()
    after = compare(product_rows(), product_documents())
    print(
        f"\nfrozen node: commit latencies {[round(x, 2) for x in latencies]} s "
        f"(request_timeout 5 s); after thaw and one sync {after}"
    )
    assert "0 to retry later, 0 refused" in out
    assert after.exact, after
    assert PendingOperation.objects.count() == 0


def test_node_stopped_during_a_thousand_web_request_saves(serving: FaultNode):
    catalogue(products=100)
    serving.kill()
    pks = list(Product.objects.order_by("pk").values_list("pk", flat=True))
    saved = 0
    for n in range(1000):
        with transaction.atomic():  # one web request under ATOMIC_REQUESTS
            product = Product.objects.get(pk=pks[n % len(pks)])
            product.title = f"request {n}"
            product.save()
        saved += 1
    waiting = PendingOperation.objects.count()
    serving.restart()
    out = sync()
    after = compare(product_rows(), product_documents())
    print(
        f"\nnode stopped during {saved} web-request saves: {waiting} operations kept; "
        f"after restart and one sync {after}"
    )
    assert saved == 1000
    assert waiting == saved  # every failed send kept; sync sends each row's newest state
    assert "0 to retry later, 0 refused" in out
    assert after.exact, after
    # The changed field: every document holds its row's last save.
    assert {values[0] for values in product_documents().values()} == {
        f"request {n}" for n in range(900, 1000)
    }
    assert PendingOperation.objects.count() == 0


def _rebuild_until_killed(filling, resume, results) -> None:
    """In a forked process: rebuild the products, holding after the first page until
    ``resume``; report how it ended."""
    db_connections.close_all()
    from djangoes_dsl.rebuild import Rebuild

    def hold(done: int, total: int) -> None:
        if not filling.is_set():
            filling.set()
            resume.wait(120)

    try:
        Rebuild("products", chunk_size=20, processes=0, progress=hold).run()
    except Exception as exc:  # reported to the parent, which asserts on it
        results.put(("failed", type(exc).__name__))
    else:
        results.put(("rebuilt", ""))
    db_connections.close_all()


def test_rebuild_whose_node_is_killed(serving: FaultNode):
    shoes, _, red = catalogue(products=200)
    context = multiprocessing.get_context("fork")
    filling, resume, results = context.Event(), context.Event(), context.Queue()
    db_connections.close_all()  # the child opens its own
    child = context.Process(target=_rebuild_until_killed, args=(filling, resume, results))
    child.start()
    assert filling.wait(120)  # midway through its fill
    serving.kill()
    resume.set()
    outcome, error = results.get(timeout=120)
    child.join(timeout=60)
    assert (outcome, child.exitcode) == ("failed", 0), error
    changes(shoes, red, 0, 20)  # the node is down: kept in the outbox
    serving.restart()

    client = connections["default"].client
    name = ProductDocument.get_index_name()
    left = sorted(client.indices.get(index=f"{name}-*", ignore_unavailable=True).body)
    assert left  # the dead rebuild's new index and journal are still there
    out = io.StringIO()
    call_command("search_index", "rebuild", "products", "--no-input", stdout=out)
    output = out.getvalue()
    sync()
    after = compare(product_rows(), product_documents())
    print(
        f"\nrebuild whose node was killed: left behind {left}; the next rebuild: "
        f"{output.strip().splitlines()[0]}; after it and one sync {after}"
    )
    assert f"its process {child.pid} is gone" in output
    assert after.exact, after
    assert leftovers(ProductDocument) == []
    assert PendingOperation.objects.count() == 0


# -- concurrent writers in separate processes (PostgreSQL) -----------------------------------


def _writer(seed: int, pks: list[int], rounds: int, results) -> None:
    """In a forked process: update, move and delete products at random."""
    db_connections.close_all()
    rng = random.Random(seed)
    categories = list(Category.objects.values_list("pk", flat=True))
    done = 0
    for n in range(rounds):
        pk = rng.choice(pks)
        action = rng.random()
        if action < 0.1:
            Product.objects.filter(pk=pk).delete()  # signals: its document goes
        else:
            product = Product.objects.filter(pk=pk).first()
            if product is None:
                continue
            product.title = f"writer {seed} round {n}"
            if action < 0.3:
                product.category_id = rng.choice(categories)
            product.save()
        done += 1
    db_connections.close_all()
    results.put(done)


def _renamer(category_pk: int, rounds: int, results) -> None:
    """In a forked process: rename a category again and again (each re-indexes its rows)."""
    db_connections.close_all()
    category = Category.objects.get(pk=category_pk)
    for n in range(rounds):
        category.name = f"renamed {n}"
        category.save()
    db_connections.close_all()
    results.put(rounds)


@pytest.mark.postgres
def test_concurrent_writers_with_a_related_rename_on_postgresql(serving: FaultNode):
    assert connection.vendor == "postgresql"
    shoes, _, _ = catalogue(products=3000)
    pks = list(Product.objects.values_list("pk", flat=True))
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    db_connections.close_all()  # the children open their own
    processes = [context.Process(target=_renamer, args=(shoes.pk, 3, results))]
    processes += [
        context.Process(target=_writer, args=(seed, pks, 150, results)) for seed in (1, 2, 3)
    ]
    for process in processes:
        process.start()
    finished = [results.get(timeout=600) for _ in processes]
    for process in processes:
        process.join(timeout=60)
        assert process.exitcode == 0
    without_sync = compare(product_rows(), product_documents())
    sync()
    after = compare(product_rows(), product_documents())
    print(
        f"\nconcurrent writers ({finished} operations per process, 3 renames of a category "
        f"of {Product.objects.filter(category=shoes).count()} rows): without sync "
        f"{without_sync}; after one sync {after}"
    )
    assert without_sync.exact, without_sync  # ordering alone: nothing went back in time
    assert after.exact, after
    assert os.getpid()  # the parent is untouched


# -- writes across rebuilds, under CPU load (PostgreSQL) ------------------------------------


def stress_runs() -> int:
    """How many times the rebuild-under-writers scenario runs: ``DJANGOES_STRESS_RUNS``
    (1 by default; the stress run takes 20 or more)."""
    return int(os.environ.get("DJANGOES_STRESS_RUNS", "1"))


@pytest.fixture
def cpu_load():
    """One busy process per CPU for the test's duration (started and stopped by PID)."""
    burners = [
        subprocess.Popen([sys.executable, "-c", "while True: pass"])
        for _ in range(os.cpu_count() or 1)
    ]
    try:
        yield len(burners)
    finally:
        for burner in burners:
            burner.kill()
            burner.wait(60)


def _busy_writer(seed: int, pks: list[int], started, stop, results) -> None:
    """In a forked process: web-request transactions (titles, category moves, tag links and
    unlinks, creates, deletes) until ``stop`` — across the rebuild and its swap."""
    db_connections.close_all()
    rng = random.Random(seed)
    categories = list(Category.objects.values_list("pk", flat=True))
    tags = list(Tag.objects.all())
    done = 0
    while not stop.is_set() or done < 20:
        action = rng.random()
        # A conflict with another writer rolls the transaction back: nothing to index.
        with contextlib.suppress(DatabaseError):
            _busy_write(rng, seed, done, pks, categories, tags, action)
        done += 1
        if done == 1:
            started.wait(120)
    db_connections.close_all()
    results.put(("writer", done))


def _busy_write(rng, seed, done, pks, categories, tags, action) -> None:
    with transaction.atomic():
        if action < 0.15:
            Product.objects.create(
                sku=f"S-{seed}-{done}",
                title=f"writer {seed} created {done}",
                category_id=rng.choice(categories),
            )
        else:
            product = Product.objects.filter(pk=rng.choice(pks)).first()
            if product is None:
                return
            if action < 0.25:
                product.delete()
            elif action < 0.4:
                product.tags.add(rng.choice(tags))
            elif action < 0.45:
                product.tags.clear()
            else:
                product.title = f"writer {seed} write {done}"
                if action < 0.6:
                    product.category_id = rng.choice(categories)
                product.save()


def _busy_renamer(category_pk: int, started, stop, results) -> None:
    """In a forked process: rename a category until ``stop`` (each re-indexes its rows)."""
    db_connections.close_all()
    category = Category.objects.get(pk=category_pk)
    done = 0
    while not stop.is_set() or done < 3:
        category.name = f"renamed {done}"
        category.save()
        done += 1
        if done == 1:
            started.wait(120)
    db_connections.close_all()
    results.put(("renamer", done))


@pytest.mark.postgres
@pytest.mark.parametrize("run", range(stress_runs()), ids=lambda run: f"run{run + 1}")
def test_writers_across_a_rebuild_under_cpu_load(node, cpu_load, run):
    """Writer processes and a category renamer across a rebuild and its swap, with the CPUs
    kept busy; inline delivery in odd runs, durable in even ones. No sync: every write
    Elasticsearch confirmed is in the new index."""
    assert connection.vendor == "postgresql"
    durable = run % 2 == 1
    if not node.healthy():
        node.restart()
    # Generous timeouts: under this load a request may take seconds, and one that timed out
    # would be kept in the outbox (correct, but then this test would need a sync).
    with node.serving(request_timeout=60), override_settings(DJANGOES_DURABLE=durable):
        shoes, _, _ = catalogue(products=600)
        for name in ("green", "blue"):
            Tag.objects.create(name=name)
        pks = list(Product.objects.values_list("pk", flat=True))
        context = multiprocessing.get_context("fork")
        started, stop, results = context.Barrier(5), context.Event(), context.Queue()
        db_connections.close_all()  # the children open their own
        processes = [context.Process(target=_busy_renamer, args=(shoes.pk, started, stop, results))]
        processes += [
            context.Process(target=_busy_writer, args=(seed, pks, started, stop, results))
            for seed in (run * 10 + 1, run * 10 + 2, run * 10 + 3)
        ]
        for process in processes:
            process.start()
        try:
            started.wait(120)  # every writer has committed once: the rebuild starts now
            began = time.monotonic()
            job = Rebuild("products", chunk_size=25, processes=0)
            job.run()
            seconds = time.monotonic() - began
        finally:
            stop.set()
        finished = sorted(results.get(timeout=600) for _ in processes)
        for process in processes:
            process.join(timeout=60)
            assert process.exitcode == 0
        waiting = PendingOperation.objects.count()
        after = compare(product_rows(), product_documents())  # no sync
        print(
            f"\nrun {run + 1} ({'durable' if durable else 'inline'}, {cpu_load} busy "
            f"processes): rebuild {seconds:.1f}s, {job.replayed} replayed; writes "
            f"{[count for _, count in finished]}; {after}; outbox {waiting}"
        )
        assert after.exact, after
        assert waiting == 0
