"""Zero-downtime rebuilds against the real node: alias swap, journal replay, failures."""

from __future__ import annotations

import io
import json
import os
import random
import threading
import time

import pytest
from django.db import connections as db_connections
from django.db import transaction

from djangoes import connections
from djangoes_dsl import indexing_paused, rebuild
from djangoes_dsl.indexing import journal_alias
from djangoes_dsl.rebuild import Rebuild, RebuildError, populate
from tests.apps.shop.models import Category, Product, Tag
from tests.apps.shop.search_indices import ProductDocument
from tests.indexing_utils import fresh_index, indexed

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def fresh_products():
    with fresh_index(ProductDocument):
        yield


def client():
    return connections["default"].client


def name():
    return ProductDocument.get_index_name()


def behind(alias: str) -> list[str]:
    return connections["default"].concrete_indices(alias)


def make_rows(count: int) -> None:
    shoes = Category.objects.create(name="shoes")
    red = Tag.objects.create(name="red")
    with indexing_paused():
        Product.objects.bulk_create(
            Product(sku=f"SKU-{n}", title=f"Product {n}", category=shoes) for n in range(count)
        )
        through = Product.tags.through
        through.objects.bulk_create(
            through(product_id=pk, tag_id=red.pk)
            for pk in Product.objects.values_list("pk", flat=True)[::2]
        )


def database_titles() -> dict[str, str]:
    return {str(pk): title for pk, title in Product.objects.values_list("pk", "title")}


def test_fast_source_equals_the_dsl_document():
    make_rows(4)
    for product in ProductDocument.get_queryset():
        expected = ProductDocument.from_instance(product).to_dict()
        assert ProductDocument.source(product) == expected


def test_first_rebuild_migrates_a_concrete_index_to_an_alias():
    make_rows(50)
    assert behind(name()) == [name()]  # a concrete index, as the test set-up created it

    new = Rebuild("products").run()

    assert new.startswith(f"{name()}-")
    assert behind(name()) == [new]
    assert behind(ProductDocument.get_read_index()) == [new]
    assert indexed(ProductDocument, "title") == database_titles()
    aliases = client().indices.get_alias(index=new)[new]["aliases"]
    assert set(aliases) == {name(), ProductDocument.get_read_index()}
    settings = client().indices.get_settings(index=new)[new]["settings"]["index"]
    assert settings.get("refresh_interval") is None  # restored after the fill
    assert settings["number_of_replicas"] == "0"  # as configured

    newer = Rebuild("products").run()  # a second rebuild swaps alias to alias
    assert behind(name()) == [newer]
    assert not client().indices.exists(index=new)
    assert indexed(ProductDocument, "title") == database_titles()


def test_signal_writes_go_through_the_alias_after_a_rebuild():
    make_rows(5)
    Rebuild("products").run()
    product = Product.objects.create(sku="NEW", title="after the rebuild")
    Product.objects.filter(sku="SKU-1").get().delete()
    assert indexed(ProductDocument, "title") == database_titles()
    assert str(product.pk) in indexed(ProductDocument)


def test_writes_made_during_the_fill_are_replayed(monkeypatch):
    make_rows(300)
    first, last = Product.objects.order_by("pk")[0], Product.objects.order_by("-pk")[0]
    original = rebuild.iter_pages
    touched = []

    def iter_pages_with_writes(document, index, chunk_size):
        for number, page in enumerate(original(document, index, chunk_size)):
            yield page
            if number == 1:  # between pages: a row already read, one not yet, a new one
                first.title = "changed after it was read"
                first.save()
                last.delete()
                touched.append(Product.objects.create(sku="DURING", title="created during"))

    monkeypatch.setattr(rebuild, "iter_pages", iter_pages_with_writes)
    job = Rebuild("products", chunk_size=50)
    job.run()

    assert touched
    assert job.replayed >= 3
    titles = indexed(ProductDocument, "title")
    assert titles == database_titles()
    assert titles[str(first.pk)] == "changed after it was read"


def test_a_failing_rebuild_leaves_the_old_index_serving(monkeypatch):
    make_rows(200)
    populate("products")
    before = behind(name())
    broken = Product.objects.order_by("pk")[150].pk

    def prepare_category(self, instance):
        if instance.pk == broken:
            raise ValueError("cannot prepare this row")
        return "x"

    monkeypatch.setattr(ProductDocument, "prepare_category", prepare_category, raising=False)
    with pytest.raises(ValueError, match="cannot prepare"):
        Rebuild("products", chunk_size=50).run()

    assert behind(name()) == before
    assert behind(ProductDocument.get_read_index()) == before
    assert len(indexed(ProductDocument)) == 200


