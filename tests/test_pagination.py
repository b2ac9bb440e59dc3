"""Pages of search results: Django's Paginator, SearchPaginator, SearchAfterPaginator."""

from __future__ import annotations

import copy
import io
import time

import pytest
from django.conf import settings
from django.core import signing
from django.core.management import call_command
from django.core.paginator import EmptyPage, Paginator
from django.test import override_settings
from elasticsearch import helpers

from djangoes import connections
from djangoes_dsl import Document, fields, register, registry
from djangoes_dsl.pagination import (
    CURSOR_SALT,
    InvalidCursor,
    SearchAfterPaginator,
    SearchPaginator,
)
from tests.apps.shop.models import Product
from tests.apps.shop.search_indices import ProductDocument
from tests.indexing_utils import count_requests, fresh_index

KEY = "paged"
HITS = 50_000


class Numbered(Document):
    n = fields.Integer()
    parity = fields.Keyword()


@pytest.fixture(scope="module")
def numbered():
    """ES_INDICES['paged'] with 50,000 documents n = 0..49,999 (max_result_window 50,000)."""
    servers = copy.deepcopy(settings.ES_SERVERS)
    servers["default"]["INDICES"] = [*servers["default"]["INDICES"], KEY]
    indices = copy.deepcopy(settings.ES_INDICES)
    indices[KEY] = {
        "NAME": "djangoes_paged",
        "SETTINGS": {"number_of_shards": 2, "number_of_replicas": 0, "max_result_window": HITS},
    }
    with override_settings(ES_SERVERS=servers, ES_INDICES=indices):
        register(KEY)(Numbered)
        backend = connections["default"]
        backend.delete_index(KEY)
        name = backend.create_index(KEY)
        helpers.bulk(
            backend.client,
            (
                {"_index": name, "_id": str(n), "n": n, "parity": "even" if n % 2 == 0 else "odd"}
                for n in range(HITS)
            ),
            chunk_size=5000,
            refresh=True,
        )
        try:
            yield Numbered
        finally:
            registry.unregister(Numbered)
            connections["default"].delete_index(KEY)


def numbers(page) -> list[int]:
    return [hit.n for hit in page]


def test_djangos_paginator_over_50000_hits_one_request_per_page(numbered, record_property):
    search = numbered.search().sort("n")
    paginator = Paginator(search, 500)
    started = time.monotonic()
    with count_requests(numbered) as requests:
        assert paginator.count == HITS
        assert paginator.num_pages == 100
        for number in paginator.page_range:
            page = paginator.page(number)
            assert len(page) == 500  # before iterating
            expected = list(range((number - 1) * 500, number * 500))
            assert numbers(page) == expected
            assert numbers(page.object_list) == expected  # again, from the same answer
            assert page.has_next() == (number < 100)
    seconds = time.monotonic() - started
    assert requests.count("/_count") == 1
    assert requests.count("/_search") == 100  # one per page
    assert len(requests.paths) == 101
    record_property("paginator_seconds_per_page", round(seconds / 100, 4))


def test_search_paginator_takes_the_count_from_the_page_itself(numbered):
    search = numbered.search().sort("-n")
    with count_requests(numbered) as requests:
        for number in (1, 37, 100):
            paginator = SearchPaginator(search, 500)  # a new one per request, as in a view
            page = paginator.page(number)
            assert paginator.count == HITS
            assert len(page) == 500
            top = HITS - (number - 1) * 500
            assert numbers(page) == list(range(top - 1, top - 501, -1))
            assert page.start_index() == (number - 1) * 500 + 1
    assert len(requests.paths) == 3  # one request per page, count included


def test_search_paginator_stops_at_the_max_result_window(numbered):
    paginator = SearchPaginator(numbered.search().sort("n"), 500, max_results=10_000)
    page = paginator.page(20)
    assert numbers(page)[-1] == 9_999
    assert paginator.count == 10_000
    assert paginator.total == (10_000, "gte")
    assert not page.has_next()
    with count_requests(numbered) as requests, pytest.raises(EmptyPage):
        paginator.page(21)
    assert requests.paths == []
    assert paginator.get_page(999).number == 20
    assert SearchPaginator(numbered.search(), 10).max_results == HITS  # from SETTINGS


