"""djangoes_dsl.contrib.ninja: search endpoints with Django Ninja, against the test node
(Django's test client through the NinjaAPI's URLs and the endpoints' real searches), as sync
views and as async views on the async API (``/ninja-async/``)."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.api_urls import api, async_api
from tests.test_api_drf import facet
from tests.test_faceted import products  # noqa: F401  # the same rows

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.api_urls")]


@pytest.fixture
def client():
    return Client()


@pytest.fixture(params=["/ninja", "/ninja-async"])
def prefix(request):
    """The sync endpoints, and the async ones (Django's test client runs them on a loop)."""
    return request.param


def test_cursor_pages_with_facets_and_highlight(products, client, prefix):  # noqa: F811
    first = client.get(f"{prefix}/products?q=lamp&category=lamps&ordering=price&page_size=2")
    assert first.status_code == 200, first.content
    body = first.json()
    assert [hit["sku"] for hit in body["results"]] == ["L1", "L3"]
    assert body["results"][0]["highlight"] == {"title": ["Red <em>lamp</em>"]}
    assert facet(body, "category") == {("lamps", 3, True), ("desks", 1, False)}
    second = client.get(
        f"{prefix}/products",
        {
            "cursor": body["next"],
            "q": "lamp",
            "category": "lamps",
            "ordering": "price",
            "page_size": "2",
        },
    ).json()
    assert [hit["sku"] for hit in second["results"]] == ["L2"]
    assert second["next"] is None


def test_filters_pages_rows_autocomplete(products, client, prefix):  # noqa: F811
    body = client.get(f"{prefix}/products?price__gte=8&price__lt=100&ordering=-price").json()
    assert [hit["sku"] for hit in body["results"]] == ["D2", "L2", "L3"]
    body = client.get(f"{prefix}/products/pages?ordering=title&page=2&page_size=2").json()
    assert [hit["sku"] for hit in body["results"]] == ["D2", "D1"]
    assert (body["count"], body["page"], body["next"], body["previous"]) == (5, 2, 3, 1)
    body = client.get(f"{prefix}/products/rows?q=desk&ordering=title").json()
    assert [(row["sku"], row["price"]) for row in body["results"]] == [
        ("D2", "90.00"),
        ("D1", "120.00"),
    ]
    assert body["results"][0]["search_highlight"] == {"title": ["Lamp <em>desk</em> &lt;b&gt;"]}
    body = client.get(f"{prefix}/products/autocomplete?q=red%20la").json()
    assert [hit["sku"] for hit in body["results"]] == ["L1"]


@pytest.mark.parametrize(("ninja_api", "prefix"), [(api, "/ninja"), (async_api, "/ninja-async")])
def test_openapi_schema(ninja_api, prefix):
    schema = ninja_api.get_openapi_schema()
    operation = schema["paths"][f"{prefix}/products"]["get"]
    names = {p["name"] for p in operation["parameters"]}
    assert {"q", "category", "band", "price__gte", "ordering", "cursor", "page_size"} <= names
    assert 400 in operation["responses"]
    (band,) = [p for p in operation["parameters"] if p["name"] == "band"]
    assert band["schema"] == {
        "type": "array",
        "items": {"type": "string", "enum": ["cheap", "dear"]},
    }
    hit = schema["components"]["schemas"]["ProductDocumentHit"]["properties"]
    assert hit["tags"]["anyOf"][0]["type"] == "array"
