"""Async beside sync: the asyncio client of each connection, one per event loop, and the same
Documents searched from async code, under the same live-write guard and per-test undo."""

from __future__ import annotations

import asyncio
import io
import sys
import threading

import pytest
import pytest_asyncio
from asgiref.sync import async_to_sync, sync_to_async
from django.core.exceptions import ImproperlyConfigured
from django.db import connections as db_connections
from django.db import transaction
from django.test import TestCase
from elasticsearch.dsl import AsyncSearch as PlainAsyncSearch

from djangoes import ConnectionHandler, LiveIndexWriteError, connections
from djangoes.test import TestScope
from djangoes_dsl.asyncsearch import AsyncSearch
from djangoes_dsl.faceted import AsyncFacetedSearch, FacetValue
from djangoes_dsl.pagination import (
    AsyncSearchAfterPaginator,
    AsyncSearchPaginator,
    InvalidCursor,
    SearchAfterPaginator,
    SearchPaginator,
)
from tests.apps.shop.models import Category, Product
from tests.apps.shop.search_indices import ProductDocument
from tests.settings import ES_URL
from tests.test_faceted import ProductSearch
from tests.test_fork import in_child


@pytest_asyncio.fixture(autouse=True)
async def close_orm_thread_connections():
    """Close the database connections Django's async ORM opened in asgiref's thread (as a
    request's end does), so that no session is left on the test database."""
    yield
    await sync_to_async(db_connections.close_all)()


def sessions(client) -> list:
    """Return the aiohttp sessions of ``client``'s nodes (None: not opened yet)."""
    return [node.session for node in client.transport.node_pool.all()]


# -- one client per event loop ---------------------------------------------------------------


def test_one_client_per_event_loop_each_closed_when_its_loop_shuts_down():
    backend = connections["default"]

    async def use():
        client = backend.async_client
        assert backend.async_client is client  # the same one, within the loop
        await client.cluster.health()
        return client, sessions(client)

    first, first_sessions = asyncio.run(use())
    second, second_sessions = asyncio.run(use())
    assert second is not first
    assert first_sessions
    assert all(session is not None for session in first_sessions)
    # asyncio.run() finalized the loop: its client was closed then, and forgotten.
    assert all(session.closed for session in first_sessions + second_sessions)
    assert first not in backend.async_clients()
    assert second not in backend.async_clients()


def test_a_client_replaced_in_its_running_loop_is_closed_and_its_successor_kept():
    backend = connections["default"]

    async def use():
        old = backend.async_client
        await old.cluster.health()
        old_sessions = sessions(old)
        backend.close()  # as a settings change does, from inside the loop
        new = backend.async_client
        await new.cluster.health()
        # The old client is closed by a task of this loop: wait for it.
        others = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        await asyncio.gather(*others)
        return old, old_sessions, new, backend.async_client, sessions(new)

    old, old_sessions, new, after, new_sessions = asyncio.run(use())
    assert new is not old
    assert all(session.closed for session in old_sessions)
    assert after is new  # closing the old one did not drop its successor
    assert new_sessions
    assert all(session.closed for session in new_sessions)  # closed with the loop


