"""The Ninja API of the example (async views on the async API) served by uvicorn: facets,
autocomplete, cursor pages, its OpenAPI schema, and bad input answered with 400s, over real
HTTP."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from urllib.parse import quote, urlencode

from catalog.models import Book

from .conftest import SAMPLE_BOOKS

SEARCH = "/api/ninja/books"
AUTOCOMPLETE = "/api/ninja/books/autocomplete"
LONG = "x" * 5000

# (endpoint, query string, the parameter the 400 must name)
BAD = [
    *[(SEARCH, query, "q") for query in ("q=a&q=b", f"q={LONG}", "q=war%00")],
    *[(SEARCH, query, "tag") for query in ("&".join(["tag=a"] * 21), f"tag={LONG}")],
    *[(SEARCH, query, "year") for query in ("year=old", "year=1e3", "year=99999999999")],
    *[(SEARCH, query, "price") for query in ("price=abc", "price=nan", "price=1e400")],
    *[(SEARCH, query, "price__gte") for query in ("price__gte=x", "price__gte=1&price__gte=2")],
    (SEARCH, "price__lt=inf", "price__lt"),
    (SEARCH, "pages__gt=-", "pages__gt"),
    (SEARCH, "pages=12.5", "pages"),
    *[(SEARCH, query, "in_stock") for query in ("in_stock=maybe", "in_stock=", "in_stock=2")],
    *[(SEARCH, query, name) for query, name in (("isbn=1", "isbn"), ("Q=war", "Q"))],
    (SEARCH, "price__between=1", "price__between"),
    *[
        (SEARCH, f"ordering={order}", "ordering")
        for order in ("summary", "year,year", "--year", "", "title.raw", "_score", "year;DROP")
    ],
    (SEARCH, "ordering=year&ordering=price", "ordering"),
    *[
        (SEARCH, f"page_size={size}", "page_size")
        for size in ("0", "101", "-1", "ten", "1.5", "9" * 30)
    ],
    *[
        (SEARCH, f"cursor={quote(cursor)}", "cursor")
        for cursor in ("garbage", "", LONG, "eyJjIjoxfQ:1abc:def")
    ],
    (SEARCH, "cursor=a&cursor=b", "cursor"),
    (SEARCH, "page=2", "page"),  # cursor pagination: no page numbers
    *[(AUTOCOMPLETE, query, "q") for query in ("q=" + "a" * 101, "q=a%00")],
    *[(AUTOCOMPLETE, query, "size") for query in ("size=0", "size=21", "size=x")],
    (AUTOCOMPLETE, "query=war", "query"),
]
#: Words of Elasticsearch's error bodies that must never reach a client.
NODE_WORDS = ("exception", "caused_by", "root_cause", "_shards", "elasticsearch", "lucene")


def get(url: str) -> tuple[int, dict]:
    """Return the status and the JSON body of a GET."""
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        with error:
            return error.code, json.load(error)


def test_facets_cursor_pages_and_autocomplete(asgi_server, catalogue):
    status, first = get(f"{asgi_server}{SEARCH}?ordering=-year&page_size=50")
    assert status == 200
    tag = first["facets"]["tag"][0]
    assert tag["selected"] is False
    # Cursor pages through every book, each once.
    seen, body, pages = [book["isbn"] for book in first["results"]], first, 1
    while body["next"] is not None:
        query = urlencode({"ordering": "-year", "page_size": "50", "cursor": body["next"]})
        status, body = get(f"{asgi_server}{SEARCH}?{query}")
        assert status == 200
        seen += [book["isbn"] for book in body["results"]]
        pages += 1
    assert len(seen) == len(set(seen)) == SAMPLE_BOOKS
    assert pages == SAMPLE_BOOKS // 50 + 1
    years = [book["year"] for book in first["results"]]
    assert years == sorted(years, reverse=True)
    # A selected tag narrows the hits; its facet value says so, with the same count.
    status, body = get(f"{asgi_server}{SEARCH}?{urlencode({'tag': tag['value']})}&page_size=100")
    assert status == 200
    (selected,) = [value for value in body["facets"]["tag"] if value["value"] == tag["value"]]
    assert (selected["selected"], selected["count"]) == (True, tag["count"])
    expected = Book.objects.filter(tags__name=tag["value"]).count()
    assert len(body["results"]) == min(expected, 100) == min(tag["count"], 100)
    assert all(tag["value"] in book["tags"] for book in body["results"])
    # Autocomplete: the words of a title typed but for its last letters.
    title = Book.objects.order_by("pk").values_list("title", flat=True)[0]
    typed = title[:-2] if len(title.split()[-1]) > 2 else title
    status, body = get(f"{asgi_server}{AUTOCOMPLETE}?{urlencode({'q': typed, 'size': 20})}")
    assert status == 200
    assert title in [book["title"] for book in body["results"]]


def test_the_openapi_schema(asgi_server, transactional_db):
    status, schema = get(f"{asgi_server}/api/ninja/openapi.json")
    assert status == 200
    operation = schema["paths"][SEARCH]["get"]
    names = {parameter["name"] for parameter in operation["parameters"]}
    assert {"q", "author", "tag", "year", "price__gte", "ordering", "cursor", "page_size"} <= names
    assert "400" in operation["responses"]


def test_bad_input_is_a_400_naming_the_parameter_never_a_server_error(asgi_server, catalogue):
    assert len(BAD) >= 40
    wrong = []
    for path, query, parameter in BAD:
        status, body = get(f"{asgi_server}{path}?{query}")
        named = [error["loc"][-1] for error in body.get("detail", [])]
        text = json.dumps(body).lower()
        if status != 400 or named != [parameter] or any(w in text for w in NODE_WORDS):
            wrong.append((path, query[:40], status, text[:200]))
    assert wrong == []