def test_an_indexing_error_midway_is_a_rebuild_error(monkeypatch):
    make_rows(120)
    populate("products")
    before = behind(name())
    broken = Product.objects.order_by("pk")[100].pk
    monkeypatch.setattr(
        ProductDocument,
        "prepare_in_stock",
        lambda self, instance: "not a boolean" if instance.pk == broken else True,
        raising=False,
    )
    with pytest.raises(RebuildError, match=f"id {broken}"):
        Rebuild("products", chunk_size=50).run()
    assert behind(name()) == before


def test_a_new_index_the_node_refuses_leaves_no_journal_behind(monkeypatch):
    make_rows(20)
    populate("products")
    before = behind(name())
    backend = connections["default"]
    original = backend.get_index_body

    def refused_body(key, **kwargs):
        body = original(key, **kwargs)
        body["settings"]["number_of_shards"] = 0  # the node answers 400
        return body

    monkeypatch.setattr(backend, "get_index_body", refused_body)
    with pytest.raises(Exception, match="number_of_shards"):
        Rebuild("products").run()
    # The journal was created alongside and is gone again: the next rebuild may run.
    assert not client().indices.exists_alias(name=journal_alias(name()))
    assert behind(name()) == before
    monkeypatch.undo()
    Rebuild("products").run()
    assert len(indexed(ProductDocument)) == 20


def test_a_second_rebuild_is_refused_while_one_runs():
    client().indices.create(index=f"{name()}-journal-x", aliases={journal_alias(name()): {}})
    try:
        with pytest.raises(RebuildError, match="already running"):
            Rebuild("products").run()
    finally:
        client().indices.delete(index=f"{name()}-journal-x")


def test_parallel_rebuild_fills_the_same_documents():
    make_rows(500)
    Rebuild("products", chunk_size=100, parallel=2).run()
    assert indexed(ProductDocument, "title") == database_titles()


def test_rebuild_while_another_thread_keeps_saving_and_search_keeps_answering():
    make_rows(2000)
    Rebuild("products").run()  # the index serves all rows before the rebuild under test
    shared = db_connections["default"]
    # An in-memory SQLite database lives in one connection, which both threads must share;
    # on other databases each thread has its own connection.
    in_memory = shared.vendor == "sqlite" and shared.is_in_memory_db()
    if in_memory:
        shared.inc_thread_sharing()
    stop = threading.Event()
    errors: list[BaseException] = []
    writes: list[str] = []
    searches: list[int] = []

    def writer():
        if in_memory:
            db_connections["default"] = shared
        rng = random.Random(5)
        try:
            n = 0
            while not stop.is_set():
                n += 1
                pks = list(
                    Product.objects.values_list("pk", flat=True)[: 3000 : rng.randint(1, 40)]
                )
                product = Product.objects.get(pk=rng.choice(pks))
                product.title = f"{product.title.split(' #')[0]} #{n}"
                product.save()
                writes.append("update")
                if n % 3 == 0:
                    Product.objects.create(sku=f"NEW-{n}", title=f"New {n}")
                    writes.append("create")
                if n % 5 == 0:
                    Product.objects.filter(pk=rng.choice(pks)).delete()
                    writes.append("delete")
                time.sleep(0.002)
        except BaseException as exc:
            errors.append(exc)
        finally:
            if not in_memory:
                db_connections["default"].close()

    def searcher():
        try:
            while not stop.is_set():
                searches.append(ProductDocument.search().query("match", title="product").count())
                time.sleep(0.01)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer), threading.Thread(target=searcher)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(0.2)
        job = Rebuild("products", chunk_size=100)
        job.run()
        time.sleep(0.2)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
        if in_memory:
            shared.dec_thread_sharing()

    assert errors == []
    assert writes.count("update") > 20
    assert "delete" in writes
    assert "create" in writes
    assert job.replayed > 0  # writes did land during the fill
    assert searches
    assert min(searches) > 1000
    assert indexed(ProductDocument, "title") == database_titles()


# -- filling from worker processes -----------------------------------------------------------


def expected_sources() -> dict[str, dict]:
    """Return ``{id: _source}`` of every row, as JSON gives them back (dates as text)."""
    sources = {str(row.pk): ProductDocument.source(row) for row in ProductDocument.get_queryset()}
    return json.loads(json.dumps(sources, default=lambda value: value.isoformat()))


def spy_on_workers(monkeypatch) -> list[int]:
    """Record the number of worker processes of every fill that forks."""
    forks: list[int] = []
    original = rebuild._fill_in_processes

    def spying(using, documents, index, chunk_size, parallel, processes, advance):
        forks.append(processes)
        return original(using, documents, index, chunk_size, parallel, processes, advance)

    monkeypatch.setattr(rebuild, "_fill_in_processes", spying)
    return forks


def test_rebuild_in_worker_processes_indexes_exactly_the_rows(monkeypatch):
    make_rows(1000)
    Product.objects.filter(pk__in=Product.objects.order_by("pk").values("pk")[400:420]).delete()
    forks = spy_on_workers(monkeypatch)

    Rebuild("products", chunk_size=64, processes=3).run()

    assert forks == [3]
    assert indexed(ProductDocument) == expected_sources()  # same ids and sources, no extra