def test_loops_running_at_once_in_two_threads_have_a_client_each():
    backend = connections["default"]
    clients: dict[str, object] = {}
    both_built = threading.Barrier(2, timeout=30)

    def run(name: str) -> None:
        async def use():
            client = backend.async_client
            # Both loops are running (and hold their clients) before either uses its own.
            await asyncio.to_thread(both_built.wait)
            clients[name] = (client, (await client.cluster.health())["status"])

        asyncio.run(use())

    threads = [threading.Thread(target=run, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    (client_a, status_a), (client_b, status_b) = clients["a"], clients["b"]
    assert client_a is not client_b
    assert status_a in ("green", "yellow")
    assert status_b in ("green", "yellow")


def test_outside_an_event_loop_the_async_client_says_where_to_use_it():
    with pytest.raises(RuntimeError, match=r"outside a running event loop.*\.client\b"):
        connections["default"].async_client  # noqa: B018


def test_without_aiohttp_the_error_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "aiohttp", None)  # as if it were not installed
    handler = ConnectionHandler(servers={"default": {"HOSTS": [ES_URL]}}, indices={})

    async def build():
        return handler["default"].async_client

    with pytest.raises(ImproperlyConfigured, match=r"pip install 'djangoes\[async\]'"):
        asyncio.run(build())
    handler.close_all()


def test_a_forked_child_in_a_new_loop_gets_its_own_async_client():
    backend = connections["default"]
    name = ProductDocument.get_read_index()
    loop = asyncio.new_event_loop()  # the parent's loop stays open across the fork

    async def parent_use():
        client = backend.async_client
        return client, (await client.count(index=name))["count"]

    try:
        parent_client, expected = loop.run_until_complete(parent_use())

        def child():
            async def work():
                child_backend = connections["default"]
                client = child_backend.async_client
                count = (await client.count(index=name))["count"]
                return {
                    "same_backend": child_backend is backend,
                    "same_client": client is parent_client,
                    "clients": len(child_backend.async_clients()),
                    "count": count,
                }

            # A new loop, run as Django runs an async test (async_to_sync): the test
            # transport's sync work then runs in this thread. (asgiref's shared executor of
            # sync_to_async, which plain asyncio.run() would use, lost its thread at the fork.)
            return async_to_sync(work)()

        result = in_child(child)
        assert result == {
            "same_backend": False,
            "same_client": False,
            "clients": 1,
            "count": expected,
        }
        # The parent's client is untouched and still works in its loop.
        again, count = loop.run_until_complete(parent_use())
        assert again is parent_client
        assert count == expected
    finally:
        loop.run_until_complete(backend.aclose())
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


# -- elasticsearch.dsl and Documents -----------------------------------------------------------


@pytest.mark.asyncio
async def test_every_alias_is_registered_with_elasticsearch_dsl_async_connections():
    await connections["default"].async_client.index(
        index=ProductDocument.get_index_name(), id="dsl-1", document={"title": "Registered"}
    )
    search = PlainAsyncSearch(using="default", index=ProductDocument.get_read_index())
    assert [hit.title async for hit in search.scan()] == ["Registered"]


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_asearch_turns_hits_into_model_instances_in_hit_order():
    for sku, title, price in [("L-1", "Lamp", 30), ("L-2", "Big lamp", 10), ("L-3", "Lamp", 20)]:
        await Product.objects.acreate(sku=sku, title=title, price=price)
    await Product.objects.acreate(sku="C-1", title="Chair")
    search = ProductDocument.asearch().query("match", title="lamp").sort("price")
    assert isinstance(search, AsyncSearch)
    assert await search.acount() == 3
    queryset = await search.ato_queryset()
    assert [row.sku async for row in queryset] == ["L-2", "L-3", "L-1"]
    instances = await search.ainstances()
    assert [row.sku for row in instances] == ["L-2", "L-3", "L-1"]
    assert all(row.search_hit.meta.id == str(row.pk) for row in instances)
    scanned = sorted([hit.meta.id async for hit in ProductDocument.asearch().scan()])
    assert scanned == sorted([str(pk) async for pk in Product.objects.values_list("pk", flat=True)])


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_aget_returns_the_document_as_get_does():
    product = await Product.objects.acreate(sku="G-1", title="Got")
    found = await ProductDocument.aget(ProductDocument.document_id(product.pk))
    same = await sync_to_async(ProductDocument.get)(ProductDocument.document_id(product.pk))
    assert found.to_dict() == same.to_dict()
    assert found.meta.id == same.meta.id


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_the_async_cursor_paginator_pages_as_the_sync_one_does():
    for n in range(12):
        await Product.objects.acreate(sku=f"PG-{n}", title=f"Paged {n}")
    expected = await sync_to_async(
        lambda: [hit.meta.id for hit in SearchAfterPaginator(ProductDocument.search(), 5)]
    )()
    assert len(expected) == 12
    paginator = AsyncSearchAfterPaginator(ProductDocument.asearch(), per_page=5)
    pages, cursor, rows = [], None, []
    while True:
        page = await paginator.apage(cursor)
        pages.append([hit.meta.id for hit in page])
        rows += [str(row.pk) for row in await page.ainstances()]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert [len(ids) for ids in pages] == [5, 5, 2]
    assert [hit_id for ids in pages for hit_id in ids] == expected
    assert rows == expected  # the rows of each page, in hit order
    assert [hit.meta.id async for hit in paginator] == expected
    with pytest.raises(InvalidCursor):
        await paginator.apage("not-a-cursor")


# -- tests: the guard and the undo log, through the async client --------------------------------


@pytest.mark.asyncio
async def test_an_async_write_to_a_live_index_is_refused_as_a_sync_one_is():
    live = connections.indices["products"]["NAME"]
    with pytest.raises(LiveIndexWriteError) as sync_refusal:
        connections["default"].client.index(index=live, id="x", document={"title": "no"})
    with pytest.raises(LiveIndexWriteError) as async_refusal:
        await connections["default"].async_client.index(
            index=live, id="x", document={"title": "no"}
        )
    assert str(async_refusal.value) == str(sync_refusal.value)
    assert f"'{live}'" in str(async_refusal.value)
    # A raw request of no known shape is refused by the same classifier.
    with pytest.raises(LiveIndexWriteError, match="raw request of a shape the guard does not know"):
        await connections["default"].async_client.perform_request("POST", "/_ingest/pipeline/x")


def test_what_an_async_client_writes_is_undone_with_its_scope():
    name = ProductDocument.get_index_name()

    async def write_and_count():
        client = connections["default"].async_client
        await client.index(index=name, id="scoped-1", document={"title": "Scoped"})
        # No refresh asked for: the undo log refreshes before a search.
        return (await client.count(index=name))["count"]

    with TestScope("async writes"):
        assert asyncio.run(write_and_count()) == 1
    assert connections["default"].count(index=name)["count"] == 0


async def titles() -> list[str]:
    return sorted([hit.title async for hit in ProductDocument.asearch()[:100]])


class AsyncTestCaseTests(TestCase):
    """``async def`` tests of Django's TestCase: each sees its own writes, never another's."""

    async def test_first_sees_only_its_own_write(self):
        await Product.objects.acreate(sku="TC-1", title="First")
        self.assertEqual(await titles(), ["First"])

    async def test_second_sees_only_its_own_write(self):
        product = await Product.objects.acreate(sku="TC-2", title="Second")
        self.assertEqual(await titles(), ["Second"])
        product.title = "Second, changed"
        await product.asave()
        self.assertEqual(await titles(), ["Second, changed"])
        await product.adelete()
        self.assertEqual(await titles(), [])

    async def test_aupdate_and_an_atomic_block_from_async_code_are_indexed(self):
        await Product.objects.acreate(sku="TC-3", title="Before")
        await Product.objects.filter(sku="TC-3").aupdate(title="After")
        self.assertEqual(await titles(), ["After"])

        def in_a_block():
            with transaction.atomic():
                Product.objects.create(sku="TC-4", title="In a block")

        await sync_to_async(in_a_block)()
        self.assertEqual(await titles(), ["After", "In a block"])


class AsyncPagesAndFacetsTests(TestCase):
    """The page-number paginator and faceted search from async code, against the sync ones."""

    async def test_the_async_page_number_paginator_pages_as_the_sync_one_does(self):
        for n in range(8):
            await Product.objects.acreate(sku=f"N-{n}", title=f"Numbered {n}", price=n)

        def sync_pages():
            paginator = SearchPaginator(ProductDocument.search().sort("price"), 3, orphans=1)
            pages = [paginator.page(n) for n in paginator.page_range]
            return paginator.count, [[hit.sku for hit in page.object_list] for page in pages]

        expected_count, expected = await sync_to_async(sync_pages)()
        assert expected == [["N-0", "N-1", "N-2"], ["N-3", "N-4", "N-5"], ["N-6", "N-7"]]
        paginator = AsyncSearchPaginator(ProductDocument.asearch().sort("price"), 3, orphans=1)
        with self.assertRaisesRegex(RuntimeError, r"await paginator\.acount\(\)"):
            paginator.count  # noqa: B018
        with self.assertRaisesRegex(TypeError, r"await paginator\.apage\(number\)"):
            paginator.page(1)
        second = await paginator.apage(2)  # the count comes with the page
        assert paginator.count == expected_count == 8
        assert paginator.total == (8, "eq")
        assert (second.has_next(), second.has_previous()) == (True, True)
        assert [hit.sku async for hit in second.object_list] == expected[1]
        rows = await second.object_list.ainstances()
        assert [row.sku for row in rows] == expected[1]
        last = await paginator.apage(3)
        assert [hit.sku async for hit in last.object_list] == expected[2]
        assert not last.has_next()
        assert [hit.sku async for hit in (await paginator.aget_page("x")).object_list] == (
            expected[0]
        )
        assert (await paginator.aget_page(99)).number == 3
        fresh = AsyncSearchPaginator(ProductDocument.asearch(), 5)
        assert (await fresh.acount(), await fresh.anum_pages()) == (8, 2)

    async def test_async_faceted_search_pages_and_rows(self):
        lamps = await Category.objects.acreate(name="lamps")
        desks = await Category.objects.acreate(name="desks")
        for sku, title, price, category in [
            ("L1", "Red lamp", 5, lamps),
            ("L2", "Blue lamp", 15, lamps),
            ("L3", "Green lamp", 8, lamps),
            ("D1", "Oak desk", 120, desks),
        ]:
            await Product.objects.acreate(sku=sku, title=title, price=price, category=category)

        faceted_class = ProductSearch.as_async()
        assert issubclass(faceted_class, AsyncFacetedSearch)
        assert issubclass(faceted_class, ProductSearch)  # the one declaration
        assert faceted_class is ProductSearch.as_async()
        selected = {"category": "lamps", "price": "cheap"}
        response = await faceted_class("lamp", filters=selected).execute()
        expected = await sync_to_async(lambda: ProductSearch("lamp", filters=selected).execute())()
        assert sorted(hit.sku for hit in response) == ["L1", "L3"]
        assert response.facets == expected.facets
        assert response.facets["category"] == [FacetValue("lamps", 2, True)]
        # As elasticsearch.dsl's count(): the query's hits, before the selected facet values.
        sync_count = await sync_to_async(ProductSearch("lamp", filters=selected).count)()
        assert await faceted_class("lamp", filters=selected).count() == sync_count == 3

        faceted = faceted_class(filters={"category": "lamps"}, sort=["price"])
        page = await AsyncSearchPaginator(faceted.to_search(), 2).apage(2)
        assert [row.sku for row in await page.object_list.ainstances()] == ["L2"]
        assert (await page.object_list.execute()).facets["category"] == [
            FacetValue("lamps", 3, True),
            FacetValue("desks", 1, False),
        ]
        first = await AsyncSearchAfterPaginator(faceted.to_search(), per_page=2).apage()
        assert [row.sku for row in await first.ainstances()] == ["L1", "L3"]
        assert first.response.facets["price"] == [
            FacetValue("cheap", 2, False),
            FacetValue("dear", 1, False),
        ]
        rows = await faceted.to_search().ato_queryset()
        assert [row.sku async for row in rows] == ["L1", "L3", "L2"]
        found = await ProductDocument.asearch().autocomplete("red la").ainstances()
        assert [row.sku for row in found] == ["L1"]


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("title", ["One", "Two"])
async def test_pytest_asyncio_tests_see_only_their_own_writes(title):
    await Product.objects.acreate(sku=f"PA-{title}", title=title)
    assert await titles() == [title]


# -- faults: async saves while the node is down -----------------------------------------------


@pytest.mark.faults
@pytest.mark.django_db(transaction=True)
def test_async_saves_with_the_node_down_wait_in_the_outbox_and_sync_delivers_them(fault_node):
    from django.core.management import call_command

    from djangoes_dsl.models import PendingOperation
    from tests.faults import compare
    from tests.indexing_utils import product_documents, product_rows

    if not fault_node.healthy():
        fault_node.restart()

    async def saves(start: int) -> None:
        """What an async view does: acreate, asave, adelete, each committed at once."""
        created = [
            await Product.objects.acreate(sku=f"AF-{start}-{n}", title=f"Async {start}/{n}")
            for n in range(6)
        ]
        for product in created[:2]:
            product.title += " (edited)"
            await product.asave()
        await created[2].adelete()

    with fault_node.serving():
        async_to_sync(saves)(0)  # the node is up
        assert compare(product_rows(), product_documents()).exact
        fault_node.kill()
        async_to_sync(saves)(1)  # the node is down: every save commits all the same
        waiting = PendingOperation.objects.count()
        assert waiting > 0
        fault_node.restart()
        out = io.StringIO()
        call_command("search_index", "sync", stdout=out, stderr=io.StringIO())
        after = compare(product_rows(), product_documents())
        assert after.exact, after
        assert after.rows == 10
        assert PendingOperation.objects.count() == 0
        assert "0 to retry later, 0 refused" in out.getvalue()