def test_search_paginator_pages_like_djangos_paginator_with_orphans(numbered):
    search = numbered.search().filter("range", n={"lt": 23}).sort("n")
    theirs = Paginator(list(range(23)), 10, orphans=3)
    for number in theirs.page_range:
        ours = SearchPaginator(search, 10, orphans=3)
        page = ours.page(number)
        assert numbers(page) == list(theirs.page(number))
        assert ours.num_pages == theirs.num_pages == 2
    empty = SearchPaginator(search.filter("term", parity="none"), 10)
    assert len(empty.page(1)) == 0
    with pytest.raises(EmptyPage):
        empty.page(2)


def test_search_after_paginator_exports_every_hit_in_order(numbered, record_property):
    search = numbered.search().sort("-n")
    started = time.monotonic()
    with count_requests(numbered) as requests:
        found = [hit.n for hit in SearchAfterPaginator(search, per_page=5000)]
    seconds = time.monotonic() - started
    assert found == list(range(HITS - 1, -1, -1))
    assert requests.count("/_pit") == 2  # opened, then closed
    assert requests.count("/_search") == 11  # ten full pages, one that says "no more"
    record_property("search_after_seconds_for_50000", round(seconds, 2))


def test_search_after_paginator_sees_one_point_in_time(numbered):
    paginator = SearchAfterPaginator(numbered.search().filter("term", parity="odd"), 10_000)
    pages = paginator.pages()
    first = next(pages)
    client = connections["default"].client
    client.index(index=numbered.get_index_name(), id="extra", document={"parity": "odd"})
    client.indices.refresh(index=numbered.get_index_name())
    try:
        rest = [len(page) for page in pages]
        assert len(first) + sum(rest) == HITS // 2  # the new document is not seen
    finally:
        client.delete(index=numbered.get_index_name(), id="extra", refresh=True)


def test_cursor_pages_for_a_next_page_api(numbered):
    paginator = SearchAfterPaginator(numbered.search().sort("n"), per_page=1000)
    page = paginator.page()
    assert numbers(page) == list(range(1000))
    assert page.has_next
    second = paginator.page(page.next_cursor)
    assert numbers(second) == list(range(1000, 2000))
    with pytest.raises(InvalidCursor, match="altered"):
        paginator.page(second.next_cursor[:-2] + "xx")
    state = signing.loads(second.next_cursor, salt=CURSOR_SALT)
    connections["default"].client.close_point_in_time(id=state["pit"])
    with pytest.raises(InvalidCursor, match="expired"):
        paginator.page(second.next_cursor)
    last = SearchAfterPaginator(numbered.search().filter("range", n={"lt": 5})).page()
    assert len(last) == 5
    assert not last.has_next


@pytest.mark.django_db(transaction=True)
def test_a_page_turns_into_instances_in_hit_order_with_scores_and_highlights():
    with fresh_index(ProductDocument):
        lamps = [
            Product.objects.create(sku="L-1", title="Lamp"),
            Product.objects.create(sku="L-2", title="Desk lamp with a lamp shade"),
            Product.objects.create(sku="C-1", title="Chair"),
        ]
        connections["default"].refresh(index=ProductDocument.get_index_name())
        search = ProductDocument.search().query("match", title="lamp").highlight("title")
        paginator = Paginator(search, 1)
        first = paginator.page(1)
        (row,) = first.object_list.to_queryset()
        assert row.search_rank == 0
        assert row.search_score > 0
        second = paginator.page(2).object_list.instances()
        (instance,) = second
        assert instance in lamps[:2]
        assert instance.search_highlight["title"][0].count("<em>") >= 1
        assert instance.search_hit.meta.id == str(instance.pk)
        everything = search.sort("title.raw").instances()
        assert [p.sku for p in everything] == ["L-2", "L-1"]
        assert [p.search_score for p in everything] == [None, None]  # sorted by a field
        call_command("search_index", "status", "products", stdout=io.StringIO())


def test_search_paginator_get_page_is_one_request_for_a_valid_number(numbered):
    search = numbered.search().sort("n")
    with count_requests(numbered) as requests:
        assert numbers(SearchPaginator(search, 1000).get_page("3"))[0] == 2000
    assert len(requests.paths) == 1
    theirs = Paginator(list(range(HITS)), 1000)
    for number in ("x", 0, -1, 51, 2.5):
        assert SearchPaginator(search, 1000).get_page(number).number == (
            theirs.get_page(number).number
        )
