"""Every query parameter is untrusted: an odd value gives a page or a 400, never a 500, and
what Elasticsearch says never reaches the visitor. Against the test index on a real node."""

import random
import re
from urllib.parse import quote

import pytest
from django.conf import settings
from django.test import override_settings
from django.urls import reverse
from elasticsearch.dsl import Q

from catalog.search import BookSearch

SEARCH = reverse("catalog:search")

# What Elasticsearch's errors look like; none of it may reach a page.
ELASTICSEARCH_TEXT = re.compile(
    r"_exception|root_cause|caused_by|Error\(|Traceback|ApiError|TransportError", re.IGNORECASE
)


def fetch(client, path: str, server_error: bool = False):
    """GET ``path``; fail on a server error (unless expected) or Elasticsearch's words."""
    response = client.get(path)
    text = response.content.decode("utf-8", "replace")
    if not server_error:
        assert response.status_code < 500, f"{path[:200]!r} answered {response.status_code}"
    assert not ELASTICSEARCH_TEXT.search(text), f"{path[:200]!r} shows: {text[:300]}"
    return response


def ignored(response) -> bool:
    return response.context["query"].filters == {}


# The values of the report that found 500s and raw errors, and their neighbours.
ODD_FILTERS = {
    "superscript two": "year=%C2%B2",
    "arabic-indic digits": "year=%D9%A1%D9%A9%D9%A9%D9%A9",
    "fullwidth digits": "year=%EF%BC%91%EF%BC%99%EF%BC%99%EF%BC%99",
    "5,000 digits": "year=" + "9" * 5_000,
    "beyond an integer field": "year=99999999999",
    "negative": "year=-1999",
    "a float": "year=1999.5",
    "an exponent": "year=1e3",
    "spaces only": "year=%20%20",
    "100,000-character tag": "tag=" + "x" * 100_000,
    "100,000-character author": "author=" + "y" * 100_000,
    "control characters only": "tag=%00%01%02",
}


@pytest.mark.parametrize("query", ODD_FILTERS.values(), ids=ODD_FILTERS.keys())
def test_odd_filter_values_are_ignored(client, catalogue, query):
    response = fetch(client, f"{SEARCH}?{query}")
    assert response.status_code == 200
    assert ignored(response)
    assert response.context["results"].total == 47  # as without the filter


ODD_OTHERS = {
    "page superscript": "page=%C2%B2",
    "page 5,000 digits": "page=" + "9" * 5_000,
    "page huge": "page=99999999999999999999",
    "page negative": "page=-3",
    "sort unknown": "sort=%00drop",
    "q of 100,000 characters": "q=" + "z" * 100_000,
    "q with control characters": "q=%00%01%1b%7f",
    "malformed percent-encoding": "q=%ZZ&tag=%E2%82&author=%",
    "invalid UTF-8": "q=%ED%A0%80&tag=%FF%FE",
    "repeated parameters": "&".join(["year=1999"] * 50 + ["tag=Mystery"] * 50),
}


@pytest.mark.parametrize("query", ODD_OTHERS.values(), ids=ODD_OTHERS.keys())
def test_odd_values_give_a_page(client, catalogue, query):
    assert fetch(client, f"{SEARCH}?{query}").status_code == 200


def test_kept_values_only_make_the_links(client, catalogue):
    response = fetch(client, f"{SEARCH}?tag={'x' * 100_000}&tag=Mystery&year=%C2%B2&sort=title")
    assert response.context["query"].filters == {"tag": ["Mystery"]}
    assert len(response.content) < 200_000  # the long value is not repeated in every link
    assert response.context["active_filters"] == [("Tag", "Mystery", "?sort=title")]


def test_too_many_parameters_are_a_400(client, catalogue):
    # More than DATA_UPLOAD_MAX_NUMBER_FIELDS fields: Django refuses to read them.
    query = "&".join(f"f{number}=1" for number in range(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 1))
    response = fetch(client, f"{SEARCH}?{query}")
    assert response.status_code == 400
    assert b"This search cannot be run" in response.content


@pytest.mark.parametrize("pk", ["99999999999999999999", "9" * 5_000, "0"])
def test_book_numbers_out_of_range_are_not_found(client, db, pk):
    assert fetch(client, f"/books/{pk}/").status_code == 404


PARAMS = ["q", "page", "sort", "year", "tag", "author", "", "q[]", "%00", "page%00"]
VALUES = [
    "", " ", "0", "1", "-1", "1999", "²", "٣", "\uff11", "9" * 30, "9" * 4_400, "1e308", "NaN",
    "inf", "-0", "0x10", "1_000", "Mystery", "Ada Quill", "<script>alert(1)</script>",
    "' OR 1=1 --", '{"match_all": {}}', "*", "?", "\\", "/", "..", "%", "%%", "%zz", "&", "=",
    "+", "#", "\x00", "\x7f", "\u202e", "\ud7ff", "🙂" * 100, "a" * 5_000, "title", "relevance",
    "title.raw", "_score", "year:1999", "tags:Mystery", "[1999 TO 2001]",
]  # fmt: skip


def odd_query_strings(count: int, seed: int = 14) -> list[str]:
    """Return ``count`` query strings mixing odd names and values, some not even encoded."""
    rng = random.Random(seed)
    queries = []
    for _ in range(count):
        parts = []
        for _ in range(rng.randint(1, 6)):
            name, value = rng.choice(PARAMS), rng.choice(VALUES)
            if rng.random() < 0.2:
                value = "".join(rng.choice(VALUES) for _ in range(rng.randint(2, 4)))
            # Mostly encoded as a browser would; sometimes raw, as a script might send it.
            encoded = quote(value, safe="") if rng.random() < 0.8 else value.replace("\x00", "")
            parts.append(f"{name}={encoded}")
        queries.append("&".join(parts))
    return queries


def test_odd_query_strings_never_give_a_server_error(client, catalogue):
    queries = odd_query_strings(400)
    statuses = {}
    for query in queries:
        response = fetch(client, f"{SEARCH}?{query}")
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
    assert statuses == {200: len(queries)}


def test_a_search_the_node_refuses_is_a_400_page_without_its_words(
    client, catalogue, monkeypatch, caplog
):
    # A query the node itself refuses (a range on a number field with a word in it).
    monkeypatch.setattr(BookSearch, "query", lambda self: Q("range", year={"gte": "soon"}))
    with caplog.at_level("ERROR", logger="catalog"):
        response = fetch(client, f"{SEARCH}?q=cipher")
    assert response.status_code == 400
    assert b"This search cannot be run" in response.content
    assert "BadRequestError(400" in caplog.text  # the reason is logged for the site's owner


def test_a_missing_index_is_a_503_page_without_its_words(client, catalogue, caplog):
    indices = {"books": {**settings.ES_INDICES["books"], "NAME": "catalog_gone", "ALIASES": []}}
    with override_settings(ES_INDICES=indices), caplog.at_level("ERROR", logger="catalog"):
        response = fetch(client, f"{SEARCH}?q=cipher", server_error=True)
    assert response.status_code == 503
    assert b"Search is unavailable" in response.content
    assert "index_not_found_exception" in caplog.text
