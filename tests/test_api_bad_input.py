"""Bad query parameters against both API integrations: each is a 400 that names the
parameter, none is a 500, and no response carries Elasticsearch's error text."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from django.core import signing
from django.test import Client

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.api_urls")]

LONG = "x" * 5000
# Signed with another salt, without a timestamp: the same in every pytest-xdist worker.
FORGED = signing.Signer(salt="not the cursor salt").sign_object({"c": "anything", "f": "0" * 32})

# {endpoint: {the parameter the answer must name: [query strings]}}
BAD = {
    "search": {
        "unknown": ["unknown=1"],
        "colour": ["colour=red"],
        "Q": ["Q=lamp"],
        "q": ["q=a&q=b", f"q={LONG}", "q=lamp%00"],
        "in_stock": ["in_stock=maybe", "in_stock=", "in_stock=2"],
        "price": [
            "price=abc",
            "price=1e400",
            "price=nan",
            "price=inf",
            "price=-Infinity",
            "price=" + "9" * 45,
        ],
        "price__gte": ["price__gte=abc", "price__gte=1&price__gte=2", "price__gte="],
        "price__lt": ["price__lt=1e309"],
        "price__between": ["price__between=1"],
        "created": ["created=yesterday", "created=2026-13-45", "created=99999-01-01"],
        "created__gte": ["created__gte=2026-02-30"],
        "created__lt": ["created__lt=now"],
        "band": ["band=free", "band=cheap&band=nope"],
        "category": ["&".join(["category=a"] * 21), f"category={LONG}"],
        "ordering": [
            "ordering=colour",
            "ordering=price,price",
            "ordering=-price&ordering=title",
            "ordering=--price",
            "ordering=",
            "ordering=title.raw",
            "ordering=_score",
            "ordering=price;DROP",
        ],
        "page_size": [
            "page_size=0",
            "page_size=101",
            "page_size=-5",
            "page_size=abc",
            "page_size=99999999999999999999",
            "page_size=1.5",
        ],
        "cursor": [
            "cursor=garbage",
            "cursor=",
            f"cursor={LONG}",
            f"cursor={quote(FORGED)}",
            "cursor=a&cursor=b",
        ],
    },
    # page=7: within max_result_window, past the last page
    "pages": {
        "page": [
            "page=0",
            "page=-1",
            "page=abc",
            "page=1.0",
            "page=501",
            "page=99999999999",
            "page=3&page=4",
            "page=7",
        ]
    },
    "autocomplete": {
        "q": ["q=" + "a" * 101, "q=a%00"],
        "size": ["size=0", "size=21", "size=x"],
        "query": ["query=lamp"],
    },
}
CASES = [
    pytest.param(endpoint, query, parameter, id=f"{endpoint}-{parameter}-{number}")
    for endpoint, parameters in BAD.items()
    for parameter, queries in parameters.items()
    for number, query in enumerate(queries)
]
assert len(CASES) >= 40

PATHS = {
    "drf": {
        "search": "/drf/products/",
        "pages": "/drf/products/pages/",
        "autocomplete": "/drf/products/autocomplete/",
    },
    "ninja": {
        "search": "/ninja/products",
        "pages": "/ninja/products/pages",
        "autocomplete": "/ninja/products/autocomplete",
    },
    # The async endpoints on the async API (Django's test client runs them on a loop).
    "ninja-async": {
        "search": "/ninja-async/products",
        "pages": "/ninja-async/products/pages",
        "autocomplete": "/ninja-async/products/autocomplete",
    },
}
#: Words of Elasticsearch's error bodies that must never reach a client.
NODE_WORDS = ("exception", "caused_by", "root_cause", "_shards", "elasticsearch", "lucene")


def named(integration: str, body: dict) -> list[str]:
    """Return the parameters a 400 answer names."""
    if integration == "drf":
        return list(body)
    return [error["loc"][-1] for error in body["detail"]]


@pytest.mark.parametrize("integration", list(PATHS))
@pytest.mark.parametrize(("endpoint", "query", "parameter"), CASES)
def test_bad_parameter_is_a_400_naming_it(integration, endpoint, query, parameter):
    response = Client().get(f"{PATHS[integration][endpoint]}?{query}")
    assert response.status_code == 400, response.content[:300]
    body = response.json()
    assert named(integration, body) == [parameter]
    text = response.content.decode().lower()
    assert not any(word in text for word in NODE_WORDS), text[:300]
    assert parameter.lower() in text
