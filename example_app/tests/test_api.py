"""The JSON API of the example (catalog/api.py), in both flavours, against the test node."""

from __future__ import annotations

import pytest
from django.test import Client

from catalog.api import ninja_api

SEARCH = {"drf": "/api/drf/books/", "ninja": "/api/ninja/books"}
AUTOCOMPLETE = {"drf": "/api/drf/books/autocomplete/", "ninja": "/api/ninja/books/autocomplete"}


@pytest.mark.parametrize("flavour", ["drf", "ninja"])
def test_search_with_facets_and_highlight(catalogue, flavour):
    body = Client().get(SEARCH[flavour], {"q": "zanzibar", "tag": "Mystery"}).json()
    assert [hit["title"] for hit in body["results"]] == ["The Zanzibar Cipher"]
    assert body["results"][0]["highlight"]["title"] == ["The <em>Zanzibar</em> Cipher"]
    tags = {value["value"]: value for value in body["facets"]["tag"]}
    assert tags["Mystery"]["selected"] is True
    assert tags["Mystery"]["count"] == 1


@pytest.mark.parametrize("flavour", ["drf", "ninja"])
def test_cursor_pages_go_through_every_book_once(catalogue, flavour):
    client = Client()
    params = {"ordering": "-year", "page_size": "20"}
    body = client.get(SEARCH[flavour], params).json()
    seen = [hit["isbn"] for hit in body["results"]]
    while body["next"] is not None:
        if flavour == "drf":  # a URL
            body = client.get(body["next"]).json()
        else:  # the cursor
            body = client.get(SEARCH[flavour], {**params, "cursor": body["next"]}).json()
        seen += [hit["isbn"] for hit in body["results"]]
    assert len(seen) == len(set(seen)) == 47


@pytest.mark.parametrize("flavour", ["drf", "ninja"])
def test_autocomplete_and_bad_input(catalogue, flavour):
    body = Client().get(AUTOCOMPLETE[flavour], {"q": "the zanz"}).json()
    assert [hit["title"] for hit in body["results"]] == ["The Zanzibar Cipher"]
    response = Client().get(SEARCH[flavour], {"ordering": "summary"})
    assert response.status_code == 400
    assert "ordering" in response.content.decode()


def test_openapi_schemas():
    from rest_framework.schemas.openapi import SchemaGenerator

    drf = SchemaGenerator(title="Bookshelf").get_schema()
    names = {p["name"] for p in drf["paths"]["/api/drf/books/"]["get"]["parameters"]}
    assert {"q", "author", "tag", "year", "ordering", "cursor"} <= names
    ninja = ninja_api.get_openapi_schema()
    names = {p["name"] for p in ninja["paths"]["/api/ninja/books"]["get"]["parameters"]}
    assert {"q", "author", "tag", "year", "ordering", "cursor"} <= names