def test_the_ranges_of_the_workers_cover_every_row_once():
    make_rows(10)
    pks = sorted(Product.objects.values_list("pk", flat=True))
    ranges = rebuild.split_ranges(ProductDocument, 3)
    assert ranges[0][0] is None
    assert ranges[-1][1] is None
    covered = [
        pk
        for after, upto in ranges
        for pk in pks
        if (after is None or pk > after) and (upto is None or pk <= upto)
    ]
    assert covered == pks
    pages = [list(rebuild.iter_pages(ProductDocument, "x", 2, a, u)) for a, u in ranges]
    assert [len(found) for found in pages] == [2, 2, 2]
    ids = [action["_id"] for found in pages for page in found for action in page]
    assert ids == [str(pk) for pk in pks]
    assert rebuild.split_ranges(ProductDocument, 20)[-1] == (pks[-2], None)  # one row each


def test_populate_in_worker_processes_reports_progress(monkeypatch):
    make_rows(300)
    forks = spy_on_workers(monkeypatch)
    out = io.StringIO()
    result = populate("products", chunk_size=50, processes=2, stdout=out)
    assert forks == [2]
    assert result.indexed == 300
    assert "products: 300/300 (100%)" in out.getvalue()
    assert indexed(ProductDocument) == expected_sources()


def test_a_failing_worker_leaves_the_old_index_serving(monkeypatch):
    make_rows(400)
    populate("products", processes=0)
    before = behind(name())
    broken = Product.objects.order_by("pk")[350].pk  # in the second worker's range

    def prepare_category(self, instance):
        if instance.pk == broken:
            raise ValueError("cannot prepare this row")
        return "x"

    monkeypatch.setattr(ProductDocument, "prepare_category", prepare_category, raising=False)
    with pytest.raises(ValueError, match="cannot prepare") as raised:
        Rebuild("products", chunk_size=50, processes=2).run()

    assert any("Raised in fill worker 1" in note for note in raised.value.__notes__)
    assert behind(name()) == before
    assert behind(ProductDocument.get_read_index()) == before
    assert len(indexed(ProductDocument)) == 400  # the old documents, untouched


def test_a_worker_that_dies_fails_the_rebuild(monkeypatch):
    make_rows(200)
    populate("products", processes=0)
    before = behind(name())
    broken = Product.objects.order_by("pk")[20].pk

    def prepare_category(self, instance):
        if instance.pk == broken:
            os._exit(3)
        return "x"

    monkeypatch.setattr(ProductDocument, "prepare_category", prepare_category, raising=False)
    with pytest.raises(RebuildError, match=r"worker 0 .* ended without a result \(exit code 3\)"):
        Rebuild("products", chunk_size=50, processes=2).run()
    assert behind(name()) == before
    assert len(indexed(ProductDocument)) == 200


def test_indexing_errors_in_a_worker_are_a_rebuild_error(monkeypatch):
    make_rows(200)
    populate("products", processes=0)
    before = behind(name())
    broken = Product.objects.order_by("pk")[180].pk
    monkeypatch.setattr(
        ProductDocument,
        "prepare_in_stock",
        lambda self, instance: "not a boolean" if instance.pk == broken else True,
        raising=False,
    )
    with pytest.raises(RebuildError, match=f"^1 document.*id {broken}"):
        Rebuild("products", chunk_size=50, processes=2).run()
    assert behind(name()) == before


def test_when_a_fill_forks(monkeypatch):
    monkeypatch.setattr(rebuild, "_cpus", lambda: 4)
    per = rebuild.MIN_ROWS_PER_PROCESS
    assert rebuild.fill_processes(None, 2 * per - 1) == 0  # too small to pay off
    assert rebuild.fill_processes(None, 2 * per) == 2
    assert rebuild.fill_processes(None, 100 * per) == 4  # one per CPU
    assert rebuild.fill_processes(0, 100 * per) == 0
    assert rebuild.fill_processes(3, 10) == 3  # as asked

    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        assert rebuild.fill_processes(None, 100 * per) == 0  # never fork beside threads ...
        assert rebuild.fill_processes(2, 10) == 2  # ... unless asked to
    finally:
        stop.set()
        thread.join()

    with transaction.atomic():
        assert rebuild.fill_processes(None, 100 * per) == 0
        with pytest.raises(RebuildError, match="inside a transaction"):
            rebuild.fill_processes(2, 10)


def test_the_setting_chooses_the_default(settings):
    settings.DJANGOES_REBUILD_PROCESSES = 0
    assert Rebuild("products").processes == 0
    assert Rebuild("products", processes=2).processes == 2
    settings.DJANGOES_REBUILD_PROCESSES = 3
    assert Rebuild("products").processes == 3
