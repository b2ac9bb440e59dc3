"""Faceted search (djangoes_dsl.faceted) and autocomplete, against the test node."""

from __future__ import annotations

import copy
from datetime import datetime
from decimal import Decimal

import pytest
from django.conf import settings
from django.test import override_settings
from elasticsearch import dsl, helpers

from djangoes import connections
from djangoes_dsl import Document, Search, fields, register, registry
from djangoes_dsl.faceted import (
    DateHistogramFacet,
    FacetedSearch,
    FacetValue,
    InvalidParameter,
    RangeFacet,
    TermsFacet,
)
from djangoes_dsl.pagination import SearchAfterPaginator, SearchPaginator
from tests.apps.shop.models import Category, Product
from tests.apps.shop.search_indices import ProductDocument

pytestmark = pytest.mark.django_db


class ProductSearch(FacetedSearch):
    document = ProductDocument
    fields = ["title"]
    facets = {
        "category": TermsFacet(field="category"),
        "in_stock": TermsFacet(field="in_stock"),
        "price": RangeFacet(field="price", ranges=[("cheap", (None, 10)), ("dear", (10, None))]),
        "added": DateHistogramFacet(field="created", calendar_interval="month"),
    }


@pytest.fixture
def products():
    lamps, desks = Category.objects.create(name="lamps"), Category.objects.create(name="desks")
    rows = [
        ("L1", "Red lamp", "5.00", lamps, True),
        ("L2", "Blue lamp", "15.00", lamps, False),
        ("L3", "Green lamp", "8.00", lamps, True),
        ("D1", "Oak desk", "120.00", desks, True),
        ("D2", "Lamp desk <b>", "90.00", desks, True),
    ]
    return [
        Product.objects.create(
            sku=sku, title=title, price=Decimal(price), category=category, in_stock=stock
        )
        for sku, title, price, category, stock in rows
    ]


def test_facets_count_under_the_other_facets_filters_hits_under_all(products):
    response = ProductSearch("lamp", filters={"category": "lamps", "price": "cheap"}).execute()
    assert sorted(hit.sku for hit in response) == ["L1", "L3"]
    # category counts: under the price filter only (cheap lamps; no cheap desk)
    assert response.facets["category"] == [FacetValue("lamps", 2, True)]
    # price counts: under the category filter only (all lamps matching "lamp")
    assert response.facets["price"] == [
        FacetValue("cheap", 2, True),
        FacetValue("dear", 1, False),
    ]
    in_stock = {value.param: (value.count, value.selected) for value in response.facets["in_stock"]}
    assert in_stock == {"true": (2, False)}


def test_values_from_text_are_read_by_field_type(products):
    response = ProductSearch(filters={"in_stock": "false"}).execute()
    assert [hit.sku for hit in response] == ["L2"]
    assert [v for v in response.facets["in_stock"] if v.selected] == [FacetValue(False, 1, True)]
    month = products[0].created.strftime("%Y-%m-01")
    response = ProductSearch(filters={"added": month}).execute()
    assert len(response.hits) == 5
    (added,) = response.facets["added"]
    assert (added.selected, added.count) == (True, 5)
    assert added.param == f"{month}T00:00:00"
    assert added.to_dict() == {"value": f"{month}T00:00:00", "count": 5, "selected": True}
    assert isinstance(added.value, datetime)


@pytest.mark.parametrize(
    ("filters", "named"),
    [
        ({"colour": "red"}, "colour"),
        ({"price": "free"}, "price"),
        ({"in_stock": "maybe"}, "in_stock"),
        ({"added": "last tuesday"}, "added"),
    ],
)
def test_bad_filter_values_name_the_facet(filters, named):
    with pytest.raises(InvalidParameter) as caught:
        ProductSearch(filters=filters)
    assert caught.value.name == named
    assert caught.value.message.startswith(f"{named}: ")


def test_rows_and_pages(products):
    faceted = ProductSearch(filters={"category": "lamps"}, sort=["price"])
    paginator = SearchPaginator(faceted.to_search(), 2)
    page = paginator.page(2)
    assert paginator.count == 3
    assert [p.sku for p in page.object_list.instances()] == ["L2"]
    assert [p.sku for p in page.object_list.to_queryset()] == ["L2"]
    assert page.object_list.execute().facets["category"][0] == FacetValue("lamps", 3, True)
    first = SearchAfterPaginator(faceted.to_search(), per_page=2).page()
    assert [p.sku for p in first.instances()] == ["L1", "L3"]
    assert first.response.facets["price"] == [FacetValue("cheap", 2, False), ("dear", 1, False)]


def test_autocomplete_finds_instances_by_the_words_typed_so_far(products):
    found = ProductDocument.search().autocomplete("red la").instances()
    assert [p.sku for p in found] == ["L1"]
    found = ProductDocument.search().autocomplete("la")[:10].to_queryset()
    assert sorted(p.sku for p in found) == ["D2", "L1", "L2", "L3"]
    assert ProductDocument.search().autocomplete("   ").count() == 0
    by_sku = ProductDocument.search().autocomplete("D", fields=["sku"])
    assert sorted(hit.sku for hit in by_sku) == ["D1", "D2"]
    hits = ProductDocument.search().autocomplete("oak d", fields=["title"]).execute()
    assert [hit.sku for hit in hits] == ["D1"]


class Phrase(Document):
    text = fields.Text(index_prefixes={})


class Typed(Document):
    text = dsl.SearchAsYouType()


@pytest.fixture
def phrases():
    """ES_INDICES['phrases']: a Document whose text field keeps a prefix index."""
    servers = copy.deepcopy(settings.ES_SERVERS)
    servers["default"]["INDICES"] = [*servers["default"]["INDICES"], "phrases"]
    indices = copy.deepcopy(settings.ES_INDICES)
    indices["phrases"] = {"NAME": "djangoes_phrases", "SETTINGS": {"number_of_shards": 1}}
    with override_settings(ES_SERVERS=servers, ES_INDICES=indices):
        register("phrases")(Phrase)
        backend = connections["default"]
        try:
            name = backend.create_index("phrases")
            words = ["quick brown fox", "brown quick fox", "slow brown bear"]
            helpers.bulk(
                backend.client,
                ({"_index": name, "_id": str(n), "text": text} for n, text in enumerate(words)),
                refresh=True,
            )
            yield Phrase
        finally:
            registry.unregister(Phrase)
            backend.delete_index("phrases")


def test_autocomplete_on_a_field_with_a_prefix_index(phrases):
    found = phrases.search().autocomplete("quick br", fields=["text"]).execute()
    assert sorted(hit.text for hit in found) == ["brown quick fox", "quick brown fox"]
    assert [hit.text for hit in phrases.search().autocomplete("slo", fields=["text"])] == [
        "slow brown bear"
    ]


def test_autocomplete_queries_the_shingles_of_a_search_as_you_type_field():
    # search_as_you_type comes from Elasticsearch's mapper-extras module, which a node may
    # lack (the test node does): the query shape is checked without a node.
    query = Search(doc_type=[Typed]).autocomplete("quick br", fields=["text"]).to_dict()
    assert query["query"]["multi_match"]["fields"] == ["text", "text._2gram", "text._3gram"]
