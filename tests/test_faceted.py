"""Faceted search (djangoes_dsl.faceted) and autocomplete, against the test node."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest

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
