"""djangoes_dsl.contrib.rest_framework: search endpoints with Django REST framework, against
the test node (DRF's APIClient through Django's URL routing and the views' real searches)."""

from __future__ import annotations

import pytest
from django.core import signing
from django.test import override_settings
from rest_framework.test import APIClient

from djangoes_dsl.contrib.api import API_CURSOR_SALT
from tests.test_faceted import products  # noqa: F401  # the same rows

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.api_urls")]


@pytest.fixture
def client():
    return APIClient()


def facet(body, name):
    return {(v["value"], v["count"], v["selected"]) for v in body["facets"][name]}


def test_cursor_pages_with_facets_and_highlight(products, client):  # noqa: F811
    url = "/drf/products/?q=lamp&category=lamps&ordering=price&page_size=2"
    first = client.get(url)
    assert first.status_code == 200, first.content
    body = first.json()
    assert [hit["sku"] for hit in body["results"]] == ["L1", "L3"]
    assert body["results"][0]["highlight"] == {"title": ["Red <em>lamp</em>"]}
    assert body["results"][0]["category"] == "lamps"
    assert facet(body, "category") == {("lamps", 3, True), ("desks", 1, False)}
    assert facet(body, "band") == {("cheap", 2, False), ("dear", 1, False)}
    second = client.get(body["next"]).json()
    assert [hit["sku"] for hit in second["results"]] == ["L2"]
    assert second["next"] is None
    assert facet(second, "category") == {("lamps", 3, True), ("desks", 1, False)}


def test_filters_and_ranges(products, client):  # noqa: F811
    body = client.get("/drf/products/?price__gte=8&price__lt=100&ordering=-price").json()
    assert [hit["sku"] for hit in body["results"]] == ["D2", "L2", "L3"]
    body = client.get("/drf/products/?in_stock=false").json()
    assert [hit["sku"] for hit in body["results"]] == ["L2"]
    body = client.get("/drf/products/?band=dear&ordering=title").json()
    assert [hit["sku"] for hit in body["results"]] == ["L2", "D2", "D1"]
    assert facet(body, "band") == {("cheap", 2, False), ("dear", 3, True)}


def test_a_narrowed_search_keeps_its_narrowing_under_facets(products, client):  # noqa: F811
    body = client.get("/drf/products/in-stock/?q=lamp&ordering=title").json()
    assert [hit["sku"] for hit in body["results"]] == ["L3", "D2", "L1"]
    assert facet(body, "category") == {("lamps", 2, False), ("desks", 1, False)}


def test_page_numbers(products, client):  # noqa: F811
    body = client.get("/drf/products/pages/?ordering=title&page=2&page_size=2").json()
    assert [hit["sku"] for hit in body["results"]] == ["D2", "D1"]
    assert (body["count"], body["count_relation"]) == (5, "eq")
    assert body["next"].endswith("page=3&page_size=2") or "page=3" in body["next"]
    assert "page=" not in body["previous"]
    response = client.get("/drf/products/pages/?page=4&page_size=2")
    assert response.status_code == 400
    assert list(response.json()) == ["page"]


def test_rows_serialized_with_a_model_serializer(products, client):  # noqa: F811
    body = client.get("/drf/products/rows/?q=desk&ordering=title").json()
    assert [(row["sku"], row["price"]) for row in body["results"]] == [
        ("D2", "90.00"),
        ("D1", "120.00"),
    ]
    assert body["results"][0]["highlight"] == {"title": ["Lamp <em>desk</em> &lt;b&gt;"]}
    assert body["results"][0]["search_score"] is None  # sorted by a field: no score


def test_autocomplete(products, client):  # noqa: F811
    body = client.get("/drf/products/autocomplete/?q=red%20la").json()
    assert [hit["sku"] for hit in body["results"]] == ["L1"]
    body = client.get("/drf/products/autocomplete/?q=la&size=2").json()
    assert len(body["results"]) == 2


def test_cursors_are_tied_to_their_search(products, client):  # noqa: F811
    body = client.get("/drf/products/?ordering=title&page_size=2").json()
    cursor = body["next"].split("cursor=")[1].split("&")[0]
    other = client.get(f"/drf/products/?ordering=-title&page_size=2&cursor={cursor}")
    assert other.status_code == 400
    assert list(other.json()) == ["cursor"]
    state = signing.loads(cursor.replace("%3A", ":"), salt=API_CURSOR_SALT)
    forged = signing.dumps({**state, "f": "0" * 32}, salt="another salt")
    response = client.get(f"/drf/products/?ordering=title&page_size=2&cursor={forged}")
    assert response.status_code == 400
    assert list(response.json()) == ["cursor"]


def test_browsable_api_renders(products, client):  # noqa: F811
    response = client.get("/drf/products/?q=lamp", HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    assert b"Red lamp" in response.content


def test_openapi_schema_drf_and_spectacular():
    from rest_framework.schemas.openapi import SchemaGenerator

    schema = SchemaGenerator(title="shop", patterns=None, urlconf="tests.api_urls").get_schema()
    operation = schema["paths"]["/drf/products/"]["get"]
    names = {p["name"] for p in operation["parameters"]}
    assert {"q", "category", "band", "price__gte", "ordering", "cursor", "page_size"} <= names

    from drf_spectacular.generators import SchemaGenerator as SpectacularGenerator

    with override_settings(
        REST_FRAMEWORK={"DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema"}
    ):
        spectacular = SpectacularGenerator(urlconf="tests.api_urls").get_schema(public=True)
    operation = spectacular["paths"]["/drf/products/"]["get"]
    names = {p["name"] for p in operation["parameters"]}
    assert {"q", "category", "in_stock", "ordering", "cursor"} <= names
    ref = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    page = spectacular["components"]["schemas"][ref.rsplit("/", 1)[1]]
    assert set(page["properties"]) == {"next", "facets", "results"}
    hits = spectacular["components"]["schemas"]["ProductDocument"]["properties"]
    assert hits["price"]["type"] == "number"
    assert hits["tags"]["type"] == "array"
